/**
 * DPM-Solver-fast (ComfyUI dpm_fast): its order rule, and the solver on a grid uniform in ln sigma converging
 * at third order on Gaussian data. Whole runs against ComfyUI are in test/comfyui-parity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { Sigmas } from '../nodes/core/values.ts';
import { dpmFastOrders } from '../nodes/sampling/comfy-schedules.ts';
import { createGaussianParams, seededNormals, transportExact } from '../nodes/sampling/gaussian.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { createSolver } from '../nodes/sampling/solver-registry.ts';
import { solverModelCalls } from '../nodes/sampling/solver.ts';
import { exactVeDenoiseFn, relL2 } from './sampling-fake-model.ts';

describe('DPM-Solver-fast', () => {
  it('orders: 3s, then 2, 1 or the remainder, summing to the model calls', () => {
    expect(dpmFastOrders(10)).toEqual([3, 3, 3, 1]);
    expect(dpmFastOrders(11)).toEqual([3, 3, 3, 2]);
    expect(dpmFastOrders(12)).toEqual([3, 3, 3, 2, 1]);
    for (let n = 1; n <= 40; n++) expect(dpmFastOrders(n).reduce((a, b) => a + b, 0)).toBe(n);
  });

  const p = createGaussianParams({ dims: [2, 4, 4], seed: 12 });
  const model = exactVeDenoiseFn(p);
  /** ComfyUI's dpm_fast grid for `nfe` calls between 14.6 and 0.03. */
  const grid = (nfe: number): Sigmas => {
    const orders = dpmFastOrders(nfe);
    const m = orders.length;
    const levels = Array.from({ length: m + 1 }, (_, i) => Math.exp(Math.log(14.6) + (i / m) * (Math.log(0.03) - Math.log(14.6))));
    return { space: 'vp', sigmas: levels, timesteps: levels.slice(0, -1), stepOrders: orders };
  };

  it('makes as many model calls as the grid was built for, and converges at third order', async () => {
    const error = async (nfe: number) => {
      const x = new Tensor([1, 2, 4, 4], Float32Array.from(seededNormals(32, 4), (v) => 14.6 * v));
      const sigmas = grid(nfe);
      const solver = createSolver('dpm_fast');
      expect(solverModelCalls(solver, sigmas)).toBe(nfe);
      const out = await runSampler({ solver, sigmas, x, model });
      expect(out.modelCalls).toBe(nfe);
      return relL2(out.x.data, transportExact(p, Float64Array.from(x.data), 1, 14.6, 1, 0.03));
    };
    // Multiples of 3 plus 2: every step order 3 but a last order-2 one, so the pattern keeps its shape.
    const e1 = await error(17);
    const e2 = await error(35);
    expect(Math.log(e1 / e2) / Math.log(35 / 17)).toBeGreaterThan(2.6);
  });
});
