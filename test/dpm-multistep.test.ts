import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import { buildSigmas, initNoiseSigma } from '../nodes/sampling/schedules.ts';
import { img2imgSigmas, noisedStart } from '../nodes/sampling/add-noise.ts';
import { createSolver, GRID_AS } from '../nodes/sampling/solver-registry.ts';
import type { ModelFeed, SchedulerConfig, Sigmas } from '../nodes/core/values.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { createDpmMultistep, multistepOrder, type DpmMultistepOptions } from '../nodes/sampling/dpm-multistep.ts';
import { createDpmSde } from '../nodes/sampling/dpm-sde.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import {
  BATCH_DIMS,
  GAUSS,
  ORDER_GRIDS,
  measureOrder,
  multistepTimesteps,
  NOISE,
  noiseSequence,
  relL2,
  tableGrid,
  vpStartToState,
  lin,
  thresholdSampleRef,
  type Vec,
  npLinspace,
  npRound,
} from './exp-solver-helpers.ts';
import { fakeFlowModel, fakeVpModel, SD_VP_DDIM, type FakeModel } from './sampling-fake-model.ts';
import { diffusersAbar, veLevel } from './helpers/diffusers-table.ts';

// ---------------------------------------------------------------------------------------------
// diffusers DPMSolverMultistepScheduler, written out in its own (VP-sample) variables, float64 state


interface RefConfig {
  algorithm: 'dpmsolver++' | 'dpmsolver' | 'sde-dpmsolver++';
  order: number;
  solverType: 'midpoint' | 'heun';
  lowerOrderFinal: boolean;
  eulerAtFinal: boolean;
  finalZero: boolean;
  flow: boolean;
  prediction: 'epsilon' | 'v_prediction' | 'flow_prediction';
  /** thresholding=True with (dynamic_thresholding_ratio, sample_max_value). */
  thresholding?: { ratio: number; max: number };
}

/** Runs the reference over (timesteps, sigmas) from the scheduler-space sample x (VP sample or flow sample). */
async function diffusersDpmMultistep(model: FakeModel, c: RefConfig, timesteps: number[], sigmas: number[], x: Vec, noises?: Float32Array[], begin = 0): Promise<Vec> {
  const alphaSigma = (s: number): [number, number] => (c.flow ? [1 - s, s] : [1 / Math.sqrt(s * s + 1), s / Math.sqrt(s * s + 1)]);
  const lam = (s: number) => {
    const [a, sg] = alphaSigma(s);
    return Math.log(a) - Math.log(sg);
  };
  const outputs: Vec[] = [];
  let lowerOrderNums = 0;
  const N = timesteps.length;
  // begin > 0: an img2img run after set_begin_index(begin); len(self.timesteps) is still N.
  for (let i = begin; i < N; i++) {
    const feeds: Record<string, ModelFeed> = {
      [c.flow ? 'hidden_states' : 'sample']: { dims: BATCH_DIMS, data: Float32Array.from(x), type: 'float32' },
      timestep: { dims: [1], data: Float32Array.of(timesteps[i]), type: 'float32' },
    };
    const raw = Object.values(await model.denoiser.run(feeds))[0].data;
    const out = Float64Array.from(raw);
    // convert_model_output
    const [at, st] = alphaSigma(sigmas[i]);
    let m: Vec;
    if (c.algorithm !== 'dpmsolver') {
      if (c.prediction === 'epsilon') m = lin([[1 / at, x], [-st / at, out]]);
      else if (c.prediction === 'v_prediction') m = lin([[at, x], [-st, out]]);
      else m = lin([[1, x], [-sigmas[i], out]]);
    } else if (c.prediction === 'epsilon') m = out;
    else if (c.prediction === 'v_prediction') m = lin([[at, out], [st, x]]);
    else throw new Error('unsupported');
    if (c.thresholding) {
      const { ratio, max } = c.thresholding;
      if (c.algorithm !== 'dpmsolver') m = thresholdSampleRef(m, ratio, max);
      else {
        const x0 = thresholdSampleRef(lin([[1 / at, x], [-st / at, m]]), ratio, max);
        m = lin([[1 / st, x], [-at / st, x0]]);
      }
    }
    outputs.push(m);
    const lowerFinal = i === N - 1 && (c.eulerAtFinal || (c.lowerOrderFinal && N < 15) || c.finalZero);
    const lowerSecond = i === N - 2 && c.lowerOrderFinal && N < 15;
    const noise = c.algorithm === 'sde-dpmsolver++' ? Float64Array.from(noises![i - begin]) : undefined;
    const [alphaT, sigmaT] = alphaSigma(sigmas[i + 1]);
    const [, sigmaS0] = alphaSigma(sigmas[i]);
    const [alphaS0] = alphaSigma(sigmas[i]);
    const h = lam(sigmas[i + 1]) - lam(sigmas[i]);
    const m0 = outputs[outputs.length - 1];
    if (c.order === 1 || lowerOrderNums < 1 || lowerFinal) {
      if (c.algorithm === 'dpmsolver++') x = lin([[sigmaT / sigmaS0, x], [-(alphaT * (Math.exp(-h) - 1)), m0]]);
      else if (c.algorithm === 'dpmsolver') x = lin([[alphaT / alphaS0, x], [-(sigmaT * (Math.exp(h) - 1)), m0]]);
      else x = lin([[(sigmaT / sigmaS0) * Math.exp(-h), x], [alphaT * (1 - Math.exp(-2 * h)), m0], [sigmaT * Math.sqrt(1 - Math.exp(-2 * h)), noise!]]);
    } else if (c.order === 2 || lowerOrderNums < 2 || lowerSecond) {
      const m1 = outputs[outputs.length - 2];
      const h0 = lam(sigmas[i]) - lam(sigmas[i - 1]);
      const r0 = h0 / h;
      const D1 = lin([[1 / r0, m0], [-1 / r0, m1]]);
      if (c.algorithm === 'dpmsolver++') {
        x =
          c.solverType === 'midpoint'
            ? lin([[sigmaT / sigmaS0, x], [-(alphaT * (Math.exp(-h) - 1)), m0], [-0.5 * (alphaT * (Math.exp(-h) - 1)), D1]])
            : lin([[sigmaT / sigmaS0, x], [-(alphaT * (Math.exp(-h) - 1)), m0], [alphaT * ((Math.exp(-h) - 1) / h + 1), D1]]);
      } else if (c.algorithm === 'dpmsolver') {
        x =
          c.solverType === 'midpoint'
            ? lin([[alphaT / alphaS0, x], [-(sigmaT * (Math.exp(h) - 1)), m0], [-0.5 * (sigmaT * (Math.exp(h) - 1)), D1]])
            : lin([[alphaT / alphaS0, x], [-(sigmaT * (Math.exp(h) - 1)), m0], [-(sigmaT * ((Math.exp(h) - 1) / h - 1)), D1]]);
      } else {
        const second = c.solverType === 'midpoint' ? 0.5 * (alphaT * (1 - Math.exp(-2 * h))) : alphaT * ((1 - Math.exp(-2 * h)) / (-2 * h) + 1);
        x = lin([
          [(sigmaT / sigmaS0) * Math.exp(-h), x],
          [alphaT * (1 - Math.exp(-2 * h)), m0],
          [second, D1],
          [sigmaT * Math.sqrt(1 - Math.exp(-2 * h)), noise!],
        ]);
      }
    } else {
      const m1 = outputs[outputs.length - 2];
      const m2 = outputs[outputs.length - 3];
      const h0 = lam(sigmas[i]) - lam(sigmas[i - 1]);
      const h1 = lam(sigmas[i - 1]) - lam(sigmas[i - 2]);
      const r0 = h0 / h;
      const r1 = h1 / h;
      const D10 = lin([[1 / r0, m0], [-1 / r0, m1]]);
      const D11 = lin([[1 / r1, m1], [-1 / r1, m2]]);
      const D1 = lin([[1, D10], [r0 / (r0 + r1), D10], [-r0 / (r0 + r1), D11]]);
      const D2 = lin([[1 / (r0 + r1), D10], [-1 / (r0 + r1), D11]]);
      if (c.algorithm === 'dpmsolver++') {
        x = lin([
          [sigmaT / sigmaS0, x],
          [-(alphaT * (Math.exp(-h) - 1)), m0],
          [alphaT * ((Math.exp(-h) - 1) / h + 1), D1],
          [-(alphaT * ((Math.exp(-h) - 1 + h) / h ** 2 - 0.5)), D2],
        ]);
      } else {
        x = lin([
          [alphaT / alphaS0, x],
          [-(sigmaT * (Math.exp(h) - 1)), m0],
          [-(sigmaT * ((Math.exp(h) - 1) / h - 1)), D1],
          [-(sigmaT * ((Math.exp(h) - 1 - h) / h ** 2 - 0.5)), D2],
        ]);
      }
    }
    if (lowerOrderNums < c.order) lowerOrderNums++;
  }
  return x;
}

