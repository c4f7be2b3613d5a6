import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { Sigmas } from '../nodes/core/values.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { createDpmMultistep } from '../nodes/sampling/dpm-multistep.ts';
import { expLevel } from '../nodes/sampling/lambda.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { solveSmall } from '../nodes/sampling/small-linear.ts';
import { createUniPC, unipcCoefficients, type UniPCOptions } from '../nodes/sampling/unipc.ts';
import {
  BATCH_DIMS,
  denoiseFor,
  exactGrid,
  fakeVpTimestep,
  GAUSS,
  lambdaUniformLevels,
  ORDER_GRIDS,
  measureOrder,
  multistepTimesteps,
  NOISE,
  relL2,
  runFromExact,
  SD_TABLE,
  startState,
  tableGrid,
  vpStartToState,
  lin,
  logLogSlope,
  exactState,
  uniformLevels,
  thresholdSampleRef,
  type Vec,
} from './exp-solver-helpers.ts';
import { fakeFlowModel, fakeVpModel, SD_VP_DDIM, type FakeModel } from './sampling-fake-model.ts';


/** Gaussian elimination without pivoting (the systems here are tiny and well conditioned). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) for (let r = c + 1; r < n; r++) {
    const f = M[r][c] / M[c][c];
    for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) x[r] = (M[r][n] - M[r].slice(r + 1, n).reduce((a, v, k) => a + v * x[r + 1 + k], 0)) / M[r][r];
  return x;
}

interface RefConfig {
  order: number;
  solverType: 'bh1' | 'bh2';
  predictX0: boolean;
  lowerOrderFinal: boolean;
  disableCorrector: number[];
  /** use_flow_sigmas (alpha = 1 - sigma, sigma = sigma); default VP (_sigma_to_alpha_sigma_t). */
  space?: 'vp' | 'flow';
  /** prediction_type (default epsilon; flow models: flow_prediction). */
  prediction?: 'epsilon' | 'sample' | 'v_prediction' | 'flow_prediction';
  /** thresholding (data prediction only, as convert_model_output). */
  threshold?: { ratio: number; maxValue: number };
  /** set_begin_index (img2img): the first step's index in the schedule. */
  begin?: number;
  /** Return the (corrected) sample the last predictor starts from instead of running that predictor. */
  skipLastPredictor?: boolean;
}

/** One call of the fake model on a native (VP or flow) sample, as the diffusers pipeline feeds it. */
async function callModel(model: FakeModel, space: 'vp' | 'flow', sample: Vec, t: number): Promise<Vec> {
  const name = space === 'vp' ? 'sample' : 'hidden_states';
  const raw = await model.denoiser.run({
    [name]: { dims: BATCH_DIMS, data: Float32Array.from(sample), type: 'float32' },
    timestep: { dims: [1], data: Float32Array.of(t), type: 'float32' },
  });
  return Float64Array.from(Object.values(raw)[0].data);
}

