/**
 * Gaussian data with a known PF-ODE: x0 ~ N(mu, U diag(l) U^T) over D = C*H*W values. Every optimal
 * model output (eps*, D*, v*) and the exact ODE transport have closed forms (fact sheet section 8), so
 * this is the ground truth the embedded analytic models and the solver convergence tests are built on.
 * Pure float64 math: arrays in, arrays out; batched inputs are B*D values, one sample after another.
 */

export interface GaussianParams {
  /** Sample shape, e.g. [3, 16, 16]; D is their product. */
  dims: number[];
  /** Mean, length D. */
  mu: Float64Array;
  /** D x D row-major; column k is the k-th orthonormal eigenvector of the covariance. */
  U: Float64Array;
  /** Covariance eigenvalues, length D, decaying, in [1e-2, 1]. */
  l: Float64Array;
}

export const DEFAULT_GAUSSIAN_DIMS: readonly number[] = Object.freeze([3, 16, 16]);
export const DEFAULT_GAUSSIAN_SEED = 1234;
/** Smallest eigenvalue: keeps the ODE non-stiff near t = 0 (fact sheet section 8). */
export const EIGENVALUE_FLOOR = 1e-2;
/** QR of a D x D matrix is O(D^3): beyond this the construction takes too long to be useful. */
const MAX_DIM = 4096;

// ---------------------------------------------------------------------------------------------
// Seeded randomness (self-contained so the parameters never change with a library version).

/** mulberry32: a tiny 32-bit generator; two draws make one 53-bit uniform in [0, 1). */
function uniformSource(seed: number): () => number {
  let a = seed >>> 0;
  const next32 = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  return () => ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
}

/** `n` independent standard normals (Box-Muller), deterministic in `seed`. */
export function seededNormals(n: number, seed: number): Float64Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`seededNormals: count must be a non-negative integer, got ${n}`);
  const u = uniformSource(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u())); // 1 - u in (0, 1]: log is finite
    const th = 2 * Math.PI * u();
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Construction

/**
 * Haar-random orthogonal D x D matrix (row-major): the Q of a Householder QR of a seeded Gaussian
 * matrix, with column signs fixed by R's diagonal. Stewart's (1980) shortcut: after reflecting a
 * Gaussian matrix by its first reflector, the trailing block is again i.i.d. Gaussian, so each reflector
 * is drawn from fresh normals instead of updating the matrix. Same distribution, half the O(D^3) work.
 */
function randomOrthogonal(D: number, seed: number): Float64Array {
  const z = seededNormals(D * D, seed);
  const V = new Float64Array(D * D); // reflector k stored in column k, rows k..D-1
  const rSign = new Float64Array(D);
  for (let k = 0; k < D; k++) {
    const ck = k * D;
    let norm2 = 0;
    for (let i = k; i < D; i++) norm2 += z[ck + i] * z[ck + i];
    const alpha = z[ck + k] >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2); // R_kk; opposite sign avoids cancellation
    rSign[k] = alpha >= 0 ? 1 : -1;
    if (k === D - 1) break; // a 1 x 1 block needs no reflector, only its sign
    for (let i = k; i < D; i++) V[ck + i] = z[ck + i];
    V[ck + k] -= alpha;
    const vn2 = norm2 - z[ck + k] * z[ck + k] + V[ck + k] * V[ck + k];
    const inv = 1 / Math.sqrt(vn2);
    for (let i = k; i < D; i++) V[ck + i] *= inv;
  }
  // Q = H_0 H_1 ... H_{D-2} applied to I, last reflector first; columns j < k are still e_j there.
  const Q = new Float64Array(D * D); // column-major
  for (let j = 0; j < D; j++) Q[j * D + j] = 1;
  for (let k = D - 2; k >= 0; k--) {
    const ck = k * D;
    for (let j = k; j < D; j++) {
      const cj = j * D;
      let dot = 0;
      for (let i = k; i < D; i++) dot += V[ck + i] * Q[cj + i];
      if (dot === 0) continue;
      dot *= 2;
      for (let i = k; i < D; i++) Q[cj + i] -= dot * V[ck + i];
    }
  }
  const U = new Float64Array(D * D);
  for (let j = 0; j < D; j++) {
    const s = rSign[j];
    for (let i = 0; i < D; i++) U[i * D + j] = s * Q[j * D + i];
  }
  return U;
}

