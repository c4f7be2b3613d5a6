/**
 * DDPM against a reference written here from diffusers' DDPMScheduler (set_timesteps, previous_timestep,
 * step, _get_variance) and DDPMPipeline's loop, in VP variables and float64, with the pipeline's noise draws
 * fed through a [K, ...] noise input: the same timesteps reach the model and the same final latent comes out.
 */
import { describe, expect, it } from 'vitest';
import { paramDefaults } from '../nodes/core/params.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import type { SchedulerConfig } from '../nodes/core/values.ts';
import { Sampler } from '../nodes/sampler.ts';
import { alphasCumprod, betasFromConfig } from '../nodes/sampling/betas.ts';
import { createGaussianParams, seededNormals } from '../nodes/sampling/gaussian.ts';
import { defaultSolverFor } from '../nodes/sampling/schedule-rules.ts';
import { createSolver } from '../nodes/sampling/solver-registry.ts';
import { ddimFamilyTimesteps } from './exp-solver-helpers.ts';
import { fakeExecContext } from './helpers/exec-context.ts';
import { fakeVpModel, rawModelFn, relL2 } from './sampling-fake-model.ts';

const DIMS = [1, 3, 8, 8];
const SIZE = DIMS.reduce((a, b) => a * b, 1);
const P = createGaussianParams({ dims: DIMS.slice(1), seed: 9 });

/** google/ddpm-style config: linear betas, fixed_small, clipping on (the class defaults). */
const DDPM: SchedulerConfig = {
  _class_name: 'DDPMScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  variance_type: 'fixed_small',
  clip_sample: true,
};

/** DDPMPipeline's loop with DDPMScheduler.step, in VP variables. */
async function diffusersDdpm(cfg: SchedulerConfig, n: number, draws: Float64Array[], raw: (x: Float64Array, t: number) => Promise<Float64Array>) {
  const abar = alphasCumprod(betasFromConfig(cfg));
  const ts = ddimFamilyTimesteps(cfg, n);
  const clip = cfg.clip_sample !== false;
  const type = (cfg.prediction_type as string | undefined) ?? 'epsilon';
  let x = draws[0].slice();
  let used = 1;
  const seen: number[] = [];
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i];
    seen.push(t);
    const out = await raw(x, t);
    const prevT = i + 1 < ts.length ? ts[i + 1] : -1;
    const a = abar[t];
    const ap = prevT >= 0 ? abar[prevT] : 1;
    const curAlpha = a / ap;
    const curBeta = 1 - curAlpha;
    const cX0 = (Math.sqrt(ap) * curBeta) / (1 - a);
    const cX = (Math.sqrt(curAlpha) * (1 - ap)) / (1 - a);
    const z = t > 0 ? draws[used++] : undefined;
    const small = Math.max(((1 - ap) / (1 - a)) * curBeta, 1e-20);
    const std = cfg.variance_type === 'fixed_large' ? Math.sqrt(curBeta) : Math.sqrt(small);
    x = x.map((xv, k) => {
      let x0 = type === 'v_prediction' ? Math.sqrt(a) * xv - Math.sqrt(1 - a) * out[k] : (xv - Math.sqrt(1 - a) * out[k]) / Math.sqrt(a);
      if (clip) x0 = Math.min(Math.max(x0, -1), 1);
      return cX0 * x0 + cX * xv + (z ? std * z[k] : 0);
    });
  }
  return { x, seen, draws: used - 1 };
}

async function compare(cfg: SchedulerConfig, n: number) {
  const model = fakeVpModel(P, cfg);
  const draws = Array.from({ length: n + 1 }, (_, k) => seededNormals(SIZE, 70 + k));
  const ref = await diffusersDdpm(cfg, n, draws, rawModelFn(model, DIMS));
  model.seen.length = 0;
  const noise = new Tensor([n + 1, ...DIMS], Float32Array.from(draws.flatMap((d) => [...d])));
  const out = await Sampler.execute(
    fakeExecContext({ nodeId: 's', nodeType: 'Sampler' }),
    { model, latent: Tensor.zeros(DIMS), noise, sigmas: undefined, conditioning: undefined, guidance: undefined, mean: undefined },
    { ...(paramDefaults(Sampler) as Parameters<typeof Sampler.execute>[2]), solver: 'ddpm', steps: n, start: 'noise' },
  );
  return { ours: out.latent.data, ref: ref.x, seen: [...model.seen], refSeen: ref.seen };
}

describe('DDPM matches diffusers DDPMScheduler and DDPMPipeline', () => {
  const cases: [string, SchedulerConfig, number][] = [
    ['leading, 10 steps (last t = 0: no noise there)', DDPM, 10],
    ['leading with steps_offset 1, 25 steps', { ...DDPM, steps_offset: 1 }, 25],
    ['linspace, 7 steps (prev_t is the next listed timestep)', { ...DDPM, timestep_spacing: 'linspace' }, 7],
    ['trailing, 6 steps', { ...DDPM, timestep_spacing: 'trailing' }, 6],
    ['fixed_large, 10 steps', { ...DDPM, variance_type: 'fixed_large' }, 10],
    ['v-prediction without clipping, 12 steps', { ...DDPM, prediction_type: 'v_prediction', clip_sample: false }, 12],
  ];
  it.each(cases)('%s: same model calls and final latent', async (_name, cfg, n) => {
    const { ours, ref, seen, refSeen } = await compare(cfg, n);
    expect(seen).toEqual(refSeen);
    expect(relL2(ours, ref)).toBeLessThan(1e-5);
  });

  it('auto runs DDPM for fixed variances and DDIM for learned ones; unsupported variances fail naming them', () => {
    expect(defaultSolverFor(DDPM, 'vp')).toBe('ddpm');
    expect(defaultSolverFor({ ...DDPM, variance_type: 'learned_range' }, 'vp')).toBe('ddim');
    expect(() => createSolver('ddpm', { ...DDPM, variance_type: 'learned_range' })).toThrow(/"learned_range" is not offered/);
    expect(() => createSolver('ddpm', { ...DDPM, variance_type: 'fixed_large_log' })).toThrow(/"fixed_large_log" is not offered/);
  });
});
