/**
 * Sampling grids of VP (diffusion) models, per diffusers scheduler family (fact sheet section 2):
 *  - DDIMScheduler: integer timesteps, table levels, each step to prev_t = t - T//N (`targets`);
 *  - Euler family (Euler, Euler ancestral, Heun, LMS): fractional timesteps, sigmas interpolated linearly;
 *  - multistep family (DPM-Solver multi/singlestep, UniPC, DEIS): integer timesteps from N + 1 spaced
 *    points with the last dropped; Karras/Lu/exponential levels map back to (rounded) integer timesteps.
 * Levels are VE sigmas sqrt((1 - abar) / abar); timesteps are converted to the model's units.
 *
 * Deliberate deviations from diffusers (all below the float32 noise of a sampler run, except where noted):
 *  - the training table holds diffusers' float32 values (float32-table.ts), but the levels between its
 *    entries are float64 (diffusers: float32); timesteps a model sees ARE rounded as diffusers rounds them
 *    (float32 for Euler, integers for DDIM/multistep), since a model sees exactly those;
 *  - trailing spacing never yields the extra -1 entry numpy's float arange gives for some N (61, 103, ...);
 *  - with rescale_betas_zero_snr DDIM's last abar is floored at 2^-24 like the other families (diffusers'
 *    DDIM keeps 0): the VE level must stay finite. This changes DDIM's first x0 prediction by ~2^-12;
 *  - class defaults of beta_start/beta_end (Heun's differ) are not applied: configs always carry them;
 *  - overrides (Schedule node) may ask a class for grids it lacks (Karras on DDIM, Lu on UniPC, ...): then
 *    the family's own rule for such levels is used (integer timesteps for DDIM/multistep, fractional for Euler).
 */
import { diffusersFloat32Table } from './float32-table.ts';
import type { SchedulerConfig, Sigmas } from '../core/values.ts';
import { linspace } from './betas.ts';
import { toModelTimestep, type TimestepUnits } from './model-time.ts';
import { cfgBool, cfgInt, cfgNumber, cfgOptionalNumber, cfgString } from './schedule-config.ts';
import { configGrid, SCHEDULER_RULES, type FinalSigmasType, type SchedulerClass, type SigmaGrid } from './schedule-rules.ts';
import {
  checkSteps,
  clippedTableLength,
  interpTable,
  isBoundedGrid,
  levelGrid,
  multistepTimesteps,
  roundHalfEven,
  sigmaToTimestep,
  spacedTimesteps,
  TIMESTEP_SPACINGS,
  vpTable,
  type TimestepSpacing,
  type VpTable,
} from './sigma-grids.ts';

/** What a Schedule node (or caller) may change on top of the model's scheduler config. */
export interface ScheduleOverrides {
  /** Replaces timestep_spacing. */
  spacing?: TimestepSpacing;
  /** Replaces use_karras_sigmas / use_exponential_sigmas / use_lu_lambdas ('spaced': none of them). */
  grid?: SigmaGrid;
  /** Replaces final_sigmas_type (DDIM: zero = set_alpha_to_one, sigma_min = not). */
  finalSigmasType?: FinalSigmasType;
  /** Flow models: a static shift replacing shift / flow_shift and dynamic shifting. */
  shift?: number;
  /** grid 'custom': the levels, descending; the last is where the last step lands (0 to end clean). */
  customSigmas?: readonly number[];
}

/** Checks a custom level list: at least two finite, non-negative, strictly decreasing entries. */
export function checkCustomSigmas(levels: readonly number[] | undefined, max = Infinity): readonly number[] {
  if (!levels || levels.length < 2) throw new Error('custom sigmas: give at least two levels (the last is where sampling ends, e.g. 0)');
  levels.forEach((s, i) => {
    if (!Number.isFinite(s) || s < 0 || s > max) throw new Error(`custom sigmas: level ${i + 1} (${s}) must be a finite number in [0, ${max}]`);
    if (i > 0 && !(s < levels[i - 1])) throw new Error(`custom sigmas: levels must decrease (level ${i + 1} = ${s} follows ${levels[i - 1]})`);
  });
  return levels;
}

function spacingOf(cfg: SchedulerConfig, fallback: TimestepSpacing | undefined, ov: ScheduleOverrides): TimestepSpacing {
  if (ov.spacing) return ov.spacing;
  return fallback ? cfgString(cfg, 'timestep_spacing', TIMESTEP_SPACINGS, fallback) : 'linspace';
}

