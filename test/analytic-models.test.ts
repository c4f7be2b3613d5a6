import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureEmbeddedModel } from '../electron/engine/models/embedded.ts';
import { SessionPool } from '../electron/engine/onnx/session-pool.ts';
import { alphasCumprod, betasFromConfig } from '../nodes/sampling/betas.ts';
import {
  createGaussianParams,
  denoisedVE,
  denoisedVP,
  epsVP,
  sampleData,
  seededNormals,
  transportExact,
  velocityRF,
  type GaussianParams,
} from '../nodes/sampling/gaussian.ts';
import { relL2 } from './sampling-fake-model.ts';

// ---------------------------------------------------------------------------------------------
// helpers

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function axpy(a: number, x: Float64Array, y: Float64Array): Float64Array {
  return y.map((v, i) => v + a * x[i]);
}

/** Sigma = U diag(l) U^T as an explicit matrix. */
function covariance(p: GaussianParams): Float64Array {
  const D = p.mu.length;
  const S = new Float64Array(D * D);
  for (let i = 0; i < D; i++)
    for (let j = 0; j < D; j++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += p.U[i * D + k] * p.l[k] * p.U[j * D + k];
      S[i * D + j] = s;
    }
  return S;
}

/** Solves A y = b by Gaussian elimination with partial pivoting (A is copied). */
function solve(Ain: Float64Array, bin: Float64Array): Float64Array {
  const n = bin.length;
  const A = Ain.slice();
  const b = bin.slice();
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(A[r * n + c]) > Math.abs(A[piv * n + c])) piv = r;
    for (let j = 0; j < n; j++) [A[c * n + j], A[piv * n + j]] = [A[piv * n + j], A[c * n + j]];
    [b[c], b[piv]] = [b[piv], b[c]];
    for (let r = c + 1; r < n; r++) {
      const f = A[r * n + c] / A[c * n + c];
      for (let j = c; j < n; j++) A[r * n + j] -= f * A[c * n + j];
      b[r] -= f * b[c];
    }
  }
  const y = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r];
    for (let j = r + 1; j < n; j++) s -= A[r * n + j] * y[j];
    y[r] = s / A[r * n + r];
  }
  return y;
}

function matVec(M: Float64Array, x: Float64Array): Float64Array {
  const n = x.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += M[i * n + j] * x[j];
    out[i] = s;
  }
  return out;
}

/** Classic RK4 for dx/dt = f(x, t) from t0 to t1 in n equal steps. */
function rk4(f: (x: Float64Array, t: number) => Float64Array, x0: Float64Array, t0: number, t1: number, n: number) {
  let x = x0;
  const h = (t1 - t0) / n;
  for (let i = 0; i < n; i++) {
    const t = t0 + i * h;
    const k1 = f(x, t);
    const k2 = f(axpy(h / 2, k1, x), t + h / 2);
    const k3 = f(axpy(h / 2, k2, x), t + h / 2);
    const k4 = f(axpy(h, k3, x), t + h);
    x = x.map((v, j) => v + (h / 6) * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]));
  }
  return x;
}

// ---------------------------------------------------------------------------------------------
// Gaussian closed forms (pure float64)

