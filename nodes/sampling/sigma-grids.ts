/**
 * The building blocks of VP sampling grids, as diffusers' schedulers compute them (fact sheet section 2):
 * the training table, timestep spacings, table interpolation both ways, and the Karras / exponential /
 * Lu-lambda level grids. Pure functions of numbers; the per-scheduler rules live in schedule-vp.ts.
 */
import type { SchedulerConfig } from '../core/values.ts';
import { linspace } from './betas.ts';
import { diffusersVpTable, float32VeSigma } from './float32-table.ts';
import { betaPpf } from './beta-distribution.ts';
import { cfgBool } from './schedule-config.ts';

/** The abar floor diffusers uses for a zero-terminal-SNR schedule (fp16's smallest subnormal). */
const ZERO_SNR_ABAR = 2 ** -24;
const KARRAS_RHO = 7;

export const TIMESTEP_SPACINGS = ['linspace', 'leading', 'trailing'] as const;
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];

/** The VP training table: abar per training step and its VE levels. */
export interface VpTable {
  trainSteps: number;
  alphasCumprod: Float64Array;
  /** VE sigma per training step, increasing: sqrt((1 - abar) / abar). */
  sigmas: Float64Array;
}

/** numpy's round: half to even. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function checkSteps(steps: number, trainSteps: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${steps}`);
  if (steps > trainSteps) throw new Error(`steps (${steps}) cannot exceed the scheduler's num_train_timesteps (${trainSteps})`);
}

// ---------------------------------------------------------------------------------------------
// Training table

const vpTables = new WeakMap<SchedulerConfig, Map<boolean, VpTable>>();

/**
 * The model's training table, in diffusers' float32 values (float32-table.ts). `zeroSnr` false ignores
 * rescale_betas_zero_snr (classes without that key). With the rescale, the last abar is floored at 2^-24 as
 * diffusers' Euler/DPM/UniPC do, so the top VE level stays finite. Memoized per config object (a model's
 * config is read once): treat as read-only.
 */
export function vpTable(cfg: SchedulerConfig, zeroSnr = true): VpTable {
  let byFlag = vpTables.get(cfg);
  if (!byFlag) vpTables.set(cfg, (byFlag = new Map()));
  const cached = byFlag.get(zeroSnr);
  if (cached) return cached;
  const table = diffusersVpTable(cfg, zeroSnr);
  if (zeroSnr && cfgBool(cfg, 'rescale_betas_zero_snr', false)) {
    const last = table.trainSteps - 1;
    table.alphasCumprod[last] = ZERO_SNR_ABAR;
    table.sigmas[last] = float32VeSigma(ZERO_SNR_ABAR);
  }
  byFlag.set(zeroSnr, table);
  return table;
}

/** VE level at training step 0 (diffusers final_sigmas_type "sigma_min"). */
export function tableSigmaMin(table: VpTable): number {
  return table.sigmas[0];
}

// ---------------------------------------------------------------------------------------------
// Timestep spacings

/**
 * Entry i of numpy's float64 arange(start, 0, -step): start, start - step, then start + i * delta with delta =
 * (start - step) - start, since its fill recomputes the step from the first two entries. That delta can differ
 * from -step in the last bits, enough to move an entry across a .5 boundary before rounding (T = 1000: N = 48
 * gives 937.4999999999999 where i * T/N gives 937.5; so do 96, 112, 144, ...).
 */
export function arangeDown(start: number, step: number, i: number): number {
  if (i === 0) return start;
  const second = start - step;
  return i === 1 ? second : start + i * (second - start);
}

/**
 * numpy round(arange(last, 0, -T/N)) - 1, descending (arangeDown). numpy's float arange can yield one entry too many
 * (N = 61, 103, ... with last = T), whose value is -1. diffusers then runs N + 1 steps: DDIM and the
 * multistep classes index their tables at -1 (the noisiest level, wrapped around), the Euler family
 * interpolates a sigma at t = -1 (sigma_min) and calls the model with t = -1. Such entries are dropped
 * (deliberate deviation), so an unclipped table always gives exactly N entries.
 */
function trailingTimesteps(last: number, trainSteps: number, steps: number): number[] {
  const ratio = trainSteps / steps;
  const count = Math.ceil(last / ratio);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = roundHalfEven(arangeDown(last, ratio, i)) - 1;
    if (t >= 0) out.push(t);
  }
  return out;
}

