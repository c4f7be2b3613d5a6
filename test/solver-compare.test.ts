import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ExecContext } from '../nodes/core/types.ts';
import { fakeExecContext } from './helpers/exec-context.ts';
import { createGaussianParams, sampleData } from '../nodes/sampling/gaussian.ts';
import { createDdim, ddimInverseSigmas } from '../nodes/sampling/ddim.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';
import { modelTimestepAt } from '../nodes/sampling/level-timestep.ts';
import { createSolver } from '../nodes/sampling/solver-registry.ts';
import { analyticParams, closedFormReference, markdownTable, measuredOrder, referenceGrid, SolverCompare, stepsForBudget } from '../nodes/solver-compare.ts';
import { fakeFlowModel, fakeVpModel, FLOW_MATCH_SHIFT3, relL2, SD_VP_DDIM, type FakeModel } from './sampling-fake-model.ts';

// The fake models are built on the default-seed Gaussian of these dims and flagged as embedded analytic
// models, so SolverCompare can use the closed form (as it does for embedded:gaussian-*).
const SAMPLE_DIMS = [3, 8, 8];
const p = createGaussianParams({ dims: SAMPLE_DIMS });
const DIMS = [1, ...SAMPLE_DIMS];

function analytic(model: FakeModel, name: string): FakeModel {
  model.modelIndex = { ...model.modelIndex, flowstudio: { ...(model.modelIndex.flowstudio as object), analytic: name, sample_dims: SAMPLE_DIMS } };
  return model;
}

function context(): ExecContext & { done: number[] } {
  const done: number[] = [];
  return { ...fakeExecContext({ nodeId: 'c', nodeType: 'SolverCompare', progress: (step) => done.push(step) }), done };
}

type Params = Parameters<typeof SolverCompare.execute>[2];
const defaults: Params = { solvers: 'ddim, euler, heun, lms', nfe: '5, 10, 20, 50', seed: 0, direction: 'sample', reference: 'auto', reference_steps: 400 };

function compare(model: FakeModel, params: Partial<Params>, ctx = context(), latent = Tensor.zeros(DIMS)) {
  return SolverCompare.execute(ctx, { model, latent, noise: undefined, conditioning: undefined }, { ...defaults, ...params });
}

describe('SolverCompare helpers', () => {
  it('gives each solver the most steps whose model calls fit the budget', () => {
    const model = fakeVpModel(p);
    const grid = (solver: string) => (n: number) => buildSigmas(SD_VP_DDIM, model.modelIndex, n, solver);
    expect(stepsForBudget(createSolver('euler'), grid('euler'), 10)).toBe(10);
    // Heun to sigma 0: 2n - 1 calls.
    expect(stepsForBudget(createSolver('heun'), grid('heun'), 10)).toBe(5);
    expect(stepsForBudget(createSolver('heun'), grid('heun'), 5)).toBe(3);
    const flow = fakeFlowModel(p);
    expect(stepsForBudget(createSolver('rf_solver'), (n) => buildSigmas(FLOW_MATCH_SHIFT3, flow.modelIndex, n, 'rf_solver'), 10)).toBe(5);
  });

  it('PNDM with its Runge-Kutta warm-up starts at 4 steps (13 calls): smaller budgets get no entry', async () => {
    const model = analytic(fakeVpModel(p), 'gaussian-vp');
    const grid = (n: number) => buildSigmas(SD_VP_DDIM, model.modelIndex, n, 'pndm');
    expect(stepsForBudget(createSolver('pndm', SD_VP_DDIM), grid, 20)).toBe(11);
    // LCM's grid has at most original_inference_steps (50) steps, whatever the budget.
    expect(stepsForBudget(createSolver('lcm', SD_VP_DDIM), (n) => buildSigmas(SD_VP_DDIM, model.modelIndex, n, 'lcm'), 80)).toBe(50);
    const ctx = context();
    const out = await compare(model, { solvers: 'ddim, pndm', nfe: '5, 20' }, ctx);
    const table = out.table as string;
    expect(table).toMatch(/\| pndm \| - \| \d\.\d\de-\d \|/);
    expect(ctx.done.at(-1)).toBe(4);
  });

  it('measures the order as the log-log slope', () => {
    expect(measuredOrder([5, 10, 20, 50], [5, 10, 20, 50].map((n) => 3 * n ** -2))).toBeCloseTo(2, 10);
    expect(measuredOrder([10], [0.1])).toBeUndefined();
  });

  it('builds a fine reference grid between a grid\'s end levels (geometric, then the final 0)', () => {
    const g = referenceGrid({ space: 'vp', sigmas: [10, 1, 0.1, 0], timesteps: [3, 2, 1] }, 20, (s) => s);
    expect(g.sigmas[0]).toBe(10);
    expect(g.sigmas[g.sigmas.length - 2]).toBeCloseTo(0.1, 12);
    expect(g.sigmas[g.sigmas.length - 1]).toBe(0);
    expect(g.timesteps.length).toBe(20);
  });

  it('recognises embedded analytic models', () => {
    expect(analyticParams(fakeVpModel(p))).toBeUndefined();
    const params = analyticParams(analytic(fakeVpModel(p), 'gaussian-vp'));
    expect(params?.dims).toEqual(SAMPLE_DIMS);
    expect(params?.mu[3]).toBe(p.mu[3]);
  });
});

