/**
 * The ascending grids inversion walks: from the clean image latent up to noise, so that sampling back
 * down the same levels returns the image (fact sheet 3.2, 4). Which grid, by model and solver:
 *  - VP, DDIM (and 'auto'): diffusers DDIMInverseScheduler (ddim.ts ddimInverseSigmas), in its
 *    'diffusers' variant or CODE's 'current-level' one;
 *  - VP, the DPM-Solver multistep family: diffusers DPMSolverMultistepInverseScheduler (dpmInverseSigmas);
 *  - VP, any other ODE solver: its forward grid walked backwards (ComfyUI's FlipSigmas), the level 0 it
 *    starts from called at the lowest training timestep;
 *  - flow models: the forward flow grid walked backwards (RF inversion, ddim.ts reversedFlowSigmas).
 * `denoise` < 1 keeps the first floor(N * denoise) steps, as diffusers' DiffEdit get_inverse_timesteps
 * does: the inversion stops where an img2img run of that strength would start.
 */
import { CM_CLASS, cmParams } from './cm.ts';
import { edmParams, edmTimestep } from './edm.ts';
import type { SchedulerConfig, SigmaSpace, Sigmas } from '../core/values.ts';
import { ddimInverseSigmas, reversedFlowSigmas, type DdimInversionVariant } from './ddim.ts';
import { sigmaSpace, timestepUnits, toModelTimestep, type TimestepUnits } from './model-time.ts';
import { cfgInt, cfgNumber, cfgString } from './schedule-config.ts';
import { defaultSolverFor, normalizeSolverName, schedulerClassFor } from './schedule-rules.ts';
import { buildSigmas, type BuildSigmasOptions } from './schedules.ts';
import { arangeDown, checkSteps, clippedTableLength, roundHalfEven, sigmaToTimestep, vpTable } from './sigma-grids.ts';
import { linspace } from './betas.ts';
import { gridTimestepAt } from './level-timestep.ts';
import { sliceSigmas } from './sigmas-split.ts';

export interface InversionSigmasOptions extends BuildSigmasOptions {
  /** DDIM grids only: diffusers' DDIMInverseScheduler (default) or CODE's current-level walk. */
  ddimVariant?: DdimInversionVariant;
  /** Fraction of the inversion to run, from the clean end (default 1). */
  denoise?: number;
}

/** The Schedule params behind the override fields, for messages. */
const OVERRIDE_PARAMS: Record<string, string> = { grid: 'grid', finalSigmasType: 'final_sigmas', shift: 'shift', customSigmas: 'custom_sigmas' };

/** Grid rules (Schedule's solver names) whose VP inversion grid is DPMSolverMultistepInverseScheduler's. */
const DPM_INVERSE_SOLVERS = new Set(['dpmpp_2m', 'dpmpp_3m', 'dpmpp_2m_sde', 'dpmpp_3m_sde']);

/**
 * Config keys of sigma grids DPMSolverMultistepInverseScheduler builds ascending (dpmInverseSigmaGrid), not by
 * dpmInverseSigmas. use_lu_lambdas is not among its keys (from_config drops it: the plain grid), and
 * use_flow_sigmas grids are flow models' (reversedFlowSigmas).
 */
const DPM_INVERSE_SIGMA_GRIDS = ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas'] as const;
const DPM_INVERSE_UNSUPPORTED = [...DPM_INVERSE_SIGMA_GRIDS, 'use_flow_sigmas'] as const;

/**
 * DPMSolverMultistepInverseScheduler on Karras, exponential and beta levels: it converts the ascending training
 * table, so its N levels run from the table's smallest to its largest sigma, the forward grid's levels in
 * reverse (the three constructions are symmetric in their ends), each with the forward grid's timestep (rounded
 * for Karras, fractional otherwise), and its last step's target repeats the largest level (a zero-length step).
 */