describe('Gaussian params', () => {
  it('default params are deterministic, cached, orthonormal, with a decaying floored spectrum', () => {
    const t0 = performance.now();
    const p = createGaussianParams();
    const ms = performance.now() - t0;
    expect(p.dims).toEqual([3, 16, 16]);
    expect(createGaussianParams()).toBe(p);
    expect(ms).toBeLessThan(3000);
    const D = 768;
    expect(p.U.length).toBe(D * D);
    // U^T U = I on a sample of column pairs.
    let err = 0;
    for (let a = 0; a < D; a += 29)
      for (let b = 0; b < D; b += 31) {
        let s = 0;
        for (let i = 0; i < D; i++) s += p.U[i * D + a] * p.U[i * D + b];
        err = Math.max(err, Math.abs(s - (a === b ? 1 : 0)));
      }
    expect(err).toBeLessThan(1e-12);
    expect(Math.min(...p.l)).toBeGreaterThanOrEqual(0.01 - 1e-15);
    expect(Math.max(...p.l)).toBeLessThanOrEqual(1);
    for (let k = 1; k < D; k++) expect(p.l[k]).toBeLessThanOrEqual(p.l[k - 1]);
    expect(maxAbs(p.mu)).toBeLessThanOrEqual(0.6);
    expect(maxAbs(p.mu)).toBeGreaterThan(0.3);
  });

  it('a different seed gives different params; same seed the same', () => {
    const a = createGaussianParams({ dims: [2, 3, 4], seed: 7 });
    const b = createGaussianParams({ dims: [2, 3, 4], seed: 7 });
    const c = createGaussianParams({ dims: [2, 3, 4], seed: 8 });
    expect(Array.from(a.U)).toEqual(Array.from(b.U));
    expect(relL2(a.U, c.U)).toBeGreaterThan(0.1);
  });

  it('rejects inputs whose length is not a multiple of the sample size', () => {
    const p = createGaussianParams({ dims: [2, 3], seed: 1 });
    expect(() => epsVP(p, new Float64Array(5), 0.6, 0.8)).toThrow(/sample size 6/);
    expect(() => velocityRF(p, new Float64Array(6), 1.5)).toThrow(/t must be in \[0, 1\]/);
  });

  it('sampleData has the right mean and covariance (Monte Carlo)', () => {
    const p = createGaussianParams({ dims: [2, 2, 2], seed: 3 });
    const D = 8;
    const n = 40000;
    const xs = sampleData(p, n, 11);
    const mean = new Float64Array(D);
    for (let b = 0; b < n; b++) for (let i = 0; i < D; i++) mean[i] += xs[b * D + i] / n;
    const cov = new Float64Array(D * D);
    for (let b = 0; b < n; b++)
      for (let i = 0; i < D; i++)
        for (let j = 0; j < D; j++) cov[i * D + j] += ((xs[b * D + i] - mean[i]) * (xs[b * D + j] - mean[j])) / n;
    // Standard errors are about sqrt(1/n) = 0.005.
    expect(maxAbs(mean.map((m, i) => m - p.mu[i]))).toBeLessThan(0.025);
    const S = covariance(p);
    expect(maxAbs(cov.map((c, i) => c - S[i]))).toBeLessThan(0.03);
  });
});

describe('closed forms', () => {
  const p = createGaussianParams({ dims: [3, 2, 2], seed: 5 });
  const D = 12;
  const x = seededNormals(2 * D, 99); // batch of 2

  it('denoisedVP and epsVP match the textbook Gaussian conditioning formulas (direct solve)', () => {
    const S = covariance(p);
    for (const abar of [0.999, 0.5, 0.02]) {
      const alpha = Math.sqrt(abar);
      const sigma = Math.sqrt(1 - abar);
      const C = S.map((v, i) => alpha * alpha * v + (i % (D + 1) === 0 ? sigma * sigma : 0));
      const d = denoisedVP(p, x, alpha, sigma);
      const e = epsVP(p, x, alpha, sigma);
      for (let b = 0; b < 2; b++) {
        const r = x.subarray(b * D, (b + 1) * D).map((v, i) => v - alpha * p.mu[i]);
        const Cinv_r = solve(C, r);
        const dRef = matVec(S, Cinv_r).map((v, i) => p.mu[i] + alpha * v);
        const eRef = Cinv_r.map((v) => sigma * v);
        expect(relL2(d.subarray(b * D, (b + 1) * D), dRef)).toBeLessThan(1e-12);
        expect(relL2(e.subarray(b * D, (b + 1) * D), eRef)).toBeLessThan(1e-12);
      }
    }
  });

  it('VP eps / x0 / VE / RF conversions agree (fact sheet section 1)', () => {
    for (const abar of [0.98, 0.6, 0.1]) {
      const alpha = Math.sqrt(abar);
      const sigma = Math.sqrt(1 - abar);
      const d = denoisedVP(p, x, alpha, sigma);
      const e = epsVP(p, x, alpha, sigma);
      // x = alpha x0 + sigma eps for the predictions.
      const recon = d.map((v, i) => alpha * v + sigma * e[i]);
      expect(relL2(recon, x)).toBeLessThan(1e-12);
      // VE view: x_ve = x/alpha, s = sigma/alpha gives the same denoiser.
      const dVE = denoisedVE(
        p,
        x.map((v) => v / alpha),
        sigma / alpha,
      );
      expect(relL2(dVE, d)).toBeLessThan(1e-12);
    }
    for (const t of [0.05, 0.5, 0.93]) {
      const v = velocityRF(p, x, t);
      const x0 = denoisedVP(p, x, 1 - t, t);
      const eps = epsVP(p, x, 1 - t, t);
      expect(relL2(v, eps.map((ev, i) => ev - x0[i]))).toBeLessThan(1e-12);
      // x0 = x - t v
      expect(relL2(x.map((xv, i) => xv - t * v[i]), x0)).toBeLessThan(1e-12);
    }
  });

  it('denoisedVE tends to identity at s = 0 and to mu for large s', () => {
    expect(relL2(denoisedVE(p, x, 0), x)).toBeLessThan(1e-12);
    const far = denoisedVE(p, x, 1e4);
    const mu2 = new Float64Array(2 * D).map((_, i) => p.mu[i % D]);
    expect(relL2(far, mu2)).toBeLessThan(1e-6);
  });

  it('transport composes: t1 -> t2 -> t3 equals t1 -> t3, and maps to itself at equal levels', () => {
    const path = (t: number): [number, number] => [1 - t, t];
    const [a1, b1] = path(0.9);
    const [a2, b2] = path(0.45);
    const [a3, b3] = path(0.07);
    const via = transportExact(p, transportExact(p, x, a1, b1, a2, b2), a2, b2, a3, b3);
    const direct = transportExact(p, x, a1, b1, a3, b3);
    expect(relL2(via, direct)).toBeLessThan(1e-12);
    expect(relL2(transportExact(p, x, a2, b2, a2, b2), x)).toBeLessThan(1e-14);
    // VP path in alpha/sigma too.
    const v1 = transportExact(p, x, 0.3, Math.sqrt(0.91), 0.8, 0.6);
    const v2 = transportExact(p, transportExact(p, x, 0.3, Math.sqrt(0.91), 0.5, Math.sqrt(0.75)), 0.5, Math.sqrt(0.75), 0.8, 0.6);
    expect(relL2(v1, v2)).toBeLessThan(1e-12);
  });
});

