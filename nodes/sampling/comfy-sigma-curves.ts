/**
 * ComfyUI's stand-alone sigma schedulers (its KarrasScheduler, ExponentialScheduler, PolyexponentialScheduler,
 * LaplaceScheduler, VPScheduler, AlignYourStepsScheduler, GITSScheduler, SDTurboScheduler and
 * BetaSamplingScheduler nodes, and OptimalStepsScheduler), written from their definitions (reference only). Each returns the
 * descending levels its node returns, float32 values as torch holds them, with a final 0 except Laplace,
 * whose ComfyUI function returns the levels alone (the run then ends at its last level).
 *
 * The formula curves run k-diffusion's float32 torch arithmetic: a Python-float operand is rounded to
 * float32 before it meets a float32 tensor. The published tables (Align Your Steps, GITS: SD-family VE
 * sigmas; Optimal Steps: flow times) are resampled log-linearly in float64 (numpy) for other step counts.
 */
import { betaPpf } from './beta-distribution.ts';
import { linspace } from './betas.ts';
import type { ComfyModelSampling } from './comfy-schedules.ts';
import { GITS_NOISE_LEVELS } from './gits-noise-levels.ts';
import { roundHalfEven } from './sigma-grids.ts';
import { linspaceF32 } from './torch-linspace.ts';
import { quoted } from '../core/quote.ts';

const f32 = Math.fround;

export const COMFY_SIGMA_CURVES = ['align_your_steps', 'gits', 'optimal_steps', 'karras', 'exponential', 'polyexponential', 'laplace', 'vp', 'sd_turbo', 'beta', 'manual'] as const;
export type ComfySigmaCurve = (typeof COMFY_SIGMA_CURVES)[number];

/**
 * Align Your Steps' optimised 10-step levels (NVIDIA's published values, as ComfyUI's node ships them), for
 * SD 1.x, SDXL and Stable Video Diffusion: VE sigmas, descending, the last one each family's sigma_min.
 */
export const AYS_NOISE_LEVELS = {
  SD1: [14.6146412293, 6.4745760956, 3.8636745985, 2.694615152, 1.8841921177, 1.3943805092, 0.9642583904, 0.6523686016, 0.3977456272, 0.1515232662, 0.0291671582],
  SDXL: [14.6146412293, 6.3184485287, 3.7681790315, 2.1811480769, 1.3405244945, 0.8620721141, 0.5550693289, 0.3798540708, 0.2332364134, 0.1114188177, 0.0291671582],
  SVD: [700.0, 54.5, 15.886, 7.977, 4.248, 1.789, 0.981, 0.403, 0.173, 0.034, 0.002],
} as const satisfies Record<string, readonly number[]>;
export type AysModelType = keyof typeof AYS_NOISE_LEVELS;
export const AYS_MODEL_TYPES = Object.keys(AYS_NOISE_LEVELS) as AysModelType[];

/**
 * Optimal Steps' searched levels (bebebe666/OptimalSteps, as ComfyUI's OptimalStepsScheduler ships them) for
 * FLUX (10 steps), Wan (20) and Chroma (40): flow times t, descending.
 */
export const OSS_NOISE_LEVELS = {
  FLUX: [0.9968, 0.9886, 0.9819, 0.975, 0.966, 0.9471, 0.9158, 0.8287, 0.5512, 0.2808, 0.001],
  Wan: [1.0, 0.997, 0.995, 0.993, 0.991, 0.989, 0.987, 0.985, 0.98, 0.975, 0.973, 0.968, 0.96, 0.946, 0.927, 0.902, 0.864, 0.776, 0.539, 0.208, 0.001],
  Chroma: [
    0.992, 0.99, 0.988, 0.985, 0.982, 0.978, 0.973, 0.968, 0.961, 0.953, 0.943, 0.931, 0.917, 0.9, 0.881, 0.858, 0.832, 0.802, 0.769, 0.731, 0.69,
    0.646, 0.599, 0.55, 0.501, 0.451, 0.402, 0.355, 0.311, 0.27, 0.232, 0.199, 0.169, 0.143, 0.12, 0.101, 0.084, 0.07, 0.058, 0.048, 0.001,
  ],
} as const satisfies Record<string, readonly number[]>;
export type OssModelType = keyof typeof OSS_NOISE_LEVELS;
export const OSS_MODEL_TYPES = Object.keys(OSS_NOISE_LEVELS) as OssModelType[];

