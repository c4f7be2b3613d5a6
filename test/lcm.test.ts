/**
 * LCM sampling against a reference written here from diffusers' LCMScheduler (set_timesteps, step,
 * get_scalings_for_boundary_condition_discrete) and its text-to-image and image-to-image pipelines, in VP
 * variables and float64: the same timesteps reach the model and the same final latent comes out, with the
 * pipeline's noise draws fed through a [K, ...] noise input.
 */
import { describe, expect, it } from 'vitest';
import { paramDefaults } from '../nodes/core/params.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import type { SchedulerConfig } from '../nodes/core/values.ts';
import { Sampler } from '../nodes/sampler.ts';
import { alphasCumprod, betasFromConfig } from '../nodes/sampling/betas.ts';
import { createGaussianParams, seededNormals } from '../nodes/sampling/gaussian.ts';
import { lcmTimesteps } from '../nodes/sampling/lcm.ts';
import { defaultSolverFor } from '../nodes/sampling/schedule-rules.ts';
import { fakeExecContext } from './helpers/exec-context.ts';
import { fakeVpModel, rawModelFn, relL2 } from './sampling-fake-model.ts';

const DIMS = [1, 4, 8, 8];
const SIZE = DIMS.reduce((a, b) => a * b, 1);
const P = createGaussianParams({ dims: DIMS.slice(1), seed: 5 });

/** latent-consistency/lcm-lora-sdv1-5's scheduler_config.json (the keys that matter). */
const LCM_SD15: SchedulerConfig = {
  _class_name: 'LCMScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  original_inference_steps: 50,
  set_alpha_to_one: true,
  steps_offset: 1,
  timestep_scaling: 10,
  prediction_type: 'epsilon',
  clip_sample: false,
};

/** LCMScheduler.set_timesteps, written from diffusers. */
function refTimesteps(n: number, strength = 1, original = 50): number[] {
  const k = Math.floor(1000 / original);
  const origin: number[] = [];
  for (let i = 1; i <= Math.floor(original * strength); i++) origin.push(i * k - 1);
  origin.reverse();
  const out: number[] = [];
  // np.floor(np.linspace(0, len, n, endpoint=False)): i * (len / n) in float64.
  for (let i = 0; i < n; i++) out.push(origin[Math.floor(i * (origin.length / n))]);
  return out;
}

/** diffusers' LCM pipeline loop in VP variables; draws[0] is the start noise, draws[1..] the step noises. */
async function diffusersLcm(cfg: SchedulerConfig, n: number, draws: Float64Array[], raw: (x: Float64Array, t: number) => Promise<Float64Array>, img2img?: { init: Float64Array; strength: number }) {
  const abar = alphasCumprod(betasFromConfig(cfg));
  const ts = refTimesteps(n, img2img?.strength ?? 1);
  const vpred = cfg.prediction_type === 'v_prediction';
  let x: Float64Array;
  if (img2img) {
    const a = abar[ts[0]];
    x = img2img.init.map((v, k) => Math.sqrt(a) * v + Math.sqrt(1 - a) * draws[0][k]);
  } else x = draws[0].slice();
  let used = 1;
  let denoised = x;
  const seen: number[] = [];
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i];
    seen.push(t);
    const out = await raw(x, t);
    const prevT = i + 1 < ts.length ? ts[i + 1] : t;
    const at = abar[t];
    const ap = prevT >= 0 ? abar[prevT] : 1;
    const s = t * ((cfg.timestep_scaling as number) ?? 10);
    const cSkip = 0.25 / (s * s + 0.25);
    const cOut = s / Math.sqrt(s * s + 0.25);
    denoised = x.map((xv, k) => {
      const x0 = vpred ? Math.sqrt(at) * xv - Math.sqrt(1 - at) * out[k] : (xv - Math.sqrt(1 - at) * out[k]) / Math.sqrt(at);
      return cOut * x0 + cSkip * xv;
    });
    if (i !== ts.length - 1) {
      const z = draws[used++];
      x = denoised.map((d, k) => Math.sqrt(ap) * d + Math.sqrt(1 - ap) * z[k]);
    } else x = denoised;
  }
  return { x, seen };
}