/** diffusers UniPCMultistepScheduler (multistep_uni_p_bh_update / multistep_uni_c_bh_update / step), VP variables. */
async function diffusersUniPC(model: FakeModel, c: RefConfig, timesteps: number[], sigmas: number[], sample: Vec): Promise<Vec> {
  const space = c.space ?? 'vp';
  const prediction = c.prediction ?? (space === 'flow' ? 'flow_prediction' : 'epsilon');
  const as = (s: number): [number, number] => (space === 'flow' ? [1 - s, s] : [1 / Math.sqrt(s * s + 1), s / Math.sqrt(s * s + 1)]);
  const lam = (s: number) => Math.log(as(s)[0]) - Math.log(as(s)[1]);
  const outputs: (Vec | null)[] = Array.from({ length: c.order }, () => null);
  let lastSample: Vec | null = null;
  let thisOrder = 0;
  let lowerOrderNums = 0;
  const N = timesteps.length;
  const bh = (hh: number) => (c.solverType === 'bh1' ? hh : Math.expm1(hh));
  const rb = (hh: number, order: number, rks: number[]) => {
    const R: number[][] = [];
    const b: number[] = [];
    let hPhiK = Math.expm1(hh) / hh - 1;
    let fact = 1;
    for (let i = 1; i <= order; i++) {
      R.push(rks.map((r) => r ** (i - 1)));
      b.push((hPhiK * fact) / bh(hh));
      fact *= i + 1;
      hPhiK = hPhiK / hh - 1 / fact;
    }
    return { R, b };
  };
  for (let step = c.begin ?? 0; step < N; step++) {
    const out = await callModel(model, space, sample, timesteps[step]);
    const [a, s] = as(sigmas[step]);
    let converted: Vec;
    if (c.predictX0) {
      if (prediction === 'epsilon') converted = lin([[1 / a, sample], [-s / a, out]]);
      else if (prediction === 'sample') converted = out;
      else if (prediction === 'v_prediction') converted = lin([[a, sample], [-s, out]]);
      else converted = lin([[1, sample], [-sigmas[step], out]]);
      if (c.threshold) converted = thresholdSampleRef(converted, c.threshold.ratio, c.threshold.maxValue);
    } else {
      if (prediction === 'epsilon') converted = out;
      else if (prediction === 'sample') converted = lin([[1 / s, sample], [-a / s, out]]);
      else if (prediction === 'v_prediction') converted = lin([[a, out], [s, sample]]);
      else throw new Error('diffusers UniPC: flow_prediction needs predict_x0');
    }
    const useCorrector = step > 0 && !c.disableCorrector.includes(step - 1) && lastSample !== null;
    if (useCorrector) {
      const order = thisOrder;
      const m0 = outputs[outputs.length - 1]!;
      const [aT, sT] = as(sigmas[step]);
      const [aS0, sS0] = as(sigmas[step - 1]);
      const h = lam(sigmas[step]) - lam(sigmas[step - 1]);
      const rks: number[] = [];
      const D1s: Vec[] = [];
      for (let i = 1; i < order; i++) {
        const rk = (lam(sigmas[step - (i + 1)]) - lam(sigmas[step - 1])) / h;
        rks.push(rk);
        D1s.push(lin([[1 / rk, outputs[outputs.length - (i + 1)]!], [-1 / rk, m0]]));
      }
      rks.push(1);
      const hh = c.predictX0 ? -h : h;
      const { R, b } = rb(hh, order, rks);
      const rhos = order === 1 ? [0.5] : solve(R, b);
      const Bh = bh(hh);
      const base = c.predictX0 ? lin([[sT / sS0, lastSample!], [-aT * Math.expm1(hh), m0]]) : lin([[aT / aS0, lastSample!], [-sT * Math.expm1(hh), m0]]);
      const w = c.predictX0 ? aT : sT;
      const terms: [number, Vec][] = [[1, base], [-w * Bh * rhos[rhos.length - 1], lin([[1, converted], [-1, m0]])]];
      D1s.forEach((d, k) => terms.push([-w * Bh * rhos[k], d]));
      sample = lin(terms);
    }
    outputs.shift();
    outputs.push(converted);
    thisOrder = Math.min(c.lowerOrderFinal ? Math.min(c.order, N - step) : c.order, lowerOrderNums + 1);
    lastSample = sample;
    if (c.skipLastPredictor && step === N - 1) return sample;
    {
      const order = thisOrder;
      const m0 = outputs[outputs.length - 1]!;
      const [aT, sT] = as(sigmas[step + 1]);
      const [aS0, sS0] = as(sigmas[step]);
      const h = lam(sigmas[step + 1]) - lam(sigmas[step]);
      const rks: number[] = [];
      const D1s: Vec[] = [];
      for (let i = 1; i < order; i++) {
        const rk = (lam(sigmas[step - i]) - lam(sigmas[step])) / h;
        rks.push(rk);
        D1s.push(lin([[1 / rk, outputs[outputs.length - (i + 1)]!], [-1 / rk, m0]]));
      }
      rks.push(1);
      const hh = c.predictX0 ? -h : h;
      const { R, b } = rb(hh, order, rks);
      const rhos = order === 2 ? [0.5] : order > 2 ? solve(R.slice(0, -1).map((r) => r.slice(0, -1)), b.slice(0, -1)) : [];
      const Bh = bh(hh);
      const base = c.predictX0 ? lin([[sT / sS0, sample], [-aT * Math.expm1(hh), m0]]) : lin([[aT / aS0, sample], [-sT * Math.expm1(hh), m0]]);
      const w = c.predictX0 ? aT : sT;
      const terms: [number, Vec][] = [[1, base]];
      D1s.forEach((d, k) => terms.push([-w * Bh * rhos[k], d]));
      sample = lin(terms);
    }
    if (lowerOrderNums < c.order) lowerOrderNums++;
  }
  return sample;
}

