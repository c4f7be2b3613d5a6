import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { SchedulerConfig, Sigmas } from '../nodes/core/values.ts';
import { buildSigmas, initNoiseSigma } from '../nodes/sampling/schedules.ts';
import { createSolver } from '../nodes/sampling/solver-registry.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { createDpmSinglestep, singlestepOrderList, type DpmSinglestepOptions } from '../nodes/sampling/dpm-singlestep.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import {
  BATCH_DIMS,
  exactGrid,
  fakeVpTimestep,
  GAUSS,
  lambdaUniformLevels,
  ORDER_GRIDS,
  measureOrder,
  multistepTimesteps,
  NOISE,
  relL2,
  tableGrid,
  vpStartToState,
  lin,
  type Vec,
  npLinspace,
  npRound,
} from './exp-solver-helpers.ts';
import { fakeVpModel, SD_VP_DDIM, type FakeModel } from './sampling-fake-model.ts';
import { diffusersAbar, veLevel } from './helpers/diffusers-table.ts';


/** diffusers DPMSolverSinglestepScheduler.get_order_list, as written there (after set_timesteps' switch). */
function referenceOrderList(steps: number, order: number, lowerOrderFinal: boolean, finalZero: boolean): number[] {
  if (!lowerOrderFinal && steps % order !== 0) lowerOrderFinal = true;
  if (!lowerOrderFinal && finalZero) lowerOrderFinal = true;
  const rep = (a: number[], n: number) => Array.from({ length: n }, () => a).flat();
  let orders: number[];
  if (lowerOrderFinal) {
    if (order === 3) {
      if (steps % 3 === 0) orders = [...rep([1, 2, 3], Math.floor(steps / 3) - 1), 1, 2, 1];
      else if (steps % 3 === 1) orders = [...rep([1, 2, 3], Math.floor(steps / 3)), 1];
      else orders = [...rep([1, 2, 3], Math.floor(steps / 3)), 1, 2];
    } else if (order === 2) {
      orders = steps % 2 === 0 ? [...rep([1, 2], steps / 2 - 1), 1, 1] : [...rep([1, 2], Math.floor(steps / 2)), 1];
    } else orders = rep([1], steps);
  } else if (order === 3) orders = rep([1, 2, 3], Math.floor(steps / 3));
  else if (order === 2) orders = rep([1, 2], Math.floor(steps / 2));
  else orders = rep([1], steps);
  if (finalZero) orders[orders.length - 1] = 1;
  return orders;
}

interface RefConfig {
  algorithm: 'dpmsolver++' | 'dpmsolver';
  order: number;
  solverType: 'midpoint' | 'heun';
  lowerOrderFinal: boolean;
  finalZero: boolean;
}

