/**
 * Consistency models (cm.ts): CMStochasticIterativeScheduler's grid against diffusers' own values, the
 * consistency function's boundary condition, and the stochastic step. Whole runs against diffusers are in the
 * parity suite (its cm cases).
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import { CM_CLASS, cmDenoised, cmParams, cmSigmas, createCmStochastic } from '../nodes/sampling/cm.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { buildInversionSigmas } from '../nodes/sampling/inversion-sigmas.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';
import { createSolver } from '../nodes/sampling/solver-registry.ts';
import { defaultSolverFor } from '../nodes/sampling/schedule-rules.ts';

const CFG = { _class_name: CM_CLASS };
const p = cmParams(CFG)!;

describe('CMStochasticIterativeScheduler grid', () => {
  // diffusers 58eb52c: scheduler.set_timesteps(n); scheduler.sigmas (float32), scheduler.timesteps (float64).
  const DIFFUSERS: Record<number, { sigmas: number[]; timesteps: number[] }> = {
    1: { sigmas: [80.0, 0.0020000000949949026], timesteps: [1095.5066586684702] },
    2: { sigmas: [80.0, 2.2404396533966064, 0.0020000000949949026], timesteps: [1095.5066586684702, 201.66804188748551] },
    4: {
      sigmas: [80.0, 16.779890060424805, 2.2404396533966064, 0.13119736313819885, 0.0020000000949949026],
      timesteps: [1095.5066586684702, 705.0452789277746, 201.66804188748551, -507.763125356554],
    },
  };

  it.each([1, 2, 4])('%i steps: the levels and timesteps diffusers sets', (n) => {
    const s = cmSigmas(CFG, n);
    expect(s.sigmas).toEqual(DIFFUSERS[n].sigmas);
    s.timesteps.forEach((t, k) => expect(Math.abs(t - DIFFUSERS[n].timesteps[k])).toBeLessThan(1e-9));
    expect(s.initNoiseSigma).toBe(80);
    expect(s.origin).toBe(CM_CLASS);
  });

  it('at most num_train_timesteps steps; the Schedule rules take the model\'s own grid for any sigma-grid solver', () => {
    expect(() => cmSigmas(CFG, 41)).toThrow(/num_train_timesteps \(40\)/);
    expect(buildSigmas(CFG, {}, 4, 'cm_stochastic').sigmas).toEqual(DIFFUSERS[4].sigmas);
    expect(buildSigmas(CFG, {}, 4, 'euler').sigmas).toEqual(DIFFUSERS[4].sigmas);
    expect(() => buildSigmas(CFG, {}, 4, 'ddim')).toThrow(/consistency model/);
    expect(defaultSolverFor(CFG, 'vp')).toBe('cm_stochastic');
    expect(() => buildInversionSigmas(CFG, {}, 4, 'euler')).toThrow(/consistency model .* cannot invert/);
  });
});

describe('the consistency function and its sampler', () => {
  const x = new Tensor([1, 4], Float32Array.of(0.3, -2, 5, 0.1));
  const F = new Tensor([1, 4], Float32Array.of(1, 0.5, -0.2, 0.4));

  it('satisfies the boundary condition f(x, sigma_min) = x, and is c_skip x + c_out F elsewhere, clipped to [-1, 1]', () => {
    const atMin = cmDenoised({ ...p, clipDenoised: false }, F, x, p.sigmaMin);
    expect(Array.from(atMin.data)).toEqual(Array.from(x.data));
    const s = 2;
    const skip = 0.25 / ((s - 0.002) ** 2 + 0.25);
    const out = ((s - 0.002) * 0.5) / Math.sqrt(s * s + 0.25);
    const raw = cmDenoised({ ...p, clipDenoised: false }, F, x, s);
    raw.data.forEach((v, k) => expect(v).toBeCloseTo(skip * x.data[k] + out * F.data[k], 6));
    const clipped = cmDenoised(p, F, x, s);
    clipped.data.forEach((v, k) => expect(v).toBeCloseTo(Math.min(Math.max(raw.data[k], -1), 1), 7));
    expect(Math.max(...clipped.data)).toBeLessThanOrEqual(1);
  });

  it('each step is D + s_noise z sqrt(s_next^2 - sigma_min^2); one-step runs draw no noise', async () => {
    const sigmas = cmSigmas(CFG, 2);
    const D = new Tensor([1, 4], Float32Array.of(0.1, 0.2, -0.3, 0.4));
    const model = async () => ({ denoised: D, eps: D, derivative: D });
    const zs = [Float32Array.of(1, -1, 0.5, 2), Float32Array.of(3, 3, 3, 3)];
    let drawn = 0;
    const noise = (dims: readonly number[]) => new Tensor(dims, zs[drawn++].slice());
    const solver = createSolver('cm_stochastic', { ...CFG, s_noise: 1.5 }, {}, {});
    const r = await runSampler({ solver, sigmas, x: Tensor.full([1, 4], 80), model, noise });
    // Two draws (diffusers draws on the last step too, at weight ~0): the result is D + tiny.
    expect(drawn).toBe(2);
    r.x.data.forEach((v, k) => expect(v).toBeCloseTo(D.data[k], 5));
    // After the first step: D + 1.5 z sqrt(2.2404^2 - 0.002^2).
    const one = await runSampler({ solver: createCmStochastic({ ...p, sNoise: 1.5 }), sigmas: { ...sigmas, sigmas: sigmas.sigmas.slice(0, 2), timesteps: sigmas.timesteps.slice(0, 1) }, x: Tensor.full([1, 4], 80), model, noise: () => new Tensor([1, 4], zs[0].slice()) });
    // A one-step grid draws nothing: a lone step returns D.
    expect(Array.from(one.x.data)).toEqual(Array.from(D.data));
    const w = 1.5 * Math.sqrt(2.2404396533966064 ** 2 - 0.002 ** 2);
    const first = await createCmStochastic({ ...p, sNoise: 1.5 }).step({ sigmas, noise: () => new Tensor([1, 4], zs[0].slice()) }, { x: Tensor.full([1, 4], 80) }, 0, model);
    first.x.data.forEach((v, k) => expect(v).toBeCloseTo(D.data[k] + w * zs[0][k], 5));
  });

  it('refuses a model that is not a consistency model', () => {
    expect(() => createSolver('cm_stochastic', { _class_name: 'EulerDiscreteScheduler' }, {}, {})).toThrow(/CMStochasticIterativeScheduler/);
  });
});