describe('UniPC matches diffusers UniPCMultistepScheduler (VP-variable reference)', () => {
  const base: RefConfig = { order: 2, solverType: 'bh2', predictX0: true, lowerOrderFinal: true, disableCorrector: [] };
  const cases: { name: string; ref: Partial<RefConfig>; opts: UniPCOptions; steps: number; final: 'zero' | 'sigma_min' }[] = [
    { name: 'bh2, order 2, 10 steps, final sigma 0', ref: {}, opts: {}, steps: 10, final: 'zero' },
    { name: 'bh1, order 2, 12 steps, final sigma_min', ref: { solverType: 'bh1' }, opts: { variant: 'bh1' }, steps: 12, final: 'sigma_min' },
    { name: 'bh2, order 3, 12 steps, final sigma 0', ref: { order: 3 }, opts: { order: 3 }, steps: 12, final: 'zero' },
    { name: 'bh1, order 3, lower_order_final off, 9 steps, final sigma_min', ref: { order: 3, solverType: 'bh1', lowerOrderFinal: false }, opts: { order: 3, variant: 'bh1', lowerOrderFinal: false }, steps: 9, final: 'sigma_min' },
    { name: 'disable_corrector [0, 3], 10 steps', ref: { disableCorrector: [0, 3] }, opts: { disableCorrector: [0, 3] }, steps: 10, final: 'zero' },
    { name: 'noise prediction (predict_x0 false), order 2, 10 steps, final sigma_min', ref: { predictX0: false }, opts: { predictX0: false }, steps: 10, final: 'sigma_min' },
    { name: 'order 1, 6 steps', ref: { order: 1 }, opts: { order: 1 }, steps: 6, final: 'zero' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const ts = multistepTimesteps(c.steps);
      const sigmas = tableGrid(SD_VP_DDIM, ts, c.final);
      const model = fakeVpModel(GAUSS);
      const r = await runSampler({ solver: createUniPC(c.opts), sigmas, x: new Tensor(BATCH_DIMS, vpStartToState(NOISE, sigmas.sigmas[0])), model: createDenoiseFn(model, { space: 'vp' }) });
      const sEnd = sigmas.sigmas[c.steps];
      const expected = await diffusersUniPC(fakeVpModel(GAUSS), { ...base, ...c.ref }, ts, sigmas.sigmas, Float64Array.from(NOISE));
      expect(relL2(r.x.data.map((v) => v / Math.sqrt(sEnd * sEnd + 1)), expected)).toBeLessThan(2e-6);
      expect(model.seen).toEqual(ts);
    });
  }

  it('bh2 order-2 predictor equals DPM-Solver++(2M) midpoint (fact sheet 3.5)', () => {
    const [s, t, prev] = [2.0, 1.3, 3.1].map((v) => expLevel('vp', v));
    const u = unipcCoefficients({ predictX0: true, variant: 'bh2', order: 2, s, t, history: [prev], corrector: false });
    // DPM++2M midpoint: x_t = (s_t/s_s) x - phi1 m0 - 0.5 phi1 (m0 - m1)/r0, VE variables.
    const h = t.lambda - s.lambda;
    const phi1 = Math.expm1(-h);
    const r0 = (s.lambda - prev.lambda) / h;
    expect(u.x).toBeCloseTo(1.3 / 2.0, 14);
    expect(u.m[0]).toBeCloseTo(-phi1 - (0.5 * phi1) / r0, 14);
    expect(u.m[1]).toBeCloseTo((0.5 * phi1) / r0, 14);
  });

  it('solves small systems with pivoting and rejects singular ones', () => {
    expect(solveSmall([[0, 1], [2, 0]], [3, 4])).toEqual([2, 3]);
    expect(() => solveSmall([[1, 1], [1, 1]], [1, 2])).toThrow(/singular/);
  });
});