/** diffusers DPMSolverSinglestepScheduler.step in VP variables, eps-prediction model, float64 state. */
async function diffusersSinglestep(model: FakeModel, c: RefConfig, timesteps: number[], sigmas: number[], x: Vec): Promise<Vec> {
  const as = (s: number): [number, number] => [1 / Math.sqrt(s * s + 1), s / Math.sqrt(s * s + 1)];
  const lam = (s: number) => Math.log(as(s)[0]) - Math.log(as(s)[1]);
  const orders = referenceOrderList(timesteps.length, c.order, c.lowerOrderFinal, c.finalZero);
  const outputs: (Vec | null)[] = Array.from({ length: c.order }, () => null);
  let sample: Vec = x;
  for (let i = 0; i < timesteps.length; i++) {
    const out = await model.denoiser.run({
      sample: { dims: BATCH_DIMS, data: Float32Array.from(x), type: 'float32' },
      timestep: { dims: [1], data: Float32Array.of(timesteps[i]), type: 'float32' },
    });
    const eps = Float64Array.from(out.out_sample.data);
    const [a0, s0] = as(sigmas[i]);
    const m = c.algorithm === 'dpmsolver++' ? lin([[1 / a0, x], [-s0 / a0, eps]]) : eps;
    outputs.shift();
    outputs.push(m);
    let order = orders[i];
    while (outputs[outputs.length - order] === null) order--;
    if (order === 1) sample = x;
    const [aT, sT] = as(sigmas[i + 1]);
    const data = c.algorithm === 'dpmsolver++';
    const e = (v: number) => (data ? Math.exp(-v) : Math.exp(v));
    if (order === 1) {
      const h = lam(sigmas[i + 1]) - lam(sigmas[i]);
      x = data ? lin([[sT / as(sigmas[i])[1], sample], [-(aT * (e(h) - 1)), m]]) : lin([[aT / as(sigmas[i])[0], sample], [-(sT * (e(h) - 1)), m]]);
    } else if (order === 2) {
      const [m0, m1] = [outputs[outputs.length - 1]!, outputs[outputs.length - 2]!];
      const sS1 = sigmas[i - 1];
      const h = lam(sigmas[i + 1]) - lam(sS1);
      const r0 = (lam(sigmas[i]) - lam(sS1)) / h;
      const D0 = m1;
      const D1 = lin([[1 / r0, m0], [-1 / r0, m1]]);
      const start = data ? sT / as(sS1)[1] : aT / as(sS1)[0];
      const w = data ? aT : sT;
      if (c.solverType === 'midpoint') x = lin([[start, sample], [-(w * (e(h) - 1)), D0], [-0.5 * (w * (e(h) - 1)), D1]]);
      else x = data ? lin([[start, sample], [-(w * (e(h) - 1)), D0], [w * ((e(h) - 1) / h + 1), D1]]) : lin([[start, sample], [-(w * (e(h) - 1)), D0], [-(w * ((e(h) - 1) / h - 1)), D1]]);
    } else {
      const [m0, m1, m2] = [outputs[2]!, outputs[1]!, outputs[0]!];
      const sS2 = sigmas[i - 2];
      const h = lam(sigmas[i + 1]) - lam(sS2);
      const r0 = (lam(sigmas[i]) - lam(sS2)) / h;
      const r1 = (lam(sigmas[i - 1]) - lam(sS2)) / h;
      const D0 = m2;
      const D10 = lin([[1 / r1, m1], [-1 / r1, m2]]);
      const D11 = lin([[1 / r0, m0], [-1 / r0, m2]]);
      const D1 = lin([[r0 / (r0 - r1), D10], [-r1 / (r0 - r1), D11]]);
      const D2 = lin([[2 / (r0 - r1), D11], [-2 / (r0 - r1), D10]]);
      const start = data ? sT / as(sS2)[1] : aT / as(sS2)[0];
      const w = data ? aT : sT;
      if (c.solverType === 'midpoint') {
        x = data ? lin([[start, sample], [-(w * (e(h) - 1)), D0], [w * ((e(h) - 1) / h + 1), D11]]) : lin([[start, sample], [-(w * (e(h) - 1)), D0], [-(w * ((e(h) - 1) / h - 1)), D11]]);
      } else if (data) {
        x = lin([[start, sample], [-(w * (e(h) - 1)), D0], [w * ((e(h) - 1) / h + 1), D1], [-(w * ((e(h) - 1 + h) / h ** 2 - 0.5)), D2]]);
      } else {
        x = lin([[start, sample], [-(w * (e(h) - 1)), D0], [-(w * ((e(h) - 1) / h - 1)), D1], [-(w * ((e(h) - 1 - h) / h ** 2 - 0.5)), D2]]);
      }
    }
  }
  return x;
}

describe('diffusers get_order_list', () => {
  it('matches the diffusers rules for every order, step count and flag', () => {
    for (const order of [1, 2, 3]) {
      for (let steps = 1; steps <= 13; steps++) {
        for (const lof of [false, true]) {
          for (const zero of [false, true]) {
            expect(singlestepOrderList(steps, order, lof, zero), `order ${order}, ${steps} steps, lof ${lof}, zero ${zero}`).toEqual(referenceOrderList(steps, order, lof, zero));
          }
        }
      }
    }
    expect(singlestepOrderList(9, 3, false, false)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3]);
    expect(singlestepOrderList(9, 3, false, true)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 1]);
  });
});