/** GITS' coefficients with a table: 0.80 to 1.50 in steps of 0.05. */
export const GITS_COEFFS = Object.keys(GITS_NOISE_LEVELS).map(Number).sort((a, b) => a - b);

/** torch's pow(tensor, scalar) on float32 values: exponents 1, 2, 3 and 0.5 take its exact shortcuts. */
function powF32(x: number, e: number): number {
  if (e === 1) return x;
  if (e === 2) return f32(x * x);
  if (e === 3) return f32(f32(x * x) * x);
  if (e === 0.5) return f32(Math.sqrt(x));
  return f32(x ** e);
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`steps must be a positive integer, got ${n}`);
}

function checkRange(sigmaMin: number, sigmaMax: number): void {
  if (!(sigmaMin > 0 && sigmaMax > sigmaMin && Number.isFinite(sigmaMax))) {
    throw new Error(`the sigma range needs 0 < sigma_min < sigma_max, got sigma_min ${sigmaMin}, sigma_max ${sigmaMax}`);
  }
}

/** get_sigmas_karras: (max^(1/rho) + ramp (min^(1/rho) - max^(1/rho)))^rho over a float32 ramp 0..1, then 0. */
export function karrasCurve(n: number, sigmaMin: number, sigmaMax: number, rho: number): number[] {
  checkCount(n);
  checkRange(sigmaMin, sigmaMax);
  if (!(rho > 0)) throw new Error(`rho must be positive, got ${rho}`);
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  const c = f32(minInv - maxInv);
  return [...linspaceF32(0, 1, n).map((r) => powF32(f32(f32(r * c) + f32(maxInv)), rho)), 0];
}

/** get_sigmas_exponential: levels uniform in log sigma (a float32 linspace of the logs), then 0. */
export function exponentialCurve(n: number, sigmaMin: number, sigmaMax: number): number[] {
  checkCount(n);
  checkRange(sigmaMin, sigmaMax);
  return [...linspaceF32(Math.log(sigmaMax), Math.log(sigmaMin), n).map((v) => f32(Math.exp(v))), 0];
}

/** get_sigmas_polyexponential: log sigma = log min + ramp^rho (log max - log min), ramp 1..0, then 0. */
export function polyexponentialCurve(n: number, sigmaMin: number, sigmaMax: number, rho: number): number[] {
  checkCount(n);
  checkRange(sigmaMin, sigmaMax);
  if (!(rho > 0)) throw new Error(`rho must be positive, got ${rho}`);
  const span = f32(Math.log(sigmaMax) - Math.log(sigmaMin));
  const base = f32(Math.log(sigmaMin));
  return [...linspaceF32(1, 0, n).map((r) => f32(Math.exp(f32(f32(powF32(r, rho) * span) + base)))), 0];
}

/**
 * get_sigmas_laplace (Tiankai et al. 2024): log sigma = mu - beta sign(0.5 - x) log(1 - 2|0.5 - x| + 1e-5)
 * for x uniform in [0, 1], clamped to [sigma_min, sigma_max]. ComfyUI returns these n levels with no final
 * 0, so a run on them ends at sigma_min.
 */
export function laplaceCurve(n: number, sigmaMin: number, sigmaMax: number, mu: number, beta: number): number[] {
  checkCount(n);
  checkRange(sigmaMin, sigmaMax);
  if (!(beta > 0)) throw new Error(`beta must be positive, got ${beta}`);
  const lo = f32(sigmaMin);
  const hi = f32(sigmaMax);
  const eps = f32(1e-5);
  return linspaceF32(0, 1, n).map((x) => {
    const d = f32(0.5 - x);
    const log = f32(Math.log(f32(f32(1 - f32(2 * Math.abs(d))) + eps)));
    const lambda = f32(f32(mu) - f32(f32(f32(beta) * Math.sign(d)) * log));
    return Math.min(Math.max(f32(Math.exp(lambda)), lo), hi);
  });
}

