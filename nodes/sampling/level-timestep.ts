/**
 * The model timestep of a level that is not on a grid's list: a solver's stage between grid levels, or a
 * level a sigma-editing node puts into a grid. A ComfyUI grid takes ComfyUI's (the nearest training step on
 * VP models); any other the model's own training table, as diffusers interpolates it.
 */
import type { SchedulerConfig, SigmaSpace, Sigmas } from '../core/values.ts';
import { comfyTimestepAt } from './comfy-schedules.ts';
import { edmParams, edmTimestep } from './edm.ts';
import { irsdeTimeAt } from './irsde.ts';
import { readIrsdeModel } from './mean-reverting.ts';
import { timestepUnits, toModelTimestep } from './model-time.ts';
import { SCHEDULER_RULES, type SchedulerClass } from './schedule-rules.ts';
import { sigmaToTimestep, vpTable } from './schedules.ts';

/**
 * The model timestep of any level, from the model's own training table (solvers that evaluate between grid levels).
 * `origin`: the grid's diffusers class (or IRSDE, whose time is its own); a class without rescale_betas_zero_snr (KDPM2, DPMSolverSDEScheduler)
 * ignores that config key, and so does its table here.
 */
export function modelTimestepAt(scheduler: SchedulerConfig, modelIndex: Record<string, unknown>, space: SigmaSpace, origin?: string): (sigma: number) => number {
  if (space === 'vp' && edmParams(scheduler)) return edmTimestep;
  if (origin === 'IRSDE') {
    // A mean-reverting model's time is IR-SDE's own (0..T), not a VP table's.
    const { table } = readIrsdeModel(scheduler);
    return (sigma) => irsdeTimeAt(table, sigma);
  }
  const units = timestepUnits(modelIndex);
  if (space === 'flow') {
    const T = typeof scheduler.num_train_timesteps === 'number' ? scheduler.num_train_timesteps : 1000;
    return (sigma) => (units === 'fraction' ? sigma : Math.fround(sigma * T));
  }
  // Built on first use: most solvers only evaluate grid levels, whose timesteps the grid carries.
  let table: ReturnType<typeof vpTable> | undefined;
  return (sigma) => {
    table ??= vpTable(scheduler, origin !== undefined && origin in SCHEDULER_RULES ? SCHEDULER_RULES[origin as SchedulerClass].zeroSnr : true);
    return toModelTimestep(Math.fround(sigmaToTimestep(table, sigma)), table.trainSteps, units);
  };
}

/** The timestep of any level on this grid's terms; `imageSeqLen`: FLUX-type ComfyUI tables need the image's token count. */
export function gridTimestepAt(scheduler: SchedulerConfig, modelIndex: Record<string, unknown>, grid: Pick<Sigmas, 'space' | 'origin' | 'offGridTimesteps'>, imageSeqLen?: number): (sigma: number) => number {
  return grid.offGridTimesteps === 'comfyui'
    ? comfyTimestepAt(scheduler, grid.space, timestepUnits(modelIndex), imageSeqLen)
    : modelTimestepAt(scheduler, modelIndex, grid.space, grid.origin);
}
