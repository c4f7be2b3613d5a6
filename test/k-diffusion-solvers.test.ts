import { describe, expect, it } from 'vitest';
import { SeededNormal } from '../nodes/core/random.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import type { Sigmas } from '../nodes/core/values.ts';
import { img2imgSigmas, img2imgStartStep, noisedStart } from '../nodes/sampling/add-noise.ts';
import { createDenoiseFn, denoisedLimitFromConfig } from '../nodes/sampling/denoiser.ts';
import { ancestralStep, createEulerAncestral, flowAncestralStep } from '../nodes/sampling/euler-ancestral.ts';
import { createEuler } from '../nodes/sampling/euler.ts';
import { createGaussianParams, seededNormals } from '../nodes/sampling/gaussian.ts';
import { createHeun } from '../nodes/sampling/heun.ts';
import { createDpm2, createDpm2Ancestral } from '../nodes/sampling/dpm2.ts';
import { createDpmpp2sAncestral } from '../nodes/sampling/dpmpp-2s-ancestral.ts';
import { createIpndm, ipndmVariableCoefficients } from '../nodes/sampling/ipndm.ts';
import { createResMultistep } from '../nodes/sampling/res-multistep.ts';
import { createDeisTab, deisTabCoefficients, deisTime } from '../nodes/sampling/deis-tab.ts';
import { createGradientEstimation } from '../nodes/sampling/gradient-estimation.ts';
import { createHeunpp2 } from '../nodes/sampling/heunpp2.ts';
import { sliceSigmas } from '../nodes/sampling/sigmas-split.ts';
import { createLms, lmsCoefficients, type LmsState } from '../nodes/sampling/lms.ts';
import type { NoiseSource } from '../nodes/sampling/ops.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';
import { createSolver } from '../nodes/sampling/solver-registry.ts';
import { solverModelCalls, type DenoiseFn, type SolverContext } from '../nodes/sampling/solver.ts';
import { exactEnd, exactModel, geometricLevels, gridOf, uniformLevels } from './exact-models.ts';
import { fakeVpModel, logLogSlope, relL2, SD_VP_DDIM } from './sampling-fake-model.ts';

const p = createGaussianParams({ dims: [3, 8, 8], seed: 5 });
const DIMS = [1, 3, 8, 8];
const z = Float32Array.from(seededNormals(192, 11));
const STEPS = [8, 16, 32, 64];

function noiseSource(seed: number): NoiseSource & { draws: number } {
  const rng = new SeededNormal(seed);
  const src = ((dims: readonly number[]) => {
    src.draws++;
    const t = new Tensor(dims);
    rng.fill(t.data);
    return t;
  }) as NoiseSource & { draws: number };
  src.draws = 0;
  return src;
}

/** Global error against the exact transport for a deterministic solver on grids of `steps` steps. */
async function orderOf(make: () => Parameters<typeof runSampler>[0]['solver'], grid: (n: number) => Sigmas, space: 'vp' | 'flow'): Promise<{ slope: number; errors: number[] }> {
  const errors: number[] = [];
  for (const n of STEPS) {
    const sigmas = grid(n);
    const s0 = sigmas.sigmas[0];
    const x = new Tensor(DIMS, space === 'vp' ? z.map((v) => v * s0) : z.slice());
    const r = await runSampler({ solver: make(), sigmas, x, model: exactModel(p, space) });
    errors.push(relL2(r.x.data, exactEnd(p, space, x.data, s0, sigmas.sigmas[sigmas.sigmas.length - 1])));
  }
  return { slope: -logLogSlope(STEPS, errors), errors };
}

// VE grids geometric from 10 down to 0.3 (fact sheet: measure to a level > 0); flow grids uniform in t.
const veGrid = (n: number) => gridOf('vp', geometricLevels(10, 0.3, n));
const flowGrid = (n: number) => gridOf('flow', uniformLevels(0.98, 0.05, n));

