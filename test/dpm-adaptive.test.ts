/**
 * DPM-Solver-23 with adaptive steps (ComfyUI dpm_adaptive): tighter tolerances buy accuracy with model calls,
 * and the result approaches the exact PF-ODE solution on Gaussian data. Whole runs against ComfyUI are in
 * test/comfyui-parity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { Sigmas } from '../nodes/core/values.ts';
import { createDpmAdaptive, type DpmAdaptiveOptions } from '../nodes/sampling/dpm-adaptive.ts';
import { createGaussianParams, seededNormals, transportExact } from '../nodes/sampling/gaussian.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { exactVeDenoiseFn, relL2 } from './sampling-fake-model.ts';

describe('DPM-Solver adaptive', () => {
  const p = createGaussianParams({ dims: [2, 4, 4], seed: 13 });
  const model = exactVeDenoiseFn(p);
  const GRID: Sigmas = { space: 'vp', sigmas: [14.6, 0.03], timesteps: [999] };

  async function run(opts: DpmAdaptiveOptions, sigmas = GRID) {
    const x = new Tensor([1, 2, 4, 4], Float32Array.from(seededNormals(32, 6), (v) => 14.6 * v));
    const out = await runSampler({ solver: createDpmAdaptive(opts), sigmas, x, model });
    const last = sigmas.sigmas[sigmas.sigmas.length - 1];
    return { out, error: relL2(out.x.data, transportExact(p, Float64Array.from(x.data), 1, 14.6, 1, last)) };
  }

  it('tighter tolerances: more model calls, a smaller error; each attempt costs its order in calls', async () => {
    const loose = await run({});
    const tight = await run({ rtol: 0.005, atol: 0.00078 });
    expect(loose.error).toBeLessThan(0.05);
    expect(tight.error).toBeLessThan(loose.error * 0.75);
    expect(tight.out.modelCalls).toBeGreaterThan(loose.out.modelCalls);
    expect(loose.out.modelCalls % 3).toBe(0);
    const second = await run({ order: 2 });
    expect(second.out.modelCalls % 2).toBe(0);
    expect(second.error).toBeLessThan(0.05);
  });

  it('reports progress inside its step: the share of the -ln sigma span walked, once per accepted step, ending at 1', async () => {
    const x = new Tensor([1, 2, 4, 4], Float32Array.from(seededNormals(32, 6), (v) => 14.6 * v));
    const seen: [number, number, number][] = [];
    let attempts = 0;
    const counting: typeof model = async (u, level) => {
      attempts++;
      return model(u, level);
    };
    const out = await runSampler({ solver: createDpmAdaptive({}), sigmas: GRID, x, model: counting, onStepProgress: (i, n, f) => seen.push([i, n, f]) });
    expect(out.modelCalls).toBe(attempts);
    // One report per accepted step: fewer than the attempts (3 calls each), rising, the last at the grid's end.
    expect(seen.length).toBeGreaterThan(3);
    expect(seen.length).toBeLessThanOrEqual(attempts / 3);
    expect(seen.every(([i, n]) => i === 0 && n === 1)).toBe(true);
    const fractions = seen.map((r) => r[2]);
    fractions.forEach((f, k) => expect(f).toBeGreaterThan(k ? fractions[k - 1] : 0));
    expect(fractions[fractions.length - 1]).toBeCloseTo(1, 5);
  });

  it('with eta (SamplerDPMAdaptative): one noise draw per accepted step, none at eta 0; the options are checked', async () => {
    const x = new Tensor([1, 2, 4, 4], Float32Array.from(seededNormals(32, 6), (v) => 14.6 * v));
    let draws = 0;
    const noise = (dims: readonly number[]) => (draws++, new Tensor(dims, Float32Array.from(seededNormals(dims.reduce((a, b) => a * b, 1), 50 + draws))));
    const ode = await runSampler({ solver: createDpmAdaptive({}), sigmas: GRID, x, model, noise });
    expect(draws).toBe(0);
    const sde = await runSampler({ solver: createDpmAdaptive({ eta: 1 }), sigmas: GRID, x, model, noise });
    expect(draws).toBeGreaterThan(0);
    expect(draws).toBeLessThanOrEqual(sde.modelCalls / 3);
    expect(relL2(sde.x.data, ode.x.data)).toBeGreaterThan(1e-3);
    expect(() => createDpmAdaptive({ eta: -1 })).toThrow(/eta must be/);
    expect(() => createDpmAdaptive({ eta: 1 }).init({ sigmas: GRID }, x)).toThrow(/needs a noise source/);
  });

  it('a grid ending at 0: the step onto 0 returns the x0 prediction', async () => {
    const sigmas: Sigmas = { space: 'vp', sigmas: [14.6, 0.03, 0], timesteps: [999, 1] };
    const { out } = await run({}, sigmas);
    const atLast = (await run({})).out.x;
    const d = await model(atLast, { sigma: 0.03, timestep: 1 });
    expect(relL2(out.x.data, d.denoised.data)).toBeLessThan(1e-6);
  });

  // A NaN error estimate turns the step size NaN, whose coefficients linearCombination refuses; the sampler
  // then names the non-finite output. Without that the controller would reject steps forever.
  it('stops on a non-finite model output, naming it, instead of retrying forever', async () => {
    const nan: typeof model = async (x, level) => {
      const p0 = await model(x, level);
      const eps = new Tensor(x.dims, p0.eps.data.map((v, k) => (k === 3 && level.sigma < 5 ? NaN : v)));
      return { denoised: p0.denoised, eps, derivative: eps };
    };
    const x = new Tensor([1, 2, 4, 4], Float32Array.from(seededNormals(32, 6), (v) => 14.6 * v));
    // A timestep for any level, so that no timestep lookup is what stops the loop.
    await expect(runSampler({ solver: createDpmAdaptive(), sigmas: GRID, x, model: nan, timestepAt: () => 0 })).rejects.toThrow(/non-finite/);
  });

  it('refuses bad options', () => {
    expect(() => createDpmAdaptive({ order: 4 as 3 })).toThrow(/order/);
    expect(() => createDpmAdaptive({ rtol: 0 })).toThrow(/rtol/);
    // The controller's factor never reaches 1 + pi/2: a higher accept safety could accept nothing.
    expect(() => createDpmAdaptive({ acceptSafety: 2.58 })).toThrow(/accept safety must be in \[0, 2\.571\)/);
    expect(() => createDpmAdaptive({ acceptSafety: 2.57 })).not.toThrow();
  });

  // k-diffusion loops on in both cases; a run that cannot finish is refused with its cause instead.
  it('refuses a run whose controller accepts nothing, or whose step falls below float32 resolution', async () => {
    // Above 1 the bar can sit over every factor the controller proposes while the step stays clamped to the
    // grid step's end: 100 rejections in a row end the run (3 model calls each at order 3).
    const calls = { n: 0 };
    const counted: typeof model = async (x, level) => (calls.n++, model(x, level));
    const x = new Tensor([1, 2, 4, 4], Float32Array.from(seededNormals(32, 6), (v) => 14.6 * v));
    await expect(runSampler({ solver: createDpmAdaptive({ acceptSafety: 2.5 }), sigmas: GRID, x, model: counted })).rejects.toThrow(
      /dpm_adaptive: 100 attempts in a row rejected at sigma [\d.]+ \(accept safety 2\.5, rtol 0\.05, atol 0\.0078\)/,
    );
    // Steps of tiny error (factors near 1 + pi/2) pass before the bar stops every attempt.
    expect(calls.n).toBeGreaterThanOrEqual(300);
    expect(calls.n % 3).toBe(0);
    // A model whose output jitters from call to call (stage differences that do not vanish with h) and
    // tolerances no step can meet: each rejection shrinks the step until s + h rounds to s in float32.
    const jittery: typeof model = async (u, level) => {
      const p0 = await model(u, level);
      const eps = new Tensor(u.dims, p0.eps.data.map((v) => v + (calls.n % 2 ? 1e-3 : -1e-3)));
      calls.n++;
      return { denoised: p0.denoised, eps, derivative: eps };
    };
    await expect(runSampler({ solver: createDpmAdaptive({ rtol: 1e-9, atol: 1e-9 }), sigmas: GRID, x, model: jittery })).rejects.toThrow(
      /the step size fell to .* at sigma 14\.6\d*, below float32's resolution there: the tolerances cannot be met; loosen rtol \(1e-9\) or atol \(1e-9\)/,
    );
  });
});
