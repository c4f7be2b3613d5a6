import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ModelFeed, SchedulerConfig, Sigmas } from '../nodes/core/values.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { createDpmMultistep, multistepOrder, type DpmMultistepOptions } from '../nodes/sampling/dpm-multistep.ts';
import { createDpmSde } from '../nodes/sampling/dpm-sde.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import {
  BATCH_DIMS,
  GAUSS,
  lambdaUniformLevels,
  measureOrder,
  multistepTimesteps,
  NOISE,
  noiseSequence,
  relL2,
  tableGrid,
  uniformLevels,
  vpStartToState,
  lin,
  type Vec,
} from './exp-solver-helpers.ts';
import { fakeFlowModel, fakeVpModel, SD_VP_DDIM, type FakeModel } from './sampling-fake-model.ts';

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
}

/** Runs the reference over (timesteps, sigmas) from the scheduler-space sample x (VP sample or flow sample). */
async function diffusersDpmMultistep(model: FakeModel, c: RefConfig, timesteps: number[], sigmas: number[], x: Vec, noises?: Float32Array[]): Promise<Vec> {
  const alphaSigma = (s: number): [number, number] => (c.flow ? [1 - s, s] : [1 / Math.sqrt(s * s + 1), s / Math.sqrt(s * s + 1)]);
  const lam = (s: number) => {
    const [a, sg] = alphaSigma(s);
    return Math.log(a) - Math.log(sg);
  };
  const outputs: Vec[] = [];
  let lowerOrderNums = 0;
  const N = timesteps.length;
  for (let i = 0; i < N; i++) {
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
    outputs.push(m);
    const lowerFinal = i === N - 1 && (c.eulerAtFinal || (c.lowerOrderFinal && N < 15) || c.finalZero);
    const lowerSecond = i === N - 2 && c.lowerOrderFinal && N < 15;
    const noise = c.algorithm === 'sde-dpmsolver++' ? Float64Array.from(noises![i]) : undefined;
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
  const grids = [
    { name: 'VP, lambda-uniform', space: 'vp' as const, levels: (n: number) => lambdaUniformLevels('vp', 5, 0.3, n) },
    { name: 'flow, lambda-uniform', space: 'flow' as const, levels: (n: number) => lambdaUniformLevels('flow', 0.83, 0.23, n) },
    { name: 'flow, t-uniform', space: 'flow' as const, levels: (n: number) => uniformLevels(0.83, 0.23, n) },
  ];
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