/** get_sigmas_vp: the continuous VP SDE's sigma(t) = sqrt(expm1(beta_d t^2 / 2 + beta_min t)), t = 1 .. eps_s, then 0. */
export function vpCurve(n: number, betaD: number, betaMin: number, epsS: number): number[] {
  checkCount(n);
  if (!(betaD >= 0 && betaMin >= 0 && betaD + betaMin > 0)) throw new Error(`beta_d and beta_min must be >= 0, not both 0; got ${betaD}, ${betaMin}`);
  if (!(epsS > 0 && epsS < 1)) throw new Error(`eps_s must be in (0, 1), got ${epsS}`);
  const bd = f32(betaD);
  const bm = f32(betaMin);
  return [
    ...linspaceF32(1, epsS, n).map((t) => {
      const exponent = f32(f32(f32(bd * f32(t * t)) / 2) + f32(bm * t));
      return f32(Math.sqrt(f32(Math.expm1(exponent))));
    }),
    0,
  ];
}

/**
 * numpy's interp of `values` on knots linspace(0, 1) at the points linspace(0, 1, m): the line through the two
 * neighbouring knots, a knot's own value where x hits one (numpy's formula, for its rounding).
 */
function interpLinspace(values: readonly number[], m: number): number[] {
  const knots = values.length;
  const xs = linspace(0, 1, knots);
  const out: number[] = [];
  for (const x of linspace(0, 1, m)) {
    let j = 0;
    while (j < knots - 1 && xs[j + 1] <= x) j++;
    if (j === knots - 1 || xs[j] === x) out.push(values[j]);
    else out.push(((values[j + 1] - values[j]) / (xs[j + 1] - xs[j])) * (x - xs[j]) + values[j]);
  }
  return out;
}

/** loglinear_interp: a descending level list resampled to `m` levels, linearly in log sigma over a uniform index (float64). */
export function loglinearInterp(levels: readonly number[], m: number): number[] {
  if (levels.length < 2 || m < 2) throw new Error('log-linear interpolation needs at least two levels each side');
  const logs = [...levels].reverse().map(Math.log);
  return interpLinspace(logs, m).map(Math.exp).reverse();
}

/**
 * How a tabled schedule is cut for denoise < 1 (AlignYourStepsScheduler, GITSScheduler): the last
 * round(steps * denoise) steps (Python's round, half to even); the final level becomes 0. Empty at denoise 0.
 */
function cutTabled(levels: readonly number[], steps: number, denoise: number): number[] {
  if (!(denoise >= 0 && denoise <= 1)) throw new Error(`denoise must be in [0, 1], got ${denoise}`);
  if (denoise <= 0) return [];
  const total = denoise < 1 ? roundHalfEven(steps * denoise) : steps;
  const out = levels.slice(-(total + 1)).map(f32);
  out[out.length - 1] = 0;
  return out;
}

/** A published level list for `steps` steps: itself when it has steps + 1 levels, else resampled log-linearly; then cut for denoise. */
function tabledSchedule(table: readonly number[], steps: number, denoise: number): number[] {
  const levels = steps + 1 === table.length ? [...table] : loglinearInterp(table, steps + 1);
  return cutTabled(levels, steps, denoise);
}

/** AlignYourStepsScheduler: the family's 10-step levels, log-linearly resampled to `steps`; then cut for denoise. */
export function alignYourSteps(modelType: AysModelType, steps: number, denoise: number): number[] {
  checkCount(steps);
  const table = AYS_NOISE_LEVELS[modelType];
  if (!table) throw new Error(`Align Your Steps has levels for ${AYS_MODEL_TYPES.join(', ')}, not "${modelType}"`);
  return tabledSchedule(table, steps, denoise);
}

/** OptimalStepsScheduler: the model family's searched flow levels, log-linearly resampled to `steps` (at least 3); then cut for denoise. */
export function optimalSteps(modelType: OssModelType, steps: number, denoise: number): number[] {
  if (!Number.isInteger(steps) || steps < 3) throw new Error(`Optimal Steps needs at least 3 steps, got ${steps}`);
  const table = OSS_NOISE_LEVELS[modelType];
  if (!table) throw new Error(`Optimal Steps has levels for ${OSS_MODEL_TYPES.join(', ')}, not "${modelType}"`);
  return tabledSchedule(table, steps, denoise);
}