function finalTypeOf(cfg: SchedulerConfig, final: 'key' | 'zero' | 'sigma_min', ov: ScheduleOverrides): FinalSigmasType {
  if (ov.finalSigmasType) return ov.finalSigmasType;
  return final === 'key' ? cfgString(cfg, 'final_sigmas_type', ['zero', 'sigma_min'] as const, 'zero') : final;
}

function gridOf(cfg: SchedulerConfig, cls: SchedulerClass, ov: ScheduleOverrides): SigmaGrid {
  return ov.grid ?? configGrid(cfg, SCHEDULER_RULES[cls], cls);
}

/** Integer timesteps of explicit levels: rounded for Karras/Lu/custom, truncated (int64 cast) for exponential and beta. */
function integerTimesteps(table: VpTable, levels: readonly number[], rounded: boolean): number[] {
  return levels.map((s) => {
    const t = sigmaToTimestep(table, s);
    return rounded ? roundHalfEven(t) : Math.trunc(t);
  });
}

// ---------------------------------------------------------------------------------------------
// DDIM

/**
 * DDIMScheduler and the classes sharing its spacing keys: integer timesteps. DDIM and PNDM step to
 * prev_t = t - T//N (final_alpha_cumprod below 0); DDPM steps to the next timestep of its list and from the
 * last one to abar = 1.
 */
export function ddimSigmas(
  cfg: SchedulerConfig,
  steps: number,
  units: TimestepUnits = 'scheduler',
  ov: ScheduleOverrides = {},
  cls: 'DDIMScheduler' | 'PNDMScheduler' | 'DDPMScheduler' = 'DDIMScheduler',
): Sigmas {
  const table = vpTable(cfg, SCHEDULER_RULES[cls].zeroSnr);
  const T = table.trainSteps;
  const grid = gridOf(cfg, cls, ov);
  // The last level: abar = 1 (sigma 0) for DDPM (rules.final 'zero') and for set_alpha_to_one (class
  // default: DDIM true, PNDM false), else the first training level.
  const alphaToOne = ov.finalSigmasType
    ? ov.finalSigmasType === 'zero'
    : SCHEDULER_RULES[cls].final === 'zero' || cfgBool(cfg, 'set_alpha_to_one', cls === 'DDIMScheduler');
  const finalSigma = alphaToOne ? 0 : table.sigmas[0];
  const origin = cls;
  if (grid !== 'spaced') return explicitLevels(table, grid, steps, units, ov, { origin, final: finalSigma, rounded: true });

  const spacing = spacingOf(cfg, 'leading', ov);
  const offset = cfgInt(cfg, 'steps_offset', 0);
  const ts = spacedTimesteps(spacing, T, steps, offset, 'round');
  for (const t of ts) {
    if (t < 0 || t >= T) throw new Error(`${cls.replace('Scheduler', '')} grid: timestep ${t} is outside [0, ${T}) (check steps_offset ${offset})`);
  }
  const jump = Math.floor(T / steps);
  const level = (t: number) => (t >= 0 ? table.sigmas[t] : finalSigma);
  const targets = cls === 'DDPMScheduler' ? ts.map((_, i) => level(ts[i + 1] ?? -1)) : ts.map((t) => level(t - jump));
  const sigmas = [...ts.map((t) => table.sigmas[t]), targets[targets.length - 1]];
  const out: Sigmas = {
    space: 'vp',
    sigmas,
    timesteps: ts.map((t) => toModelTimestep(t, T, units)),
    origin,
    // init_noise_sigma = 1 in VP variables: randn / alpha in VE.
    initNoiseSigma: Math.sqrt(sigmas[0] ** 2 + 1),
  };
  // Only when some step does not land on the next grid level (linspace/trailing spacing).
  if (targets.some((s, i) => s !== sigmas[i + 1])) out.targets = targets;
  return out;
}

/** A DDIM-family or multistep-family grid given as levels (Karras, exponential, Lu, beta, custom): integer timesteps. */
function explicitLevels(
  table: VpTable,
  grid: Exclude<SigmaGrid, 'spaced'>,
  steps: number,
  units: TimestepUnits,
  ov: ScheduleOverrides,
  o: { origin: string; final: number | 'last'; rounded: boolean; bounds?: { min: number; max: number } },
): Sigmas {
  const T = table.trainSteps;
  let levels: number[];
  let last: number;
  if (grid === 'custom') {
    const custom = checkCustomSigmas(ov.customSigmas);
    levels = custom.slice(0, -1);
    last = custom[custom.length - 1];
  } else {
    checkSteps(steps, T);
    levels = levelGrid(grid, o.bounds?.min ?? table.sigmas[0], o.bounds?.max ?? table.sigmas[T - 1], steps);
    last = o.final === 'last' ? levels[levels.length - 1] : o.final;
  }
  // diffusers rounds the Karras and Lu timesteps only; exponential and beta ones are int64-truncated.
  const rounded = grid === 'exponential' || grid === 'beta' ? false : o.rounded;
  return {
    space: 'vp',
    sigmas: [...levels, last],
    timesteps: integerTimesteps(table, levels, rounded).map((t) => toModelTimestep(t, T, units)),
    origin: o.origin,
    initNoiseSigma: Math.sqrt(levels[0] ** 2 + 1),
  };
}

