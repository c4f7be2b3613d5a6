/**
 * TCD sampling against a reference written here from diffusers' TCDScheduler (set_timesteps, step) and the
 * text-to-image pipeline loop, in VP variables and float64, with the pipeline's noise draws fed through a
 * [K, ...] noise input. The runs against diffusers itself are the *-tcd-* cases of
 * test/diffusers-parity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { paramDefaults } from '../nodes/core/params.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import type { SchedulerConfig } from '../nodes/core/values.ts';
import { Sampler } from '../nodes/sampler.ts';
import { Schedule } from '../nodes/schedule.ts';
import { createGaussianParams, seededNormals } from '../nodes/sampling/gaussian.ts';
import { defaultSolverFor } from '../nodes/sampling/schedule-rules.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';
import { fakeExecContext } from './helpers/exec-context.ts';
import { fakeVpModel, rawModelFn, relL2 } from './sampling-fake-model.ts';
import { diffusersAbar, veLevel } from './helpers/diffusers-table.ts';

const DIMS = [1, 4, 8, 8];
const SIZE = DIMS.reduce((a, b) => a * b, 1);
const P = createGaussianParams({ dims: DIMS.slice(1), seed: 6 });

/** h1t/TCD-SD15-LoRA's scheduler settings (TCDScheduler over SD 1.5's betas). */
const TCD_SD15: SchedulerConfig = {
  _class_name: 'TCDScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  original_inference_steps: 50,
  prediction_type: 'epsilon',
};

/** diffusers' TCD loop in VP variables: draws[0] is the start noise, draws[1..] the step noises. */
async function diffusersTcd(cfg: SchedulerConfig, ts: number[], gamma: number, draws: Float64Array[], raw: (x: Float64Array, t: number) => Promise<Float64Array>) {
  const abar = diffusersAbar(cfg);
  let x = draws[0].slice();
  let used = 1;
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i];
    const eps = await raw(x, t);
    const prevT = i + 1 < ts.length ? ts[i + 1] : 0;
    const s = Math.floor((1 - gamma) * prevT);
    const [at, ap, as] = [abar[t], abar[prevT], abar[s]];
    const noised = x.map((xv, k) => {
      const x0 = (xv - Math.sqrt(1 - at) * eps[k]) / Math.sqrt(at);
      return Math.sqrt(as) * x0 + Math.sqrt(1 - as) * eps[k];
    });
    if (gamma > 0 && i !== ts.length - 1) {
      const z = draws[used++];
      x = noised.map((v, k) => Math.sqrt(ap / as) * v + Math.sqrt(1 - ap / as) * z[k]);
    } else x = noised;
  }
  return x;
}

async function compare(n: number, gamma: number) {
  const model = fakeVpModel(P, TCD_SD15);
  const draws = Array.from({ length: n + 1 }, (_, k) => seededNormals(SIZE, 60 + k));
  const ts = buildSigmas(TCD_SD15, model.modelIndex, n, 'tcd').timesteps;
  const ref = await diffusersTcd(TCD_SD15, ts, gamma, draws, rawModelFn(model, DIMS));
  model.seen.length = 0;
  const noise = new Tensor([n + 1, ...DIMS], Float32Array.from(draws.flatMap((d) => [...d])));
  const out = await Sampler.execute(
    fakeExecContext({ nodeId: 's', nodeType: 'Sampler' }),
    { model, latent: Tensor.zeros(DIMS), noise, sigmas: undefined, conditioning: undefined, guidance: undefined, mean: undefined },
    { ...(paramDefaults(Sampler) as Parameters<typeof Sampler.execute>[2]), solver: 'tcd', steps: n, tcd_gamma: gamma },
  );
  return { ours: out.latent.data, ref, seen: [...model.seen], ts };
}

describe('TCD matches diffusers TCDScheduler', () => {
  it("walks LCM's timesteps and ends on the table's first level (timestep 0)", () => {
    const s = buildSigmas(TCD_SD15, {}, 4, 'tcd');
    // np.floor(np.linspace(0, 50, 4, endpoint=False)) into [999, 979, ..., 19]: indices 0, 12, 25, 37.
    expect(s.timesteps).toEqual([999, 759, 499, 259]);
    const abar0 = diffusersAbar(TCD_SD15)[0];
    expect(s.sigmas[4]).toBeCloseTo(veLevel(abar0), 12);
    expect(s.origin).toBe('TCDScheduler');
  });

  it.each([
    [4, 0.3],
    [8, 0.3],
    [4, 0],
    [2, 1],
    [1, 0.3],
  ])('%i steps, gamma %f: the same model timesteps and final latent as the reference loop', async (n, gamma) => {
    const { ours, ref, seen, ts } = await compare(n, gamma);
    expect(seen).toEqual(ts);
    expect(relL2(ours, ref)).toBeLessThan(1e-5);
  });

  it('gamma changes the result (the stochastic part is wired)', async () => {
    const a = await compare(4, 0.3);
    const b = await compare(4, 0.6);
    expect(relL2(a.ours, b.ours)).toBeGreaterThan(1e-3);
  });

  it('auto runs TCD for a TCDScheduler config; the Schedule node refuses grid overrides', async () => {
    expect(defaultSolverFor(TCD_SD15, 'vp')).toBe('tcd');
    const model = fakeVpModel(P, TCD_SD15);
    const params = { ...(paramDefaults(Schedule) as Parameters<typeof Schedule.execute>[2]), solver: 'tcd', steps: 4, grid: 'karras' };
    await expect(Schedule.execute(fakeExecContext({ nodeId: 'sch', nodeType: 'Schedule' }), { model, latent: undefined }, params as never)).rejects.toThrow(/TCD takes its timesteps/);
  });
});