async function runOurs(model: FakeModel, sigmas: Sigmas, x: Float32Array, solver: ReturnType<typeof createDpmMultistep> | ReturnType<typeof createDpmSde>, space: 'vp' | 'flow', noise?: ReturnType<typeof noiseSequence>): Promise<Float32Array> {
  const r = await runSampler({ solver, sigmas, x: new Tensor(BATCH_DIMS, x), model: createDenoiseFn(model, { space }), noise: noise?.source });
  return r.x.data;
}

const xvpStart = Float64Array.from(NOISE);

describe('DPM-Solver multistep matches diffusers DPMSolverMultistepScheduler (VP-variable reference)', () => {
  const base: RefConfig = { algorithm: 'dpmsolver++', order: 2, solverType: 'midpoint', lowerOrderFinal: true, eulerAtFinal: false, finalZero: true, flow: false, prediction: 'epsilon' };
  const cases: { name: string; ref: Partial<RefConfig>; opts: DpmMultistepOptions; steps: number; cfg?: SchedulerConfig }[] = [
    { name: 'DPM++ 2M, 10 steps, final sigma 0 (lower_order_final)', ref: {}, opts: {}, steps: 10 },
    { name: 'DPM++ 2M heun, 20 steps, final sigma_min, v-prediction', ref: { solverType: 'heun', finalZero: false, prediction: 'v_prediction' }, opts: { solverType: 'heun' }, steps: 20, cfg: { ...SD_VP_DDIM, prediction_type: 'v_prediction' } },
    { name: 'DPM++ 2M euler_at_final, 16 steps, final sigma_min', ref: { eulerAtFinal: true, finalZero: false }, opts: { eulerAtFinal: true }, steps: 16 },
    { name: 'DPM++ 3M (reference), 12 steps', ref: { order: 3 }, opts: { order: 3 }, steps: 12 },
    { name: 'DPM++ 3M, 18 steps, lower_order_final off, final sigma_min', ref: { order: 3, lowerOrderFinal: false, finalZero: false }, opts: { order: 3, lowerOrderFinal: false }, steps: 18 },
    { name: 'DPM-Solver 2M (noise form), 12 steps, final sigma_min', ref: { algorithm: 'dpmsolver', finalZero: false }, opts: { form: 'noise' }, steps: 12 },
    { name: 'DPM-Solver 3M heun-free (noise form), 15 steps, final sigma_min', ref: { algorithm: 'dpmsolver', order: 3, finalZero: false }, opts: { form: 'noise', order: 3 }, steps: 15 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const cfg = c.cfg ?? SD_VP_DDIM;
      const ref = { ...base, ...c.ref };
      const ts = multistepTimesteps(c.steps);
      const sigmas = tableGrid(cfg, ts, ref.finalZero ? 'zero' : 'sigma_min');
      const model = fakeVpModel(GAUSS, cfg);
      const ours = await runOurs(model, sigmas, vpStartToState(xvpStart, sigmas.sigmas[0]), createDpmMultistep(c.opts), 'vp');
      const sEnd = sigmas.sigmas[c.steps];
      const oursVp = ours.map((v) => v / Math.sqrt(sEnd * sEnd + 1));
      const expected = await diffusersDpmMultistep(fakeVpModel(GAUSS, cfg), ref, ts, sigmas.sigmas, xvpStart);
      expect(relL2(oursVp, expected)).toBeLessThan(2e-6);
      // The model saw diffusers' integer timesteps, one call per step.
      expect(model.seen).toEqual(ts);
    });
  }

  it('DPM++ 2M on a flow model (use_flow_sigmas, flow_prediction): same calls and result', async () => {
    const steps = 12;
    const shift = 3;
    // diffusers use_flow_sigmas: s = 1 - linspace(1, 1/T, N+1), shifted, flipped, last dropped; timesteps = s*T; final 0.
    const raw = Array.from({ length: steps + 1 }, (_, i) => 1 - (1 + ((1 / 1000 - 1) * i) / steps));
    const shifted = raw.map((s) => (shift * s) / (1 + (shift - 1) * s)).reverse().slice(0, steps);
    const sigmas: Sigmas = { space: 'flow', sigmas: [...shifted, 0], timesteps: shifted.map((s) => s * 1000) };
    const model = fakeFlowModel(GAUSS, undefined, 'scheduler');
    const x0 = Float32Array.from(NOISE);
    const ours = await runOurs(model, sigmas, x0, createDpmMultistep({}), 'flow');
    const expected = await diffusersDpmMultistep(fakeFlowModel(GAUSS, undefined, 'scheduler'), { ...base, flow: true, prediction: 'flow_prediction' }, sigmas.timesteps, sigmas.sigmas, Float64Array.from(NOISE));
    expect(relL2(ours, expected)).toBeLessThan(2e-6);
    expect(model.seen.map((t) => Math.fround(t))).toEqual(sigmas.timesteps.map((t) => Math.fround(t)));
  });
});

