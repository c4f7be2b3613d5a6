/**
 * SA-Solver (nodes/sampling/sa-solver.ts): its coefficients against quadrature of the exponentially weighted
 * interpolation they stand for, and the ODE form (no SDE interval) converging on Gaussian data at high order.
 * Whole runs against ComfyUI's sa_solver / sa_solver_pece are in test/comfyui-parity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { Sigmas } from '../nodes/core/values.ts';
import { createGaussianParams, seededNormals, transportExact } from '../nodes/sampling/gaussian.ts';
import { createSaSolver, stochasticAdamsCoeffs } from '../nodes/sampling/sa-solver.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { exactVeDenoiseFn, relL2 } from './sampling-fake-model.ts';

/** alpha_t (1 + tau^2) * integral over [ls, lt] of e^{(1 + tau^2)(x - lt)} f(x) dx, by composite Simpson. */
function weightedIntegral(f: (x: number) => number, ls: number, lt: number, tau: number, alphaT: number): number {
  const m = 2000;
  const k = 1 + tau * tau;
  const h = (lt - ls) / m;
  let sum = 0;
  for (let i = 0; i <= m; i++) {
    const x = ls + i * h;
    const w = i === 0 || i === m ? 1 : i % 2 === 1 ? 4 : 2;
    sum += w * Math.exp(k * (x - lt)) * f(x);
  }
  return alphaT * k * (h / 3) * sum;
}

describe('SA-Solver coefficients', () => {
  it.each([
    [1, 0],
    [2, 0],
    [3, 1],
    [4, 1],
  ])('order %i, tau %i: integrate every polynomial of lower degree exactly', (order, tau) => {
    const lambdas = [-1.3, -0.4, 0.35, 0.9].slice(4 - order);
    const [ls, lt] = [0.9, 1.6];
    const sigmaT = Math.exp(-lt);
    const b = stochasticAdamsCoeffs(sigmaT, lambdas, ls, lt, tau);
    for (let deg = 0; deg < order; deg++) {
      const f = (x: number) => (x + 0.3) ** deg;
      const got = lambdas.reduce((acc, l, j) => acc + b[j] * f(l), 0);
      expect(got).toBeCloseTo(weightedIntegral(f, ls, lt, tau, sigmaT * Math.exp(lt)), 9);
    }
  });

  it('order 1 without noise is the DPM-Solver++ first-order step: alpha_t (1 - e^{-h})', () => {
    const [ls, lt] = [0.2, 0.9];
    const [b] = stochasticAdamsCoeffs(Math.exp(-lt), [ls], ls, lt, 0);
    expect(b).toBeCloseTo(1 - Math.exp(-(lt - ls)), 12);
  });
});

describe('SA-Solver as an ODE solver (no SDE interval)', () => {
  const p = createGaussianParams({ dims: [2, 4, 4], seed: 11 });
  const DIMS = [1, 2, 4, 4];
  const model = exactVeDenoiseFn(p);
  /** Levels uniform in lambda from 14.6 to 0.03 (the grid ends above 0: the solver's own error). */
  const grid = (n: number): Sigmas => {
    const levels = Array.from({ length: n + 1 }, (_, i) => Math.exp(Math.log(14.6) + (i / n) * (Math.log(0.03) - Math.log(14.6))));
    return { space: 'vp', sigmas: levels, timesteps: levels.slice(0, -1) };
  };
  async function error(pece: boolean, n: number): Promise<number> {
    const x = new Tensor(DIMS, Float32Array.from(seededNormals(32, 5), (v) => 14.6 * v));
    const sigmas = grid(n);
    const out = await runSampler({ solver: createSaSolver({ pece }), sigmas, x, model });
    const exact = transportExact(p, Float64Array.from(x.data), 1, 14.6, 1, sigmas.sigmas[n]);
    return relL2(out.x.data, exact);
  }

  // Predictor order 3 and corrector order 4: about 3.1 without re-evaluation, 3.9 with PECE (20 -> 40 steps).
  it.each([
    [false, 2.8],
    [true, 3.5],
  ])('PECE %s: converges at order %f or more', async (pece, order) => {
    const e20 = await error(pece, 20);
    const e40 = await error(pece, 40);
    expect(Math.log(e20 / e40) / Math.log(2)).toBeGreaterThan(order);
    expect(e40).toBeLessThan(1e-4);
  });
});