// ---------------------------------------------------------------------------------------------
// Euler family

const EULER_CLASSES = ['EulerDiscreteScheduler', 'EulerAncestralDiscreteScheduler', 'HeunDiscreteScheduler', 'KDPM2DiscreteScheduler', 'KDPM2AncestralDiscreteScheduler', 'LMSDiscreteScheduler', 'DPMSolverSDEScheduler'] as const;
export type EulerFamilyClass = (typeof EULER_CLASSES)[number];

/**
 * Euler-family grids: sigmas interpolated at (possibly fractional) timesteps, then a final level.
 * init_noise_sigma is sigma_max for linspace/trailing spacing and sqrt(sigma_max^2 + 1) for leading.
 */
export function eulerSigmas(
  cfg: SchedulerConfig,
  steps: number,
  units: TimestepUnits = 'scheduler',
  ov: ScheduleOverrides = {},
  cls: EulerFamilyClass = 'EulerDiscreteScheduler',
): Sigmas {
  const rules = SCHEDULER_RULES[cls];
  const table = rules.float32Table ? diffusersFloat32Table(cfg) : vpTable(cfg, rules.zeroSnr);
  const T = table.trainSteps;
  const spacing = spacingOf(cfg, rules.spacing, ov);
  const grid = gridOf(cfg, cls, ov);
  const finalLevel = finalTypeOf(cfg, rules.final as 'key' | 'zero', ov) === 'zero' ? 0 : table.sigmas[0];

  let levels: number[];
  let last: number;
  let ts: number[];
  if (grid === 'custom') {
    const custom = checkCustomSigmas(ov.customSigmas);
    levels = custom.slice(0, -1);
    last = custom[custom.length - 1];
    ts = levels.map((s) => Math.fround(sigmaToTimestep(table, s)));
  } else {
    const offset = cfgInt(cfg, 'steps_offset', 0);
    // DPMSolverSDEScheduler (float32Table) spaces in float64; the other Euler classes in float32.
    ts = spacedTimesteps(spacing, T, steps, offset, rules.float32Table ? 'float64' : 'float32');
    const logLinear =
      cls === 'EulerDiscreteScheduler' && cfgString(cfg, 'interpolation_type', ['linear', 'log_linear'] as const, 'linear') === 'log_linear';
    // Interpolated levels: N of them, or N + 1 for log_linear (see below).
    const inSigmas = logLinear
      ? Array.from(linspace(Math.log(table.sigmas[T - 1]), Math.log(table.sigmas[0]), steps + 1), Math.exp)
      : ts.map((t) => interpTable(table.sigmas, t));
    levels = inSigmas.slice(0, steps);
    // log_linear: diffusers builds N + 1 geometric levels for N timesteps, so its N steps end on sigma_min
    // and the appended final level is never reached: this grid ends on sigma_min too.
    last = inSigmas.length > steps ? inSigmas[steps] : finalLevel;
    if (grid !== 'spaced') {
      // Bounds: the sigma_min/sigma_max keys where the class's converter reads them, else the interpolated levels' ends.
      const keyed = (rules.boundKeys as readonly string[]).includes(grid);
      const smin = (keyed ? cfgOptionalNumber(cfg, 'sigma_min') : undefined) ?? inSigmas[inSigmas.length - 1];
      const smax = (keyed ? cfgOptionalNumber(cfg, 'sigma_max') : undefined) ?? inSigmas[0];
      // Lu (uniform in lambda = -ln sigma) is the exponential grid in Euler's variables.
      levels = levelGrid(grid === 'lu_lambda' ? 'exponential' : grid, smin, smax, steps);
      last = finalLevel;
      // KDPM2 (both classes) rounds its Karras levels' timesteps (numpy round: half to even); the others keep them fractional.
      const rounded = (cls === 'KDPM2DiscreteScheduler' || cls === 'KDPM2AncestralDiscreteScheduler') && grid === 'karras';
      ts = levels.map((s) => Math.fround(rounded ? roundHalfEven(sigmaToTimestep(table, s)) : sigmaToTimestep(table, s)));
    }
  }
  const prediction = cfg.prediction_type ?? 'epsilon';
  // diffusers EulerDiscrete: continuous timesteps (EDM-style v-models) are 0.25 ln(sigma), independent of T.
  const continuous =
    cls === 'EulerDiscreteScheduler' &&
    cfgString(cfg, 'timestep_type', ['discrete', 'continuous'] as const, 'discrete') === 'continuous' &&
    prediction === 'v_prediction';
  const smax = Math.max(...levels, last);
  return {
    space: 'vp',
    sigmas: [...levels, last],
    timesteps: continuous ? levels.map((s) => Math.fround(0.25 * Math.log(s))) : ts.map((t) => toModelTimestep(t, T, units)),
    origin: cls,
    initNoiseSigma: spacing === 'leading' ? Math.sqrt(smax * smax + 1) : smax,
  };
}

