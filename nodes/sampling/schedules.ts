/**
 * Sampling grids (Sigmas) from a diffusers scheduler_config.json, following the rules of the diffusers
 * scheduler class each solver family comes from (fact sheet section 2):
 *  - DDIMScheduler: integer timesteps, VP levels, the prev_t = t - T//N stepping rule;
 *  - EulerDiscreteScheduler: fractional timesteps, sigmas interpolated linearly in sigma, then 0;
 *  - FlowMatchEulerDiscreteScheduler: sigma = t in [0, 1] with the (double) static shift, then 0.
 * A scheduler config is configuration, not a class: like diffusers' `from_config`, the keys present win
 * and absent keys take the defaults of the class whose rules are applied.
 *
 * Deliberate deviations from diffusers (all below the float32 noise of a sampler run, except where noted):
 *  - levels are float64 (diffusers rounds sigmas to float32); timesteps handed to models ARE rounded to
 *    float32 where diffusers' are float32, since a model sees exactly those values;
 *  - trailing spacing always has exactly N entries: numpy's arange(T, 0, -T/N) yields N + 1 entries for
 *    some N (61, 103, ...), the last being -1, an index diffusers then wraps around;
 *  - with rescale_betas_zero_snr the last abar is floored at 2^-24 for every family (diffusers does this
 *    for Euler/DPM only; DDIM keeps abar = 0): the VE level sqrt((1-abar)/abar) must stay finite. For
 *    DDIM this changes the first x0 prediction by a relative ~2^-12.
 */
import type { SchedulerConfig, Sigmas } from '../core/values.ts';
import { alphasCumprod, betasFromConfig, linspace, trainTimesteps, veSigma } from './betas.ts';
import { sigmaSpace, timestepUnits, toModelTimestep, type TimestepUnits } from './model-time.ts';

/** The abar floor diffusers uses for a zero-terminal-SNR schedule. */
const ZERO_SNR_ABAR = 2 ** -24;
const KARRAS_RHO = 7;

export const TIMESTEP_SPACINGS = ['linspace', 'leading', 'trailing'] as const;
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];

/** Which diffusers scheduler's grid rules a solver uses. */
export type GridFamily = 'ddim' | 'euler' | 'flow';

/** The VP training table: abar per training step and its VE levels. */
export interface VpTable {
  trainSteps: number;
  alphasCumprod: Float64Array;
  /** VE sigma per training step, increasing: sqrt((1 - abar) / abar). */
  sigmas: Float64Array;
}

export interface BuildSigmasOptions {
  /** Flow models with use_dynamic_shifting: the exponent mu, or the image token count to derive it from. */
  mu?: number;
  imageSeqLen?: number;
}

// ---------------------------------------------------------------------------------------------
// Config helpers

function cfgNumber(cfg: SchedulerConfig, key: string, fallback: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`scheduler config: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function cfgBool(cfg: SchedulerConfig, key: string, fallback: boolean): boolean {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new Error(`scheduler config: "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function cfgString<T extends string>(cfg: SchedulerConfig, key: string, options: readonly T[], fallback: T): T {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || !options.includes(v as T)) {
    throw new Error(`scheduler config: "${key}" must be one of ${options.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

function rejectUnsupported(cfg: SchedulerConfig, keys: readonly string[], family: string): void {
  for (const k of keys) {
    if (cfg[k] === true) throw new Error(`scheduler config: "${k}" is not supported yet for ${family} grids`);
  }
}

function checkSteps(steps: number, trainSteps: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${steps}`);
  if (steps > trainSteps) throw new Error(`steps (${steps}) cannot exceed the scheduler's num_train_timesteps (${trainSteps})`);
}

/** numpy's round: half to even. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ---------------------------------------------------------------------------------------------
// VP table and timestep grids

const vpTables = new WeakMap<SchedulerConfig, VpTable>();

/** The model's training table. Memoized per config object (a model's config is read once): treat as read-only. */
export function vpTable(cfg: SchedulerConfig): VpTable {
  const cached = vpTables.get(cfg);
  if (cached) return cached;
  const abar = alphasCumprod(betasFromConfig(cfg));
  if (cfgBool(cfg, 'rescale_betas_zero_snr', false)) abar[abar.length - 1] = ZERO_SNR_ABAR;
  const table = { trainSteps: abar.length, alphasCumprod: abar, sigmas: abar.map(veSigma) };
  vpTables.set(cfg, table);
  return table;
}