function dpmInverseSigmaGrid(cfg: SchedulerConfig, modelIndex: Record<string, unknown>, steps: number): Sigmas {
  const forward = buildSigmas({ ...cfg, final_sigmas_type: 'zero' }, modelIndex, steps, 'dpmpp_2m');
  const levels = forward.sigmas.slice(0, steps).reverse();
  return { space: 'vp', sigmas: [...levels, levels[levels.length - 1]], timesteps: forward.timesteps.slice().reverse(), origin: 'DPMSolverMultistepInverseScheduler' };
}

/**
 * Ascending integer timesteps of DPMSolverMultistepInverseScheduler.set_timesteps, with `last` = its
 * noisiest_timestep + 1 (the table clipped by lambda_min_clipped): linspace round(linspace(0, last - 1,
 * N + 1))[:-1]; leading arange(N) * (last // (N + 1)) + steps_offset; trailing round(arange(last, 0,
 * -T/N))[::-1] - 1, where numpy's float arange can give N + 1 entries whose first is -1: dropped, as in
 * the forward trailing grid (sigma-grids.ts). Repeats (N close to T) are removed, as its np.unique does.
 * Deliberate deviation there: diffusers builds its sigmas from the list before removing repeats, so its
 * levels no longer line up with its timesteps; here both come from the deduplicated list.
 */
export function dpmInverseTimesteps(cfg: SchedulerConfig, steps: number): number[] {
  const table = vpTable(cfg, false);
  const T = table.trainSteps;
  checkSteps(steps, T);
  const last = clippedTableLength(table, cfgNumber(cfg, 'lambda_min_clipped', -Infinity));
  const spacing = cfgString(cfg, 'timestep_spacing', ['linspace', 'leading', 'trailing'] as const, 'linspace');
  let ts: number[];
  if (spacing === 'linspace') {
    ts = Array.from(linspace(0, last - 1, steps + 1).subarray(0, steps), roundHalfEven);
  } else if (spacing === 'leading') {
    const ratio = Math.floor(last / (steps + 1));
    const offset = cfgInt(cfg, 'steps_offset', 0);
    ts = Array.from({ length: steps }, (_, k) => k * ratio + offset);
  } else {
    const ratio = T / steps;
    const count = Math.ceil(last / ratio);
    ts = [];
    for (let i = count - 1; i >= 0; i--) {
      const t = roundHalfEven(arangeDown(last, ratio, i)) - 1;
      if (t >= 0) ts.push(t);
    }
  }
  return ts.filter((t, k) => ts.indexOf(t) === k);
}

/**
 * DPMSolverMultistepInverseScheduler's grid: the table level of each timestep, then the noisiest level
 * (sigma_max of the clipped table) as the last step's target. That class has no rescale_betas_zero_snr
 * (from_config drops the key), so its table is the plain one, as here.
 */
export function dpmInverseSigmas(cfg: SchedulerConfig, steps: number, units: TimestepUnits = 'scheduler'): Sigmas {
  for (const key of DPM_INVERSE_UNSUPPORTED) {
    if (cfg[key] === true) throw new Error(`DPM-Solver inversion runs on the spaced training levels only: the config's ${key} is not supported (set it to false)`);
  }
  const table = vpTable(cfg, false);
  const ts = dpmInverseTimesteps(cfg, steps);
  for (const t of ts) if (t < 0 || t >= table.trainSteps) throw new Error(`DPM-Solver inversion grid: timestep ${t} is outside [0, ${table.trainSteps}) (check steps_offset)`);
  const noisiest = clippedTableLength(table, cfgNumber(cfg, 'lambda_min_clipped', -Infinity)) - 1;
  return {
    space: 'vp',
    sigmas: [...ts.map((t) => table.sigmas[t]), table.sigmas[noisiest]],
    timesteps: ts.map((t) => toModelTimestep(t, table.trainSteps, units)),
    origin: 'DPMSolverMultistepInverseScheduler',
  };
}

/**
 * A VP grid walked backwards. Each level keeps its model timestep; the level the walk starts from (the
 * forward grid's end, usually 0) gets the timestep of its level in the training table (t = 0 for any
 * level at or below the table's smallest), which is what its forward grid never needed.
 */