describe('measured orders on the closed-form Gaussian PF-ODE (fact sheet 3 "Measured orders")', () => {
  it('Euler is first order (VE and RF)', async () => {
    expect(Math.abs((await orderOf(() => createEuler(), veGrid, 'vp')).slope - 1)).toBeLessThan(0.2);
    expect(Math.abs((await orderOf(() => createEuler(), flowGrid, 'flow')).slope - 1)).toBeLessThan(0.2);
  });

  it('Heun is second order (VE and RF)', async () => {
    expect(Math.abs((await orderOf(() => createHeun(), veGrid, 'vp')).slope - 2)).toBeLessThan(0.2);
    expect(Math.abs((await orderOf(() => createHeun(), flowGrid, 'flow')).slope - 2)).toBeLessThan(0.2);
  });

  it('DPM-Solver-2 (KDPM2) is second order (VE and RF)', async () => {
    expect(Math.abs((await orderOf(() => createDpm2(), veGrid, 'vp')).slope - 2)).toBeLessThan(0.2);
    expect(Math.abs((await orderOf(() => createDpm2(), flowGrid, 'flow')).slope - 2)).toBeLessThan(0.2);
  });

  it('DPM-Solver-2 ancestral at eta 0 is DPM-Solver-2 (VE and RF); at eta 1 it draws one noise per step but the last', async () => {
    const sigmas = veGrid(8);
    const x = new Tensor(DIMS, z.map((v) => v * sigmas.sigmas[0]));
    const plain = await runSampler({ solver: createDpm2(), sigmas, x, model: exactModel(p, 'vp') });
    const eta0 = await runSampler({ solver: createDpm2Ancestral({ eta: 0 }), sigmas, x, model: exactModel(p, 'vp') });
    expect(Array.from(eta0.x.data)).toEqual(Array.from(plain.x.data));
    const toZero = gridOf('vp', [...geometricLevels(10, 0.3, 8), 0]);
    const noise = noiseSource(3);
    const r = await runSampler({ solver: createDpm2Ancestral(), sigmas: toZero, x, model: exactModel(p, 'vp'), noise });
    expect(noise.draws).toBe(8);
    expect(r.modelCalls).toBe(2 * 9 - 1);
    // On a flow grid at eta 0 the rectified-flow split is the identity (s_down = s_next, no rescale, no noise).
    const flow = flowGrid(8);
    const xf = new Tensor(DIMS, z.slice());
    const plainFlow = await runSampler({ solver: createDpm2(), sigmas: flow, x: xf, model: exactModel(p, 'flow') });
    const eta0Flow = await runSampler({ solver: createDpm2Ancestral({ eta: 0 }), sigmas: flow, x: xf, model: exactModel(p, 'flow') });
    expect(Array.from(eta0Flow.x.data)).toEqual(Array.from(plainFlow.x.data));
  });

  it('DPM-Solver++(2S) ancestral at eta 0 is second order (DPM++ 2S)', async () => {
    expect(Math.abs((await orderOf(() => createDpmpp2sAncestral({ eta: 0 }), veGrid, 'vp')).slope - 2)).toBeLessThan(0.2);
  });

  it('iPNDM (fixed and variable step): measured orders, and the two agree on a uniform grid up to order 3', async () => {
    // Geometric grids from 10 to 0.3 at 32..128 steps (8..16 are pre-asymptotic for ipndm_v): the Euler first
    // step caps both at order 2 in theory; the variable-step one still reads ~2.7 here, its start's error tiny.
    const slopeOf = async (variable: boolean) => {
      const steps = [32, 64, 128];
      const errors: number[] = [];
      for (const n of steps) {
        const sigmas = veGrid(n);
        const x = new Tensor(DIMS, z.map((v) => v * sigmas.sigmas[0]));
        const r = await runSampler({ solver: createIpndm({ variable }), sigmas, x, model: exactModel(p, 'vp') });
        errors.push(relL2(r.x.data, exactEnd(p, 'vp', x.data, sigmas.sigmas[0], sigmas.sigmas[n])));
      }
      return -logLogSlope(steps, errors);
    };
    expect(Math.abs((await slopeOf(false)) - 2)).toBeLessThan(0.2);
    expect(await slopeOf(true)).toBeGreaterThan(2.4);
    // Uniform steps in sigma: up to order 3 the variable-step coefficients are the fixed ones (AB2, AB3).
    const uniform = gridOf('vp', uniformLevels(10, 0.5, 12));
    const x = new Tensor(DIMS, z.map((v) => v * 10));
    const a = await runSampler({ solver: createIpndm({ maxOrder: 3 }), sigmas: uniform, x, model: exactModel(p, 'vp') });
    const b = await runSampler({ solver: createIpndm({ variable: true, maxOrder: 3 }), sigmas: uniform, x, model: exactModel(p, 'vp') });
    expect(relL2(b.x.data, a.x.data)).toBeLessThan(1e-6);
    // At order 4 the published variable-step formula (diff-solvers, ComfyUI) gives (57, -65, 43, -11) / 24 on
    // uniform steps, not AB4's (55, -59, 37, -9) / 24; both sum to 1 (consistent).
    expect(ipndmVariableCoefficients(4, -1, [-1, -1, -1])).toEqual([57 / 24, -65 / 24, 43 / 24, -11 / 24].map((c) => expect.closeTo(c, 12)));
    expect(ipndmVariableCoefficients(3, -1, [-1, -1])).toEqual([23 / 12, -16 / 12, 5 / 12].map((c) => expect.closeTo(c, 12)));
  });

  it('RES multistep is second order (VE and RF); its ancestral form refuses flow grids', async () => {
    expect(Math.abs((await orderOf(() => createResMultistep(), veGrid, 'vp')).slope - 2)).toBeLessThan(0.2);
    expect(Math.abs((await orderOf(() => createResMultistep(), flowGrid, 'flow')).slope - 2)).toBeLessThan(0.2);
    expect(() => createResMultistep({ eta: 1 }).init({ sigmas: flowGrid(4), noise: noiseSource(1) }, new Tensor(DIMS))).toThrow(/VP models/);
  });

  it("ComfyUI's DEIS: its VP time spans EDM's range, its weights integrate to the step in sigma, and it converges", async () => {
    // t(sigma_max = 80) = 1 and t(sigma_min = 0.002) = epsilon = 1e-3, by the fit's construction.
    expect(deisTime(80)).toBeCloseTo(1, 10);
    expect(deisTime(0.002)).toBeCloseTo(1e-3, 10);
    // The weight is dsigma/dt, so a step's coefficients (Lagrange basis sums to 1) add up to sigma_next - sigma.
    const [s0, s1, s2, s3] = [4, 3, 2.2, 1.6];
    const c = deisTabCoefficients(deisTime(s2), deisTime(s3), [s2, s1, s0].map(deisTime));
    expect(c.reduce((a, b) => a + b, 0)).toBeCloseTo(s3 - s2, 3);
    const { slope } = await orderOf(() => createDeisTab(), veGrid, 'vp');
    expect(slope).toBeGreaterThan(1.8);
  });

  it('gradient estimation at gamma 1 is Euler; at gamma 2 it moves Euler by (d - d_prev) dt from its second step', async () => {
    const sigmas = veGrid(8);
    const x = new Tensor(DIMS, z.map((v) => v * sigmas.sigmas[0]));
    const euler = await runSampler({ solver: createEuler(), sigmas, x, model: exactModel(p, 'vp') });
    const ge1 = await runSampler({ solver: createGradientEstimation(1), sigmas, x, model: exactModel(p, 'vp') });
    expect(relL2(ge1.x.data, euler.x.data)).toBeLessThan(1e-7);
    const one = sliceSigmas(sigmas, 0, 1);
    const first = await runSampler({ solver: createGradientEstimation(2), sigmas: one, x, model: exactModel(p, 'vp') });
    const eulerFirst = await runSampler({ solver: createEuler(), sigmas: one, x, model: exactModel(p, 'vp') });
    expect(Array.from(first.x.data)).toEqual(Array.from(eulerFirst.x.data));
    const ge2 = await runSampler({ solver: createGradientEstimation(2), sigmas, x, model: exactModel(p, 'vp') });
    expect(relL2(ge2.x.data, euler.x.data)).toBeGreaterThan(1e-4);
    expect(() => createGradientEstimation(Number.NaN)).toThrow(/gamma/);
  });

  it('Heun++ is first order (its derivative weights follow the levels, not the step) and makes 3 model calls per step but 2 and 1 at the end', async () => {
    const { slope } = await orderOf(() => createHeunpp2(), veGrid, 'vp');
    expect(Math.abs(slope - 1)).toBeLessThan(0.2);
    const sigmas = veGrid(10);
    const r = await runSampler({ solver: createHeunpp2(), sigmas, x: new Tensor(DIMS, z.map((v) => v * 10)), model: exactModel(p, 'vp') });
    expect(r.modelCalls).toBe(3 * 8 + 2 + 1);
    expect(createHeunpp2().modelCalls!(sigmas)).toBe(r.modelCalls);
  });

  /** LMS of `order` from exact states and derivatives at its first order - 1 levels: global error per step count. */
  async function lmsFromExactHistory(order: number, steps: readonly number[], hi = 10, lo = 0.3): Promise<number[]> {
    const errors: number[] = [];
    for (const n of steps) {
      const levels = geometricLevels(hi, lo, n);
      const model = exactModel(p, 'vp');
      const x0 = new Tensor(DIMS, z.map((v) => v * levels[0]));
      const exactAt = (k: number) => new Tensor(DIMS, Float32Array.from(exactEnd(p, 'vp', x0.data, levels[0], levels[k])));
      const history: LmsState['history'] = [];
      for (let k = 0; k < order - 1; k++) history.push({ sigma: levels[k], d: (await model(exactAt(k), { sigma: levels[k], timestep: 0 })).derivative });
      const sigmas = gridOf('vp', levels.slice(order - 1));
      const ctx: SolverContext = { sigmas };
      const lms = createLms({ order });
      let state: LmsState = { ...lms.init(ctx, exactAt(order - 1)), history };
      for (let i = 0; i < sigmas.timesteps.length; i++) state = await lms.step(ctx, state, i, model);
      errors.push(relL2(state.x.data, exactEnd(p, 'vp', x0.data, levels[0], levels[n])));
    }
    return errors;
  }

  it('LMS (order 4) started from exact history converges at well above order 2 on the Gaussian', async () => {
    // Theory 4; measured ~3.7 over 16..128 steps: the local slope still rises (pre-asymptotic) when float32's
    // floor (~3e-7 here) is reached, so the exact order is pinned by the polynomial test below.
    const steps = [16, 32, 64, 128];
    expect(-logLogSlope(steps, await lmsFromExactHistory(4, steps))).toBeGreaterThan(3.3);
  });

  it('LMS of order k (1-4) is exact when dx/dsigma is a polynomial in sigma of degree k - 1, and not for degree k', async () => {
    // The defining property of a k-step Adams method (order k): its Lagrange basis integrates every polynomial
    // derivative of degree < k exactly on any grid. Exact history, a non-uniform grid, x = P(sigma) in closed form.
    const levels = geometricLevels(10, 0.3, 12);
    const coeffs = [0.7, -0.45, 0.12, -0.013, 0.0009];
    for (let order = 1; order <= 4; order++) {
      const errorFor = async (degree: number) => {
        const c = coeffs.slice(0, degree + 1);
        const derivative = (sigma: number) => c.reduce((acc, cj, j) => acc + cj * sigma ** j, 0);
        const primitive = (sigma: number) => c.reduce((acc, cj, j) => acc + (cj * sigma ** (j + 1)) / (j + 1), 0);
        const model: DenoiseFn = async (x, level) => {
          const d = Tensor.full(x.dims, derivative(level.sigma));
          return { derivative: d, eps: d, denoised: new Tensor(x.dims, x.data.map((v, k) => v - level.sigma * d.data[k])) };
        };
        const history: LmsState['history'] = levels.slice(0, order - 1).map((sigma) => ({ sigma, d: Tensor.full(DIMS, derivative(sigma)) }));
        const sigmas = gridOf('vp', levels.slice(order - 1));
        const lms = createLms({ order });
        let state: LmsState = { ...lms.init({ sigmas }, Tensor.full(DIMS, primitive(levels[order - 1]))), history };
        for (let i = 0; i < sigmas.timesteps.length; i++) state = await lms.step({ sigmas }, state, i, model);
        const exact = primitive(levels[levels.length - 1]) - primitive(levels[0]);
        const got = state.x.data[0] - primitive(levels[0]);
        return Math.abs(got - exact) / Math.abs(exact);
      };
      for (let degree = 0; degree < order; degree++) expect(await errorFor(degree), `order ${order}, degree ${degree}`).toBeLessThan(1e-5);
      expect(await errorFor(order), `order ${order}, degree ${order}`).toBeGreaterThan(1e-3);
    }
  });

  it('LMS warmed up from order 1 still converges (order capped by its start)', async () => {
    const { slope } = await orderOf(() => createLms(), veGrid, 'vp');
    expect(slope).toBeGreaterThan(1.8);
  });
});