describe('DPM-Solver singlestep matches diffusers DPMSolverSinglestepScheduler (VP-variable reference)', () => {
  const base: RefConfig = { algorithm: 'dpmsolver++', order: 2, solverType: 'midpoint', lowerOrderFinal: false, finalZero: true };
  const cases: { name: string; ref: Partial<RefConfig>; opts: DpmSinglestepOptions; steps: number }[] = [
    { name: 'DPM++ 2S, 10 steps, final sigma 0', ref: {}, opts: {}, steps: 10 },
    { name: 'DPM++ 3S, 12 steps, final sigma 0', ref: { order: 3 }, opts: { order: 3 }, steps: 12 },
    { name: 'DPM++ 3S heun, 9 steps, final sigma_min', ref: { order: 3, solverType: 'heun', finalZero: false }, opts: { order: 3, solverType: 'heun' }, steps: 9 },
    { name: 'DPM++ 3S, 11 steps (uneven: lower_order_final switched on), final sigma_min', ref: { order: 3, finalZero: false }, opts: { order: 3 }, steps: 11 },
    { name: 'DPM-Solver 2S (noise form) heun, 8 steps, final sigma_min', ref: { algorithm: 'dpmsolver', solverType: 'heun', finalZero: false }, opts: { form: 'noise', solverType: 'heun' }, steps: 8 },
    { name: 'DPM-Solver 3S (noise form), 12 steps, final sigma_min', ref: { algorithm: 'dpmsolver', order: 3, finalZero: false }, opts: { form: 'noise', order: 3 }, steps: 12 },
    { name: 'DPM-Solver-1, 6 steps', ref: { order: 1 }, opts: { order: 1 }, steps: 6 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const ref = { ...base, ...c.ref };
      // DPMSolverSinglestepScheduler spaces linspace(0, T-1, N+1) rounded, reversed, last dropped (as the multistep one).
      const ts = multistepTimesteps(c.steps);
      const sigmas = tableGrid(SD_VP_DDIM, ts, ref.finalZero ? 'zero' : 'sigma_min');
      const model = fakeVpModel(GAUSS);
      const r = await runSampler({
        solver: createDpmSinglestep(c.opts),
        sigmas,
        x: new Tensor(BATCH_DIMS, vpStartToState(NOISE, sigmas.sigmas[0])),
        model: createDenoiseFn(model, { space: 'vp' }),
      });
      const sEnd = sigmas.sigmas[c.steps];
      const expected = await diffusersSinglestep(fakeVpModel(GAUSS), ref, ts, sigmas.sigmas, Float64Array.from(NOISE));
      expect(relL2(r.x.data.map((v) => v / Math.sqrt(sEnd * sEnd + 1)), expected)).toBeLessThan(2e-6);
      expect(model.seen).toEqual(ts);
    });
  }

  it('an img2img tail follows the whole schedule\'s order list (orders lowered while outputs are missing)', async () => {
    const ts = multistepTimesteps(12);
    const full = tableGrid(SD_VP_DDIM, ts, 'sigma_min');
    // Start at index 4 of [1,2,3,1,2,3,...]: diffusers runs orders 1 (lowered from 2), 2 (from 3), 1, 2, 3, ...
    const tail: Sigmas = { ...full, sigmas: full.sigmas.slice(4), timesteps: full.timesteps.slice(4) };
    const x = vpStartToState(NOISE, tail.sigmas[0]);
    const run = async (opts: DpmSinglestepOptions) =>
      (await runSampler({ solver: createDpmSinglestep(opts), sigmas: tail, x: new Tensor(BATCH_DIMS, x), model: createDenoiseFn(fakeVpModel(GAUSS), { space: 'vp' }) })).x.data;
    // Reference: the same scheduler over the full list, entered at step 4 with no outputs.
    const as = (s: number) => 1 / Math.sqrt(s * s + 1);
    const orders = referenceOrderList(12, 3, false, false).slice(4);
    expect(orders.slice(0, 3)).toEqual([2, 3, 1]);
    // Orders lowered by missing outputs: 2 -> 1 at the first step, 3 -> 2 at the second.
    const expected = await diffusersSinglestepFrom(tail.timesteps, tail.sigmas, Float64Array.from(x, (v) => v * as(tail.sigmas[0])), [1, 2, ...orders.slice(2)]);
    const ours = await run({ order: 3, scheduleSteps: 12 });
    const sEnd = tail.sigmas[tail.sigmas.length - 1];
    expect(relL2(ours.map((v) => v * as(sEnd)), expected)).toBeLessThan(2e-6);
  });
});

/**
 * The singlestep reference (data form, midpoint) with an explicit per-step order list: an order-k step goes
 * from the sample at the group start g = i - k + 1 with the outputs at g and i (diffusers' updates).
 */