// ---------------------------------------------------------------------------------------------
// More of diffusers' branches: prediction types, thresholding, img2img (set_begin_index), Karras levels
// with the repeated last level (final_sigmas_type sigma_min), use_flow_sigmas grids.

/** Karras levels between the SD table's ends, integer timesteps (rounded sigma_to_t as diffusers). */
function karrasGrid(n: number, final: 'zero' | 'sigma_min'): Sigmas {
  const smin = SD_TABLE[0];
  const smax = SD_TABLE[SD_TABLE.length - 1];
  const levels = Array.from({ length: n }, (_, i) => (smax ** (1 / 7) + (i / (n - 1)) * (smin ** (1 / 7) - smax ** (1 / 7))) ** 7);
  return { space: 'vp', sigmas: [...levels, final === 'zero' ? 0 : levels[n - 1]], timesteps: levels.map((l) => Math.round(fakeVpTimestep(l))) };
}

/** UniPC's use_flow_sigmas grid: linspace(1, 1/T, N + 1) without its last point, shifted, first level nudged; t = trunc(sigma*T)/T. */
function flowGrid(n: number, shift: number, final: 'zero' | 'sigma_min'): Sigmas {
  const levels = Array.from({ length: n }, (_, i) => {
    const s = 1 + (i / n) * (1 / 1000 - 1);
    return (shift * s) / (1 + (shift - 1) * s);
  });
  if (Math.abs(levels[0] - 1) < 1e-6) levels[0] -= 1e-6;
  return { space: 'flow', sigmas: [...levels, final === 'zero' ? 0 : levels[n - 1]], timesteps: levels.map((s) => Math.trunc(s * 1000) / 1000) };
}

/** Our UniPC on the grid's tail from `begin` (img2img), from the native sample x; returns the native result. */
async function runOurs(opts: UniPCOptions, grid: Sigmas, model: FakeModel, x: Vec, begin = 0): Promise<Float64Array> {
  const tail: Sigmas = { ...grid, sigmas: grid.sigmas.slice(begin), timesteps: grid.timesteps.slice(begin) };
  const vp = grid.space === 'vp';
  const s0 = tail.sigmas[0];
  const start = vp ? Float32Array.from(x, (v) => v * Math.sqrt(s0 * s0 + 1)) : Float32Array.from(x);
  const r = await runSampler({ solver: createUniPC(opts), sigmas: tail, x: new Tensor(BATCH_DIMS, start), model: createDenoiseFn(model, { space: grid.space }) });
  const sEnd = grid.sigmas[grid.sigmas.length - 1];
  return Float64Array.from(r.x.data, (v) => (vp ? v / Math.sqrt(sEnd * sEnd + 1) : v));
}

