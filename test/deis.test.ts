import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { SchedulerConfig } from '../nodes/core/values.ts';
import { createDeis, deisCoefficients, type DeisOptions } from '../nodes/sampling/deis.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { expLevel } from '../nodes/sampling/lambda.ts';
import type { Sigmas } from '../nodes/core/values.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import {
  BATCH_DIMS,
  fakeVpTimestep,
  GAUSS,
  ORDER_GRIDS,
  measureOrder,
  multistepTimesteps,
  NOISE,
  relL2,
  SD_TABLE,
  tableGrid,
  vpStartToState,
  lin,
  thresholdSampleRef,
  type Vec,
} from './exp-solver-helpers.ts';
import { fakeFlowModel, fakeVpModel, SD_VP_DDIM, type FakeModel } from './sampling-fake-model.ts';


interface DeisRefExtras {
  /** use_flow_sigmas: alpha = 1 - sigma, sigma = sigma, flow_prediction model output. */
  space?: 'vp' | 'flow';
  threshold?: { ratio: number; maxValue: number };
  /** set_begin_index (img2img). */
  begin?: number;
}

/** diffusers DEISMultistepScheduler (log-rho) in VP (or flow) variables, with its ind_fn closed forms. */
async function diffusersDeis(model: FakeModel, cfg: SchedulerConfig, order: number, lowerOrderFinal: boolean, timesteps: number[], sigmas: number[], x: Vec, extras: DeisRefExtras = {}): Promise<Vec> {
  const flow = extras.space === 'flow';
  const as = (s: number): [number, number] => (flow ? [1 - s, s] : [1 / Math.sqrt(s * s + 1), s / Math.sqrt(s * s + 1)]);
  const outputs: Vec[] = [];
  let lowerOrderNums = 0;
  const N = timesteps.length;
  const L = Math.log;
  const ind2 = (t: number, b: number, c: number) => (t * (-L(c) + L(t) - 1)) / (L(b) - L(c));
  const ind3 = (t: number, b: number, c: number, d: number) => (t * (L(c) * (L(d) - L(t) + 1) - L(d) * L(t) + L(d) + L(t) ** 2 - 2 * L(t) + 2)) / ((L(b) - L(c)) * (L(b) - L(d)));
  for (let i = extras.begin ?? 0; i < N; i++) {
    const raw = await model.denoiser.run({
      [flow ? 'hidden_states' : 'sample']: { dims: BATCH_DIMS, data: Float32Array.from(x), type: 'float32' },
      timestep: { dims: [1], data: Float32Array.of(timesteps[i]), type: 'float32' },
    });
    const out = Float64Array.from(Object.values(raw)[0].data);
    const [a, s] = as(sigmas[i]);
    let x0 = flow
      ? lin([[1, x], [-sigmas[i], out]])
      : cfg.prediction_type === 'v_prediction'
        ? lin([[a, x], [-s, out]])
        : cfg.prediction_type === 'sample'
          ? out
          : lin([[1 / a, x], [-s / a, out]]);
    if (extras.threshold) x0 = thresholdSampleRef(x0, extras.threshold.ratio, extras.threshold.maxValue);
    outputs.push(lin([[1 / s, x], [-a / s, x0]]));
    const lowerFinal = i === N - 1 && lowerOrderFinal && N < 15;
    const lowerSecond = i === N - 2 && lowerOrderFinal && N < 15;
    const [aT, sT] = as(sigmas[i + 1]);
    const rho = (k: number) => as(sigmas[k])[1] / as(sigmas[k])[0];
    const rhoT = sT / aT;
    const m = (k: number) => outputs[outputs.length - 1 - k];
    if (order === 1 || lowerOrderNums < 1 || lowerFinal) {
      const h = L(aT) - L(sT) - (L(a) - L(s));
      x = lin([[aT / a, x], [-(sT * (Math.exp(h) - 1)), m(0)]]);
    } else if (order === 2 || lowerOrderNums < 2 || lowerSecond) {
      const [r0, r1] = [rho(i), rho(i - 1)];
      const c1 = ind2(rhoT, r0, r1) - ind2(r0, r0, r1);
      const c2 = ind2(rhoT, r1, r0) - ind2(r0, r1, r0);
      x = lin([[aT / a, x], [aT * c1, m(0)], [aT * c2, m(1)]]);
    } else {
      const [r0, r1, r2] = [rho(i), rho(i - 1), rho(i - 2)];
      const c1 = ind3(rhoT, r0, r1, r2) - ind3(r0, r0, r1, r2);
      const c2 = ind3(rhoT, r1, r2, r0) - ind3(r0, r1, r2, r0);
      const c3 = ind3(rhoT, r2, r0, r1) - ind3(r0, r2, r0, r1);
      x = lin([[aT / a, x], [aT * c1, m(0)], [aT * c2, m(1)], [aT * c3, m(2)]]);
    }
    if (lowerOrderNums < order) lowerOrderNums++;
  }
  return x;
}