export function reversedVpSigmas(s: Sigmas, cfg: SchedulerConfig, units: TimestepUnits, startTimestep?: (sigma: number) => number): Sigmas {
  if (s.space !== 'vp') throw new Error('reversedVpSigmas needs a VP grid (flow grids reverse with reversedFlowSigmas)');
  if (s.targets) throw new Error(`the ${s.origin ?? ''} grid steps to levels off its own list (DDIM's prev_t rule): it has no reverse walk; invert with Schedule (direction invert), DDIM's inversion grid, instead`);
  const n = s.timesteps.length;
  const start = s.sigmas[n];
  let timesteps: number[];
  if (startTimestep) timesteps = [startTimestep(start)];
  else {
    const table = vpTable(cfg);
    timesteps = [toModelTimestep(sigmaToTimestep(table, start), table.trainSteps, units)];
  }
  for (let k = n - 1; k >= 1; k--) timesteps.push(s.timesteps[k]);
  return { space: 'vp', sigmas: [...s.sigmas].reverse(), timesteps, origin: `${s.origin ?? 'grid'} (reversed)` };
}

/**
 * An EDM model's inversion grid (edm.ts): the solver family's EDM levels for N + 1 points, ascending from the
 * smallest positive one to sigma_max (no training table, so no diffusers inverse class to follow), each with
 * its c_noise timestep. The clean latent is taken at the smallest level (sigma_min, 0.002 by default).
 */
function edmInversionSigmas(scheduler: SchedulerConfig, modelIndex: Record<string, unknown>, steps: number, solver: string, forward: BuildSigmasOptions): Sigmas {
  const grid = buildSigmas(scheduler, modelIndex, steps + 1, solver, { ...forward, finalSigmasType: 'zero' });
  const levels = grid.sigmas.slice(0, -1).reverse();
  return { space: 'vp', sigmas: levels, timesteps: levels.slice(0, -1).map(edmTimestep), origin: `${grid.origin ?? 'EDM'} (reversed)` };
}

/** Why a consistency model has no inversion grid. */
const CM_CANNOT_INVERT = `a consistency model (${CM_CLASS}) cannot invert: it jumps from any level to x0 and defines no probability-flow ODE to walk back up`;

/** ComfyUI's FlipSigmas: a flipped grid that would start at level 0 starts here instead. */
export const FLIP_START_LEVEL = 1e-4;

/**
 * Any descending grid walked backwards, as ComfyUI's FlipSigmas turns a schedule into an unsampling one: the
 * levels reversed, a start level of 0 moved up to FLIP_START_LEVEL (so every model call has a positive
 * level, as ComfyUI's node does it), and the model timesteps of the levels kept; the new start level gets
 * its own (the training table's on VP models, c_noise on EDM ones, proportional to t on flow ones).
 */
export function flippedSigmas(s: Sigmas, scheduler: SchedulerConfig, modelIndex: Record<string, unknown>): Sigmas {
  const n = s.timesteps.length;
  if (n === 0) throw new Error('the schedule has no steps to flip');
  if (s.sigmas[n] > s.sigmas[0]) throw new Error('the schedule already ascends (an inversion grid): flipping it would walk down');
  if (cmParams(scheduler)) throw new Error(CM_CANNOT_INVERT);
  const sigmas = [...s.sigmas];
  // ComfyUI writes it into its float32 sigmas.
  if (sigmas[n] === 0) sigmas[n] = s.offGridTimesteps === 'comfyui' ? Math.fround(FLIP_START_LEVEL) : FLIP_START_LEVEL;
  const lifted: Sigmas = { ...s, sigmas };
  // A ComfyUI grid stays one: its new start level, and any stage between its levels, at ComfyUI's timesteps.
  const comfy = s.offGridTimesteps === 'comfyui' ? { offGridTimesteps: s.offGridTimesteps } : {};
  if (s.space === 'flow') return { ...reversedFlowSigmas(lifted), ...comfy };
  if (edmParams(scheduler)) {
    const levels = [...sigmas].reverse();
    return { space: 'vp', sigmas: levels, timesteps: levels.slice(0, -1).map(edmTimestep), origin: `${s.origin ?? 'grid'} (flipped)` };
  }
  const startTimestep = s.offGridTimesteps === 'comfyui' ? gridTimestepAt(scheduler, modelIndex, s) : undefined;
  return { ...reversedVpSigmas(lifted, scheduler, timestepUnits(modelIndex), startTimestep), origin: `${s.origin ?? 'grid'} (flipped)`, ...comfy };
}