describe('UniPC matches diffusers in its other branches (VP- and flow-variable reference)', () => {
  const base: RefConfig = { order: 2, solverType: 'bh2', predictX0: true, lowerOrderFinal: true, disableCorrector: [] };
  const V_PRED = { ...SD_VP_DDIM, prediction_type: 'v_prediction' };
  const X0_PRED = { ...SD_VP_DDIM, prediction_type: 'sample' };
  const THRESH = { ratio: 0.9, maxValue: 1.5 };
  const cases: { name: string; ref: Partial<RefConfig>; opts: UniPCOptions; grid: () => Sigmas; cfg?: typeof SD_VP_DDIM; begin?: number }[] = [
    { name: 'v_prediction, data form, order 3, 12 steps, final 0', ref: { order: 3, prediction: 'v_prediction' }, opts: { order: 3 }, grid: () => tableGrid(SD_VP_DDIM, multistepTimesteps(12), 'zero'), cfg: V_PRED },
    { name: 'v_prediction, noise form, 10 steps, sigma_min', ref: { predictX0: false, prediction: 'v_prediction' }, opts: { predictX0: false }, grid: () => tableGrid(SD_VP_DDIM, multistepTimesteps(10), 'sigma_min'), cfg: V_PRED },
    { name: 'sample prediction, bh1, order 3, 10 steps, final 0', ref: { order: 3, solverType: 'bh1', prediction: 'sample' }, opts: { order: 3, variant: 'bh1' }, grid: () => tableGrid(SD_VP_DDIM, multistepTimesteps(10), 'zero'), cfg: X0_PRED },
    { name: 'sample prediction, noise form, bh1, 10 steps, sigma_min', ref: { predictX0: false, solverType: 'bh1', prediction: 'sample' }, opts: { predictX0: false, variant: 'bh1' }, grid: () => tableGrid(SD_VP_DDIM, multistepTimesteps(10), 'sigma_min'), cfg: X0_PRED },
    { name: 'thresholding (data form), order 3, 10 steps', ref: { order: 3, threshold: THRESH }, opts: { order: 3, thresholding: THRESH }, grid: () => tableGrid(SD_VP_DDIM, multistepTimesteps(10), 'zero') },
    { name: 'thresholding is ignored by the noise form', ref: { predictX0: false }, opts: { predictX0: false, thresholding: THRESH }, grid: () => tableGrid(SD_VP_DDIM, multistepTimesteps(10), 'sigma_min') },
    { name: 'img2img: begin index 8 of 20, order 3, disable_corrector [9, 12]', ref: { order: 3, begin: 8, disableCorrector: [9, 12] }, opts: { order: 3, scheduleSteps: 20, disableCorrector: [9, 12] }, grid: () => tableGrid(SD_VP_DDIM, multistepTimesteps(20), 'zero'), begin: 8 },
    { name: 'img2img: begin index 9 of 12 (lower_order_final counts the whole schedule)', ref: { order: 3, begin: 9 }, opts: { order: 3, scheduleSteps: 12 }, grid: () => tableGrid(SD_VP_DDIM, multistepTimesteps(12), 'sigma_min'), begin: 9 },
    { name: 'Karras, sigma_min repeats the last level, order 3, 8 steps', ref: { order: 3 }, opts: { order: 3 }, grid: () => karrasGrid(8, 'sigma_min') },
    { name: 'Karras, sigma_min, bh1 order 2, lower_order_final off, 16 steps', ref: { solverType: 'bh1', lowerOrderFinal: false }, opts: { variant: 'bh1', lowerOrderFinal: false }, grid: () => karrasGrid(16, 'sigma_min') },
    { name: 'Karras, final 0, order 3, 20 steps', ref: { order: 3 }, opts: { order: 3 }, grid: () => karrasGrid(20, 'zero') },
    { name: 'flow sigmas (shift 3), flow_prediction, order 2, 10 steps, final 0', ref: { space: 'flow' }, opts: {}, grid: () => flowGrid(10, 3, 'zero') },
    { name: 'flow sigmas (shift 1, first level nudged), order 3, bh1, 12 steps, sigma_min', ref: { space: 'flow', order: 3, solverType: 'bh1' }, opts: { order: 3, variant: 'bh1' }, grid: () => flowGrid(12, 1, 'sigma_min') },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const grid = c.grid();
      const flow = grid.space === 'flow';
      const mk = () => (flow ? fakeFlowModel(GAUSS, undefined, 'fraction') : fakeVpModel(GAUSS, c.cfg ?? SD_VP_DDIM));
      const model = mk();
      const got = await runOurs(c.opts, grid, model, NOISE, c.begin ?? 0);
      const expected = await diffusersUniPC(mk(), { ...base, ...c.ref }, grid.timesteps, grid.sigmas, Float64Array.from(NOISE));
      expect(expected.every(Number.isFinite)).toBe(true);
      expect(relL2(got, expected)).toBeLessThan(2e-6);
      expect(model.seen).toEqual(grid.timesteps.slice(c.begin ?? 0).map(Math.fround));
    });
  }

  it('the thresholding case really thresholds', async () => {
    const grid = tableGrid(SD_VP_DDIM, multistepTimesteps(10), 'zero');
    const a = await runOurs({ order: 3, thresholding: THRESH }, grid, fakeVpModel(GAUSS), NOISE);
    const b = await runOurs({ order: 3 }, grid, fakeVpModel(GAUSS), NOISE);
    expect(relL2(a, b)).toBeGreaterThan(1e-3);
  });

  it('deliberate deviation: finite last steps where diffusers gives NaN', async () => {
    // diffusers' last step onto sigma 0 computes alpha_t * B_h * pred_res with B_h = -inf (bh1) and
    // pred_res = 0, or sigma_t * (e^h - 1) = 0 * inf (noise form): NaN. On a repeated last level
    // (sigma_min on Karras/flow grids) with order 3 and lower_order_final off, h = 0 makes b = 0/0 and
    // the solve NaN. FlowStudio takes the first-order (DDIM-form) step there: x0 at sigma 0, x unchanged
    // on a repeated level.
    for (const [opts, grid] of [
      [{ variant: 'bh1' }, tableGrid(SD_VP_DDIM, multistepTimesteps(10), 'zero')],
      [{ predictX0: false }, tableGrid(SD_VP_DDIM, multistepTimesteps(10), 'zero')],
      [{ order: 3, lowerOrderFinal: false }, karrasGrid(16, 'sigma_min')],
    ] as [UniPCOptions, Sigmas][]) {
      const out = await runOurs(opts, grid, fakeVpModel(GAUSS), NOISE);
      expect(out.every(Number.isFinite)).toBe(true);
    }
    // The repeated level: the result is diffusers' corrected sample at the last level (its last_sample).
    const grid = karrasGrid(16, 'sigma_min');
    const full = await runOurs({ order: 3, lowerOrderFinal: false }, grid, fakeVpModel(GAUSS), NOISE);
    const ref = await diffusersUniPC(fakeVpModel(GAUSS), { ...base, order: 3, lowerOrderFinal: false, skipLastPredictor: true }, grid.timesteps, grid.sigmas, Float64Array.from(NOISE));
    expect(relL2(full, ref)).toBeLessThan(2e-6);
  });
});