/**
 * Descending timesteps of the DDIM and Euler-family schedulers (one per step).
 * linspace: linspace(0, T-1, N), numpy-rounded for 'round' (DDIM), else kept fractional: in float32 (the
 * Euler classes' np.linspace(..., dtype=np.float32)) or float64 (DPMSolverSDEScheduler's dtype=float);
 * leading: multiples of T//N plus steps_offset; trailing: see trailingTimesteps.
 */
export function spacedTimesteps(
  spacing: TimestepSpacing,
  trainSteps: number,
  steps: number,
  stepsOffset: number,
  linspaceAs: 'round' | 'float32' | 'float64',
): number[] {
  checkSteps(steps, trainSteps);
  const out: number[] = [];
  switch (spacing) {
    case 'linspace': {
      const grid = linspace(0, trainSteps - 1, steps);
      const as = linspaceAs === 'round' ? roundHalfEven : linspaceAs === 'float32' ? Math.fround : (v: number) => v;
      for (let i = steps - 1; i >= 0; i--) out.push(as(grid[i]));
      return out;
    }
    case 'leading': {
      const ratio = Math.floor(trainSteps / steps);
      for (let i = steps - 1; i >= 0; i--) out.push(i * ratio + stepsOffset);
      return out;
    }
    case 'trailing':
      return trailingTimesteps(trainSteps, trainSteps, steps);
  }
}

/**
 * Descending integer timesteps of the multistep schedulers (DPM-Solver multistep/singlestep, UniPC, DEIS):
 * linspace and leading space N + 1 points and drop the last (t = 0); `last` is the clipped table length
 * (DPM-Solver's lambda_min_clipped), T otherwise.
 */
export function multistepTimesteps(spacing: TimestepSpacing, trainSteps: number, steps: number, stepsOffset: number, last = trainSteps): number[] {
  checkSteps(steps, trainSteps);
  const out: number[] = [];
  switch (spacing) {
    case 'linspace': {
      const grid = linspace(0, last - 1, steps + 1);
      for (let i = steps; i >= 1; i--) out.push(roundHalfEven(grid[i]));
      return out;
    }
    case 'leading': {
      const ratio = Math.floor(last / (steps + 1));
      for (let i = steps; i >= 1; i--) out.push(i * ratio + stepsOffset);
      return out;
    }
    case 'trailing':
      return trailingTimesteps(last, trainSteps, steps);
  }
}

/**
 * DPM-Solver's lambda_min_clipped: the table length kept when levels with lambda = ln(alpha/sigma) below
 * the bound are cut (torch.searchsorted on the ascending flipped lambdas, left side).
 */
export function clippedTableLength(table: VpTable, lambdaMin: number): number {
  if (!(lambdaMin > -Infinity)) return table.trainSteps;
  let below = 0;
  // lambda_t = -ln(sigma_ve), decreasing in t; count the entries below the bound.
  for (let t = 0; t < table.trainSteps; t++) if (-Math.log(table.sigmas[t]) < lambdaMin) below++;
  // Nothing left: diffusers goes on with timesteps below 0 (noisiest_timestep -1).
  if (below === table.trainSteps) {
    throw new Error(`scheduler config: lambda_min_clipped ${lambdaMin} cuts every training step (the least noisy one has lambda ${(-Math.log(table.sigmas[0])).toPrecision(4)}): lower it`);
  }
  return table.trainSteps - below;
}

// ---------------------------------------------------------------------------------------------
// Table interpolation

/** Linear interpolation of a per-training-step table at a fractional index (numpy interp, clamped). */
export function interpTable(table: ArrayLike<number>, t: number): number {
  const last = table.length - 1;
  if (t <= 0) return table[0];
  if (t >= last) return table[last];
  const i = Math.floor(t);
  const f = t - i;
  return f === 0 ? table[i] : table[i] + f * (table[i + 1] - table[i]);
}

/**
 * Fractional training index of a VE level by linear interpolation in ln(sigma) (diffusers/k-diffusion
 * _sigma_to_t). For grids given as levels, and for solvers that evaluate the model between grid levels.
 */
export function sigmaToTimestep(table: VpTable, sigma: number): number {
  const levels = table.sigmas;
  const n = levels.length;
  // diffusers' _sigma_to_t clips its index to n - 2 and reads past the table there.
  if (n < 2) throw new Error(`a level between training steps needs a training table of 2 or more levels to interpolate in; this one has ${n} (num_train_timesteps, or the length of trained_betas)`);
  const s = Math.max(sigma, 1e-10);
  // lo = the last index whose level is <= sigma (0 if none), clipped to n - 2; the table increases.
  let lo = 0;
  if (s >= levels[0]) {
    let hi = n - 1;
    if (s >= levels[hi]) lo = hi;
    else {
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (levels[mid] <= s) lo = mid;
        else hi = mid;
      }
    }
    lo = Math.min(lo, n - 2);
  }
  const low = Math.log(levels[lo]);
  const high = Math.log(levels[lo + 1]);
  const w = Math.min(1, Math.max(0, (low - Math.log(s)) / (low - high)));
  return (1 - w) * lo + w * (lo + 1);
}