describe('DPM-Solver++(2M) SDE matches diffusers sde-dpmsolver++ with the same noise', () => {
  for (const [solverType, steps, finalZero] of [['midpoint', 10, true], ['heun', 16, false]] as const) {
    it(`${solverType}, ${steps} steps, final ${finalZero ? 'sigma 0' : 'sigma_min'}`, async () => {
      const ts = multistepTimesteps(steps);
      const sigmas = tableGrid(SD_VP_DDIM, ts, finalZero ? 'zero' : 'sigma_min');
      const noise = noiseSequence(steps, 300);
      const ours = await runOurs(fakeVpModel(GAUSS), sigmas, vpStartToState(xvpStart, sigmas.sigmas[0]), createDpmSde({ solverType }), 'vp', noise);
      // One draw per step, also on the last step where its weight is 0.
      expect(noise.used()).toBe(steps);
      const sEnd = sigmas.sigmas[steps];
      const ref = { algorithm: 'sde-dpmsolver++' as const, order: 2, solverType, lowerOrderFinal: true, eulerAtFinal: false, finalZero, flow: false, prediction: 'epsilon' as const };
      const expected = await diffusersDpmMultistep(fakeVpModel(GAUSS), ref, ts, sigmas.sigmas, xvpStart, noise.draws);
      expect(relL2(ours.map((v) => v / Math.sqrt(sEnd * sEnd + 1)), expected)).toBeLessThan(2e-6);
    });
  }

  it("k-diffusion's eta: 0 is the DPM-Solver++(2M) ODE step (no noise drawn), and s_noise scales the noise alone", async () => {
    for (const [solverType, finalZero] of [['midpoint', true], ['heun', false]] as const) {
      const ts = multistepTimesteps(10);
      const sigmas = tableGrid(SD_VP_DDIM, ts, finalZero ? 'zero' : 'sigma_min');
      const x = vpStartToState(xvpStart, sigmas.sigmas[0]);
      const noise = noiseSequence(10, 5);
      const sde0 = await runOurs(fakeVpModel(GAUSS), sigmas, x, createDpmSde({ solverType, eta: 0 }), 'vp', noise);
      expect(noise.used()).toBe(0);
      const ode = await runOurs(fakeVpModel(GAUSS), sigmas, x, createDpmMultistep({ form: 'data', order: 2, solverType }), 'vp');
      expect(relL2(sde0, ode)).toBeLessThan(1e-6);
    }
    // s_noise 0 at eta 1 drops the noise term and keeps the SDE drift: the same as a zero noise draw.
    const ts = multistepTimesteps(8);
    const sigmas = tableGrid(SD_VP_DDIM, ts, 'zero');
    const x = vpStartToState(xvpStart, sigmas.sigmas[0]);
    const quiet = await runOurs(fakeVpModel(GAUSS), sigmas, x, createDpmSde({ sNoise: 0 }), 'vp', noiseSequence(8, 1));
    const zeros = { ...noiseSequence(8, 1), source: (dims: readonly number[]) => new Tensor(dims) };
    const drift = await runOurs(fakeVpModel(GAUSS), sigmas, x, createDpmSde(), 'vp', zeros as ReturnType<typeof noiseSequence>);
    expect(relL2(quiet, drift)).toBeLessThan(1e-6);
    expect(() => createDpmSde({ eta: -0.5 })).toThrow(/eta must be/);
  });

  it('reproduces with the same seeded noise and differs with another', async () => {
    const ts = multistepTimesteps(8);
    const sigmas = tableGrid(SD_VP_DDIM, ts, 'zero');
    const x = vpStartToState(xvpStart, sigmas.sigmas[0]);
    const a = await runOurs(fakeVpModel(GAUSS), sigmas, x, createDpmSde(), 'vp', noiseSequence(8, 1));
    const b = await runOurs(fakeVpModel(GAUSS), sigmas, x, createDpmSde(), 'vp', noiseSequence(8, 1));
    const c = await runOurs(fakeVpModel(GAUSS), sigmas, x, createDpmSde(), 'vp', noiseSequence(8, 2));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(relL2(a, c)).toBeGreaterThan(1e-3);
  });

  it('refuses an ascending grid and a missing noise source, naming the solver', () => {
    const up: Sigmas = { space: 'vp', sigmas: [0.1, 1, 5], timesteps: [10, 500] };
    const x = new Tensor(BATCH_DIMS);
    expect(() => createDpmSde().init({ sigmas: up, noise: noiseSequence(2, 0).source }, x)).toThrow(/DPM-Solver\+\+ SDE.*ascending/);
    const down: Sigmas = { space: 'vp', sigmas: [5, 1, 0], timesteps: [500, 10] };
    expect(() => createDpmSde().init({ sigmas: down }, x)).toThrow(/DPM-Solver\+\+ SDE needs a noise source/);
  });

  it('samples the data distribution: mean and spread of many seeded runs match the Gaussian data', async () => {
    // 48 samples through 30 SDE steps; compare the sample mean with mu and the mean squared deviation with
    // trace(Sigma)/D (the data's average variance), within the statistical error of 48 draws.
    const B = 48;
    const D = NOISE.length;
    const steps = 30;
    const ts = multistepTimesteps(steps);
    const sigmas = tableGrid(SD_VP_DDIM, ts, 'zero');
    const dims = [B, ...BATCH_DIMS.slice(1)];
    const start = new Float32Array(B * D);
    const n0 = noiseSequence(B, 9000);
    for (let b = 0; b < B; b++) start.set(n0.draws[b].map((v) => v * Math.sqrt(sigmas.sigmas[0] ** 2 + 1)), b * D);
    let draw = 0;
    const noise = (d: readonly number[]) => {
      const seq = noiseSequence(B, 20000 + draw++ * B);
      const t = new Tensor(d);
      for (let b = 0; b < B; b++) t.data.set(seq.draws[b], b * D);
      return t;
    };
    const model = createDenoiseFn(fakeVpModel(GAUSS, SD_VP_DDIM, { batch: 'batch' }), { space: 'vp' });
    const r = await runSampler({ solver: createDpmSde(), sigmas, x: new Tensor(dims, start), model, noise });
    const mean = new Float64Array(D);
    for (let b = 0; b < B; b++) for (let k = 0; k < D; k++) mean[k] += r.x.data[b * D + k] / B;
    const avgVar = GAUSS.l.reduce((a, v) => a + v, 0) / D;
    const meanErr = Math.sqrt(mean.reduce((a, v, k) => a + (v - GAUSS.mu[k]) ** 2, 0) / D);
    // Standard error of a mean of 48 draws: sqrt(avgVar/48) ~ 0.06 for avgVar ~ 0.21.
    expect(meanErr).toBeLessThan(2.5 * Math.sqrt(avgVar / B));
    let spread = 0;
    for (let b = 0; b < B; b++) for (let k = 0; k < D; k++) spread += (r.x.data[b * D + k] - GAUSS.mu[k]) ** 2 / (B * D);
    expect(spread / avgVar).toBeGreaterThan(0.8);
    expect(spread / avgVar).toBeLessThan(1.25);
  });
});