/**
 * Descending scheduler timesteps shared by DDIM and (for leading/trailing) Euler, as floats.
 * linspace: round(linspace(0, T-1, N)) for DDIM; Euler keeps them fractional (`rounded` false).
 */
export function spacedTimesteps(spacing: TimestepSpacing, trainSteps: number, steps: number, stepsOffset: number, rounded: boolean): number[] {
  checkSteps(steps, trainSteps);
  const out: number[] = [];
  switch (spacing) {
    case 'linspace': {
      const grid = linspace(0, trainSteps - 1, steps);
      for (let i = steps - 1; i >= 0; i--) out.push(rounded ? roundHalfEven(grid[i]) : Math.fround(grid[i]));
      break;
    }
    case 'leading': {
      const ratio = Math.floor(trainSteps / steps);
      for (let i = steps - 1; i >= 0; i--) out.push(i * ratio + stepsOffset);
      break;
    }
    case 'trailing': {
      const ratio = trainSteps / steps;
      for (let i = 0; i < steps; i++) out.push(roundHalfEven(trainSteps - i * ratio) - 1);
      break;
    }
  }
  return out;
}

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
 * _sigma_to_t). For solvers that evaluate the model between grid levels.
 */
export function sigmaToTimestep(table: VpTable, sigma: number): number {
  const levels = table.sigmas;
  const n = levels.length;
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

/** Karras et al. (2022) levels: rho-spaced between smax and smin, n entries (no trailing 0). */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number, rho = KARRAS_RHO): number[] {
  const a = sigmaMax ** (1 / rho);
  const b = sigmaMin ** (1 / rho);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((a + (n === 1 ? 0 : i / (n - 1)) * (b - a)) ** rho);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Families

/** DDIMScheduler: integer timesteps; each step goes to prev_t = t - T//N (final_alpha_cumprod below 0). */
export function ddimSigmas(cfg: SchedulerConfig, steps: number, units: TimestepUnits = 'scheduler'): Sigmas {
  const table = vpTable(cfg);
  const T = table.trainSteps;
  const spacing = cfgString(cfg, 'timestep_spacing', TIMESTEP_SPACINGS, 'leading');
  const offset = cfgNumber(cfg, 'steps_offset', 0);
  const ts = spacedTimesteps(spacing, T, steps, offset, true);
  for (const t of ts) {
    if (t < 0 || t >= T) throw new Error(`DDIM grid: timestep ${t} is outside [0, ${T}) (check steps_offset ${offset})`);
  }
  // final_alpha_cumprod: abar = 1 (sigma 0) when set_alpha_to_one, else the first training level.
  const finalSigma = cfgBool(cfg, 'set_alpha_to_one', true) ? 0 : table.sigmas[0];
  const jump = Math.floor(T / steps);
  const targets = ts.map((t) => (t - jump >= 0 ? table.sigmas[t - jump] : finalSigma));
  const sigmas = [...ts.map((t) => table.sigmas[t]), targets[targets.length - 1]];
  const out: Sigmas = {
    space: 'vp',
    sigmas,
    timesteps: ts.map((t) => toModelTimestep(t, T, units)),
    origin: 'DDIMScheduler',
  };
  // Only when some step does not land on the next grid level (linspace/trailing spacing).
  if (targets.some((s, i) => s !== sigmas[i + 1])) out.targets = targets;
  return out;
}

/** EulerDiscreteScheduler: sigmas interpolated at (possibly fractional) timesteps, then a final level. */
export function eulerSigmas(cfg: SchedulerConfig, steps: number, units: TimestepUnits = 'scheduler'): Sigmas {
  rejectUnsupported(cfg, ['use_exponential_sigmas', 'use_beta_sigmas'], 'Euler');
  const table = vpTable(cfg);
  const T = table.trainSteps;
  const spacing = cfgString(cfg, 'timestep_spacing', TIMESTEP_SPACINGS, 'linspace');
  const offset = cfgNumber(cfg, 'steps_offset', 0);
  const interpolation = cfgString(cfg, 'interpolation_type', ['linear', 'log_linear'] as const, 'linear');
  let ts = spacedTimesteps(spacing, T, steps, offset, false);
  const finalType = cfgString(cfg, 'final_sigmas_type', ['zero', 'sigma_min'] as const, 'zero');
  const finalLevel = finalType === 'zero' ? 0 : table.sigmas[0];
  // Interpolated levels: N of them, or N + 1 for log_linear (see below).
  const inSigmas =
    interpolation === 'linear'
      ? ts.map((t) => interpTable(table.sigmas, t))
      : Array.from(linspace(Math.log(table.sigmas[T - 1]), Math.log(table.sigmas[0]), steps + 1), Math.exp);
  let levels = inSigmas.slice(0, steps);
  // log_linear: diffusers builds N + 1 geometric levels for N timesteps, so its N steps end on sigma_min
  // and the appended final level is never reached: this grid ends on sigma_min too.
  let last = inSigmas.length > steps ? inSigmas[steps] : finalLevel;
  if (cfgBool(cfg, 'use_karras_sigmas', false)) {
    const smin = cfgNumber(cfg, 'sigma_min', inSigmas[inSigmas.length - 1]);
    const smax = cfgNumber(cfg, 'sigma_max', inSigmas[0]);
    levels = karrasSigmas(smin, smax, steps);
    last = finalLevel;
    ts = levels.map((s) => Math.fround(sigmaToTimestep(table, s)));
  }
  const timestepType = cfgString(cfg, 'timestep_type', ['discrete', 'continuous'] as const, 'discrete');
  const prediction = cfg.prediction_type ?? 'epsilon';
  // diffusers: continuous timesteps (EDM-style v-models) are 0.25 ln(sigma), independent of T.
  const continuous = timestepType === 'continuous' && prediction === 'v_prediction';
  return {
    space: 'vp',
    sigmas: [...levels, last],
    timesteps: continuous ? levels.map((s) => Math.fround(0.25 * Math.log(s))) : ts.map((t) => toModelTimestep(t, T, units)),
    origin: 'EulerDiscreteScheduler',
  };
}

/** SD3 static shift s*sigma / (1 + (s-1)*sigma) (= the FLUX exponential shift with s = e^mu). */
export function shiftSigma(sigma: number, shift: number): number {
  return (shift * sigma) / (1 + (shift - 1) * sigma);
}

/** FLUX mu from the image token count (diffusers calculate_shift with the config's bounds). */
export function fluxMu(cfg: SchedulerConfig, imageSeqLen: number): number {
  const baseLen = cfgNumber(cfg, 'base_image_seq_len', 256);
  const maxLen = cfgNumber(cfg, 'max_image_seq_len', 4096);
  const baseShift = cfgNumber(cfg, 'base_shift', 0.5);
  const maxShift = cfgNumber(cfg, 'max_shift', 1.15);
  const m = (maxShift - baseShift) / (maxLen - baseLen);
  return imageSeqLen * m + (baseShift - m * baseLen);
}

/**
 * FlowMatchEulerDiscreteScheduler. Its __init__ already shifts the training table, so sigma_min =
 * shift(1/T); set_timesteps spaces linspace(1, sigma_min, N) and shifts again (the fact sheet's gotcha).
 * FluxPipeline instead passes linspace(1, 1/N, N) and a dynamic shift mu (`pipelineSigmas`).
 */
export function flowMatchSigmas(
  cfg: SchedulerConfig,
  steps: number,
  units: TimestepUnits = 'scheduler',
  opts: BuildSigmasOptions & { pipelineSigmas?: boolean } = {},
): Sigmas {
  rejectUnsupported(cfg, ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas', 'invert_sigmas', 'stochastic_sampling'], 'flow-matching');
  const T = trainTimesteps(cfg);
  checkSteps(steps, T);
  const shift = cfgNumber(cfg, 'shift', 1);
  const dynamic = cfgBool(cfg, 'use_dynamic_shifting', false);
  let levels: number[];
  if (opts.pipelineSigmas) {
    levels = Array.from(linspace(1, 1 / steps, steps), Math.fround);
  } else {
    // The training table's ends; it is only shifted when the shift is static.
    const sigmaMin = dynamic ? 1 / T : shiftSigma(1 / T, shift);
    levels = Array.from(linspace(T, sigmaMin * T, steps), (t) => t / T);
  }
  if (dynamic) {
    const mu = opts.mu ?? (opts.imageSeqLen !== undefined ? fluxMu(cfg, opts.imageSeqLen) : undefined);
    if (mu === undefined) throw new Error('flow-matching grid: use_dynamic_shifting needs mu or the image token count');
    const type = cfgString(cfg, 'time_shift_type', ['exponential', 'linear'] as const, 'exponential');
    const k = type === 'exponential' ? Math.exp(mu) : mu;
    levels = levels.map((t) => k / (k + (1 / t - 1)));
  } else {
    levels = levels.map((t) => shiftSigma(t, shift));
  }
  const terminal = cfg.shift_terminal;
  if (terminal !== undefined && terminal !== null) {
    if (typeof terminal !== 'number' || !(terminal > 0 && terminal < 1)) throw new Error(`scheduler config: shift_terminal must be in (0, 1), got ${JSON.stringify(terminal)}`);
    // Stretch so the last level is exactly shift_terminal.
    const scale = (1 - levels[levels.length - 1]) / (1 - terminal);
    levels = levels.map((t) => 1 - (1 - t) / scale);
  }
  return {
    space: 'flow',
    sigmas: [...levels, 0],
    timesteps: levels.map((s) => (units === 'fraction' ? s : Math.fround(s * T))),
    origin: 'FlowMatchEulerDiscreteScheduler',
  };
}

// ---------------------------------------------------------------------------------------------
// Entry points

/** The grid rules each solver follows on a VP model (flow models always use the flow-matching grid). */
const SOLVER_GRID: Record<string, GridFamily> = {
  ddim: 'ddim',
  euler: 'euler',
};

export function gridFamily(space: 'vp' | 'flow', solver: string): GridFamily {
  if (space === 'flow') return 'flow';
  const family = SOLVER_GRID[solver];
  if (!family) throw new Error(`No schedule rules for solver "${solver}" (known: ${Object.keys(SOLVER_GRID).join(', ')})`);
  return family;
}

/** The sampling grid a model's scheduler config gives for `steps` steps of `solver`. */
export function buildSigmas(
  scheduler: SchedulerConfig,
  modelIndex: Record<string, unknown>,
  steps: number,
  solver: string,
  opts: BuildSigmasOptions = {},
): Sigmas {
  const space = sigmaSpace(modelIndex, scheduler);
  const units = timestepUnits(modelIndex);
  switch (gridFamily(space, solver)) {
    case 'ddim':
      return ddimSigmas(scheduler, steps, units);
    case 'euler':
      return eulerSigmas(scheduler, steps, units);
    case 'flow': {
      const cls = modelIndex._class_name;
      return flowMatchSigmas(scheduler, steps, units, { ...opts, pipelineSigmas: typeof cls === 'string' && cls.startsWith('Flux') });
    }
  }
}

/**
 * Scale of the pure noise a full-denoise run starts from, in sampling variables (VE for 'vp'), as the
 * diffusers pipelines do: latents = randn * init_noise_sigma. DDIM's VP sample randn is randn/alpha in VE;
 * Euler's init_noise_sigma is sigma_max for linspace/trailing spacing and sqrt(sigma_max^2 + 1) for
 * leading; flow starts from randn. Grids of unknown origin get the exact VP value sqrt(sigma_0^2 + 1).
 */
export function initNoiseSigma(sigmas: Sigmas, scheduler: SchedulerConfig): number {
  if (sigmas.space === 'flow') return 1;
  const smax = Math.max(...sigmas.sigmas);
  if (sigmas.origin === 'EulerDiscreteScheduler') {
    const spacing = cfgString(scheduler, 'timestep_spacing', TIMESTEP_SPACINGS, 'linspace');
    return spacing === 'leading' ? Math.sqrt(smax * smax + 1) : smax;
  }
  return Math.sqrt(sigmas.sigmas[0] ** 2 + 1);
}