/** A smooth image-like mean in [-0.6, 0.6]: a seeded plane wave per channel plus a radial blob. */
function smoothMean(dims: number[], seed: number): Float64Array {
  const D = dims.reduce((a, b) => a * b, 1);
  const W = dims.length >= 1 ? dims[dims.length - 1] : 1;
  const H = dims.length >= 2 ? dims[dims.length - 2] : 1;
  const C = D / (H * W);
  const u = uniformSource(seed ^ 0x5bd1e995);
  const mu = new Float64Array(D);
  for (let c = 0; c < C; c++) {
    const fx = 1 + Math.floor(u() * 2);
    const fy = 1 + Math.floor(u() * 2);
    const px = u();
    const py = u();
    const cx = 0.3 + 0.4 * u();
    const cy = 0.3 + 0.4 * u();
    const sign = u() < 0.5 ? -1 : 1;
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) {
        const xw = W > 1 ? w / (W - 1) : 0.5;
        const yh = H > 1 ? h / (H - 1) : 0.5;
        const wave = Math.sin(2 * Math.PI * (fx * xw + px)) * Math.cos(2 * Math.PI * (fy * yh + py));
        const r = Math.min(1, Math.hypot(xw - cx, yh - cy) / 0.7);
        mu[(c * H + h) * W + w] = 0.35 * wave + 0.25 * sign * Math.cos(Math.PI * r);
      }
    }
  }
  return mu;
}

let defaultParams: GaussianParams | undefined;

/**
 * Deterministic Gaussian data parameters. Without options (or with the default dims and seed) this
 * returns the shared, cached parameters of the embedded analytic models: treat them as read-only.
 */
export function createGaussianParams(opts: { dims?: number[]; seed?: number } = {}): GaussianParams {
  const dims = opts.dims ?? [...DEFAULT_GAUSSIAN_DIMS];
  const seed = opts.seed ?? DEFAULT_GAUSSIAN_SEED;
  if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new Error(`createGaussianParams: dims must be positive integers, got [${dims.join(', ')}]`);
  }
  if (!Number.isInteger(seed)) throw new Error(`createGaussianParams: seed must be an integer, got ${seed}`);
  const isDefault = seed === DEFAULT_GAUSSIAN_SEED && dims.length === DEFAULT_GAUSSIAN_DIMS.length && dims.every((d, i) => d === DEFAULT_GAUSSIAN_DIMS[i]);
  if (isDefault && defaultParams) return defaultParams;
  const D = dims.reduce((a, b) => a * b, 1);
  if (D > MAX_DIM) throw new Error(`createGaussianParams: D = ${D} is too large (at most ${MAX_DIM}; the eigenbasis is a dense D x D matrix)`);
  const l = new Float64Array(D);
  // Log-uniform decay from 1 down to the floor.
  for (let k = 0; k < D; k++) l[k] = D === 1 ? 1 : Math.pow(EIGENVALUE_FLOOR, k / (D - 1));
  const params: GaussianParams = { dims: [...dims], mu: smoothMean(dims, seed), U: randomOrthogonal(D, seed), l };
  if (isDefault) defaultParams = params;
  return params;
}

// ---------------------------------------------------------------------------------------------
// Closed forms

function dimOf(p: GaussianParams): number {
  return p.mu.length;
}

function batchOf(p: GaussianParams, x: Float64Array, fn: string): number {
  const D = dimOf(p);
  if (x.length === 0 || x.length % D !== 0) {
    throw new Error(`${fn}: x has ${x.length} values, expected a positive multiple of the sample size ${D}`);
  }
  return x.length / D;
}

function checkFinite(fn: string, name: string, v: number): void {
  if (!Number.isFinite(v)) throw new Error(`${fn}: ${name} must be a finite number, got ${v}`);
}

/**
 * The shared shape of every closed form: out = outShift*mu + U diag(f) U^T (x - inShift*mu), per sample.
 */
function spectralMap(p: GaussianParams, x: Float64Array, inShift: number, f: Float64Array, outShift: number, fn: string): Float64Array {
  const D = dimOf(p);
  const B = batchOf(p, x, fn);
  const { U, mu } = p;
  const out = new Float64Array(x.length);
  const r = new Float64Array(D);
  const w = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    const off = b * D;
    for (let i = 0; i < D; i++) r[i] = x[off + i] - inShift * mu[i];
    w.fill(0);
    for (let i = 0; i < D; i++) {
      const ri = r[i];
      const row = i * D;
      for (let k = 0; k < D; k++) w[k] += U[row + k] * ri; // w = U^T r
    }
    for (let k = 0; k < D; k++) w[k] *= f[k];
    for (let i = 0; i < D; i++) {
      const row = i * D;
      let s = 0;
      for (let k = 0; k < D; k++) s += U[row + k] * w[k]; // U w
      out[off + i] = outShift * mu[i] + s;
    }
  }
  return out;
}