// ---------------------------------------------------------------------------------------------
// Multistep family

const MULTISTEP_CLASSES = ['DPMSolverMultistepScheduler', 'DPMSolverSinglestepScheduler', 'UniPCMultistepScheduler', 'DEISMultistepScheduler', 'SASolverScheduler'] as const;
export type MultistepClass = (typeof MULTISTEP_CLASSES)[number];

/**
 * DPM-Solver (multi/singlestep), UniPC and DEIS grids on VP models. init_noise_sigma is 1 in VP variables.
 * final_sigmas_type "zero" makes the last step first order (lambda = +inf); DEIS always ends on sigma_min.
 */
export function multistepSigmas(cfg: SchedulerConfig, steps: number, units: TimestepUnits = 'scheduler', ov: ScheduleOverrides = {}, cls: MultistepClass = 'DPMSolverMultistepScheduler'): Sigmas {
  const rules = SCHEDULER_RULES[cls];
  const table = vpTable(cfg, rules.zeroSnr);
  const T = table.trainSteps;
  const grid = gridOf(cfg, cls, ov);
  if (rules.final === 'sigma_min' && ov.finalSigmasType === 'zero') {
    throw new Error(`${cls} always ends on sigma_min (its last step divides by the final level); final_sigmas_type "zero" is not possible`);
  }
  const finalType = finalTypeOf(cfg, rules.final as 'key' | 'sigma_min', ov);
  const tableMin = table.sigmas[0];

  if (grid !== 'spaced') {
    const final = finalType === 'zero' ? 0 : rules.sigmaMinIsLastLevel && isBoundedGrid(grid) ? ('last' as const) : tableMin;
    // DPM multistep keeps Karras/Lu timesteps fractional (then int64-truncated) for the cosine schedule.
    const rounded = !(cls === 'DPMSolverMultistepScheduler' && cfg.beta_schedule === 'squaredcos_cap_v2');
    const bounds = (rules.boundKeys as readonly string[]).includes(grid)
      ? { min: cfgOptionalNumber(cfg, 'sigma_min') ?? table.sigmas[0], max: cfgOptionalNumber(cfg, 'sigma_max') ?? table.sigmas[T - 1] }
      : undefined;
    return explicitLevels(table, grid, steps, units, ov, { origin: cls, final, rounded, bounds });
  }

  const spacing = spacingOf(cfg, rules.spacing, ov);
  const offset = cfgInt(cfg, 'steps_offset', 0);
  const last = rules.lambdaClip ? clippedTableLength(table, cfgNumber(cfg, 'lambda_min_clipped', -Infinity)) : T;
  const ts = multistepTimesteps(spacing, T, steps, offset, last);
  for (const t of ts) {
    if (t < 0 || t >= T) throw new Error(`${cls} grid: timestep ${t} is outside [0, ${T}) (check steps_offset ${offset})`);
  }
  const levels = ts.map((t) => table.sigmas[t]);
  return {
    space: 'vp',
    sigmas: [...levels, finalType === 'zero' ? 0 : tableMin],
    timesteps: ts.map((t) => toModelTimestep(t, T, units)),
    origin: cls,
    initNoiseSigma: Math.sqrt(levels[0] ** 2 + 1),
  };
}

export function isEulerFamilyClass(cls: SchedulerClass): cls is EulerFamilyClass {
  return (EULER_CLASSES as readonly string[]).includes(cls);
}

export function isMultistepClass(cls: SchedulerClass): cls is MultistepClass {
  return (MULTISTEP_CLASSES as readonly string[]).includes(cls);
}
