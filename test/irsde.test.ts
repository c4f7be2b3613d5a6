/**
 * IR-SDE's mean-reverting schedule and MR Sampler's grid over it (nodes/sampling/irsde.ts). Literals computed
 * independently in float64 NumPy from the reference's formulas; MRS walking the grid is measured against the
 * closed-form mean-reverting Gaussian transport.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import { createGaussianParams, denoisedVP, sampleData, seededNormals, transportExact, type GaussianParams } from '../nodes/sampling/gaussian.ts';
import { irsdeSigmas, irsdeTable, irsdeThetas } from '../nodes/sampling/irsde.ts';
import { createMrs, mrCoefficients } from '../nodes/sampling/mrs.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import type { DenoiseFn } from '../nodes/sampling/solver.ts';
import { logLogSlope, relL2 } from './sampling-fake-model.ts';

describe('IR-SDE schedule tables', () => {
  it('match the reference formulas (cosine, linear, constant thetas; dt so that a_T = eps)', () => {
    const want = {
      cosine: [0.9999360642796539, 0.6330278769962966, -0.20496124603838028],
      linear: [0.9994781602078848, 0.47233639324915183, -0.4911025889180747],
      constant: [0.9488936160261175, 0.1362278624693307, -1.727502235182306],
    };
    for (const [schedule, [a0, a37, lambda63]] of Object.entries(want)) {
      const t = irsdeTable({ schedule });
      expect(t.alpha.length).toBe(101);
      expect(t.alpha[0]).toBeCloseTo(a0, 12);
      expect(t.alpha[37]).toBeCloseTo(a37, 12);
      expect(t.lambda[63]).toBeCloseTo(lambda63, 11);
      expect(t.alpha[100]).toBeCloseTo(0.005, 14);
      expect(t.sigmaInf).toBeCloseTo(50 / 255, 15);
      for (let i = 0; i <= 100; i++) expect(t.sigmaBar[i] ** 2 + (t.sigmaInf * t.alpha[i]) ** 2).toBeCloseTo(t.sigmaInf ** 2, 14);
    }
    expect(irsdeThetas('cosine', 100)[100]).toBeCloseTo(0.9997665724804802, 12);
    expect(irsdeTable({ max_sigma: 0.3 }).sigmaInf).toBe(0.3);
  });

  it('refuses bad options by name', () => {
    expect(() => irsdeTable({ schedule: 'sigmoid' })).toThrow(/unknown schedule "sigmoid"/);
    expect(() => irsdeTable({ eps: 1 })).toThrow(/eps must be in \(0, 1\)/);
    expect(() => irsdeTable({ T: 1 })).toThrow(/T must be a whole number >= 2/);
    expect(() => irsdeTable({ max_sigma: 0 })).toThrow(/max_sigma/);
  });
});

describe("MR Sampler's linspace grid", () => {
  it('walks t from T to 0 in N steps; levels e^{-lambda}, lambda interpolated in t; lambda_min moves the start', () => {
    const table = irsdeTable();
    const g = irsdeSigmas(table, { steps: 8 });
    expect(g.timesteps).toEqual([100, 87.5, 75, 62.5, 50, 37.5, 25, 12.5]);
    const want = [39.2151960753676, 10.864095358272928, 3.304381799445166, 1.1824321685664707, 0.5068444562708704, 0.24652927841625336, 0.11995279958514198, 0.04509432352191999, 0.002217366229915353];
    g.sigmas.forEach((s, i) => expect(s / want[i] - 1).toBeCloseTo(0, 12));
    // At training times the level's MR coefficients are the table's.
    const at50 = mrCoefficients(g.sigmas[4], table.sigmaInf);
    expect(at50.a).toBeCloseTo(table.alpha[50], 13);
    expect(at50.sbar).toBeCloseTo(table.sigmaBar[50], 13);
    // sigma_inf 10/255: lambda(100) = -2.06 < -2, so the grid starts at t = 99.
    const clipped = irsdeSigmas(irsdeTable({ max_sigma: 10 }), { steps: 3, lambdaMin: -2 });
    expect(clipped.timesteps).toEqual([99, 66, 33]);
    expect(() => irsdeSigmas(table, { steps: 4, lambdaMin: 100 })).toThrow(/leaves no training time/);
  });
});

describe('MRS on the IR-SDE grid, closed-form mean-reverting Gaussian', () => {
  const table = irsdeTable();
  const data = createGaussianParams({ dims: [3, 8, 8], seed: 5 });
  const DIMS = [1, 3, 8, 8];
  const muData = Float64Array.from(data.mu, (m, k) => 0.4 * m + 0.1 * Math.cos(k));
  const mu = new Tensor(DIMS, Float32Array.from(muData));
  const shifted: GaussianParams = { ...data, mu: Float64Array.from(data.mu, (m, k) => m - muData[k]) };
  const z = Float64Array.from(seededNormals(192, 21));
  const model: DenoiseFn = async (x, level) => {
    const { a, sbar } = mrCoefficients(level.sigma, table.sigmaInf);
    const y = Float64Array.from(x.data, (v, k) => v - muData[k]);
    const dy = denoisedVP(shifted, y, a, sbar);
    const eps = new Tensor(x.dims, Float32Array.from(y, (v, k) => (v - a * dy[k]) / sbar));
    return { denoised: new Tensor(x.dims, Float32Array.from(dy, (v, k) => v + muData[k])), eps, derivative: eps };
  };

  it('order 2 converges at second order from the prior region (t = T) to t = 0, order 1 at first', async () => {
    // Local slopes of order 2 fall from 2.4 (10 -> 20 steps) to 2.1 (80 -> 160): the linspace-in-t grid's
    // uneven lambda steps make the coarse grids look faster than second order, so measure from 40 steps on.
    const steps = [40, 80, 160, 320];
    const errors = async (order: number) => {
      const out: number[] = [];
      for (const n of steps) {
        const grid = irsdeSigmas(table, { steps: n });
        const start = mrCoefficients(grid.sigmas[0], table.sigmaInf);
        const end = mrCoefficients(grid.sigmas[n], table.sigmaInf);
        const x0 = sampleData(data, 1, 4);
        const x = new Tensor(DIMS, Float32Array.from(x0, (v, k) => muData[k] + start.a * (v - muData[k]) + start.sbar * z[k]));
        const r = await runSampler({ solver: createMrs({ order, mu, sigmaInf: table.sigmaInf }), sigmas: grid, x, model });
        const y = Float64Array.from(x.data, (v, k) => v - muData[k]);
        const exact = transportExact(shifted, y, start.a, start.sbar, end.a, end.sbar).map((v, k) => v + muData[k]);
        out.push(relL2(r.x.data, exact));
      }
      return out;
    };
    const e1 = await errors(1);
    const e2 = await errors(2);
    expect(Math.abs(-logLogSlope(steps, e1) - 1), `order 1: ${e1.map((e) => e.toExponential(2))}`).toBeLessThan(0.2);
    expect(Math.abs(-logLogSlope(steps, e2) - 2), `order 2: ${e2.map((e) => e.toExponential(2))}`).toBeLessThan(0.2);
  });
});