async function diffusersSinglestepFrom(timesteps: number[], sigmas: number[], x: Vec, orders: number[]): Promise<Vec> {
  const model = fakeVpModel(GAUSS);
  const as = (s: number): [number, number] => [1 / Math.sqrt(s * s + 1), s / Math.sqrt(s * s + 1)];
  const lam = (s: number) => -Math.log(s);
  const outs: Vec[] = [];
  let sample = x;
  for (let i = 0; i < timesteps.length; i++) {
    const out = await model.denoiser.run({
      sample: { dims: BATCH_DIMS, data: Float32Array.from(x), type: 'float32' },
      timestep: { dims: [1], data: Float32Array.of(timesteps[i]), type: 'float32' },
    });
    const [a0, s0] = as(sigmas[i]);
    outs.push(lin([[1 / a0, x], [-s0 / a0, Float64Array.from(out.out_sample.data)]]));
    const order = orders[i];
    if (order === 1) sample = x;
    const g = i - order + 1;
    const [aT, sT] = as(sigmas[i + 1]);
    const h = lam(sigmas[i + 1]) - lam(sigmas[g]);
    const phi1 = Math.exp(-h) - 1;
    const start = sT / as(sigmas[g])[1];
    if (order === 1) x = lin([[start, sample], [-aT * phi1, outs[i]]]);
    else if (order === 2) {
      const r0 = (lam(sigmas[i]) - lam(sigmas[g])) / h;
      x = lin([[start, sample], [-aT * phi1, outs[g]], [(-0.5 * aT * phi1) / r0, outs[i]], [(0.5 * aT * phi1) / r0, outs[g]]]);
    } else {
      const r0 = (lam(sigmas[i]) - lam(sigmas[g])) / h;
      const phi2 = phi1 / h + 1;
      x = lin([[start, sample], [-aT * phi1, outs[g]], [(aT * phi2) / r0, outs[i]], [(-aT * phi2) / r0, outs[g]]]);
    }
  }
  return x;
}

