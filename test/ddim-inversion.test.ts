import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { SchedulerConfig, Sigmas } from '../nodes/core/values.ts';
import { createDdim, createDdimInverse, ddimInverseOptionsFromConfig, ddimInverseSigmas, ddimInverseTimesteps } from '../nodes/sampling/ddim.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { createGaussianParams, sampleData, transportExact } from '../nodes/sampling/gaussian.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { sliceSigmas } from '../nodes/sampling/sigmas-split.ts';
import { fakeVpModel, logLogSlope, rawModelFn, relL2, SD_VP_DDIM, type FakeModel } from './sampling-fake-model.ts';
import { ddimInverseLoop } from './helpers/diffusers-inverse.ts';
import { diffusersAbar, veLevel } from './helpers/diffusers-table.ts';

const p = createGaussianParams({ dims: [3, 8, 8], seed: 5 });
const DIMS = [1, 3, 8, 8];
const image = Float32Array.from(sampleData(p, 1, 7));

/** Runs DDIM inversion from the VP sample `xvp` at the grid's first level; returns the VP sample at its last level. */
async function invert(model: FakeModel, sigmas: Sigmas, xvp: Float32Array): Promise<Float32Array> {
  const s0 = sigmas.sigmas[0];
  const sEnd = sigmas.sigmas[sigmas.sigmas.length - 1];
  const x = new Tensor(DIMS, xvp.map((v) => v * Math.sqrt(s0 * s0 + 1)));
  const solver = createDdimInverse(ddimInverseOptionsFromConfig(model.scheduler));
  const r = await runSampler({ solver, sigmas, x, model: createDenoiseFn(model, { space: 'vp' }) });
  return r.x.data.map((v) => v / Math.sqrt(sEnd * sEnd + 1));
}

describe('DDIM inversion grids (diffusers DDIMInverseScheduler.set_timesteps)', () => {
  it('leading: arange(N) * T//N + steps_offset; trailing: round(arange(T, 0, -T/N))[::-1] - 1', () => {
    expect(ddimInverseTimesteps(SD_VP_DDIM, 50)).toEqual(Array.from({ length: 50 }, (_, k) => 1 + 20 * k));
    expect(ddimInverseTimesteps({ ...SD_VP_DDIM, timestep_spacing: 'trailing' }, 10)).toEqual([99, 199, 299, 399, 499, 599, 699, 799, 899, 999]);
    // T/N = 142.857...: round(1000 - k * 142.857) - 1 for k = 6..0.
    expect(ddimInverseTimesteps({ ...SD_VP_DDIM, timestep_spacing: 'trailing' }, 7)).toEqual([142, 285, 428, 570, 713, 856, 999]);
    expect(() => ddimInverseTimesteps({ ...SD_VP_DDIM, timestep_spacing: 'linspace' }, 10)).toThrow(/leading.*trailing/);
  });

  it('diffusers variant: step i starts at the level of t_i - T//N (initial abar below 0) and lands on t_i', () => {
    const table = diffusersAbar(SD_VP_DDIM).map((a) => veLevel(a));
    const g = ddimInverseSigmas(SD_VP_DDIM, 10);
    expect(g.timesteps).toEqual([1, 101, 201, 301, 401, 501, 601, 701, 801, 901]);
    expect(g.sigmas[0]).toBe(table[0]); // set_alpha_to_one false: abar[0]
    expect(g.sigmas[1]).toBe(table[1]);
    expect(g.sigmas[10]).toBe(table[901]);
    expect(g.targets).toBeUndefined();
    expect(ddimInverseSigmas({ ...SD_VP_DDIM, set_alpha_to_one: true }, 10).sigmas[0]).toBe(0);
    const trailing = ddimInverseSigmas({ ...SD_VP_DDIM, timestep_spacing: 'trailing' }, 7);
    // 285 - 142 = 143 != 142: the state sits at t_i, the next step starts from t_{i+1} - 142.
    expect(trailing.targets?.[0]).toBe(table[142]);
    expect(trailing.sigmas[1]).toBe(table[285 - 142]);
    const current = ddimInverseSigmas(SD_VP_DDIM, 10, 'current-level');
    expect(current.timesteps).toEqual([1, 101, 201, 301, 401, 501, 601, 701, 801]);
    expect(current.sigmas).toEqual([1, 101, 201, 301, 401, 501, 601, 701, 801, 901].map((t) => table[t]));
  });
});

describe('DDIM inversion config quirks (diffusers DDIMInverseScheduler.from_config)', () => {
  it('the deprecated set_alpha_to_zero key (a _deprecated_kwargs entry) replaces set_alpha_to_one', () => {
    // __init__: if kwargs.get("set_alpha_to_zero") is not None: set_alpha_to_one = kwargs["set_alpha_to_zero"];
    // initial_alpha_cumprod = 1 if set_alpha_to_one else alphas_cumprod[0].
    const abar0 = diffusersAbar(SD_VP_DDIM)[0];
    const sigmaMin = veLevel(abar0);
    expect(ddimInverseSigmas({ ...SD_VP_DDIM, set_alpha_to_one: false, set_alpha_to_zero: true }, 10).sigmas[0]).toBe(0);
    expect(ddimInverseSigmas({ ...SD_VP_DDIM, set_alpha_to_one: true, set_alpha_to_zero: false }, 10).sigmas[0]).toBeCloseTo(sigmaMin, 12);
    expect(ddimInverseSigmas({ ...SD_VP_DDIM, set_alpha_to_one: true, set_alpha_to_zero: null }, 10).sigmas[0]).toBe(0);
  });

  it('clip_sample absent means clipping whatever class wrote the config (its from_config keeps its own default, true)', () => {
    expect(ddimInverseOptionsFromConfig({ _class_name: 'EulerDiscreteScheduler' })).toEqual({ clipSampleRange: 1 });
    expect(ddimInverseOptionsFromConfig({ _class_name: 'DPMSolverMultistepScheduler', clip_sample_range: 2 })).toEqual({ clipSampleRange: 2 });
    expect(ddimInverseOptionsFromConfig({ _class_name: 'EulerDiscreteScheduler', clip_sample: false })).toEqual({});
  });
});

