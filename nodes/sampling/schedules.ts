/**
 * Sampling grids (Sigmas) from a model's diffusers scheduler_config.json and model_index.json, following
 * the rules of the diffusers scheduler class each solver comes from (fact sheet section 2; the class table
 * is in schedule-rules.ts, the per-family rules in schedule-vp.ts and schedule-flow.ts). Where a pipeline,
 * not the scheduler config, fixes the grid and time units (FluxPipeline's sigmas and t/1000, SD3's
 * t = sigma*1000), this keys on model_index.json's `_class_name` (model-time.ts).
 */
import type { SchedulerConfig, Sigmas } from '../core/values.ts';
import { pipelineMuOptions, pipelineSigmaList, sigmaSpace, timestepUnits } from './model-time.ts';
import { cfgString } from './schedule-config.ts';
import { flowMatchSigmas, multistepFlowSigmas, type FlowShiftOptions } from './schedule-flow.ts';
import { gridFamily, isEulerFamilyOrigin, normalizeSolverName, SCHEDULER_RULES, schedulerClassFor } from './schedule-rules.ts';
import { cmParams, cmSigmas } from './cm.ts';
import { edmParams, edmSigmas } from './edm.ts';
import { lcmSigmas } from './lcm.ts';
import { scmSigmas, type ScmGridOptions } from './scm.ts';
import { ddimSigmas, eulerSigmas, isEulerFamilyClass, isMultistepClass, multistepSigmas, type ScheduleOverrides } from './schedule-vp.ts';
import { TIMESTEP_SPACINGS } from './sigma-grids.ts';

export { fluxMu, flowMatchSigmas, imageSeqLenOfLatent, imageSeqLenOfPixels, multistepFlowSigmas, shiftSigma, timeShift } from './schedule-flow.ts';
export {
  configGrid,
  defaultSolverFor,
  FINAL_SIGMA_TYPES,
  gridFamily,
  normalizeSolverName,
  SCHEDULER_CLASSES,
  SCHEDULER_RULES,
  schedulerClassFor,
  SIGMA_GRIDS,
  SOLVER_SCHEDULERS,
  type FinalSigmasType,
  type GridFamily,
  type SchedulerClass,
  type SigmaGrid,
} from './schedule-rules.ts';
export { checkCustomSigmas, ddimSigmas, eulerSigmas, multistepSigmas, type ScheduleOverrides } from './schedule-vp.ts';
export {
  exponentialSigmas,
  interpTable,
  karrasSigmas,
  luLambdaSigmas,
  multistepTimesteps,
  roundHalfEven,
  sigmaToTimestep,
  spacedTimesteps,
  TIMESTEP_SPACINGS,
  vpTable,
  type TimestepSpacing,
  type VpTable,
} from './sigma-grids.ts';

export interface BuildSigmasOptions extends FlowShiftOptions, ScheduleOverrides {
  /** LCM img2img: the strength its set_timesteps takes (the grid is then drawn from the first part of the distillation schedule). */
  lcmStrength?: number;
  /** SCMScheduler: the TrigFlow start time and a 2-step run's middle time (set_timesteps' max_timesteps, intermediate_timesteps). */
  scm?: Pick<ScmGridOptions, 'maxTimestep' | 'intermediateTimestep'>;
}

/**
 * The sampling grid a model's scheduler config gives for `steps` steps of `solver` (solver names as in
 * schedule-rules.ts SOLVER_SCHEDULERS), with optional overrides. Flow models (FLUX, SD3, ...) take the
 * flow-matching grid whatever the solver, or the multistep class's use_flow_sigmas grid when the config sets it.
 */
export function buildSigmas(
  scheduler: SchedulerConfig,
  modelIndex: Record<string, unknown>,
  steps: number,
  solver: string,
  opts: BuildSigmasOptions = {},
): Sigmas {
  // A grid is a pure function of these; rebuilding it (a 1000-entry training table and its
  // interpolation) costs about as much as a few solver steps, and a re-run asks for the same grid again.
  const key = JSON.stringify([scheduler, modelIndex, steps, solver, opts]);
  const hit = builtGrids.get(key);
  if (hit) {
    builtGrids.delete(key);
    builtGrids.set(key, hit);
    return hit;
  }
  const grid = freezeSigmas(computeSigmas(scheduler, modelIndex, steps, solver, opts));
  builtGrids.set(key, grid);
  if (builtGrids.size > BUILT_GRIDS_KEPT) builtGrids.delete(builtGrids.keys().next().value as string);
  return grid;
}

/** Recently built grids, least recently used first; shared, hence frozen. */
const builtGrids = new Map<string, Sigmas>();
const BUILT_GRIDS_KEPT = 64;

function freezeSigmas(s: Sigmas): Sigmas {
  Object.freeze(s.sigmas);
  Object.freeze(s.timesteps);
  if (s.targets) Object.freeze(s.targets);
  if (s.segment) {
    Object.freeze(s.segment);
    Object.freeze(s.segment.preceding);
  }
  return Object.freeze(s);
}