// ---------------------------------------------------------------------------------------------
// Level grids (n levels from sigmaMax down to sigmaMin, no trailing 0)

/** Karras et al. (2022): levels evenly spaced in sigma^(1/rho). */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number, rho = KARRAS_RHO): number[] {
  const a = sigmaMax ** (1 / rho);
  const b = sigmaMin ** (1 / rho);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((a + (n === 1 ? 0 : i / (n - 1)) * (b - a)) ** rho);
  return out;
}

/** Levels evenly spaced in ln(sigma) (diffusers use_exponential_sigmas). */
export function exponentialSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  return Array.from(linspace(Math.log(sigmaMax), Math.log(sigmaMin), n), Math.exp);
}

/**
 * Lee et al. (2024), "Beta Sampling is All You Need" (diffusers use_beta_sigmas): sigma_min + q (sigma_max -
 * sigma_min) at the Beta(alpha, beta) quantiles q of 1 - linspace(0, 1, n), so the levels crowd at both ends
 * (alpha = beta = 0.6, diffusers' fixed values).
 */
export function betaSigmas(sigmaMin: number, sigmaMax: number, n: number, alpha = 0.6, beta = 0.6): number[] {
  return Array.from(linspace(0, 1, n), (u) => sigmaMin + betaPpf(1 - u, alpha, beta) * (sigmaMax - sigmaMin));
}

/** The grids built as n levels between two bounds (sigma_min / sigma_max keys or the table's ends). */
export const BOUNDED_GRIDS = ['karras', 'exponential', 'beta'] as const;
export type BoundedGrid = (typeof BOUNDED_GRIDS)[number];

export function isBoundedGrid(grid: string): grid is BoundedGrid {
  return (BOUNDED_GRIDS as readonly string[]).includes(grid);
}

/** N levels of a Karras / exponential / beta / Lu grid from sigmaMax down to sigmaMin. */
export function levelGrid(grid: BoundedGrid | 'lu_lambda', sigmaMin: number, sigmaMax: number, n: number): number[] {
  checkGridBounds(grid, sigmaMin, sigmaMax);
  if (grid === 'karras') return karrasSigmas(sigmaMin, sigmaMax, n);
  if (grid === 'exponential') return exponentialSigmas(sigmaMin, sigmaMax, n);
  if (grid === 'beta') return betaSigmas(sigmaMin, sigmaMax, n);
  return luLambdaSigmas(sigmaMin, sigmaMax, n);
}

/**
 * A bounded grid runs down from sigma_max to sigma_min: bounds out of order gave a rising grid, and a log
 * grid reaching 0, NaN levels. The bounds come from the scheduler config's sigma_min / sigma_max when it
 * has them, which is where a wrong pair usually comes from.
 */
function checkGridBounds(grid: string, sigmaMin: number, sigmaMax: number): void {
  const logGrid = grid === 'exponential' || grid === 'lu_lambda';
  const ok = Number.isFinite(sigmaMin) && Number.isFinite(sigmaMax) && sigmaMax >= sigmaMin && (logGrid ? sigmaMin > 0 : sigmaMin >= 0);
  if (!ok) {
    throw new Error(
      `${grid === 'lu_lambda' ? 'Lu lambda' : grid} levels need finite bounds with ${logGrid ? '0 < sigma_min' : '0 <= sigma_min'} <= sigma_max, got sigma_min ${sigmaMin} and sigma_max ${sigmaMax} (a scheduler config's sigma_min and sigma_max set them when it has them)`,
    );
  }
}

/**
 * Lu et al. (DPM-Solver): levels evenly spaced in lambda = ln(alpha/sigma) = -ln(sigma_ve), i.e. the
 * exponential grid written as diffusers' _convert_to_lu computes it (a rho = 1 ramp in log sigma).
 */
export function luLambdaSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const hi = Math.log(sigmaMax);
  const lo = Math.log(sigmaMin);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.exp(hi + (n === 1 ? 0 : i / (n - 1)) * (lo - hi)));
  return out;
}