async function compare(cfg: SchedulerConfig, n: number, strength?: number) {
  const model = fakeVpModel(P, cfg);
  const draws = Array.from({ length: n + 1 }, (_, k) => seededNormals(SIZE, 40 + k));
  const init = seededNormals(SIZE, 39).map((v) => 0.5 * v);
  const raw = rawModelFn(model, DIMS);
  const ref = await diffusersLcm(cfg, n, draws, raw, strength === undefined ? undefined : { init, strength });
  model.seen.length = 0;
  const noise = new Tensor([n + 1, ...DIMS], Float32Array.from(draws.flatMap((d) => [...d])));
  const out = await Sampler.execute(
    fakeExecContext({ nodeId: 's', nodeType: 'Sampler' }),
    { model, latent: new Tensor(DIMS, Float32Array.from(init)), noise, sigmas: undefined, conditioning: undefined, guidance: undefined, mean: undefined },
    {
      ...(paramDefaults(Sampler) as Parameters<typeof Sampler.execute>[2]),
      solver: 'lcm',
      steps: n,
      ...(strength === undefined ? { start: 'noise' as const } : { start: 'img2img' as const, denoise: strength }),
    },
  );
  return { ours: out.latent.data, ref: ref.x, seen: [...model.seen], refSeen: ref.seen };
}

describe('LCM matches diffusers LCMScheduler and its pipelines', () => {
  it('timesteps: evenly spaced indices into the distillation schedule', () => {
    expect(lcmTimesteps(LCM_SD15, 4)).toEqual([999, 759, 499, 259]);
    expect(lcmTimesteps(LCM_SD15, 1)).toEqual([999]);
    for (const [n, s] of [
      [6, 1],
      [8, 1],
      [4, 0.5],
      [3, 0.7],
    ] as const) {
      expect(lcmTimesteps(LCM_SD15, n, s)).toEqual(refTimesteps(n, s));
    }
  });

  it.each([1, 2, 4, 8])('text-to-image, %i steps: same model calls and final latent', async (n) => {
    const { ours, ref, seen, refSeen } = await compare(LCM_SD15, n);
    expect(seen).toEqual(refSeen);
    expect(relL2(ours, ref)).toBeLessThan(1e-5);
  });

  it('timestep_scaling 0.01, 8 steps: where c_skip and c_out are far from 0 and 1', async () => {
    const { ours, ref } = await compare({ ...LCM_SD15, timestep_scaling: 0.01 }, 8);
    expect(relL2(ours, ref)).toBeLessThan(1e-5);
  });

  it('v-prediction, 4 steps', async () => {
    const { ours, ref } = await compare({ ...LCM_SD15, prediction_type: 'v_prediction' }, 4);
    expect(relL2(ours, ref)).toBeLessThan(1e-5);
  });

  it.each([
    [4, 0.5],
    [4, 0.8],
    [2, 0.3],
  ])('image-to-image, %i steps at strength %f: the strength picks the schedule, every step runs', async (n, strength) => {
    const { ours, ref, seen, refSeen } = await compare(LCM_SD15, n, strength);
    expect(seen).toEqual(refSeen);
    expect(seen.length).toBe(n);
    expect(relL2(ours, ref)).toBeLessThan(1e-5);
  });

  it('auto runs LCM for an LCMScheduler config; bad step counts fail naming the cause', async () => {
    expect(defaultSolverFor(LCM_SD15, 'vp')).toBe('lcm');
    expect(() => lcmTimesteps(LCM_SD15, 60)).toThrow(/cannot exceed original_inference_steps \(50\)/);
    expect(() => lcmTimesteps(LCM_SD15, 20, 0.3)).toThrow(/smaller than 20 steps/);
  });
});
