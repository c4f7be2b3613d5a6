/**
 * Runs a solver over a grid: one step per grid level, an abort check before every model call, a
 * non-finite check of each model output once its step is done (naming the step), and a callback after
 * each step for progress and hooks.
 */
import type { Tensor } from '../core/tensor.ts';
import { DeferredPrediction } from './deferred-prediction.ts';
import type { Sigmas } from '../core/values.ts';
import type { NoiseSource } from './ops.ts';
import type { DenoiseFn, Prediction, Solver, SolverContext, SolverState } from './solver.ts';

export interface SamplerRun<S extends SolverState> {
  solver: Solver<S>;
  sigmas: Sigmas;
  /** The starting sample at sigmas[0], in sampling variables. */
  x: Tensor;
  model: DenoiseFn;
  noise?: NoiseSource;
  /** The model timestep of levels between grid levels (see SolverContext.timestepAt). */
  timestepAt?: (sigma: number) => number;
  /** Called before every model call; throw (e.g. an AbortError) to stop. */
  beforeModelCall?: () => void;
  /** Called after step i of `total`, with the new state. */
  onStep?: (i: number, total: number, state: S) => void;
  /** Called while step i runs, by solvers whose step makes many model calls: the fraction of it done. */
  onStepProgress?: (i: number, total: number, fraction: number) => void;
}

export interface SamplerResult {
  /** The final sample at the grid's last level, in sampling variables. */
  x: Tensor;
  /** The last x0 prediction (the start sample when there were no steps). */
  denoised: Tensor;
  modelCalls: number;
}

function checkFinite(t: Tensor, what: string, step: number, total: number, sigma: number): void {
  const k = t.firstNonFinite();
  if (k >= 0) {
    throw new Error(`model output has a non-finite value (${t.data[k]} at element ${k}, ${what}) at step ${step} of ${total} (sigma ${sigma})`);
  }
}

export async function runSampler<S extends SolverState>(run: SamplerRun<S>): Promise<SamplerResult> {
  const { solver, sigmas } = run;
  const total = sigmas.timesteps.length;
  let current = 0;
  const onStepProgress = run.onStepProgress;
  const ctx: SolverContext = {
    sigmas,
    noise: run.noise,
    timestepAt: run.timestepAt,
    progress: onStepProgress ? (fraction) => onStepProgress(current, total, fraction) : undefined,
  };
  let modelCalls = 0;
  // The predictions of the step in progress, checked for non-finite values once the step is done: an
  // Euler-type update scans the model output while it reads it anyway (ops.addScaledChecked), which
  // makes the check free; for any other solver it is one scan, as it would be before the update.
  const made: Prediction[] = [];
  const levels: number[] = [];
  const model: DenoiseFn = async (x, level) => {
    run.beforeModelCall?.();
    const pred = await run.model(x, level);
    modelCalls++;
    made.push(pred);
    levels.push(level.sigma);
    return pred;
  };
  let state = solver.init(ctx, run.x);
  for (let step = 0; step < total; step++) {
    current = step;
    try {
      state = await solver.step(ctx, state, step, model);
    } catch (e) {
      // A cancel stays a cancel; any other failure of a step fed a NaN is reported as the NaN.
      if (e instanceof Error && e.name === 'AbortError') made.length = levels.length = 0;
      else checkPredictions(made, levels, step + 1, total);
      throw e;
    }
    checkPredictions(made, levels, step + 1, total);
    run.onStep?.(step, total, state);
  }
  return { x: state.x, denoised: state.denoised ?? run.x, modelCalls };
}

/** Throws for the first non-finite prediction of a step; empties the lists either way. */
function checkPredictions(made: Prediction[], levels: number[], step: number, total: number): void {
  try {
    for (let k = 0; k < made.length; k++) {
      const pred = made[k];
      // A deferred x0 is not forced here: any NaN in the model output reaches the derivative too.
      if (!(pred instanceof DeferredPrediction) || pred.denoisedComputed) checkFinite(pred.denoised, 'x0 prediction', step, total, levels[k]);
      checkFinite(pred.derivative, 'derivative', step, total, levels[k]);
    }
  } finally {
    made.length = 0;
    levels.length = 0;
  }
}
