/**
 * CFG++ solvers (nodes/sampling/cfg-pp.ts): without CFG each is its plain counterpart; with CFG their steps,
 * written out from ComfyUI's formulas; and CFG keeps the unconditional side at scale 1 when asked. The whole
 * runs are compared with ComfyUI's own samplers in test/comfyui-parity.test.ts (run-twin-*-cfg_pp-*).
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import { createGaussianParams, denoisedVE } from '../nodes/sampling/gaussian.ts';
import { cfgDenoiseFn } from '../nodes/sampling/guidance.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { createSolver } from '../nodes/sampling/solver-registry.ts';
import type { DenoiseFn, Prediction } from '../nodes/sampling/solver.ts';
import type { Sigmas } from '../nodes/core/values.ts';
import { relL2 } from './sampling-fake-model.ts';

const DIMS = [1, 2, 4, 4];
const pCond = createGaussianParams({ dims: [2, 4, 4], seed: 3 });
const pUncond = createGaussianParams({ dims: [2, 4, 4], seed: 4 });

function veGrid(levels: number[]): Sigmas {
  return { space: 'vp', sigmas: levels, timesteps: levels.slice(0, -1).map((_, k) => 999 - 100 * k) };
}
const GRID = veGrid([14, 6, 2.5, 1, 0.4, 0.1, 0]);

/** An unguided VE model on the Gaussian data `p`. */
function plainModel(p = pCond, calls: { n: number } = { n: 0 }): DenoiseFn {
  return async (x, level) => {
    calls.n++;
    const s = level.sigma;
    const d = new Tensor(x.dims, Float32Array.from(denoisedVE(p, Float64Array.from(x.data), s)));
    const eps = new Tensor(x.dims, x.data.map((v, k) => (v - d.data[k]) / s));
    return { denoised: d, eps, derivative: eps };
  };
}

/** D = U + w (C - U) with the unconditional x0 alongside, as the CFG node's predictions carry it. */
function guidedModel(w: number): DenoiseFn {
  const cond = plainModel(pCond);
  const uncond = plainModel(pUncond);
  return cfgDenoiseFn(cond, uncond, { scale: w }, undefined, true);
}

function start(seed: number): Tensor {
  const x = new Tensor(DIMS);
  for (let k = 0; k < x.size; k++) x.data[k] = 14 * Math.sin(seed * 7.3 + k * 1.7);
  return x;
}

/** A noise source that replays one fixed sequence of draws (the same for both runs compared). */
function replayNoise(): (dims: readonly number[]) => Tensor {
  let n = 0;
  return (dims) => {
    n++;
    const t = new Tensor(dims);
    for (let k = 0; k < t.size; k++) t.data[k] = Math.cos(n * 3.1 + k * 0.9);
    return t;
  };
}

async function run(solver: string, model: DenoiseFn, x = start(1)): Promise<Tensor> {
  return (await runSampler({ solver: createSolver(solver), sigmas: GRID, x, model, noise: replayNoise() })).x;
}