describe('DEIS matches diffusers DEISMultistepScheduler (VP-variable reference)', () => {
  // DEIS grids always end at sigma_min (fact sheet section 2).
  const cases: { name: string; order: number; opts: DeisOptions; steps: number; lof: boolean; cfg: SchedulerConfig }[] = [
    { name: 'order 2, 10 steps (lower_order_final)', order: 2, opts: {}, steps: 10, lof: true, cfg: SD_VP_DDIM },
    { name: 'order 3, 12 steps', order: 3, opts: { order: 3 }, steps: 12, lof: true, cfg: SD_VP_DDIM },
    { name: 'order 3, 20 steps, v-prediction', order: 3, opts: { order: 3 }, steps: 20, lof: true, cfg: { ...SD_VP_DDIM, prediction_type: 'v_prediction' } },
    { name: 'order 3, lower_order_final off, 8 steps', order: 3, opts: { order: 3, lowerOrderFinal: false }, steps: 8, lof: false, cfg: SD_VP_DDIM },
    { name: 'order 1, 6 steps', order: 1, opts: { order: 1 }, steps: 6, lof: true, cfg: SD_VP_DDIM },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const ts = multistepTimesteps(c.steps);
      const sigmas = tableGrid(c.cfg, ts, 'sigma_min');
      const model = fakeVpModel(GAUSS, c.cfg);
      const r = await runSampler({ solver: createDeis(c.opts), sigmas, x: new Tensor(BATCH_DIMS, vpStartToState(NOISE, sigmas.sigmas[0])), model: createDenoiseFn(model, { space: 'vp' }) });
      const sEnd = sigmas.sigmas[c.steps];
      const expected = await diffusersDeis(fakeVpModel(GAUSS, c.cfg), c.cfg, c.order, c.lof, ts, sigmas.sigmas, Float64Array.from(NOISE));
      expect(relL2(r.x.data.map((v) => v / Math.sqrt(sEnd * sEnd + 1)), expected)).toBeLessThan(2e-6);
      expect(model.seen).toEqual(ts);
    });
  }

  it('the weights integrate the Lagrange basis in ln rho exactly (quadrature check)', () => {
    // c_j = int_{rho_s}^{rho_t} L_j(ln rho) d rho, checked against Simpson's rule on a fine partition.
    const [s, p1, p2, t] = [2.0, 2.7, 3.5, 1.4].map((v) => expLevel('vp', v));
    const rhos = [s, p1, p2].map((l) => l.sigma / l.alpha);
    const basis = (j: number, r: number) => {
      let v = 1;
      for (let k = 0; k < 3; k++) if (k !== j) v *= (Math.log(r) - Math.log(rhos[k])) / (Math.log(rhos[j]) - Math.log(rhos[k]));
      return v;
    };
    const simpson = (f: (r: number) => number, a: number, b: number, n = 2000) => {
      const h = (b - a) / n;
      let acc = f(a) + f(b);
      for (let k = 1; k < n; k++) acc += (k % 2 ? 4 : 2) * f(a + k * h);
      return (acc * h) / 3;
    };
    const c = deisCoefficients(3, s, t, [p1, p2]);
    const rt = t.sigma / t.alpha;
    for (let j = 0; j < 3; j++) expect(c[j]).toBeCloseTo(simpson((r) => basis(j, r), rhos[0], rt), 10);
  });
});

// ---------------------------------------------------------------------------------------------
// More of diffusers' branches: sample prediction, thresholding, img2img (set_begin_index),
// Karras levels (last level repeated: DEIS's always-sigma_min final), use_flow_sigmas grids.

/** Karras levels between the SD table's ends, rounded timesteps, the last level repeated (DEIS). */
function karrasGrid(n: number): Sigmas {
  const smin = SD_TABLE[0];
  const smax = SD_TABLE[SD_TABLE.length - 1];
  const levels = Array.from({ length: n }, (_, i) => (smax ** (1 / 7) + (i / (n - 1)) * (smin ** (1 / 7) - smax ** (1 / 7))) ** 7);
  return { space: 'vp', sigmas: [...levels, levels[n - 1]], timesteps: levels.map((l) => Math.round(fakeVpTimestep(l))) };
}

/** DEIS's use_flow_sigmas grid: flip(shift(1 - linspace(1, 1/T, N + 1)))[:-1], last level repeated; t = trunc(sigma*T)/T. */
function flowGrid(n: number, shift: number): Sigmas {
  const rising = Array.from({ length: n + 1 }, (_, i) => {
    const s = 1 - (1 + (i / n) * (1 / 1000 - 1));
    return (shift * s) / (1 + (shift - 1) * s);
  });
  const levels = rising.reverse().slice(0, n);
  return { space: 'flow', sigmas: [...levels, levels[n - 1]], timesteps: levels.map((s) => Math.trunc(s * 1000) / 1000) };
}