describe('LMS coefficients (diffusers get_lms_coefficient)', () => {
  it('integrate the Lagrange basis exactly (against a fine Simpson rule)', () => {
    const levels = [2.5, 3.1, 4.0, 5.7];
    const [from, to] = [2.5, 1.9];
    const c = lmsCoefficients(levels, from, to);
    for (let j = 0; j < levels.length; j++) {
      const f = (tau: number) => levels.reduce((prod, sk, k) => (k === j ? prod : (prod * (tau - sk)) / (levels[j] - sk)), 1);
      const m = 2000;
      const h = (to - from) / m;
      let s = f(from) + f(to);
      for (let i = 1; i < m; i++) s += (i % 2 ? 4 : 2) * f(from + i * h);
      expect(c[j]).toBeCloseTo((s * h) / 3, 10);
    }
  });

  it('reduce to Adams-Bashforth 2 on a uniform grid: (3/2 h, -1/2 h)', () => {
    const c = lmsCoefficients([1.0, 1.5], 1.0, 0.5);
    expect(c[0]).toBeCloseTo(1.5 * -0.5, 12);
    expect(c[1]).toBeCloseTo(-0.5 * -0.5, 12);
  });

  it('match diffusers LMSDiscreteScheduler.step written out on the Euler grid', async () => {
    const cfg = { ...SD_VP_DDIM, _class_name: 'LMSDiscreteScheduler', timestep_spacing: 'linspace', steps_offset: 0 };
    const model = fakeVpModel(p, cfg);
    const sigmas = buildSigmas(cfg, model.modelIndex, 9, 'lms');
    const x = new Tensor(DIMS, z.map((v) => v * sigmas.sigmas[0]));
    const r = await runSampler({ solver: createLms(), sigmas, x, model: createDenoiseFn(model, { space: 'vp' }) });
    // Reference: derivatives list, order = min(i + 1, 4), coefficients from the grid's own levels.
    const refModel = fakeVpModel(p, cfg);
    let ref = Float64Array.from(x.data);
    const ders: Float64Array[] = [];
    const s = sigmas.sigmas;
    for (let i = 0; i < 9; i++) {
      const out = await refModel.denoiser.run({
        sample: { dims: DIMS, data: Float32Array.from(ref, (v) => v / Math.sqrt(s[i] * s[i] + 1)), type: 'float32' },
        timestep: { dims: [1], data: Float32Array.of(sigmas.timesteps[i]), type: 'float32' },
      });
      ders.push(Float64Array.from(out.out_sample.data));
      if (ders.length > 4) ders.shift();
      const order = Math.min(i + 1, 4);
      const c = lmsCoefficients(Array.from({ length: order }, (_, k) => s[i - k]), s[i], s[i + 1]);
      const rev = [...ders].reverse();
      ref = ref.map((v, k) => v + c.reduce((acc, ck, j) => acc + ck * rev[j][k], 0));
    }
    expect(relL2(r.x.data, ref)).toBeLessThan(1e-5);
  });
});