describe('DDIM inversion runs', () => {
  for (const [name, cfg, steps] of [
    ['leading, set_alpha_to_one false', SD_VP_DDIM, 10],
    ['leading, set_alpha_to_one true, clip_sample 0.8', { ...SD_VP_DDIM, set_alpha_to_one: true, clip_sample: true, clip_sample_range: 0.8 }, 12],
    ['trailing, 7 steps (T//N differs from the spacing)', { ...SD_VP_DDIM, timestep_spacing: 'trailing' }, 7],
    // First step from abar = 1 (sigma 0): x0 = x, eps = v; clip_sample absent = class default true.
    ['v-prediction, set_alpha_to_one true, class-default clip_sample, leading', { ...SD_VP_DDIM, prediction_type: 'v_prediction', set_alpha_to_one: true, clip_sample: undefined }, 8],
  ] as [string, SchedulerConfig, number][]) {
    it(`equals diffusers DDIMInverseScheduler written out (${name})`, async () => {
      const model = fakeVpModel(p, cfg);
      const out = await invert(model, ddimInverseSigmas(cfg, steps), image);
      const seen = [...model.seen];
      const ref = await ddimInverseLoop(rawModelFn(fakeVpModel(p, cfg), DIMS), cfg, steps, image);
      expect(relL2(out, ref)).toBeLessThan(2e-6);
      expect(seen).toEqual(ddimInverseTimesteps(cfg, steps));
    });
  }

  it('current-level variant (CODE) is first order against the exact reverse ODE (from level >= 0.3)', async () => {
    const STEPS = [10, 20, 40, 80];
    const errors: number[] = [];
    for (const n of STEPS) {
      const full = ddimInverseSigmas(SD_VP_DDIM, n, 'current-level');
      // Start above the sqrt(t) tail of uniform-in-t VP grids (see test/ddim.test.ts).
      const k = full.sigmas.findIndex((s) => s >= 0.3);
      const sigmas = sliceSigmas(full, k, full.timesteps.length);
      const [a, b] = [sigmas.sigmas[0], sigmas.sigmas[sigmas.sigmas.length - 1]].map((s) => 1 / Math.sqrt(s * s + 1));
      const start = Float32Array.from(transportExact(p, Float64Array.from(image), 1, 0, a, Math.sqrt(1 - a * a)));
      const out = await invert(fakeVpModel(p), sigmas, start);
      errors.push(relL2(out, transportExact(p, Float64Array.from(start), a, Math.sqrt(1 - a * a), b, Math.sqrt(1 - b * b))));
    }
    expect(Math.abs(-logLogSlope(STEPS, errors) - 1)).toBeLessThan(0.2);
  });

  it('both variants invert: DDIM sampling back down the same levels returns the image, better with more steps', async () => {
    for (const variant of ['current-level', 'diffusers'] as const) {
      const errs: number[] = [];
      for (const n of [10, 50]) {
        const up = ddimInverseSigmas(SD_VP_DDIM, n, variant);
        const latent = await invert(fakeVpModel(p), up, image);
        // Down: the inverse grid's levels reversed, each step evaluated at its own (current) level.
        const levels = [...up.sigmas].reverse();
        const table = diffusersAbar(SD_VP_DDIM).map((a) => veLevel(a));
        const ts = levels.slice(0, -1).map((s) => table.indexOf(s));
        const down: Sigmas = { space: 'vp', sigmas: levels, timesteps: ts };
        const top = levels[0];
        const x = new Tensor(DIMS, latent.map((v) => v * Math.sqrt(top * top + 1)));
        const r = await runSampler({ solver: createDdim(), sigmas: down, x, model: createDenoiseFn(fakeVpModel(p), { space: 'vp' }) });
        const end = levels[levels.length - 1];
        errs.push(relL2(r.x.data.map((v) => v / Math.sqrt(end * end + 1)), image));
      }
      expect(errs[1]).toBeLessThan(errs[0] / 3);
    }
  });

  it('refuses grids that go down anywhere, naming the step', () => {
    const down: Sigmas = { space: 'vp', sigmas: [2, 1], timesteps: [500] };
    expect(() => createDdimInverse().init({ sigmas: down }, new Tensor(DIMS))).toThrow(/walks up the levels, but these go down at step 1 \(2 -> 1\): use a schedule that only ascends/);
    // Up, then down (an edited schedule): the Sampler takes it for an inversion grid by its ends.
    const upDown: Sigmas = { space: 'vp', sigmas: [1, 3, 2], timesteps: [100, 700] };
    expect(() => createDdimInverse().init({ sigmas: upDown }, new Tensor(DIMS))).toThrow(/go down at step 2 \(3 -> 2\)/);
  });
});