describe('diffusers order rule (DPMSolverMultistepScheduler.step)', () => {
  const rule = (index: number, total: number, extra: Partial<Parameters<typeof multistepOrder>[0]> = {}) =>
    multistepOrder({ order: 3, lowerOrderNums: 3, index, total, lowerOrderFinal: true, eulerAtFinal: false, finalIsZero: false, ...extra });
  it('warms up with orders 1 then 2', () => {
    expect(rule(0, 20, { lowerOrderNums: 0 })).toBe(1);
    expect(rule(1, 20, { lowerOrderNums: 1 })).toBe(2);
  });
  it('lowers the last two steps below 15 steps only; sigma 0 and euler_at_final force a first-order last step', () => {
    expect([rule(8, 10), rule(9, 10)]).toEqual([2, 1]);
    expect([rule(18, 20), rule(19, 20)]).toEqual([3, 3]);
    expect(rule(19, 20, { finalIsZero: true })).toBe(1);
    expect(rule(19, 20, { eulerAtFinal: true })).toBe(1);
    expect(rule(9, 10, { lowerOrderFinal: false })).toBe(3);
  });
  it('counts an img2img tail in the whole schedule (scheduleSteps)', async () => {
    // 20-step schedule, last 10 steps run: diffusers sees 20 steps, so no lower_order_final below 15.
    const ts = multistepTimesteps(20);
    const full = tableGrid(SD_VP_DDIM, ts, 'sigma_min');
    const tail: Sigmas = { ...full, sigmas: full.sigmas.slice(10), timesteps: full.timesteps.slice(10) };
    const x = vpStartToState(xvpStart, tail.sigmas[0]);
    const asTail = await runOurs(fakeVpModel(GAUSS), tail, x, createDpmMultistep({ scheduleSteps: 20 }), 'vp');
    const asWhole = await runOurs(fakeVpModel(GAUSS), tail, x, createDpmMultistep({}), 'vp');
    const expected = await diffusersDpmMultistep(
      fakeVpModel(GAUSS),
      { algorithm: 'dpmsolver++', order: 2, solverType: 'midpoint', lowerOrderFinal: false, eulerAtFinal: false, finalZero: false, flow: false, prediction: 'epsilon' },
      tail.timesteps,
      tail.sigmas,
      Float64Array.from(x, (v) => v / Math.sqrt(tail.sigmas[0] ** 2 + 1)),
    );
    const toVp = (a: Float32Array) => a.map((v) => v / Math.sqrt(tail.sigmas[10] ** 2 + 1));
    expect(relL2(toVp(asTail), expected)).toBeLessThan(2e-6);
    expect(relL2(toVp(asWhole), expected)).toBeGreaterThan(1e-5);
  });
});