describe('Heun (diffusers HeunDiscreteScheduler)', () => {
  it('makes 2n - 1 model calls when the grid ends at 0, evaluating the second stage at the next grid timestep', async () => {
    const cfg = { ...SD_VP_DDIM, _class_name: 'HeunDiscreteScheduler', timestep_spacing: 'linspace', steps_offset: 0 };
    const model = fakeVpModel(p, cfg);
    const sigmas = buildSigmas(cfg, model.modelIndex, 5, 'heun');
    const solver = createHeun();
    expect(sigmas.sigmas[5]).toBe(0);
    expect(solverModelCalls(solver, sigmas)).toBe(9);
    const r = await runSampler({ solver, sigmas, x: new Tensor(DIMS, z.map((v) => v * sigmas.sigmas[0])), model: createDenoiseFn(model, { space: 'vp' }) });
    expect(r.modelCalls).toBe(9);
    const t = sigmas.timesteps.map(Math.fround);
    // diffusers' interleaved timesteps: t0, t1, t1, t2, t2, ..., t4.
    expect(model.seen).toEqual([t[0], t[1], t[1], t[2], t[2], t[3], t[3], t[4], t[4]]);
  });
});

describe('Euler with churn (k-diffusion s_churn, s_tmin, s_tmax, s_noise)', () => {
  it('s_churn 0 is plain Euler and draws no noise', async () => {
    const sigmas = veGrid(12);
    const x = new Tensor(DIMS, z.map((v) => v * 10));
    const noise = noiseSource(1);
    const a = await runSampler({ solver: createEuler({ sChurn: 0 }), sigmas, x, model: exactModel(p, 'vp'), noise });
    const b = await runSampler({ solver: createEuler(), sigmas, x, model: exactModel(p, 'vp') });
    expect([...a.x.data]).toEqual([...b.x.data]);
    expect(noise.draws).toBe(0);
  });

  it('raises the level to s_hat = s (1 + gamma) inside [s_tmin, s_tmax] only, one noise draw per churned step', async () => {
    const levels = geometricLevels(10, 0.3, 12);
    const sigmas = gridOf('vp', levels);
    const model = exactModel(p, 'vp');
    const noise = noiseSource(2);
    const churn = 6;
    await runSampler({ solver: createEuler({ sChurn: churn, sTmin: 1, sTmax: 5 }), sigmas, x: new Tensor(DIMS, z.map((v) => v * 10)), model, noise, timestepAt: (s) => s });
    const gamma = Math.min(churn / 12, Math.SQRT2 - 1);
    const inside = levels.slice(0, -1).filter((s) => s >= 1 && s <= 5);
    expect(noise.draws).toBe(inside.length);
    model.levels.forEach((seen, i) => {
      const s = levels[i];
      expect(seen).toBeCloseTo(s >= 1 && s <= 5 ? s * (1 + gamma) : s, 12);
    });
  });

  it('samples the chain it defines: moments of 4000 runs match the exact chain (churn 20), which nears the data', async () => {
    const levels = [...geometricLevels(40, 0.02, 120), 0];
    const v0 = 40 * 40 + 1;
    const x = new Tensor([N_SAMPLES, 1, 2, 2], Float32Array.from(seededNormals(4 * N_SAMPLES, 21), (v) => v * Math.sqrt(v0)));
    const r = await runSampler({ solver: createEuler({ sChurn: 20 }), sigmas: gridOf('vp', levels), x, model: exactModel(SMALL, 'vp'), noise: noiseSource(3), timestepAt: (s) => s });
    checkChain(SMALL, r.x.data, N_SAMPLES, 1, (l) => churnChain(levels, l, 20), startMean(SMALL), v0, 0.15);
  });

  it('rejects churn on a flow grid', () => {
    expect(() => createEuler({ sChurn: 1 }).init({ sigmas: flowGrid(4), noise: noiseSource(1) }, new Tensor(DIMS))).toThrow(/VP models only/);
  });
});