describe("SA-Solver takes ComfyUI SamplerSASolver's options", () => {
  const p = createGaussianParams({ dims: [2, 4, 4], seed: 12 });
  const DIMS = [1, 2, 4, 4];
  const levels = Array.from({ length: 9 }, (_, i) => Math.exp(Math.log(14.6) + (i / 8) * (Math.log(0.03) - Math.log(14.6))));
  const sigmas: Sigmas = { space: 'vp', sigmas: levels, timesteps: levels.slice(0, -1) };
  const x = new Tensor(DIMS, Float32Array.from(seededNormals(32, 6), (v) => 14.6 * v));
  const interval = { start: 5, end: 0.5 };
  const noise = () => {
    let k = 0;
    return (dims: readonly number[]) => new Tensor(dims, Float32Array.from(seededNormals(dims.reduce((a, b) => a * b, 1), 100 + k++)));
  };

  it('tau 0 is the ODE whatever the interval (no noise drawn); another tau draws and moves the sample', async () => {
    const ode = await runSampler({ solver: createSaSolver({}), sigmas, x, model: exactVeDenoiseFn(p) });
    let draws = 0;
    const counting = (dims: readonly number[]) => (draws++, new Tensor(dims));
    const tau0 = await runSampler({ solver: createSaSolver({ tauInterval: interval, tau: 0 }), sigmas, x, model: exactVeDenoiseFn(p), noise: counting });
    expect(draws).toBe(0);
    expect(Array.from(tau0.x.data)).toEqual(Array.from(ode.x.data));
    const half = await runSampler({ solver: createSaSolver({ tauInterval: interval, tau: 0.5 }), sigmas, x, model: exactVeDenoiseFn(p), noise: noise() });
    const one = await runSampler({ solver: createSaSolver({ tauInterval: interval }), sigmas, x, model: exactVeDenoiseFn(p), noise: noise() });
    expect(relL2(half.x.data, one.x.data)).toBeGreaterThan(1e-4);
  });

  it('corrector order 0 turns the corrector off; orders and tau are checked', async () => {
    const none = await runSampler({ solver: createSaSolver({ correctorOrder: 0 }), sigmas, x, model: exactVeDenoiseFn(p) });
    const withC = await runSampler({ solver: createSaSolver({}), sigmas, x, model: exactVeDenoiseFn(p) });
    expect(relL2(none.x.data, withC.x.data)).toBeGreaterThan(1e-6);
    expect(() => createSaSolver({ correctorOrder: 7 })).toThrow(/corrector order must be an integer from 0 to 6/);
    expect(() => createSaSolver({ predictorOrder: 0 })).toThrow(/predictor order must be an integer from 1 to 6/);
    expect(() => createSaSolver({ tau: -1 })).toThrow(/eta \(tau\)/);
  });
});

describe('SA-Solver simple order-2 coefficients (ComfyUI simple_order_2)', () => {
  it('sum to the whole step weight alpha_t (1 - e^{-k h}), with the written-out share on one prediction', () => {
    const [sigmaT, ls, lt, prev, tau] = [0.8, -1.2, -0.4, -1.9, 0.7];
    const k = 1 + tau * tau;
    const alphaT = sigmaT * Math.exp(lt);
    const whole = alphaT * -Math.expm1(-k * (lt - ls));
    const pred = stochasticAdamsCoeffs(sigmaT, [prev, ls], ls, lt, tau, true, false);
    expect(pred[0] + pred[1]).toBeCloseTo(whole, 12);
    expect(pred[0]).toBeCloseTo((alphaT * 0.5 * k * (lt - ls) ** 2) / (prev - ls), 12);
    const corr = stochasticAdamsCoeffs(sigmaT, [ls, lt], ls, lt, tau, true, true);
    expect(corr[0] + corr[1]).toBeCloseTo(whole, 12);
    expect(corr[1]).toBeCloseTo(alphaT * 0.5 * k * (lt - ls), 12);
    // Only at order 2: three predictions keep the Lagrange coefficients.
    const three = [prev - 0.5, prev, ls];
    expect(stochasticAdamsCoeffs(sigmaT, three, ls, lt, tau, true)).toEqual(stochasticAdamsCoeffs(sigmaT, three, ls, lt, tau));
  });
});