describe('convergence order against the closed-form PF-ODE (self-starting groups, stopped above sigma 0)', () => {
  // Step counts divisible by 2 and 3 so every group is complete (no lowered final group).
  const STEPS = [12, 18, 24, 36, 48];
  const grids = ORDER_GRIDS;
  const solvers = [
    { name: 'DPM-Solver 1 (dpm_1s)', opts: { order: 1 }, order: 1 },
    { name: 'DPM-Solver 1 (noise form)', opts: { order: 1, form: 'noise' as const }, order: 1 },
    { name: 'DPM++ 2S', opts: { order: 2 }, order: 2 },
    { name: 'DPM-Solver 2S (noise form)', opts: { order: 2, form: 'noise' as const }, order: 2 },
    { name: 'DPM++ 3S', opts: { order: 3 }, order: 3 },
    { name: 'DPM++ 3S heun', opts: { order: 3, solverType: 'heun' as const }, order: 3 },
    { name: 'DPM-Solver 3S (noise form)', opts: { order: 3, form: 'noise' as const }, order: 3 },
  ];
  for (const g of grids) {
    for (const s of solvers) {
      it(`${s.name} (diffusers stages) is order ${s.order} (${g.name})`, async () => {
        const r = await measureOrder({ space: g.space, levels: g.levels, steps: STEPS, make: () => createDpmSinglestep(s.opts), exactSteps: 0 });
        expect(Math.abs(r.order - s.order), `measured ${r.order.toFixed(3)}; errors ${r.errors.map((e) => e.toExponential(2)).join(' ')}`).toBeLessThan(0.2);
      });
    }
  }

  // The official placement takes `order` model calls per step, so fewer steps reach the same accuracy.
  for (const [order, steps] of [[2, [8, 12, 16, 24, 32]], [3, [6, 8, 12, 16, 24]]] as const) {
    for (const g of grids.slice(0, 2)) {
      it(`official DPM-Solver-${order} (stages at r = ${order === 2 ? '1/2' : '1/3, 2/3'} in lambda) is order ${order} (${g.name})`, async () => {
        const make = () => createDpmSinglestep({ order, placement: 'official', timestepAt: g.space === 'vp' ? fakeVpTimestep : undefined });
        const r = await measureOrder({ space: g.space, levels: g.levels, steps, make, exactSteps: 0 });
        expect(Math.abs(r.order - order), `measured ${r.order.toFixed(3)}; errors ${r.errors.map((e) => e.toExponential(2)).join(' ')}`).toBeLessThan(0.2);
      });
    }
  }

  it('official placement: order-many model calls per step, at the lambda fractions, with mapped timesteps', async () => {
    const levels = lambdaUniformLevels('vp', 5, 0.3, 3);
    const sigmas = exactGrid('vp', levels);
    const model = fakeVpModel(GAUSS);
    const solver = createDpmSinglestep({ order: 3, placement: 'official', timestepAt: fakeVpTimestep });
    expect(solver.nfePerStep).toBe(3);
    await runSampler({ solver, sigmas, x: new Tensor(BATCH_DIMS, vpStartToState(NOISE, levels[0])), model: createDenoiseFn(model, { space: 'vp' }) });
    expect(model.calls).toBe(9);
    // Step 0's stages sit at lambda_s + h/3 and + 2h/3: VE levels s0 (s1/s0)^(1/3), s0 (s1/s0)^(2/3).
    const stage = (k: number) => levels[0] * (levels[1] / levels[0]) ** (k / 3);
    expect(model.seen[1]).toBeCloseTo(Math.fround(fakeVpTimestep(stage(1))), 3);
    expect(model.seen[2]).toBeCloseTo(Math.fround(fakeVpTimestep(stage(2))), 3);
  });

  it('official placement on a grid ending at sigma 0: the last step is first order, one call', async () => {
    const levels = [...lambdaUniformLevels('vp', 5, 0.3, 3), 0];
    const sigmas = exactGrid('vp', levels);
    const model = fakeVpModel(GAUSS);
    const r = await runSampler({ solver: createDpmSinglestep({ order: 2, placement: 'official', timestepAt: fakeVpTimestep }), sigmas, x: new Tensor(BATCH_DIMS, vpStartToState(NOISE, 5)), model: createDenoiseFn(model, { space: 'vp' }) });
    expect(model.calls).toBe(3 * 2 + 1);
    expect(r.x.firstNonFinite()).toBe(-1);
    // At sigma 0 the sample is the last x0 prediction.
    expect(relL2(r.x.data, r.denoised.data)).toBeLessThan(1e-7);
  });
});


// ---------------------------------------------------------------------------------------------
// DPMSolverSinglestepScheduler.set_timesteps, ported (float64): always linspace over N + 1 points (no
// timestep_spacing / steps_offset / rescale keys), lambda_min_clipped, Karras timesteps always rounded (also
// for the cosine schedule, unlike the multistep class), exponential timesteps int64-truncated.


function refSigmaToT(sigma: number, logSigmas: readonly number[]): number {
  const ls = Math.log(Math.max(sigma, 1e-10));
  let lowIdx = 0;
  for (let i = 0; i < logSigmas.length; i++) if (ls - logSigmas[i] >= 0) lowIdx = i;
  lowIdx = Math.min(lowIdx, logSigmas.length - 2);
  const w = Math.min(Math.max((logSigmas[lowIdx] - ls) / (logSigmas[lowIdx] - logSigmas[lowIdx + 1]), 0), 1);
  return (1 - w) * lowIdx + w * (lowIdx + 1);
}

function diffusersSinglestepGrid(cfg: SchedulerConfig, N: number): { timesteps: number[]; sigmas: number[] } {
  const abar = diffusersAbar(cfg, false);
  const T = abar.length;
  const table = Array.from(abar, (a) => veLevel(a));
  const logSigmas = table.map(Math.log);
  const lambdaMin = (cfg.lambda_min_clipped as number | undefined) ?? -Infinity;
  const clipped = Array.from(abar, (a) => Math.log(Math.sqrt(a)) - Math.log(Math.sqrt(1 - a))).filter((l) => l < lambdaMin).length;
  let timesteps = npLinspace(0, T - 1 - clipped, N + 1).map(npRound).reverse().slice(0, -1);
  let sigmas: number[];
  if (cfg.use_karras_sigmas === true) {
    const [a, b] = [table[T - 1] ** (1 / 7), table[0] ** (1 / 7)];
    sigmas = npLinspace(0, 1, N).map((r) => (a + r * (b - a)) ** 7);
    timesteps = sigmas.map((s) => npRound(refSigmaToT(s, logSigmas)));
  } else if (cfg.use_exponential_sigmas === true) {
    sigmas = npLinspace(Math.log(table[T - 1]), Math.log(table[0]), N).map(Math.exp);
    timesteps = sigmas.map((s) => Math.trunc(refSigmaToT(s, logSigmas)));
  } else sigmas = timesteps.map((t) => table[t]);
  return { timesteps, sigmas: [...sigmas, cfg.final_sigmas_type === 'sigma_min' ? table[0] : 0] };
}