type Gauss = ReturnType<typeof createGaussianParams>;

/** Per-eigendirection mean and variance of y = U^T (x - c mu) over a batch of n samples. */
function sampleMoments(g: Gauss, data: ArrayLike<number>, n: number, c: number): { mean: number[]; variance: number[] } {
  const D = g.mu.length;
  const mean = new Array<number>(D).fill(0);
  const variance = new Array<number>(D).fill(0);
  const y = new Float64Array(n * D);
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < D; k++) {
      let s = 0;
      for (let i = 0; i < D; i++) s += g.U[i * D + k] * (data[b * D + i] - c * g.mu[i]);
      y[b * D + k] = s;
      mean[k] += s / n;
    }
  }
  for (let b = 0; b < n; b++) for (let k = 0; k < D; k++) variance[k] += (y[b * D + k] - mean[k]) ** 2 / (n - 1);
  return { mean, variance };
}

/**
 * The exact mean and variance per eigendirection of a linear stochastic chain y' = A y + c z (the solvers
 * with the exact model of Gaussian data are such chains), propagated step by step; written here from the
 * fact sheet's formulas, independently of the solver code.
 */
function chainMoments(l: number, m0: number, v0: number, steps: { A: number; c: number }[]): { mean: number; variance: number } {
  let mean = m0;
  let variance = v0;
  for (const { A, c } of steps) {
    mean *= A;
    variance = A * A * variance + c * c;
  }
  return { mean, variance };
}

/** VE Euler-ancestral chain coefficients for eigenvalue l (exact D: y - D_y = s^2/(l + s^2) y, d = s/(l + s^2) y). */
function ancestralVeChain(levels: number[], l: number): { A: number; c: number }[] {
  return levels.slice(0, -1).map((s, i) => {
    const next = levels[i + 1];
    const up = next === 0 ? 0 : Math.min(next, Math.sqrt((next * next * (s * s - next * next)) / (s * s)));
    const down = Math.sqrt(next * next - up * up);
    return { A: 1 + ((down - s) * s) / (l + s * s), c: up };
  });
}

/** Rectified-flow ancestral chain: y = U^T (x - (1 - t) mu), v_y = K y with K = (t - (1 - t) l)/((1 - t)^2 l + t^2). */
function ancestralFlowChain(levels: number[], l: number): { A: number; c: number }[] {
  return levels.slice(0, -1).map((t, i) => {
    const next = levels[i + 1];
    const K = (t - (1 - t) * l) / ((1 - t) ** 2 * l + t * t);
    if (next === 0) return { A: 1 - t * K, c: 0 };
    const down = (next * next) / t;
    const r = (1 - next) / (1 - down);
    return { A: r * (1 + (down - t) * K), c: Math.sqrt(next * next - down * down * r * r) };
  });
}