function perEigen(p: GaussianParams, g: (l: number) => number): Float64Array {
  const f = new Float64Array(p.l.length);
  for (let k = 0; k < f.length; k++) f[k] = g(p.l[k]);
  return f;
}

/** Optimal eps-prediction for x = alpha*x0 + sigma*eps: sigma C^-1 (x - alpha mu), C = alpha^2 Sigma + sigma^2 I. */
export function epsVP(p: GaussianParams, x: Float64Array, alpha: number, sigma: number): Float64Array {
  checkFinite('epsVP', 'alpha', alpha);
  checkFinite('epsVP', 'sigma', sigma);
  if (sigma <= 0) throw new Error(`epsVP: sigma must be > 0, got ${sigma}`);
  return spectralMap(p, x, alpha, perEigen(p, (l) => sigma / (alpha * alpha * l + sigma * sigma)), 0, 'epsVP');
}

/** Optimal data prediction D* = mu + alpha Sigma C^-1 (x - alpha mu). */
export function denoisedVP(p: GaussianParams, x: Float64Array, alpha: number, sigma: number): Float64Array {
  checkFinite('denoisedVP', 'alpha', alpha);
  checkFinite('denoisedVP', 'sigma', sigma);
  if (alpha === 0 && sigma === 0) throw new Error('denoisedVP: alpha and sigma cannot both be 0');
  return spectralMap(p, x, alpha, perEigen(p, (l) => (alpha * l) / (alpha * alpha * l + sigma * sigma)), 1, 'denoisedVP');
}

/** Optimal denoiser in VE variables x = x0 + s*eps: D* = mu + Sigma (Sigma + s^2 I)^-1 (x - mu). */
export function denoisedVE(p: GaussianParams, x: Float64Array, s: number): Float64Array {
  checkFinite('denoisedVE', 's', s);
  if (s < 0) throw new Error(`denoisedVE: s must be >= 0, got ${s}`);
  return spectralMap(p, x, 1, perEigen(p, (l) => l / (l + s * s)), 1, 'denoisedVE');
}

/** Optimal rectified-flow velocity for x_t = (1-t) x0 + t eps: v* = E[eps - x0 | x_t]. */
export function velocityRF(p: GaussianParams, x: Float64Array, t: number): Float64Array {
  checkFinite('velocityRF', 't', t);
  // A hair past 1 is still a Gaussian path (1 - t < 0 tiny): Sana Sprint's first flow time is 1.0000037 (scm.ts).
  if (t < 0 || t > 1 + 1e-5) throw new Error(`velocityRF: t must be in [0, 1], got ${t}`);
  const a = 1 - t;
  return spectralMap(p, x, a, perEigen(p, (l) => (t - a * l) / (a * a * l + t * t)), -1, 'velocityRF');
}

/**
 * Exact PF-ODE transport along any path x_t = a_t x0 + b_t eps from (a1, b1) to (a2, b2):
 * x2 = a2 mu + U diag(sqrt(V_k(2)/V_k(1))) U^T (x1 - a1 mu), V_k = a^2 l_k + b^2.
 */
export function transportExact(p: GaussianParams, x: Float64Array, a1: number, b1: number, a2: number, b2: number): Float64Array {
  for (const [n, v] of [['a1', a1], ['b1', b1], ['a2', a2], ['b2', b2]] as const) checkFinite('transportExact', n, v);
  const f = perEigen(p, (l) => {
    const v1 = a1 * a1 * l + b1 * b1;
    if (v1 <= 0) throw new Error('transportExact: the start point has zero variance (a1 = b1 = 0)');
    return Math.sqrt((a2 * a2 * l + b2 * b2) / v1);
  });
  return spectralMap(p, x, a1, f, a2, 'transportExact');
}

/** `n` samples x0 = mu + U diag(sqrt(l)) z, deterministic in `seed`; n*D values. */
export function sampleData(p: GaussianParams, n: number, seed: number): Float64Array {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`sampleData: n must be a positive integer, got ${n}`);
  const z = seededNormals(n * dimOf(p), seed);
  // With inShift 0 and outShift 1: mu + U diag(sqrt l) U^T z; U^T z is again standard normal.
  return spectralMap(p, z, 0, perEigen(p, (l) => Math.sqrt(l)), 1, 'sampleData');
}