describe('convergence order against the closed-form PF-ODE (started from exact history, stopped above sigma 0)', () => {
  // Grids uniform in lambda between VE sigma 5 and 0.3 (flow t 0.83 and 0.23: the same rho range), and a
  // flow grid uniform in t (unequal lambda steps). lower_order_final off, so every step after the exact
  // warm-up runs at the full order.
  const STEPS = [16, 24, 32, 48, 64];
  const grids = ORDER_GRIDS;
  const solvers = [
    { name: 'DPM++ 2M (midpoint)', opts: { order: 2 }, order: 2 },
    { name: 'DPM++ 2M (heun)', opts: { order: 2, solverType: 'heun' as const }, order: 2 },
    { name: 'DPM-Solver 2M (noise form)', opts: { order: 2, form: 'noise' as const }, order: 2 },
    { name: 'DPM++ 3M corrected', opts: { order: 3, variant: 'corrected' as const }, order: 3 },
    { name: 'DPM-Solver 3M corrected (noise form)', opts: { order: 3, form: 'noise' as const, variant: 'corrected' as const }, order: 3 },
  ];
  for (const g of grids) {
    for (const s of solvers) {
      it(`${s.name} is order ${s.order} (${g.name})`, async () => {
        const r = await measureOrder({ space: g.space, levels: g.levels, steps: STEPS, make: () => createDpmMultistep({ ...s.opts, lowerOrderFinal: false }), exactSteps: s.order - 1 });
        expect(Math.abs(r.order - s.order), `measured ${r.order.toFixed(3)}; errors ${r.errors.map((e) => e.toExponential(2)).join(' ')}`).toBeLessThan(0.2);
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// diffusers DPMSolverMultistepScheduler / DPMSolverSinglestepScheduler.set_timesteps, ported line by line
// (float64 here; diffusers casts the finished sigmas to float32), to check the grids the solvers get from a
// scheduler_config.json through the project's schedule code, and whole runs through the solver registry.

type DpmClass = 'DPMSolverMultistepScheduler' | 'DPMSolverSinglestepScheduler';


/** numpy arange with a float step: ceil((stop - start) / step) entries start + i * step. */
function npArange(start: number, stop: number, step: number): number[] {
  return Array.from({ length: Math.max(Math.ceil((stop - start) / step), 0) }, (_, i) => start + i * step);
}

/** EulerDiscreteScheduler._sigma_to_t (copied into both DPM classes). */
function refSigmaToT(sigma: number, logSigmas: readonly number[]): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // cumsum(dists >= 0).argmax(): the last index whose log sigma is <= log_sigma (0 when none), clipped.
  let count = 0;
  let best = 0;
  let lowIdx = 0;
  for (let i = 0; i < logSigmas.length; i++) {
    if (logSigma - logSigmas[i] >= 0) count++;
    if (count > best) {
      best = count;
      lowIdx = i;
    }
  }
  lowIdx = Math.min(lowIdx, logSigmas.length - 2);
  const low = logSigmas[lowIdx];
  const high = logSigmas[lowIdx + 1];
  const w = Math.min(Math.max((low - logSigma) / (low - high), 0), 1);
  return (1 - w) * lowIdx + w * (lowIdx + 1);
}

/**
 * set_timesteps(N) of the two DPM classes for a config: the int64 timesteps and the sigmas (VE levels, or
 * flow t with use_flow_sigmas), final level included. `sigma_min` / `sigma_max` keys of the json reach
 * `self.config` through from_config's hidden keys, and _convert_to_karras / _convert_to_exponential read
 * them with hasattr(self.config, ...).
 */
function diffusersDpmGrid(cfg: SchedulerConfig, N: number, cls: DpmClass): { timesteps: number[]; sigmas: number[] } {
  const multi = cls === 'DPMSolverMultistepScheduler';
  const T = (cfg.num_train_timesteps as number | undefined) ?? 1000;
  // Singlestep has no rescale_betas_zero_snr key; multistep floors the last abar at 2^-24 when rescaling.
  const abar = diffusersAbar(cfg, multi);
  if (multi && cfg.rescale_betas_zero_snr === true) abar[T - 1] = 2 ** -24;
  const table = Array.from(abar, (a) => veLevel(a));
  const logSigmas = table.map(Math.log);
  const lambdaT = Array.from(abar, (a) => Math.log(Math.sqrt(a)) - Math.log(Math.sqrt(1 - a)));
  // torch.searchsorted(flip(lambda_t), lambda_min_clipped): entries below the bound.
  const lambdaMin = (cfg.lambda_min_clipped as number | undefined) ?? -Infinity;
  const clippedIdx = lambdaT.filter((l) => l < lambdaMin).length;
  let timesteps: number[];
  if (!multi) {
    timesteps = npLinspace(0, T - 1 - clippedIdx, N + 1).map(npRound).reverse().slice(0, -1);
  } else {
    const last = T - clippedIdx;
    const spacing = (cfg.timestep_spacing as string | undefined) ?? 'linspace';
    if (spacing === 'linspace') timesteps = npLinspace(0, last - 1, N + 1).map(npRound).reverse().slice(0, -1);
    else if (spacing === 'leading') {
      const ratio = Math.floor(last / (N + 1));
      const offset = (cfg.steps_offset as number | undefined) ?? 0;
      timesteps = npArange(0, N + 1, 1).map((i) => npRound(i * ratio)).reverse().slice(0, -1).map((t) => t + offset);
    } else timesteps = npArange(last, 0, -(T / N)).map((t) => npRound(t) - 1);
  }
  const bound = (key: string, fallback: number) => (typeof cfg[key] === 'number' ? (cfg[key] as number) : fallback);
  const smin = bound('sigma_min', table[0]);
  const smax = bound('sigma_max', table[T - 1]);
  const ramp = npLinspace(0, 1, N);
  let sigmas: number[];
  let fractional: number[] | undefined;
  const cosine = cfg.beta_schedule === 'squaredcos_cap_v2';
  if (cfg.use_karras_sigmas === true) {
    sigmas = ramp.map((r) => (smax ** (1 / 7) + r * (smin ** (1 / 7) - smax ** (1 / 7))) ** 7);
    fractional = sigmas.map((s) => refSigmaToT(s, logSigmas));
    if (!multi || !cosine) fractional = fractional.map(npRound);
  } else if (multi && cfg.use_lu_lambdas === true) {
    const lmin = logSigmas[0];
    const lmax = logSigmas[T - 1];
    sigmas = ramp.map((r) => Math.exp(lmax + r * (lmin - lmax)));
    fractional = sigmas.map((s) => refSigmaToT(s, logSigmas));
    if (!cosine) fractional = fractional.map(npRound);
  } else if (cfg.use_exponential_sigmas === true) {
    sigmas = npLinspace(Math.log(smax), Math.log(smin), N).map(Math.exp);
    fractional = sigmas.map((s) => refSigmaToT(s, logSigmas));
  } else if (cfg.use_flow_sigmas === true) {
    const shift = (cfg.flow_shift as number | undefined) ?? 1;
    const s = npLinspace(1, 1 / T, N + 1).map((a) => 1 - a);
    sigmas = s.map((v) => (shift * v) / (1 + (shift - 1) * v)).reverse().slice(0, -1);
    fractional = sigmas.map((v) => v * T);
  } else sigmas = timesteps.map((t) => table[t]);
  if (fractional) timesteps = fractional.map((t) => Math.trunc(t)); // .to(torch.int64)
  const finalType = (cfg.final_sigmas_type as string | undefined) ?? 'zero';
  const last = finalType === 'sigma_min' ? veLevel(abar[0]) : 0;
  return { timesteps, sigmas: [...sigmas, last] };
}

const SD15 = { num_train_timesteps: 1000, beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, prediction_type: 'epsilon' };
const COSINE = { num_train_timesteps: 1000, beta_schedule: 'squaredcos_cap_v2', prediction_type: 'epsilon' };
const LINEAR = { num_train_timesteps: 1000, beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02, prediction_type: 'epsilon' };

function expectSameGrid(ours: Sigmas, ref: { timesteps: number[]; sigmas: number[] }, what: string): void {
  expect(ours.timesteps, `${what}: timesteps`).toEqual(ref.timesteps);
  expect(ours.sigmas.length, `${what}: levels`).toBe(ref.sigmas.length);
  ours.sigmas.forEach((s, i) => expect(Math.abs(s - ref.sigmas[i]), `${what}: level ${i} (${s} vs ${ref.sigmas[i]})`).toBeLessThanOrEqual(1e-12 * Math.max(1, ref.sigmas[i])));
}

describe('grids from scheduler_config.json match diffusers set_timesteps (DPM multistep and singlestep)', () => {
  const MS = 'DPMSolverMultistepScheduler' as const;
  const SS = 'DPMSolverSinglestepScheduler' as const;
  const cases: { name: string; cfg: SchedulerConfig; steps: number[]; cls: DpmClass }[] = [
    { name: 'linspace, final zero', cfg: SD15, steps: [1, 2, 7, 10, 25, 50], cls: MS },
    { name: 'linspace, final sigma_min, linear betas', cfg: { ...LINEAR, final_sigmas_type: 'sigma_min' }, steps: [10, 20], cls: MS },
    { name: 'leading + steps_offset 1', cfg: { ...SD15, timestep_spacing: 'leading', steps_offset: 1 }, steps: [7, 10, 25, 50], cls: MS },
    { name: 'trailing', cfg: { ...SD15, timestep_spacing: 'trailing' }, steps: [4, 7, 10, 25], cls: MS },
    { name: 'trailing + rescale_betas_zero_snr', cfg: { ...SD15, timestep_spacing: 'trailing', rescale_betas_zero_snr: true }, steps: [4, 10], cls: MS },
    { name: 'Karras (rounded timesteps)', cfg: { ...SD15, use_karras_sigmas: true }, steps: [5, 10, 20, 30], cls: MS },
    { name: 'Karras, final sigma_min, zero SNR table', cfg: { ...SD15, use_karras_sigmas: true, final_sigmas_type: 'sigma_min', rescale_betas_zero_snr: true }, steps: [10], cls: MS },
    { name: 'Karras on the cosine schedule (timesteps truncated, not rounded)', cfg: { ...COSINE, use_karras_sigmas: true }, steps: [10, 25], cls: MS },
    { name: 'Lu lambdas', cfg: { ...SD15, use_lu_lambdas: true }, steps: [5, 10, 20], cls: MS },
    { name: 'Lu lambdas on the cosine schedule', cfg: { ...COSINE, use_lu_lambdas: true }, steps: [10], cls: MS },
    { name: 'exponential (timesteps truncated)', cfg: { ...SD15, use_exponential_sigmas: true }, steps: [5, 10, 20], cls: MS },
    { name: 'lambda_min_clipped on the cosine schedule, linspace', cfg: { ...COSINE, lambda_min_clipped: -5.1 }, steps: [10, 25], cls: MS },
    { name: 'lambda_min_clipped on the cosine schedule, leading', cfg: { ...COSINE, lambda_min_clipped: -5.1, timestep_spacing: 'leading' }, steps: [10], cls: MS },
    { name: 'lambda_min_clipped on the cosine schedule, trailing', cfg: { ...COSINE, lambda_min_clipped: -5.1, timestep_spacing: 'trailing' }, steps: [10, 25], cls: MS },
    { name: 'singlestep: always linspace (no timestep_spacing key)', cfg: { ...SD15, timestep_spacing: 'trailing', steps_offset: 1 }, steps: [6, 10, 25], cls: SS },
    { name: 'singlestep: ignores rescale_betas_zero_snr', cfg: { ...SD15, rescale_betas_zero_snr: true, final_sigmas_type: 'sigma_min' }, steps: [10], cls: SS },
    { name: 'singlestep: Karras on the cosine schedule (rounded here)', cfg: { ...COSINE, use_karras_sigmas: true }, steps: [10, 25], cls: SS },
    { name: 'singlestep: exponential', cfg: { ...SD15, use_exponential_sigmas: true }, steps: [9], cls: SS },
    { name: 'singlestep: lambda_min_clipped', cfg: { ...COSINE, lambda_min_clipped: -5.1 }, steps: [12], cls: SS },
  ];
  for (const c of cases) {
    it(`${c.cls === MS ? 'multistep' : 'singlestep'}: ${c.name}`, () => {
      const solver = c.cls === MS ? 'dpmpp_2m' : 'dpm_2s';
      for (const n of c.steps) {
        const ours = buildSigmas({ ...c.cfg, _class_name: c.cls }, { _class_name: 'StableDiffusionPipeline' }, n, solver);
        expectSameGrid(ours, diffusersDpmGrid(c.cfg, n, c.cls), `${n} steps`);
        // init_noise_sigma = 1 on the VP sample: sqrt(s0^2 + 1) on the VE state.
        expect(initNoiseSigma(ours, c.cfg)).toBeCloseTo(Math.sqrt(ours.sigmas[0] ** 2 + 1), 12);
      }
    });
  }

  for (const cls of [MS, SS]) {
    it(`${cls === MS ? 'multistep' : 'singlestep'}: use_flow_sigmas (flow_shift 3), final zero and sigma_min`, () => {
      for (const final of ['zero', 'sigma_min']) {
        const cfg = { ...LINEAR, _class_name: cls, use_flow_sigmas: true, flow_shift: 3.0, prediction_type: 'flow_prediction', final_sigmas_type: final };
        for (const n of [4, 10, 20]) {
          const ours = buildSigmas(cfg, { _class_name: 'SanaPipeline' }, n, cls === MS ? 'dpmpp_2m' : 'dpm_2s');
          expect(ours.space).toBe('flow');
          expectSameGrid(ours, diffusersDpmGrid(cfg, n, cls), `${final}, ${n} steps`);
        }
      }
    });
  }

  // diffusers' from_config registers every json key the class lacks as a hidden config entry, so a
  // scheduler_config.json carrying sigma_min / sigma_max (EDM-style or Euler-saved configs) sets the Karras /
  // exponential bounds through _convert_to_karras' hasattr(self.config, "sigma_min").
  it('multistep and singlestep: Karras / exponential bounds from sigma_min / sigma_max keys of the json', () => {
    for (const cls of [MS, SS]) {
      for (const grid of ['use_karras_sigmas', 'use_exponential_sigmas']) {
        const cfg = { ...SD15, [grid]: true, sigma_min: 0.1, sigma_max: 10 };
        const ours = buildSigmas({ ...cfg, _class_name: cls }, { _class_name: 'StableDiffusionPipeline' }, 10, cls === MS ? 'dpmpp_2m' : 'dpm_2s');
        expectSameGrid(ours, diffusersDpmGrid(cfg, 10, cls), `${cls} ${grid}`);
      }
    }
  });
});

describe('whole runs from scheduler_config.json through the solver registry match diffusers (VP-variable reference)', () => {
  const SD_IDX = { _class_name: 'StableDiffusionPipeline' };
  const MS = 'DPMSolverMultistepScheduler';
  const cases: { name: string; solver: string; cfg: SchedulerConfig; steps: number; ref: Partial<RefConfig> }[] = [
    { name: 'dpmpp_2m, Karras, 10 steps, final zero (lower_order_final)', solver: 'dpmpp_2m', cfg: { ...SD15, use_karras_sigmas: true }, steps: 10, ref: {} },
    {
      name: 'dpmpp_3m, Lu lambdas, heun warm-up, lower_order_final off, final sigma_min, 20 steps',
      solver: 'dpmpp_3m',
      cfg: { ...SD15, use_lu_lambdas: true, solver_type: 'heun', lower_order_final: false, final_sigmas_type: 'sigma_min' },
      steps: 20,
      ref: { order: 3, solverType: 'heun', lowerOrderFinal: false, finalZero: false },
    },
    {
      name: 'dpmpp_3m, exponential, 12 steps, final zero',
      solver: 'dpmpp_3m',
      cfg: { ...SD15, use_exponential_sigmas: true },
      steps: 12,
      ref: { order: 3 },
    },
    {
      name: 'dpm_2m (algorithm_type dpmsolver), leading + steps_offset, v-prediction, final sigma_min, 12 steps',
      solver: 'dpm_2m',
      cfg: { ...SD15, algorithm_type: 'dpmsolver', timestep_spacing: 'leading', steps_offset: 1, prediction_type: 'v_prediction', final_sigmas_type: 'sigma_min' },
      steps: 12,
      ref: { algorithm: 'dpmsolver', finalZero: false, prediction: 'v_prediction' },
    },
    {
      name: 'dpmpp_2m, trailing, euler_at_final, final sigma_min, 16 steps',
      solver: 'dpmpp_2m',
      cfg: { ...SD15, timestep_spacing: 'trailing', euler_at_final: true, final_sigmas_type: 'sigma_min' },
      steps: 16,
      ref: { eulerAtFinal: true, finalZero: false },
    },
    {
      name: 'dpmpp_2m, cosine schedule with lambda_min_clipped, thresholding, 10 steps',
      solver: 'dpmpp_2m',
      cfg: { ...COSINE, lambda_min_clipped: -5.1, thresholding: true, dynamic_thresholding_ratio: 0.9, sample_max_value: 1.2 },
      steps: 10,
      ref: { thresholding: { ratio: 0.9, max: 1.2 } },
    },
    {
      name: 'dpm_2m (noise form) heun with thresholding, final sigma_min, 10 steps',
      solver: 'dpm_2m',
      cfg: { ...SD15, algorithm_type: 'dpmsolver', solver_type: 'heun', final_sigmas_type: 'sigma_min', thresholding: true, dynamic_thresholding_ratio: 0.8, sample_max_value: 1.1 },
      steps: 10,
      ref: { algorithm: 'dpmsolver', solverType: 'heun', finalZero: false, thresholding: { ratio: 0.8, max: 1.1 } },
    },
  ];
  const base: RefConfig = { algorithm: 'dpmsolver++', order: 2, solverType: 'midpoint', lowerOrderFinal: true, eulerAtFinal: false, finalZero: true, flow: false, prediction: 'epsilon' };
  for (const c of cases) {
    it(c.name, async () => {
      const cfg = { ...c.cfg, _class_name: MS };
      const sigmas = buildSigmas(cfg, SD_IDX, c.steps, GRID_AS[c.solver] ?? c.solver);
      const grid = diffusersDpmGrid(c.cfg, c.steps, MS);
      const model = fakeVpModel(GAUSS, cfg);
      const start = Float32Array.from(NOISE, (v) => v * initNoiseSigma(sigmas, cfg));
      const ours = await runOurs(model, sigmas, start, createSolver(c.solver, cfg), 'vp');
      const sEnd = sigmas.sigmas[c.steps];
      // init_noise_sigma = 1: diffusers starts from the unit noise itself.
      const expected = await diffusersDpmMultistep(fakeVpModel(GAUSS, cfg), { ...base, ...c.ref }, grid.timesteps, grid.sigmas, Float64Array.from(NOISE));
      expect(relL2(ours.map((v) => v / Math.sqrt(sEnd * sEnd + 1)), expected)).toBeLessThan(2e-6);
      expect(model.seen).toEqual(grid.timesteps);
    });
  }

  it('dpmpp_2m_sde, exponential, 10 steps, final zero: one noise draw per step, in step order', async () => {
    const cfg = { ...SD15, _class_name: MS, algorithm_type: 'sde-dpmsolver++', use_exponential_sigmas: true };
    const steps = 10;
    const sigmas = buildSigmas(cfg, SD_IDX, steps, 'dpmpp_2m_sde');
    const grid = diffusersDpmGrid(cfg, steps, MS);
    const noise = noiseSequence(steps, 700);
    const start = Float32Array.from(NOISE, (v) => v * initNoiseSigma(sigmas, cfg));
    const ours = await runOurs(fakeVpModel(GAUSS, cfg), sigmas, start, createSolver('dpmpp_2m_sde', cfg), 'vp', noise);
    expect(noise.used()).toBe(steps);
    const expected = await diffusersDpmMultistep(fakeVpModel(GAUSS, cfg), { ...base, algorithm: 'sde-dpmsolver++' }, grid.timesteps, grid.sigmas, Float64Array.from(NOISE), noise.draws);
    expect(relL2(ours, expected)).toBeLessThan(2e-6);
  });

  it('flow model (use_flow_sigmas, flow_shift 3, flow_prediction): dpmpp_2m from the config grid, int timesteps', async () => {
    const cfg = { ...LINEAR, _class_name: MS, use_flow_sigmas: true, flow_shift: 3.0, prediction_type: 'flow_prediction' };
    const steps = 12;
    const sigmas = buildSigmas(cfg, { _class_name: 'SanaPipeline' }, steps, 'dpmpp_2m');
    const grid = diffusersDpmGrid(cfg, steps, MS);
    const model = fakeFlowModel(GAUSS, cfg, 'scheduler');
    const ours = await runOurs(model, sigmas, Float32Array.from(NOISE), createSolver('dpmpp_2m', cfg), 'flow');
    const expected = await diffusersDpmMultistep(fakeFlowModel(GAUSS, cfg, 'scheduler'), { ...base, flow: true, prediction: 'flow_prediction' }, grid.timesteps, grid.sigmas, Float64Array.from(NOISE));
    expect(relL2(ours, expected)).toBeLessThan(2e-6);
    expect(model.seen).toEqual(grid.timesteps);
  });

  for (const [solver, strength, steps, extra] of [
    ['dpmpp_2m', 0.6, 20, {}],
    ['dpmpp_3m', 0.75, 12, { use_karras_sigmas: true }],
    ['dpmpp_2m_sde', 0.5, 10, { algorithm_type: 'sde-dpmsolver++', final_sigmas_type: 'sigma_min' }],
  ] as const) {
    it(`img2img (${solver}, strength ${strength}, ${steps} steps): add_noise at sigmas[t_start], then diffusers' steps from set_begin_index`, async () => {
      const cfg: SchedulerConfig = { ...SD15, _class_name: MS, ...extra };
      const full = buildSigmas(cfg, SD_IDX, steps, solver);
      const tail = img2imgSigmas(full, strength);
      // diffusers get_timesteps: init_timestep = min(int(N * strength), N), t_start = N - init_timestep.
      const tStart = steps - Math.min(Math.trunc(steps * strength), steps);
      expect(tail.timesteps.length).toBe(steps - tStart);
      const image = Float32Array.from(GAUSS.mu);
      const addNoise = Float32Array.from(NOISE);
      const x = noisedStart(new Tensor(BATCH_DIMS, image), new Tensor(BATCH_DIMS, addNoise), tail);
      const noise = noiseSequence(steps - tStart, 900);
      const seg = tail.segment!;
      const solverObj = createSolver(solver, cfg, {}, seg.start + tail.timesteps.length === seg.total ? { scheduleSteps: seg.total } : {});
      const ours = await runOurs(fakeVpModel(GAUSS, cfg), tail, x.data, solverObj, 'vp', noise);
      const grid = diffusersDpmGrid(cfg, steps, MS);
      // add_noise with begin_index = t_start: alpha_t x0 + sigma_t noise at sigmas[t_start] (VP sample).
      const s = grid.sigmas[tStart];
      const a = 1 / Math.sqrt(s * s + 1);
      const xvp = Float64Array.from(image, (v, k) => a * v + s * a * addNoise[k]);
      const ref: RefConfig = {
        ...base,
        order: solver === 'dpmpp_3m' ? 3 : 2,
        algorithm: solver === 'dpmpp_2m_sde' ? 'sde-dpmsolver++' : 'dpmsolver++',
        finalZero: cfg.final_sigmas_type !== 'sigma_min',
      };
      const expected = await diffusersDpmMultistep(fakeVpModel(GAUSS, cfg), ref, grid.timesteps, grid.sigmas, xvp, noise.draws, tStart);
      const sEnd = grid.sigmas[steps];
      expect(relL2(ours.map((v) => v / Math.sqrt(sEnd * sEnd + 1)), expected)).toBeLessThan(2e-6);
    });
  }
});
