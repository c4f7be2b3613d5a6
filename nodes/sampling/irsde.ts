/**
 * IR-SDE's mean-reverting schedule (Luo et al. 2023, the process MR Sampler was written for) and MR Sampler's
 * time grid over it, as `Sigmas` that `createMrs` walks (fact sheet 7).
 *
 * The SDE dx = theta_t (mu - x) dt + sigma_t dw is discretized in T training steps with per-step thetas
 * (cosine, linear or constant schedule) and a step dt chosen so the process has reverted to eps of its start
 * at t = T: a_t = exp(-dt sum_{k<=t} theta_k), a_T = eps, and sbar_t = sigma_inf sqrt(1 - a_t^2). Its network is
 * called as noise_fn(x, mu, t) with the integer-scaled training time t.
 *
 * MR Sampler's grid: t from max_timestep down to 0 in N steps (linspace), max_timestep the largest time whose
 * half-log-SNR lambda = ln(a / sbar) is at least lambda_min; lambda at a fractional t interpolated linearly
 * in t between training steps, as the reference does. A level is s = sbar / a = e^{-lambda}, and the solver
 * derives a and sbar from s and sigma_inf (exact at integer t; between training steps the reference
 * interpolates a and sbar separately, which differs from these by the interpolation error).
 */
import type { Sigmas } from '../core/values.ts';

export const IRSDE_THETA_SCHEDULES = ['cosine', 'linear', 'constant'] as const;
export type IrsdeThetaSchedule = (typeof IRSDE_THETA_SCHEDULES)[number];

/** IR-SDE's options (its `sde:` section): max_sigma in pixel units above 1 (/255), training steps, schedule, eps. */
export interface IrsdeConfig {
  max_sigma?: number;
  T?: number;
  schedule?: string;
  eps?: number;
}

export interface IrsdeTable {
  /** Stationary std of the process (max_sigma, /255 when given in pixel units). */
  sigmaInf: number;
  /** Training steps: the tables have T + 1 entries, t = 0..T. */
  T: number;
  /** a_t = exp(-dt cumsum(theta)_t). */
  alpha: Float64Array;
  /** sbar_t = sigma_inf sqrt(1 - a_t^2). */
  sigmaBar: Float64Array;
  /** lambda_t = ln(a_t / sbar_t), decreasing in t. */
  lambda: Float64Array;
}

/** The reference's defaults (its mrsampler options): max_sigma 50, T 100, cosine, eps 0.005. */
const DEFAULTS = { max_sigma: 50, T: 100, schedule: 'cosine', eps: 0.005 } as const;

/** IR-SDE's per-step thetas, T + 1 of them. */
export function irsdeThetas(schedule: IrsdeThetaSchedule, T: number): Float64Array {
  const n = T + 1;
  if (schedule === 'constant') return new Float64Array(n).fill(1);
  if (schedule === 'linear') {
    // DDPM's betas scaled by 1000 / (T + 1).
    const scale = 1000 / n;
    return Float64Array.from({ length: n }, (_, i) => scale * (0.0001 + ((0.02 - 0.0001) * i) / (n - 1)));
  }
  // Cosine: 1 - abar(k + 1) / abar(0) for k = 0..T over T + 2 intervals, abar(x) = cos^2(((x / (T+2)) + s) / (1 + s) pi/2).
  const intervals = T + 2;
  const s = 0.008;
  const abar = (k: number) => Math.cos(((k / intervals + s) / (1 + s)) * Math.PI * 0.5) ** 2;
  return Float64Array.from({ length: n }, (_, k) => 1 - abar(k + 1) / abar(0));
}