describe('whole runs from scheduler_config.json through the solver registry match diffusers DPMSolverSinglestepScheduler', () => {
  const SD15 = { num_train_timesteps: 1000, beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, prediction_type: 'epsilon' };
  const COSINE = { num_train_timesteps: 1000, beta_schedule: 'squaredcos_cap_v2', prediction_type: 'epsilon' };
  const cases: { name: string; solver: string; cfg: SchedulerConfig; steps: number; ref: RefConfig }[] = [
    {
      name: 'dpm_3s, Karras on the cosine schedule, lower_order_final off, final sigma_min, 12 steps ([1, 2, 3] x 4)',
      solver: 'dpm_3s',
      cfg: { ...COSINE, use_karras_sigmas: true, final_sigmas_type: 'sigma_min' },
      steps: 12,
      ref: { algorithm: 'dpmsolver++', order: 3, solverType: 'midpoint', lowerOrderFinal: false, finalZero: false },
    },
    {
      name: 'dpm_2s, algorithm_type dpmsolver, heun, final sigma_min, 9 steps (uneven: lower_order_final switched on)',
      solver: 'dpm_2s',
      cfg: { ...SD15, algorithm_type: 'dpmsolver', solver_type: 'heun', final_sigmas_type: 'sigma_min' },
      steps: 9,
      ref: { algorithm: 'dpmsolver', order: 2, solverType: 'heun', lowerOrderFinal: false, finalZero: false },
    },
    {
      name: 'dpm_3s heun, exponential, final zero, 10 steps',
      solver: 'dpm_3s',
      cfg: { ...SD15, use_exponential_sigmas: true, solver_type: 'heun' },
      steps: 10,
      ref: { algorithm: 'dpmsolver++', order: 3, solverType: 'heun', lowerOrderFinal: false, finalZero: true },
    },
    {
      name: 'dpm_2s, cosine with lambda_min_clipped, config timestep_spacing ignored, final zero, 8 steps',
      solver: 'dpm_2s',
      cfg: { ...COSINE, lambda_min_clipped: -5.1, timestep_spacing: 'trailing', lower_order_final: true },
      steps: 8,
      ref: { algorithm: 'dpmsolver++', order: 2, solverType: 'midpoint', lowerOrderFinal: true, finalZero: true },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const cfg = { ...c.cfg, _class_name: 'DPMSolverSinglestepScheduler' };
      const sigmas = buildSigmas(cfg, { _class_name: 'StableDiffusionPipeline' }, c.steps, c.solver);
      const grid = diffusersSinglestepGrid(c.cfg, c.steps);
      expect(sigmas.timesteps).toEqual(grid.timesteps);
      sigmas.sigmas.forEach((s, i) => expect(Math.abs(s - grid.sigmas[i])).toBeLessThanOrEqual(1e-12 * Math.max(1, s)));
      const model = fakeVpModel(GAUSS, cfg);
      const r = await runSampler({
        solver: createSolver(c.solver, cfg),
        sigmas,
        x: new Tensor(BATCH_DIMS, Float32Array.from(NOISE, (v) => v * initNoiseSigma(sigmas, cfg))),
        model: createDenoiseFn(model, { space: 'vp' }),
      });
      const sEnd = sigmas.sigmas[c.steps];
      const expected = await diffusersSinglestep(fakeVpModel(GAUSS, cfg), c.ref, grid.timesteps, grid.sigmas, Float64Array.from(NOISE));
      expect(relL2(r.x.data.map((v) => v / Math.sqrt(sEnd * sEnd + 1)), expected)).toBeLessThan(2e-6);
      expect(model.seen).toEqual(grid.timesteps);
    });
  }
});