/** Euler-with-churn chain: noise to s_hat = s (1 + gamma), then Euler from s_hat with d = s_hat/(l + s_hat^2) y. */
function churnChain(levels: number[], l: number, churn: number): { A: number; c: number }[] {
  const n = levels.length - 1;
  const gamma = Math.min(churn / n, Math.SQRT2 - 1);
  const out: { A: number; c: number }[] = [];
  levels.slice(0, -1).forEach((s, i) => {
    const sh = s * (1 + gamma);
    out.push({ A: 1, c: Math.sqrt(sh * sh - s * s) });
    out.push({ A: 1 + ((levels[i + 1] - sh) * sh) / (l + sh * sh), c: 0 });
  });
  return out;
}

/**
 * Checks a run's sample moments against the exact chain moments (4 standard errors), and that the chain's
 * final variance is close to the data's (the scheme targets the right distribution at this step count).
 */
function checkChain(g: Gauss, data: ArrayLike<number>, n: number, c: number, chain: (l: number) => { A: number; c: number }[], m0: (k: number) => number, v0: number, bias: number): void {
  const got = sampleMoments(g, data, n, c);
  g.l.forEach((l, k) => {
    const exp = chainMoments(l, m0(k), v0, chain(l));
    expect(Math.abs(got.mean[k] - exp.mean)).toBeLessThan(4 * Math.sqrt(exp.variance / n));
    expect(Math.abs(got.variance[k] / exp.variance - 1)).toBeLessThan(4 * Math.sqrt(2 / n));
    expect(Math.abs(exp.variance / l - 1)).toBeLessThan(bias);
  });
}

/** m0 of y = U^T (x - mu) for a start x with mean 0: -U^T mu. */
function startMean(g: Gauss): (k: number) => number {
  const D = g.mu.length;
  return (k) => -Array.from({ length: D }, (_, i) => g.U[i * D + k] * g.mu[i]).reduce((a, b) => a + b, 0);
}

const SMALL = createGaussianParams({ dims: [1, 2, 2], seed: 3 });
const N_SAMPLES = 4000;

describe('Euler ancestral (k-diffusion sample_euler_ancestral)', () => {
  it('ancestral step sizes follow get_ancestral_step (s_down^2 + s_up^2 = s_next^2)', () => {
    const a = ancestralStep(3, 2, 1);
    expect(a.up).toBeCloseTo(Math.sqrt((4 * (9 - 4)) / 9), 12);
    expect(a.down ** 2 + a.up ** 2).toBeCloseTo(4, 12);
    expect(ancestralStep(3, 0, 1)).toEqual({ down: 0, up: 0 });
    expect(ancestralStep(3, 2, 0)).toEqual({ down: 2, up: 0 });
    // Flow: the rescaled Euler target plus the noise has the marginal variance t_next^2 (noise part).
    const f = flowAncestralStep(0.8, 0.6, 1);
    expect(f.down).toBeCloseTo(0.6 * 0.6 / 0.8, 12);
    expect((f.down * f.rescale) ** 2 + f.up ** 2).toBeCloseTo(0.36, 12);
    expect(f.rescale * (1 - f.down)).toBeCloseTo(1 - 0.6, 12);
  });

  it('eta 0 is plain Euler; runs reproduce per seed and differ across seeds', async () => {
    const sigmas = gridOf('vp', [...geometricLevels(10, 0.05, 10), 0]);
    const x = new Tensor(DIMS, z.map((v) => v * 10));
    const e0 = await runSampler({ solver: createEulerAncestral({ eta: 0 }), sigmas, x, model: exactModel(p, 'vp'), noise: noiseSource(1) });
    const eu = await runSampler({ solver: createEuler(), sigmas, x, model: exactModel(p, 'vp') });
    expect([...e0.x.data]).toEqual([...eu.x.data]);
    const a = await runSampler({ solver: createEulerAncestral(), sigmas, x, model: exactModel(p, 'vp'), noise: noiseSource(7) });
    const b = await runSampler({ solver: createEulerAncestral(), sigmas, x, model: exactModel(p, 'vp'), noise: noiseSource(7) });
    const c = await runSampler({ solver: createEulerAncestral(), sigmas, x, model: exactModel(p, 'vp'), noise: noiseSource(8) });
    expect([...a.x.data]).toEqual([...b.x.data]);
    expect(relL2(a.x.data, c.x.data)).toBeGreaterThan(0.01);
    // One draw per step except the last (to sigma 0).
    const counted = noiseSource(9);
    await runSampler({ solver: createEulerAncestral(), sigmas, x, model: exactModel(p, 'vp'), noise: counted });
    expect(counted.draws).toBe(10);
  });

  it('VP: moments of 4000 runs match the exact ancestral chain, whose law nears the data as steps grow', async () => {
    const levels = [...geometricLevels(40, 0.02, 120), 0];
    const v0 = 40 * 40 + 1;
    const x = new Tensor([N_SAMPLES, 1, 2, 2], Float32Array.from(seededNormals(4 * N_SAMPLES, 22), (v) => v * Math.sqrt(v0)));
    const r = await runSampler({ solver: createEulerAncestral(), sigmas: gridOf('vp', levels), x, model: exactModel(SMALL, 'vp'), noise: noiseSource(4) });
    checkChain(SMALL, r.x.data, N_SAMPLES, 1, (l) => ancestralVeChain(levels, l), startMean(SMALL), v0, 0.1);
    // Weak convergence of the scheme: the chain's variance bias shrinks with N (measured ~N^-0.56 from 60 to 240).
    const biasAt = (n: number) => {
      const lv = [...geometricLevels(40, 0.02, n), 0];
      return Math.max(...Array.from(SMALL.l, (l) => Math.abs(chainMoments(l, 0, v0, ancestralVeChain(lv, l)).variance / l - 1)));
    };
    expect(biasAt(240) / biasAt(60)).toBeLessThan(0.6);
  });

  it('flow: moments of 4000 runs match the exact rectified-flow ancestral chain, which nears the data', async () => {
    const levels = [...uniformLevels(1, 0.01, 120), 0];
    const x = new Tensor([N_SAMPLES, 1, 2, 2], Float32Array.from(seededNormals(4 * N_SAMPLES, 23)));
    const r = await runSampler({ solver: createEulerAncestral(), sigmas: gridOf('flow', levels), x, model: exactModel(SMALL, 'flow'), noise: noiseSource(5) });
    checkChain(SMALL, r.x.data, N_SAMPLES, 1, (l) => ancestralFlowChain(levels, l), () => 0, 1, 0.2);
  });

});