export function irsdeTable(cfg: IrsdeConfig = {}): IrsdeTable {
  const maxSigma = cfg.max_sigma ?? DEFAULTS.max_sigma;
  const T = cfg.T ?? DEFAULTS.T;
  const schedule = cfg.schedule ?? DEFAULTS.schedule;
  const eps = cfg.eps ?? DEFAULTS.eps;
  if (!(Number.isFinite(maxSigma) && maxSigma > 0)) throw new Error(`IR-SDE: max_sigma must be a number > 0, got ${maxSigma}`);
  if (!(Number.isInteger(T) && T >= 2)) throw new Error(`IR-SDE: T must be a whole number >= 2, got ${T}`);
  if (!(eps > 0 && eps < 1)) throw new Error(`IR-SDE: eps must be in (0, 1), got ${eps}`);
  if (!(IRSDE_THETA_SCHEDULES as readonly string[]).includes(schedule)) throw new Error(`IR-SDE: unknown schedule "${schedule}" (expected ${IRSDE_THETA_SCHEDULES.join(', ')})`);
  const sigmaInf = maxSigma >= 1 ? maxSigma / 255 : maxSigma;
  const thetas = irsdeThetas(schedule as IrsdeThetaSchedule, T);
  const cumsum = new Float64Array(thetas.length);
  let acc = 0;
  for (let i = 0; i < thetas.length; i++) cumsum[i] = acc += thetas[i];
  const dt = -Math.log(eps) / cumsum[cumsum.length - 1];
  const alpha = cumsum.map((c) => Math.exp(-c * dt));
  const sigmaBar = alpha.map((a) => sigmaInf * Math.sqrt(1 - a * a));
  const lambda = alpha.map((a, i) => Math.log(a) - Math.log(sigmaBar[i]));
  return { sigmaInf, T, alpha, sigmaBar, lambda };
}

/** Linear interpolation of a table over t = 0..T at a fractional t. */
function interpolate(table: Float64Array, t: number): number {
  const lo = Math.min(Math.floor(t), table.length - 2);
  const w = t - lo;
  return table[lo] + w * (table[lo + 1] - table[lo]);
}

/** The level s = e^{-lambda(t)} at a (fractional) training time t. */
export function irsdeLevelAt(table: IrsdeTable, t: number): number {
  if (!(t >= 0 && t <= table.T)) throw new Error(`IR-SDE: time ${t} is outside [0, ${table.T}]`);
  return Math.exp(-interpolate(table.lambda, t));
}

/**
 * The training time of a level, irsdeLevelAt's inverse: lambda = -ln s, linear in t between training steps
 * and decreasing, so the time is found by bisection and one linear solve. Levels a sigma edit puts into the
 * grid get their time from here, which keeps the grid this model's (isGridOf).
 */
export function irsdeTimeAt(table: IrsdeTable, level: number): number {
  const lam = -Math.log(level);
  const { lambda, T } = table;
  if (!(lam <= lambda[0] && lam >= lambda[T])) {
    throw new Error(`IR-SDE: level ${level} is outside this model's levels [${irsdeLevelAt(table, 0)}, ${irsdeLevelAt(table, T)}]`);
  }
  let lo = 0;
  let hi = T;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (lambda[mid] >= lam) lo = mid;
    else hi = mid;
  }
  const span = lambda[lo] - lambda[hi];
  return span > 0 ? lo + (lambda[lo] - lam) / span : lo;
}

/** Whether every step of `sigmas` sits at this table's level for its time (a grid built for another model does not). */
export function isGridOf(table: IrsdeTable, sigmas: Sigmas): boolean {
  return sigmas.timesteps.every((t, i) => t >= 0 && t <= table.T && Math.abs(sigmas.sigmas[i] / irsdeLevelAt(table, t) - 1) < 1e-9);
}

export interface IrsdeGridOptions {
  /** Steps N (N + 1 levels). */
  steps: number;
  /** MR Sampler's lambda_min: the grid starts at the largest t whose lambda is at least this (default -inf: t = T). */
  lambdaMin?: number;
}

/** MR Sampler's linspace grid: N + 1 times from max_timestep to 0, as levels s = e^{-lambda} with the model times. */
export function irsdeSigmas(table: IrsdeTable, opts: IrsdeGridOptions): Sigmas {
  const { steps } = opts;
  if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`IR-SDE grid: steps must be a whole number >= 1, got ${steps}`);
  const lambdaMin = opts.lambdaMin ?? -Infinity;
  // torch.searchsorted over lambda ascending (t from T down): how many times have lambda < lambda_min.
  let clipped = 0;
  for (let t = table.T; t >= 0 && table.lambda[t] < lambdaMin; t--) clipped++;
  const maxT = table.T - clipped;
  if (maxT <= 0) throw new Error(`IR-SDE grid: lambda_min ${lambdaMin} leaves no training time (lambda at t = 0 is ${table.lambda[0]})`);
  const times = Array.from({ length: steps + 1 }, (_, i) => (maxT * (steps - i)) / steps);
  return {
    space: 'vp',
    sigmas: times.map((t) => irsdeLevelAt(table, t)),
    timesteps: times.slice(0, steps),
    origin: 'IRSDE',
  };
}