describe('DEIS matches diffusers in its other branches', () => {
  const THRESH = { ratio: 0.9, maxValue: 1.5 };
  const X0_PRED: SchedulerConfig = { ...SD_VP_DDIM, prediction_type: 'sample' };
  const cases: { name: string; order: number; opts: DeisOptions; lof: boolean; cfg: SchedulerConfig; grid: () => Sigmas; extras?: DeisRefExtras }[] = [
    { name: 'sample prediction, order 3, 10 steps', order: 3, opts: { order: 3 }, lof: true, cfg: X0_PRED, grid: () => tableGrid(X0_PRED, multistepTimesteps(10), 'sigma_min') },
    { name: 'thresholding, order 3, 12 steps', order: 3, opts: { order: 3, thresholding: THRESH }, lof: true, cfg: SD_VP_DDIM, grid: () => tableGrid(SD_VP_DDIM, multistepTimesteps(12), 'sigma_min'), extras: { threshold: THRESH } },
    { name: 'img2img: begin 7 of 12, order 3', order: 3, opts: { order: 3, scheduleSteps: 12 }, lof: true, cfg: SD_VP_DDIM, grid: () => tableGrid(SD_VP_DDIM, multistepTimesteps(12), 'sigma_min'), extras: { begin: 7 } },
    { name: 'img2img: begin 5 of 20 (no lower_order_final at 20 steps), order 3', order: 3, opts: { order: 3, scheduleSteps: 20 }, lof: true, cfg: SD_VP_DDIM, grid: () => tableGrid(SD_VP_DDIM, multistepTimesteps(20), 'sigma_min'), extras: { begin: 5 } },
    { name: 'Karras, order 3, 8 steps (last step h = 0)', order: 3, opts: { order: 3 }, lof: true, cfg: SD_VP_DDIM, grid: () => karrasGrid(8) },
    { name: 'Karras, order 3, 16 steps (third order onto the repeated level)', order: 3, opts: { order: 3 }, lof: true, cfg: SD_VP_DDIM, grid: () => karrasGrid(16) },
    { name: 'flow sigmas (shift 3), order 2, 10 steps', order: 2, opts: {}, lof: true, cfg: SD_VP_DDIM, grid: () => flowGrid(10, 3), extras: { space: 'flow' } },
    { name: 'flow sigmas (shift 1), order 3, 16 steps', order: 3, opts: { order: 3 }, lof: true, cfg: SD_VP_DDIM, grid: () => flowGrid(16, 1), extras: { space: 'flow' } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const grid = c.grid();
      const flow = grid.space === 'flow';
      const begin = c.extras?.begin ?? 0;
      const mk = () => (flow ? fakeFlowModel(GAUSS, undefined, 'fraction') : fakeVpModel(GAUSS, c.cfg));
      const model = mk();
      const tail: Sigmas = { ...grid, sigmas: grid.sigmas.slice(begin), timesteps: grid.timesteps.slice(begin) };
      const s0 = tail.sigmas[0];
      const start = flow ? Float32Array.from(NOISE) : vpStartToState(NOISE, s0);
      const r = await runSampler({ solver: createDeis(c.opts), sigmas: tail, x: new Tensor(BATCH_DIMS, start), model: createDenoiseFn(model, { space: grid.space }) });
      const sEnd = grid.sigmas[grid.sigmas.length - 1];
      const got = r.x.data.map((v) => (flow ? v : v / Math.sqrt(sEnd * sEnd + 1)));
      const expected = await diffusersDeis(mk(), c.cfg, c.order, c.lof, grid.timesteps, grid.sigmas, Float64Array.from(NOISE), c.extras);
      expect(expected.every(Number.isFinite)).toBe(true);
      // Flow grids start at alpha ~ 3e-4 (shift 3): x / alpha_s magnifies the float32 rounding of the state.
      expect(relL2(got, expected)).toBeLessThan(flow ? 1e-5 : 2e-6);
      expect(model.seen).toEqual(tail.timesteps.map(Math.fround));
    });
  }
});

describe('DEIS convergence order against the closed-form PF-ODE (started from exact history, stopped above sigma 0)', () => {
  const STEPS = [16, 24, 32, 48, 64];
  const grids = ORDER_GRIDS;
  for (const g of grids) {
    for (const order of [1, 2, 3]) {
      it(`DEIS-${order} is order ${order} (${g.name})`, async () => {
        const r = await measureOrder({ space: g.space, levels: g.levels, steps: STEPS, make: () => createDeis({ order, lowerOrderFinal: false }), exactSteps: order - 1 });
        expect(Math.abs(r.order - order), `measured ${r.order.toFixed(3)}; errors ${r.errors.map((e) => e.toExponential(2)).join(' ')}`).toBeLessThan(0.2);
      });
    }
  }
});