describe('CFG++ solvers without CFG are their plain counterparts', () => {
  it.each([
    ['euler_cfg_pp', 'euler'],
    ['euler_ancestral_cfg_pp', 'euler_ancestral'],
    ['res_multistep_cfg_pp', 'res_multistep'],
    ['res_multistep_ancestral_cfg_pp', 'res_multistep_ancestral'],
    ['gradient_estimation_cfg_pp', 'gradient_estimation'],
  ])('%s = %s', async (cfgPp, plain) => {
    const a = await run(cfgPp, plainModel());
    const b = await run(plain, plainModel());
    expect(relL2(a.data, b.data)).toBeLessThan(1e-6);
  });

  it('dpmpp_2s_ancestral_cfg_pp is not (ComfyUI moves the whole step by D minus the stage call\'s x0)', async () => {
    const a = await run('dpmpp_2s_ancestral_cfg_pp', plainModel());
    const b = await run('dpmpp_2s_ancestral', plainModel());
    expect(relL2(a.data, b.data)).toBeGreaterThan(1e-3);
    // One step written out: x_mid = (m/s) x + (1 - m/s) D; x <- (d/s)(x + D - D_mid) + (1 - d/s) D_mid + s_up z.
    const model = plainModel();
    const x0 = start(5);
    const [s, next] = [6, 2.5];
    const up = Math.min(next, Math.sqrt((next * next * (s * s - next * next)) / (s * s)));
    const down = Math.sqrt(next * next - up * up);
    const mid = Math.sqrt(s * down);
    const d0 = (await model(x0, { sigma: s, timestep: 0 })).denoised.data;
    const xMid = new Tensor(DIMS, x0.data.map((v, k) => (mid / s) * v + (1 - mid / s) * d0[k]));
    const dMid = (await model(xMid, { sigma: mid, timestep: 0 })).denoised.data;
    const z = replayNoise()(DIMS).data;
    const want = x0.data.map((v, k) => (down / s) * (v + d0[k] - dMid[k]) + (1 - down / s) * dMid[k] + up * z[k]);
    const got = (await runSampler({ solver: createSolver('dpmpp_2s_ancestral_cfg_pp'), sigmas: veGrid([s, next]), x: x0, model, noise: replayNoise() })).x;
    expect(relL2(got.data, want)).toBeLessThan(1e-6);
  });

  it('dpmpp_2m_cfg_pp = k-diffusion DPM-Solver++(2M)', async () => {
    const got = await run('dpmpp_2m_cfg_pp', plainModel());
    // sample_dpmpp_2m: x <- (s_next/s) x - expm1(-h) ((1 + 1/(2r)) D - D_prev / (2r)); the first step and
    // the step onto 0 are first order.
    const model = plainModel();
    let x = start(1);
    let prev: Tensor | undefined;
    const lv = GRID.sigmas;
    for (let i = 0; i + 1 < lv.length; i++) {
      const { denoised: d } = await model(x, { sigma: lv[i], timestep: 0 });
      const next = lv[i + 1];
      const out = new Tensor(x.dims);
      if (prev === undefined || next === 0) {
        for (let k = 0; k < x.size; k++) out.data[k] = (next / lv[i]) * x.data[k] + (1 - next / lv[i]) * d.data[k];
      } else {
        const h = Math.log(lv[i] / next);
        const r = Math.log(lv[i - 1] / lv[i]) / h;
        const e = -Math.expm1(-h);
        for (let k = 0; k < x.size; k++) out.data[k] = (next / lv[i]) * x.data[k] + e * ((1 + 1 / (2 * r)) * d.data[k] - prev.data[k] / (2 * r));
      }
      prev = d;
      x = out;
    }
    expect(relL2(got.data, x.data)).toBeLessThan(1e-6);
  });
});

describe('CFG++ steps with CFG', () => {
  it('euler_cfg_pp: x <- D + (s_next / s)(x - U), the guided x0 renoised along the unconditional one', async () => {
    const model = guidedModel(1.7);
    const x0 = start(2);
    const sigmas = veGrid([6, 2.5]);
    const got = (await runSampler({ solver: createSolver('euler_cfg_pp'), sigmas, x: x0, model })).x;
    const pred: Prediction = await model(x0, { sigma: 6, timestep: 0 });
    const u = pred.uncondDenoised!;
    const want = x0.data.map((v, k) => pred.denoised.data[k] + (2.5 / 6) * (v - u.data[k]));
    expect(relL2(got.data, want)).toBeLessThan(1e-6);
    // Not plain Euler, which renoises along the guided x0.
    const euler = (await runSampler({ solver: createSolver('euler'), sigmas, x: x0, model })).x;
    expect(relL2(got.data, euler.data)).toBeGreaterThan(1e-3);
  });

  it('dpmpp_2m_cfg_pp: the second step adds -expm1(-h) (D - U_prev) / (2r)', async () => {
    const model = guidedModel(1.5);
    const lv = [6, 2.5, 1];
    const got = (await runSampler({ solver: createSolver('dpmpp_2m_cfg_pp'), sigmas: veGrid(lv), x: start(3), model })).x;
    const p0 = await model(start(3), { sigma: 6, timestep: 0 });
    const x1 = start(3).data.map((v, k) => p0.denoised.data[k] + (2.5 / 6) * (v - p0.uncondDenoised!.data[k]));
    const p1 = await model(new Tensor(DIMS, x1), { sigma: 2.5, timestep: 0 });
    const h = Math.log(2.5 / 1);
    const r = Math.log(6 / 2.5) / h;
    const c = -Math.expm1(-h) / (2 * r);
    const want = x1.map((v, k) => p1.denoised.data[k] + (1 / 2.5) * (v - p1.uncondDenoised!.data[k]) + c * (p1.denoised.data[k] - p0.uncondDenoised!.data[k]));
    expect(relL2(got.data, want)).toBeLessThan(1e-6);
  });
});