function computeSigmas(
  scheduler: SchedulerConfig,
  modelIndex: Record<string, unknown>,
  steps: number,
  solver: string,
  opts: BuildSigmasOptions,
): Sigmas {
  const space = sigmaSpace(modelIndex, scheduler);
  const units = timestepUnits(modelIndex);
  const family = gridFamily(space, solver);
  const cls = schedulerClassFor(solver);
  if (family === 'flow') {
    const scaleFactors = scheduler.scale_factors;
    if (scheduler._class_name === 'FlowMatchLCMScheduler' && Array.isArray(scaleFactors) && scaleFactors.length > 0) {
      throw new Error('FlowMatchLCMScheduler with scale_factors (scale-wise generation) upsamples x0 between steps, which FlowStudio does not do: remove scale_factors from the scheduler config to sample at one size');
    }
    if (cls === 'SCMScheduler') {
      // Its levels come from TrigFlow times, which no shift or Karras-type spacing applies to.
      if (opts.grid !== undefined && opts.grid !== 'spaced' && opts.grid !== 'custom') throw new Error(`SCMScheduler grids (solver scm) have no ${opts.grid} variant: use the default grid or custom levels`);
      if (opts.shift !== undefined) throw new Error('SCMScheduler grids (solver scm) take no shift: their levels come from TrigFlow times');
      return scmSigmas(scheduler, steps, units, { ...opts.scm, customSigmas: opts.grid === 'custom' ? opts.customSigmas : undefined });
    }
    if (isMultistepClass(cls) && SCHEDULER_RULES[cls].flowSigmas && scheduler.use_flow_sigmas === true) {
      return multistepFlowSigmas(scheduler, steps, units, { ...pipelineMuOptions(modelIndex), ...opts }, cls);
    }
    // FlowMatchLCMScheduler (consistency on flow models) keeps a pipeline's own timesteps list (CogView4's).
    const keepTimesteps = normalizeSolverName(solver) === 'consistency';
    return flowMatchSigmas(scheduler, steps, units, { ...pipelineMuOptions(modelIndex), ...opts, pipelineSigmas: pipelineSigmaList(modelIndex), keepPipelineTimesteps: keepTimesteps });
  }
  if (cmParams(scheduler)) {
    if (family === 'ddim' || family === 'lcm' || opts.spacing !== undefined || (opts.grid !== undefined && opts.grid !== 'custom')) {
      throw new Error(`a consistency model (${scheduler._class_name}) walks its own Karras levels over its training indices, or custom sigmas: solver "${solver}"${opts.spacing ? ' with a timestep spacing' : ''}${opts.grid && opts.grid !== 'custom' ? ` and grid "${opts.grid}"` : ''} do not apply`);
    }
    return cmSigmas(scheduler, steps, opts.grid === 'custom' ? opts.customSigmas : undefined);
  }
  const edm = edmParams(scheduler);
  if (edm) {
    if (family === 'ddim' || family === 'lcm' || opts.spacing !== undefined) {
      throw new Error(`solver "${solver}" walks a training table's timesteps${opts.spacing ? ' (timestep spacing)' : ''}, which an EDM model (${scheduler._class_name}) has none of: use euler, heun, dpmpp_2m or another sigma-grid solver`);
    }
    return edmSigmas(scheduler, steps, family === 'multistep' ? 'EDMDPMSolverMultistepScheduler' : 'EDMEulerScheduler', opts);
  }
  if (family === 'ddim') return ddimSigmas(scheduler, steps, units, opts, cls === 'PNDMScheduler' || cls === 'DDPMScheduler' ? cls : 'DDIMScheduler');
  if (family === 'lcm') return lcmSigmas(scheduler, steps, units, opts.lcmStrength, cls === 'TCDScheduler' ? cls : 'LCMScheduler');
  if (isEulerFamilyClass(cls)) return eulerSigmas(scheduler, steps, units, opts, cls);
  if (isMultistepClass(cls)) return multistepSigmas(scheduler, steps, units, opts, cls);
  throw new Error(`solver "${solver}": no VP grid rules for ${cls}`);
}

/**
 * Scale of the pure noise a full run starts from, in sampling variables (VE for 'vp'), as the diffusers
 * pipelines do (latents = randn * init_noise_sigma): the grid's own value when it carries one; else flow
 * starts from randn, Euler-family grids use sigma_max (linspace/trailing) or sqrt(sigma_max^2 + 1)
 * (leading), and other VP grids the exact VP value sqrt(sigma_0^2 + 1).
 */
export function initNoiseSigma(sigmas: Sigmas, scheduler: SchedulerConfig): number {
  if (sigmas.initNoiseSigma !== undefined) return sigmas.initNoiseSigma;
  if (sigmas.space === 'flow') return 1;
  const smax = Math.max(...sigmas.sigmas);
  const cls = sigmas.origin;
  if (isEulerFamilyOrigin(cls)) {
    const spacing = cfgString(scheduler, 'timestep_spacing', TIMESTEP_SPACINGS, 'linspace');
    return spacing === 'leading' ? Math.sqrt(smax * smax + 1) : smax;
  }
  return Math.sqrt(sigmas.sigmas[0] ** 2 + 1);
}