describe('UniPC convergence order against the closed-form PF-ODE (started from exact history, stopped above sigma 0)', () => {
  const STEPS = [16, 24, 32, 48, 64];
  const grids = ORDER_GRIDS;
  const solvers = [
    { name: 'bh2 p2 + corrector', opts: {}, order: 3, exact: 1 },
    { name: 'bh1 p2 + corrector', opts: { variant: 'bh1' as const }, order: 3, exact: 1 },
    { name: 'bh2 p2 predictor only', opts: { corrector: false }, order: 2, exact: 1 },
    { name: 'bh2 p3 predictor only', opts: { order: 3, corrector: false }, order: 3, exact: 2 },
    { name: 'bh2 p2 + corrector, noise prediction', opts: { predictX0: false }, order: 3, exact: 1 },
  ];
  for (const g of grids) {
    for (const s of solvers) {
      it(`${s.name} is order ${s.order} (${g.name})`, async () => {
        const r = await measureOrder({ space: g.space, levels: g.levels, steps: STEPS, make: () => createUniPC({ ...s.opts, lowerOrderFinal: false }), exactSteps: s.exact });
        expect(Math.abs(r.order - s.order), `measured ${r.order.toFixed(3)}; errors ${r.errors.map((e) => e.toExponential(2)).join(' ')}`).toBeLessThan(0.2);
      });
    }
  }

  it('p3 + corrector reaches order 4 (VP, lambda-uniform)', async () => {
    // Its errors fall fast: fewer steps keep them above float32 round-off.
    const r = await measureOrder({ space: 'vp', levels: (n) => lambdaUniformLevels('vp', 5, 0.3, n), steps: [12, 16, 24, 32, 48], make: () => createUniPC({ order: 3, lowerOrderFinal: false }), exactSteps: 2 });
    expect(Math.abs(r.order - 4), `measured ${r.order.toFixed(3)}`).toBeLessThan(0.25);
  });

  it('the corrector uses no extra model calls and leaves the final sample uncorrected', async () => {
    const levels = lambdaUniformLevels('vp', 5, 0.3, 8);
    const sigmas: Sigmas = exactGrid('vp', levels);
    const model = fakeVpModel(GAUSS);
    const x0 = startState('vp', levels[0]);
    await runFromExact(createUniPC({}), sigmas, x0, createDenoiseFn(model, { space: 'vp' }), 0);
    expect(model.calls).toBe(8);
    // With the corrector disabled after the last-but-one step only, the result is unchanged: the last
    // sample is never corrected anyway (the correction of x_N would need a model call at x_N).
    const a = await runFromExact(createUniPC({ disableCorrector: [7] }), sigmas, x0, denoiseFor('vp'), 0);
    const b = await runFromExact(createUniPC({}), sigmas, x0, denoiseFor('vp'), 0);
    expect(Array.from(a)).toEqual(Array.from(b));
    const c = await runFromExact(createUniPC({ disableCorrector: [6] }), sigmas, x0, denoiseFor('vp'), 0);
    expect(relL2(c, b)).toBeGreaterThan(1e-6);
  });

  it('p2 predictor without corrector is DPM++(2M) step for step', async () => {
    const levels = lambdaUniformLevels('flow', 0.83, 0.23, 12);
    const sigmas = exactGrid('flow', levels);
    const x0 = startState('flow', levels[0]);
    const a = await runFromExact(createUniPC({ corrector: false }), sigmas, x0, denoiseFor('flow'), 0);
    const b = await runFromExact(createDpmMultistep({}), sigmas, x0, denoiseFor('flow'), 0);
    expect(relL2(a, b)).toBeLessThan(1e-6);
  });
});