describe('cfgpp_ud10_ab (ComfyUI#15951): CFG++ Euler with history', () => {
  /** The guided model, recording each call's (D, U) as the solver saw them. */
  function recorded(w: number): { model: DenoiseFn; calls: { d: Float32Array; u: Float32Array }[] } {
    const inner = guidedModel(w);
    const calls: { d: Float32Array; u: Float32Array }[] = [];
    const model: DenoiseFn = async (x, level) => {
      const pred = await inner(x, level);
      calls.push({ d: pred.denoised.data.slice(), u: (pred.uncondDenoised ?? pred.denoised).data.slice() });
      return pred;
    };
    return { model, calls };
  }

  it('takes the euler_cfg_pp step first, then blends 1/4 of a two-step Adams-Bashforth step with the history-extrapolated Euler step', async () => {
    const [s0, s1, s2] = [6, 2.5, 1];
    const x0 = start(3);
    const one = (await runSampler({ solver: createSolver('cfgpp_ud10_ab'), sigmas: veGrid([s0, s1]), x: x0, model: guidedModel(1.6) })).x;
    const euler = (await runSampler({ solver: createSolver('euler_cfg_pp'), sigmas: veGrid([s0, s1]), x: x0, model: guidedModel(1.6) })).x;
    expect(relL2(one.data, euler.data)).toBeLessThan(1e-6);

    const { model, calls } = recorded(1.6);
    const got = (await runSampler({ solver: createSolver('cfgpp_ud10_ab'), sigmas: veGrid([s0, s1, s2]), x: x0, model })).x;
    // Written out: the AB2 weights integrate the Lagrange basis through s1 (newest) and s0 over [s1, s2].
    const c0 = ((s2 - s0) ** 2 - (s1 - s0) ** 2) / (2 * (s1 - s0));
    const c1 = (s2 - s1) ** 2 / (2 * (s0 - s1));
    const [a, b] = calls;
    const want = x0.data.map((x, k) => {
      const u0 = (x - a.u[k]) / s0;
      const x1 = a.d[k] + s1 * u0; // e0 = x1 - x0
      const d0 = (x1 - x) / (s1 - s0);
      const u1 = (x1 - b.u[k]) / s1;
      const ud = u1 + 0.1 * ((s2 - s1) / (s1 - s0)) * (u1 - u0);
      const e = b.d[k] + s2 * ud - x1;
      const d1 = e / (s2 - s1);
      return x1 + 0.75 * e + 0.25 * (c0 * d1 + c1 * d0);
    });
    expect(relL2(got.data, want)).toBeLessThan(1e-5);
  });

  it('onto sigma 0 ends on the line through the last two x0 predictions, read at 0; a one-step run onto 0 on D', async () => {
    const { model, calls } = recorded(2);
    const levels = [6, 2.5, 1, 0];
    const got = (await runSampler({ solver: createSolver('cfgpp_ud10_ab'), sigmas: veGrid(levels), x: start(4), model })).x;
    const [prev, last] = calls.slice(-2);
    const want = last.d.map((d, k) => d - levels[2] * ((d - prev.d[k]) / (levels[2] - levels[1])));
    expect(relL2(got.data, want)).toBeLessThan(1e-5);
    const single = recorded(2);
    const r = await runSampler({ solver: createSolver('cfgpp_ud10_ab'), sigmas: veGrid([6, 0]), x: start(4), model: single.model });
    expect(relL2(r.x.data, single.calls[0].d)).toBeLessThan(1e-6);
  });
});

describe('CFG keeps the unconditional side for CFG++', () => {
  it('at scale 1: both sides run only when asked, and the prediction carries the unconditional x0', async () => {
    const calls = { n: 0 };
    const cond = plainModel(pCond, calls);
    const uncond = plainModel(pUncond, calls);
    const x = start(4);
    const plain = await cfgDenoiseFn(cond, uncond, { scale: 1 })(x, { sigma: 2, timestep: 0 });
    expect(calls.n).toBe(1);
    expect(plain.uncondDenoised).toBeUndefined();
    const kept = await cfgDenoiseFn(cond, uncond, { scale: 1 }, undefined, true)(x, { sigma: 2, timestep: 0 });
    expect(calls.n).toBe(3);
    const u = await plainModel(pUncond)(x, { sigma: 2, timestep: 0 });
    expect(relL2(kept.uncondDenoised!.data, u.denoised.data)).toBeLessThan(1e-7);
    expect(relL2(kept.denoised.data, plain.denoised.data)).toBeLessThan(1e-7);
  });
});