describe('transportExact vs RK4 on the PF-ODE (default 768-dim params)', () => {
  const p = createGaussianParams();
  const x1 = seededNormals(768, 2024);

  it('RF: integrating dx/dt = v*(x, t) from t = 0.95 to 0.05 converges to transportExact at order 4', () => {
    const exact = transportExact(p, x1, 0.05, 0.95, 0.95, 0.05);
    const f = (x: Float64Array, t: number) => velocityRF(p, x, t);
    const e1 = relL2(rk4(f, x1, 0.95, 0.05, 10), exact);
    const e2 = relL2(rk4(f, x1, 0.95, 0.05, 20), exact);
    const e3 = relL2(rk4(f, x1, 0.95, 0.05, 40), exact);
    expect(e3).toBeLessThan(1e-6);
    const order = Math.log2(e2 / e3);
    expect(Math.log2(e1 / e2)).toBeGreaterThan(3.5);
    expect(order).toBeGreaterThan(3.5);
    expect(order).toBeLessThan(4.6);
  });

  it('VE: integrating dx/ds = (x - D*(x, s))/s in log s matches transportExact with a = 1, b = s', () => {
    const sHi = 20;
    const sLo = 0.05;
    const xStart = x1.map((v, i) => p.mu[i] + sHi * v);
    const exact = transportExact(p, xStart, 1, sHi, 1, sLo);
    // u = ln s: dx/du = s dx/ds = x - D(x, s).
    const f = (x: Float64Array, u: number) => {
      const d = denoisedVE(p, x, Math.exp(u));
      return x.map((v, i) => v - d[i]);
    };
    const got = rk4(f, xStart, Math.log(sHi), Math.log(sLo), 60);
    expect(relL2(got, exact)).toBeLessThan(1e-5);
  });
});

// ---------------------------------------------------------------------------------------------
// Embedded ONNX models vs the float64 closed forms (the acceptance check of the analytic models)