describe('UniPC walking up a grid (inversion)', () => {
  /** Relative error of an upward run on a flow grid from the data sample `x0` at levels[0], against the exact flow. */
  async function upError(opts: UniPCOptions, levels: number[], x0: Float64Array): Promise<number> {
    const x = await runFromExact(createUniPC(opts), exactGrid('flow', levels), x0, denoiseFor('flow'), 0);
    return relL2(x, exactState('flow', x0, levels[0], levels[levels.length - 1]));
  }
  // An SD3-style FlowMatch grid reversed: 0, then its 1/T level, then uniform to 1 (huge lambda steps near 0).
  const sd3Reversed = (n: number) => [0, 0.001, ...uniformLevels(0.001, 1, n - 1).slice(1)];
  const image = exactState('flow', startState('flow', 0.5), 0.5, 0);

  it('with no form given it inverts in the noise form, which converges where the data form diverges', async () => {
    const auto: number[] = [];
    for (const n of [10, 20, 40]) {
      const err = await upError({}, sd3Reversed(n), image);
      expect(err).toBe(await upError({ predictX0: false }, sd3Reversed(n), image));
      auto.push(err);
    }
    expect(auto[2]).toBeLessThan(3e-3);
    expect(-logLogSlope([10, 20, 40], auto)).toBeGreaterThan(1.5);
    // The data form's corrector weights grow like e^|h| upward: at 40 steps still 100x worse.
    expect(await upError({ predictX0: true }, sd3Reversed(40), image)).toBeGreaterThan(100 * auto[2]);
  });

  it('the form the state carries is fixed at init by the grid direction, unless given', () => {
    const x = new Tensor(BATCH_DIMS);
    const down = exactGrid('flow', uniformLevels(0.9, 0.1, 4));
    const up = exactGrid('flow', uniformLevels(0.1, 0.9, 4));
    expect(createUniPC().init({ sigmas: down }, x).predictX0).toBe(true);
    expect(createUniPC().init({ sigmas: up }, x).predictX0).toBe(false);
    expect(createUniPC({ predictX0: true }).init({ sigmas: up }, x).predictX0).toBe(true);
  });
});