describe('SolverCompare node', () => {
  it('reports error vs NFE against the closed form: errors fall with NFE, Heun and LMS beat Euler, one row per solver', async () => {
    const ctx = context();
    const out = await compare(analytic(fakeVpModel(p), 'gaussian-vp'), {}, ctx);
    const v = out.metrics.values;
    for (const s of ['ddim', 'euler', 'heun', 'lms']) {
      expect(v[`error/${s}/50`]).toBeLessThan(v[`error/${s}/5`]);
      expect(out.metrics.series?.[`error/${s}`].length).toBe(4);
    }
    expect(v['error/heun/50']).toBeLessThan(v['error/euler/50']);
    expect(v['error/lms/50']).toBeLessThan(v['error/euler/50']);
    expect(out.metrics.series?.['nfe/heun']).toEqual([5, 9, 19, 49]);
    expect(out.table).toMatch(/closed-form/);
    const rows = out.table.split('\n').filter((l) => l.startsWith('| '));
    expect(rows[0]).toBe('| solver | NFE 5 | NFE 10 | NFE 20 | NFE 50 | order |');
    expect(rows.slice(1).map((r) => r.split('|')[1].trim())).toEqual(['ddim', 'euler', 'heun', 'lms']);
    expect(rows.find((r) => r.startsWith('| heun'))).toMatch(/\(9\)/);
    expect(ctx.done.at(-1)).toBe(16);
  });

  it('the numerical reference (Heun on a fine grid) agrees with the closed form', async () => {
    const flow = analytic(fakeFlowModel(p), 'gaussian-rf');
    const exact = await compare(flow, { solvers: 'flow_euler, rf_solver', nfe: '4, 8' });
    const numeric = await compare(flow, { solvers: 'flow_euler, rf_solver', nfe: '4, 8', reference: 'numerical', reference_steps: 200 });
    for (const key of ['error/flow_euler/4', 'error/flow_euler/8', 'error/rf_solver/8']) {
      expect(Math.abs(numeric.metrics.values[key] / exact.metrics.values[key] - 1)).toBeLessThan(0.05);
    }
    expect(numeric.table).toMatch(/Heun, 200 steps/);
  });

  it('direction invert: each solver inverts the latent up its inversion grid, against the exact reverse flow', async () => {
    const image = new Tensor(DIMS, Float32Array.from(sampleData(p, 1, 4)));
    const vp = analytic(fakeVpModel(p), 'gaussian-vp');
    const out = await compare(vp, { direction: 'invert', solvers: 'ddim, heun, dpmpp_2m', nfe: '10, 40' }, context(), image);
    const v = out.metrics.values;
    for (const s of ['ddim', 'heun', 'dpmpp_2m']) expect(v[`error/${s}/40`]).toBeLessThan(v[`error/${s}/10`] / 2);
    expect(out.table).toMatch(/inverted latent/);
    // The closed form is the transport from each grid's first level up to its last: check one run by hand.
    const grid = ddimInverseSigmas(vp.scheduler, 10);
    const x = new Tensor(DIMS, image.data.map((u) => u * Math.sqrt(1 + grid.sigmas[0] ** 2)));
    const r = await runSampler({ solver: createDdim(), sigmas: grid, x, model: createDenoiseFn(vp, { space: 'vp' }) });
    expect(Math.abs(relL2(r.x.data, closedFormReference(p, x, grid)) / v['error/ddim/10'] - 1)).toBeLessThan(1e-6);
    // The fine-grid reference walks upwards too and agrees with the closed form.
    const numeric = await compare(vp, { direction: 'invert', solvers: 'dpmpp_2m', nfe: '10', reference: 'numerical', reference_steps: 400 }, context(), image);
    expect(Math.abs(numeric.metrics.values['error/dpmpp_2m/10'] / v['error/dpmpp_2m/10'] - 1)).toBeLessThan(0.05);
    await expect(compare(vp, { direction: 'invert', solvers: 'euler_ancestral' }, context(), image)).rejects.toThrow(/cannot invert/);
  });

  it("feeds off-grid levels the timesteps of each grid's own class table (KDPM2 ignores rescale_betas_zero_snr)", async () => {
    const cfg = { ...SD_VP_DDIM, rescale_betas_zero_snr: true, timestep_spacing: 'trailing' };
    // The network is the plain table's (its zero-SNR top is infinite); the folder's config carries the key.
    const vp = analytic(fakeVpModel(p, { ...cfg, rescale_betas_zero_snr: false }), 'gaussian-vp');
    vp.scheduler = cfg;
    await compare(vp, { solvers: 'dpm_2', nfe: '5' });
    // 3 steps to sigma 0: the grid's levels and two midpoints between them, t0, m0, t1, m1, t2.
    const grid = buildSigmas(cfg, vp.modelIndex, 3, 'dpm_2');
    const mids = [0, 1].map((i) => Math.sqrt(grid.sigmas[i] * grid.sigmas[i + 1]));
    const plain = modelTimestepAt(cfg, vp.modelIndex, 'vp', grid.origin);
    const zeroSnr = modelTimestepAt(cfg, vp.modelIndex, 'vp');
    expect(vp.seen).toEqual([grid.timesteps[0], plain(mids[0]), grid.timesteps[1], plain(mids[1]), grid.timesteps[2]].map(Math.fround));
    // The zero-SNR table would feed other midpoint timesteps.
    expect(Math.abs(zeroSnr(mids[0]) - plain(mids[0]))).toBeGreaterThan(0.5);
  });

  it('marks stochastic solvers and gives them no order', async () => {
    const out = await compare(analytic(fakeVpModel(p), 'gaussian-vp'), { solvers: 'euler_ancestral, ddim', nfe: '5, 10' });
    expect(out.metrics.values['order/euler_ancestral']).toBeUndefined();
    expect(out.metrics.values['order/ddim']).toBeGreaterThan(0);
    expect(out.table).toMatch(/\| euler_ancestral \* \|/);
  });

  it('names bad input: unknown solvers, solvers of the other model space, bad budgets, closed form without an analytic model', async () => {
    const vp = analytic(fakeVpModel(p), 'gaussian-vp');
    await expect(compare(vp, { solvers: 'ddim, nope' })).rejects.toThrow(/unknown solver "nope"/);
    await expect(compare(vp, { solvers: 'rf_solver' })).rejects.toThrow(/flow models only/);
    await expect(compare(vp, { nfe: '5, x' })).rejects.toThrow(/"x" is not a positive integer/);
    await expect(compare(fakeVpModel(p), { reference: 'closed_form' })).rejects.toThrow(/embedded analytic model/);
  });

  it('markdownTable shows the calls made when they differ from the budget', () => {
    const table = markdownTable({
      solvers: ['a'],
      budgets: [10],
      runs: [{ solver: 'a', budget: 10, steps: 5, nfe: 9, error: 0.0123 }],
      orders: { a: undefined },
      stochastic: { a: false },
      reference: 'x',
    });
    expect(table.split('\n')[2]).toBe('| a | 1.23e-2 (9) | - |');
  });
});