/** The GITS table of a coefficient, which must be one of GITS_COEFFS (ComfyUI keys it by round(coeff, 2)). */
function gitsTable(coeff: number): readonly (readonly number[])[] {
  const key = Math.round(coeff * 100);
  const table = Math.abs(coeff * 100 - key) < 1e-6 ? GITS_NOISE_LEVELS[(key / 100).toFixed(2)] : undefined;
  if (!table) throw new Error(`GITS has tables for coeff ${GITS_COEFFS.map((c) => c.toFixed(2)).join(', ')}; got ${coeff}`);
  return table;
}

/**
 * GITSScheduler (Chen et al., "On the Trajectory Regularity of ODE-based Diffusion Sampling"): the searched
 * levels for 2..20 steps; above 20, the 20-step levels log-linearly resampled. Then cut for denoise.
 */
export function gitsLevels(coeff: number, steps: number, denoise: number): number[] {
  if (!Number.isInteger(steps) || steps < 2) throw new Error(`GITS needs at least 2 steps, got ${steps}`);
  const table = gitsTable(coeff);
  const levels = steps <= 20 ? [...table[steps - 2]] : loglinearInterp(table[table.length - 1], steps + 1);
  return cutTabled(levels, steps, denoise);
}

/**
 * SDTurboScheduler: the model's levels at timesteps 999, 899, ..., 99, from the step denoise puts first
 * (10 - int(10 denoise)), `steps` of them (at most 10), then 0.
 */
export function sdTurboLevels(ms: ComfyModelSampling, steps: number, denoise: number): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > 10) throw new Error(`SD Turbo's schedule takes 1 to 10 steps, got ${steps}`);
  if (!(denoise >= 0 && denoise <= 1)) throw new Error(`denoise must be in [0, 1], got ${denoise}`);
  const start = 10 - Math.trunc(10 * denoise);
  const timesteps = Array.from({ length: 10 }, (_, i) => (10 - i) * 100 - 1).slice(start, start + steps);
  return [...timesteps.map((t) => ms.sigma(t)), 0];
}

/**
 * beta_scheduler (BetaSamplingScheduler, and the KSampler's `beta` at alpha = beta = 0.6): training steps at
 * the Beta(alpha, beta) quantiles 1 - i/steps, rounded half to even, repeats dropped, then 0. Deliberate
 * deviation: with alpha = beta and an even step count the middle quantile is exactly 1/2, a half training
 * step; ComfyUI rounds whatever last bit scipy's quantile has (for about half of such alpha one step lower),
 * FlowStudio the exact value.
 */
export function betaSamplingLevels(ms: ComfyModelSampling, steps: number, alpha: number, beta: number): number[] {
  checkCount(steps);
  if (!(alpha > 0 && beta > 0)) throw new Error(`the Beta distribution needs alpha > 0 and beta > 0, got ${alpha}, ${beta}`);
  const total = ms.table.length - 1;
  const out: number[] = [];
  let last = -1;
  const step = 1 / steps; // numpy linspace(0, 1, steps, endpoint=False) = arange(steps) * (1 / steps)
  for (let i = 0; i < steps; i++) {
    const q = 1 - i * step;
    // A symmetric distribution's median is exactly 1/2, which puts that level on a half training step: the
    // exact quantile rounds it to the even step (scipy's, a last bit off either way, rounds it either way).
    const u = alpha === beta && q === 0.5 ? 0.5 : betaPpf(q, alpha, beta);
    const t = roundHalfEven(u * total);
    if (t !== last) out.push(ms.table[t]);
    last = t;
  }
  out.push(0);
  return out;
}

/**
 * ManualSigmas: the levels typed into a text, read as ComfyUI's node reads them: every match of
 * [-+]?(?:\d*\.*\d+), each through Python's float, into a float32 tensor, in the order given. Its pattern has no
 * exponent: "1e-3" reads as the two numbers 1 and -3 (which the caller then refuses as a level), and a match
 * Python's float refuses ("1..5") is an error here too.
 */
export function manualSigmas(text: string): number[] {
  const tokens = text.match(/[-+]?(?:\d*\.*\d+)/g) ?? [];
  return tokens.map((token) => {
    if ((token.match(/\./g) ?? []).length > 1) throw new Error(`${quoted(token)} in the sigma list is not a number`);
    return Math.fround(Number(token));
  });
}