// ---------------------------------------------------------------------------------------------
// Parity with diffusers' step() written out line by line (58eb52c), independent of the solver code.

/** One model call the way diffusers' pipelines make it: input / sqrt(sigma^2 + 1), float32 timestep. */
async function diffusersCall(model: ReturnType<typeof fakeVpModel>, sample: Float64Array, sigma: number, t: number): Promise<Float32Array> {
  const out = await model.denoiser.run({
    sample: { dims: DIMS, data: Float32Array.from(sample, (v) => v / Math.sqrt(sigma * sigma + 1)), type: 'float32' },
    timestep: { dims: [1], data: Float32Array.of(t), type: 'float32' },
  });
  return out.out_sample.data as Float32Array;
}

/** diffusers' pred_original_sample for epsilon / v_prediction / sample at level sigma. */
function diffusersX0(type: string, out: Float32Array, sample: Float64Array, sigma: number): Float64Array {
  if (type === 'epsilon') return sample.map((v, k) => v - sigma * out[k]);
  if (type === 'v_prediction') return sample.map((v, k) => out[k] * (-sigma / Math.sqrt(sigma * sigma + 1)) + v / (sigma * sigma + 1));
  return Float64Array.from(out);
}

describe('parity with diffusers step() written out', () => {
  it('Heun: HeunDiscreteScheduler with its doubled sigmas/timesteps, v_prediction, clip_sample and Karras levels', async () => {
    const cfg = {
      ...SD_VP_DDIM,
      _class_name: 'HeunDiscreteScheduler',
      timestep_spacing: 'leading',
      steps_offset: 1,
      use_karras_sigmas: true,
      prediction_type: 'v_prediction',
      clip_sample: true,
      clip_sample_range: 0.6,
    };
    const n = 6;
    const model = fakeVpModel(p, cfg);
    const grid = buildSigmas(cfg, model.modelIndex, n, 'heun');
    const x = new Tensor(DIMS, z.map((v) => v * grid.initNoiseSigma!));
    const limit = denoisedLimitFromConfig(cfg, 'heun');
    expect(limit?.limit).toEqual({ kind: 'clip', range: 0.6 });
    const r = await runSampler({ solver: createHeun(), sigmas: grid, x, model: createDenoiseFn(model, { space: 'vp', limit }) });

    // set_timesteps: sigmas = [s0, s1, s1, ..., s_{n-1}, s_{n-1}, 0], timesteps = [t0, t1, t1, ..., t_{n-1}, t_{n-1}].
    const lv = grid.sigmas;
    const sig = [lv[0], ...lv.slice(1, n).flatMap((s) => [s, s]), lv[n]];
    const ts = [grid.timesteps[0], ...grid.timesteps.slice(1).flatMap((t) => [t, t])];
    expect(sig.length).toBe(2 * n);
    expect(ts.length).toBe(2 * n - 1);
    const ref = fakeVpModel(p, cfg);
    let sample = Float64Array.from(x.data);
    let prevDerivative: Float64Array | undefined;
    let dt = 0;
    let saved = sample;
    let clipped = 0;
    for (let stepIndex = 0; stepIndex < ts.length; stepIndex++) {
      const out = await diffusersCall(ref, sample, sig[stepIndex], ts[stepIndex]);
      const first = prevDerivative === undefined;
      const sigma = first ? sig[stepIndex] : sig[stepIndex - 1];
      const sigmaNext = first ? sig[stepIndex + 1] : sig[stepIndex];
      const sigmaInput = first ? sigma : sigmaNext;
      const x0 = diffusersX0('v_prediction', out, sample, sigmaInput).map((v) => {
        if (Math.abs(v) > 0.6) clipped++;
        return Math.min(Math.max(v, -0.6), 0.6);
      });
      if (first) {
        const d = sample.map((v, k) => (v - x0[k]) / sigma);
        dt = sigmaNext - sigma;
        prevDerivative = d;
        saved = sample;
        sample = sample.map((v, k) => v + d[k] * dt);
      } else {
        const d2 = sample.map((v, k) => (v - x0[k]) / sigmaNext);
        const pd = prevDerivative!;
        sample = saved.map((v, k) => v + ((pd[k] + d2[k]) / 2) * dt);
        prevDerivative = undefined;
      }
    }
    expect(clipped).toBeGreaterThan(0);
    expect(model.seen).toEqual(ref.seen);
    expect(relL2(r.x.data, sample)).toBeLessThan(1e-6);
  });

  it('Euler ancestral: EulerAncestralDiscreteScheduler for the same noise draws (one per step in step order, v_prediction)', async () => {
    const cfg = { ...SD_VP_DDIM, _class_name: 'EulerAncestralDiscreteScheduler', timestep_spacing: 'trailing', steps_offset: 1, prediction_type: 'v_prediction' };
    const n = 8;
    const model = fakeVpModel(p, cfg);
    const grid = buildSigmas(cfg, model.modelIndex, n, 'euler_ancestral');
    const x = new Tensor(DIMS, z.map((v) => v * grid.initNoiseSigma!));
    // diffusers draws randn(model_output.shape) on every step, the last (sigma_up = 0) included.
    const noises = Array.from({ length: n }, (_, k) => Float32Array.from(seededNormals(192, 100 + k)));
    let drawn = 0;
    const noise: NoiseSource = (dims) => {
      expect([...dims]).toEqual(DIMS);
      return new Tensor(dims, noises[drawn++].slice());
    };
    const r = await runSampler({ solver: createEulerAncestral(), sigmas: grid, x, model: createDenoiseFn(model, { space: 'vp' }), noise });

    const ref = fakeVpModel(p, cfg);
    const s = grid.sigmas;
    let sample = Float64Array.from(x.data);
    for (let i = 0; i < n; i++) {
      const out = await diffusersCall(ref, sample, s[i], grid.timesteps[i]);
      const x0 = diffusersX0('v_prediction', out, sample, s[i]);
      const [from, to] = [s[i], s[i + 1]];
      const up = Math.sqrt((to * to * (from * from - to * to)) / (from * from));
      const down = Math.sqrt(to * to - up * up);
      const d = sample.map((v, k) => (v - x0[k]) / s[i]);
      sample = sample.map((v, k) => v + d[k] * (down - s[i]) + noises[i][k] * up);
    }
    // Ours skips the draw of the last step (its sigma_up is 0): the same draws feed the same steps.
    expect(drawn).toBe(n - 1);
    expect(model.seen).toEqual(ref.seen);
    expect(relL2(r.x.data, sample)).toBeLessThan(1e-6);
  });

  it('LMS img2img: diffusers starts at step_index k with order min(k + 1, 4) and the skipped levels in its coefficients', async () => {
    const cfg = { ...SD_VP_DDIM, _class_name: 'LMSDiscreteScheduler', timestep_spacing: 'linspace', steps_offset: 0 };
    const n = 10;
    const strength = 0.6;
    const model = fakeVpModel(p, cfg);
    const full = buildSigmas(cfg, model.modelIndex, n, 'lms');
    const k = img2imgStartStep(n, strength);
    expect(k).toBe(4);
    const tail = img2imgSigmas(full, strength);
    const image = new Tensor(DIMS, Float32Array.from(seededNormals(192, 31), (v) => 0.5 * v));
    const start = noisedStart(image, new Tensor(DIMS, z.slice()), tail);
    const run = (solver: ReturnType<typeof createLms>) => runSampler({ solver, sigmas: tail, x: start, model: createDenoiseFn(fakeVpModel(p, cfg), { space: 'vp' }) });
    // Through the registry the way the Sampler builds solvers (createSolver's `extra` options).
    const r = await run(createSolver('lms', cfg, {}, { precedingLevels: full.sigmas.slice(0, k) }));

    // Reference: set_begin_index(k); step(): derivatives list (at most 4), order = min(step_index + 1, 4),
    // get_lms_coefficient(order, t, j) from the schedule's sigmas[t - j], zip(coeffs, reversed(derivatives)).
    const ref = fakeVpModel(p, cfg);
    const s = full.sigmas;
    let sample = Float64Array.from(start.data);
    const derivatives: Float64Array[] = [];
    for (let t = k; t < n; t++) {
      const out = await diffusersCall(ref, sample, s[t], full.timesteps[t]);
      derivatives.push(Float64Array.from(sample, (v, q) => (v - (v - s[t] * out[q])) / s[t]));
      if (derivatives.length > 4) derivatives.shift();
      const order = Math.min(t + 1, 4);
      const coeffs = Array.from({ length: order }, (_, j) => simpson((tau) => lagrange(s, t, order, j, tau), s[t], s[t + 1]));
      const rev = [...derivatives].reverse();
      const used = Math.min(coeffs.length, rev.length);
      sample = sample.map((v, q) => {
        let acc = v;
        for (let j = 0; j < used; j++) acc += coeffs[j] * rev[j][q];
        return acc;
      });
    }
    expect(relL2(r.x.data, sample)).toBeLessThan(1e-6);
    // The quirk matters: ramping up from order 1 (no skipped levels) gives a clearly different result.
    const plain = await run(createLms());
    expect(relL2(plain.x.data, sample)).toBeGreaterThan(1e-3);
  });
});

/** diffusers' lms_derivative: prod over k != j of (tau - sigmas[t - k]) / (sigmas[t - j] - sigmas[t - k]). */
function lagrange(sigmas: readonly number[], t: number, order: number, j: number, tau: number): number {
  let prod = 1;
  for (let k = 0; k < order; k++) if (k !== j) prod *= (tau - sigmas[t - k]) / (sigmas[t - j] - sigmas[t - k]);
  return prod;
}

/** Composite Simpson rule (exact for the cubic integrands of LMS order <= 4). */
function simpson(f: (x: number) => number, a: number, b: number, m = 64): number {
  const h = (b - a) / m;
  let acc = f(a) + f(b);
  for (let i = 1; i < m; i++) acc += (i % 2 ? 4 : 2) * f(a + i * h);
  return (acc * h) / 3;
}