describe('embedded analytic ONNX models match the closed forms', () => {
  const p = createGaussianParams();
  const D = 768;
  const B = 2;
  let cacheDir: string;
  const pool = new SessionPool({ providers: ['cpu'] });

  beforeAll(async () => {
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'flowstudio-analytic-'));
  });
  afterAll(async () => {
    await pool.dispose();
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  /** x_t = a x0 + b eps for a batch of exact data samples, as float64 and float32. */
  function noisyBatch(a: number, b: number, seed: number): { x64: Float64Array; x32: Float32Array } {
    const x0 = sampleData(p, B, seed);
    const eps = seededNormals(B * D, seed + 1);
    const x64 = x0.map((v, i) => a * v + b * eps[i]);
    return { x64, x32: Float32Array.from(x64) };
  }

  async function open(name: string, sub: string) {
    const folder = await ensureEmbeddedModel(name, cacheDir);
    return { folder, session: await pool.get(path.join(folder, sub, 'model.onnx')) };
  }

  it('gaussian-vp (int64 timestep, DDIM table) returns eps* within 1e-4 relative L2', async () => {
    const { folder, session } = await open('gaussian-vp', 'unet');
    const cfg = JSON.parse(await fs.readFile(path.join(folder, 'scheduler', 'scheduler_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ _class_name: 'DDIMScheduler', beta_schedule: 'scaled_linear', steps_offset: 1 });
    const abar = alphasCumprod(betasFromConfig(cfg));
    expect(session.inputs.map((i) => [i.name, i.type])).toEqual([
      ['sample', 'float32'],
      ['timestep', 'int64'],
    ]);
    for (const t of [0, 1, 21, 500, 981, 999]) {
      const alpha = Math.sqrt(abar[t]);
      const sigma = Math.sqrt(1 - abar[t]);
      const { x64, x32 } = noisyBatch(alpha, sigma, 100 + t);
      const out = await session.run({
        sample: { dims: [B, 3, 16, 16], data: x32, type: 'float32' },
        timestep: { dims: [1], data: Float64Array.of(t), type: 'int64' },
      });
      expect(out.out_sample.dims).toEqual([B, 3, 16, 16]);
      expect(relL2(out.out_sample.data, epsVP(p, x64, alpha, sigma))).toBeLessThan(1e-4);
    }
  });

  it('gaussian-vp-continuous interpolates the VE sigma table at fractional t (np.interp) and returns eps*', async () => {
    const { folder, session } = await open('gaussian-vp-continuous', 'unet');
    const cfg = JSON.parse(await fs.readFile(path.join(folder, 'scheduler', 'scheduler_config.json'), 'utf8'));
    expect(cfg._class_name).toBe('EulerDiscreteScheduler');
    const ve = alphasCumprod(betasFromConfig(cfg)).map((a) => Math.sqrt((1 - a) / a));
    // Independent np.interp reference: sigma at fractional t from the two neighbouring entries.
    const interp = (t: number) => {
      const i = Math.min(Math.floor(t), ve.length - 2);
      return ve[i] + (t - i) * (ve[i + 1] - ve[i]);
    };
    for (const t of [0, 0.5, 12.25, 499.5, 998.75, 999]) {
      const s = interp(t);
      const alpha = 1 / Math.sqrt(s * s + 1);
      const sigma = s * alpha;
      const { x64, x32 } = noisyBatch(alpha, sigma, 300 + Math.round(t * 4));
      const out = await session.run({
        sample: { dims: [B, 3, 16, 16], data: x32, type: 'float32' },
        timestep: { dims: [1], data: Float32Array.of(t), type: 'float32' },
      });
      expect(relL2(out.out_sample.data, epsVP(p, x64, alpha, sigma))).toBeLessThan(1e-4);
    }
    // A fractional t must differ from both neighbours (the model really interpolates).
    const { x32 } = noisyBatch(0.5, Math.sqrt(0.75), 5);
    const at = async (t: number) =>
      (
        await session.run({
          sample: { dims: [B, 3, 16, 16], data: x32, type: 'float32' },
          timestep: { dims: [1], data: Float32Array.of(t), type: 'float32' },
        })
      ).out_sample.data;
    const [lo, mid, hi] = [await at(400), await at(400.5), await at(401)];
    expect(relL2(mid, lo)).toBeGreaterThan(1e-5);
    expect(relL2(mid, hi)).toBeGreaterThan(1e-5);
  });

  it('gaussian-rf returns v* within 1e-4 relative L2 for t near 0, in between and near 1', async () => {
    const { folder, session } = await open('gaussian-rf', 'transformer');
    const index = JSON.parse(await fs.readFile(path.join(folder, 'model_index.json'), 'utf8'));
    expect(index).toMatchObject({
      _class_name: 'FlowStudioGaussianFlowPipeline',
      transformer: ['diffusers', 'OnnxRuntimeModel'],
      flowstudio: { analytic: 'gaussian-rf', sample_dims: [3, 16, 16], timestep_units: 'fraction' },
    });
    for (const t of [1e-3, 0.02, 0.3, 0.5, 0.77, 0.98, 0.999]) {
      const { x64, x32 } = noisyBatch(1 - t, t, 700 + Math.round(t * 1000));
      const out = await session.run({
        hidden_states: { dims: [B, 3, 16, 16], data: x32, type: 'float32' },
        timestep: { dims: [1], data: Float32Array.of(t), type: 'float32' },
      });
      expect(out.out_hidden_states.dims).toEqual([B, 3, 16, 16]);
      expect(relL2(out.out_hidden_states.data, velocityRF(p, x64, t))).toBeLessThan(1e-4);
    }
  });
});