/** The solver 'auto' inverts with: DDIM on VP models (diffusers' inversion pipelines all use DDIMInverseScheduler), the config's on flow models. */
export function defaultInversionSolver(scheduler: SchedulerConfig, space: SigmaSpace): string {
  return space === 'vp' ? 'ddim' : defaultSolverFor(scheduler, space);
}

/** The first floor(N * denoise) steps of an inversion grid (all of them at denoise 1). */
export function inversionHead(s: Sigmas, denoise: number): Sigmas {
  if (!(denoise >= 0 && denoise <= 1)) throw new Error(`denoise must be in [0, 1], got ${denoise}`);
  const n = s.timesteps.length;
  return sliceSigmas(s, 0, Math.min(Math.floor(n * denoise), n));
}

/**
 * The ascending grid `solver` inverts along for this model (see the header). `solver` names grid rules, as
 * Schedule's solver param does (solver-registry's GRID_AS maps the others: dpm_2m walks dpmpp_2m's grid).
 */
export function buildInversionSigmas(
  scheduler: SchedulerConfig,
  modelIndex: Record<string, unknown>,
  steps: number,
  solver: string,
  opts: InversionSigmasOptions = {},
): Sigmas {
  const { ddimVariant = 'diffusers', denoise = 1, ...forward } = opts;
  const space = sigmaSpace(modelIndex, scheduler);
  const name = normalizeSolverName(solver);
  if (space === 'flow') return inversionHead(reversedFlowSigmas(buildSigmas(scheduler, modelIndex, steps, name, forward)), denoise);
  const units = timestepUnits(modelIndex);
  const cls = schedulerClassFor(name);
  if (edmParams(scheduler)) return inversionHead(edmInversionSigmas(scheduler, modelIndex, steps, name, forward), denoise);
  // A consistency model maps any level straight to x0; it defines no ODE to walk back up.
  if (cmParams(scheduler)) throw new Error(CM_CANNOT_INVERT);
  if (cls === 'PNDMScheduler' || cls === 'DDPMScheduler' || cls === 'LCMScheduler' || cls === 'EulerAncestralDiscreteScheduler') {
    throw new Error(`${name} cannot invert (it walks only downwards or draws noise each step): invert with ddim, or an ODE solver such as dpmpp_2m, euler or unipc`);
  }
  const overridden = Object.keys(forward).filter((k) => k !== 'imageSeqLen' && forward[k as keyof typeof forward] !== undefined);
  if (cls === 'DDIMScheduler' || DPM_INVERSE_SOLVERS.has(name)) {
    // diffusers' inverse classes take the config as it is: grid overrides would describe another scheduler.
    const keys = overridden.filter((k) => k !== 'spacing');
    if (keys.length > 0) {
      const named = keys.map((k) => OVERRIDE_PARAMS[k] ?? k);
      throw new Error(`the ${cls === 'DDIMScheduler' ? 'DDIM' : 'DPM-Solver'} inversion grid follows diffusers' inverse scheduler: only the timestep spacing can be overridden (set ${named.join(', ')} to config)`);
    }
    const cfg = forward.spacing ? { ...scheduler, timestep_spacing: forward.spacing } : scheduler;
    const sigmaGrid = cls !== 'DDIMScheduler' && DPM_INVERSE_SIGMA_GRIDS.some((k) => cfg[k] === true);
    const grid = cls === 'DDIMScheduler' ? ddimInverseSigmas(cfg, steps, ddimVariant, units) : sigmaGrid ? dpmInverseSigmaGrid(cfg, modelIndex, steps) : dpmInverseSigmas(cfg, steps, units);
    return inversionHead(grid, denoise);
  }
  return inversionHead(reversedVpSigmas(buildSigmas(scheduler, modelIndex, steps, name, forward), scheduler, units), denoise);
}
