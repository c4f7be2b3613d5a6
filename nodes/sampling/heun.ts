/**
 * Heun's method on the probability-flow ODE (k-diffusion sample_heun with s_churn = 0, diffusers
 * HeunDiscreteScheduler): an Euler predictor to s_next, then the average of the derivatives at both ends.
 * The step to sigma 0 is plain Euler (the derivative is undefined there), so a run makes 2n - 1 model
 * calls when the grid ends at 0. The second evaluation is at the next grid level with its own timestep
 * (diffusers interleaves the timesteps t0, t1, t1, t2, t2, ...). On a flow grid this is RF Heun.
 */
import { addScaled, linearCombination } from './ops.ts';
import { gridLevel, levelAt, levelOf, plainInit, type Solver, twoStageModelCalls } from './solver.ts';
import { stateWithPrediction } from './deferred-prediction.ts';

export function createHeun(): Solver {
  return {
    name: 'heun',
    nfePerStep: 2,
    modelCalls: twoStageModelCalls,
    init: plainInit,
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const next = ctx.sigmas.sigmas[i + 1];
      const dt = next - level.sigma;
      const pred = await model(state.x, level);
      if (next === 0) return stateWithPrediction(addScaled(state.x, dt, pred.derivative), pred);
      const predicted = addScaled(state.x, dt, pred.derivative);
      const nextLevel = i + 1 < ctx.sigmas.timesteps.length ? gridLevel(ctx.sigmas, i + 1) : levelOf(ctx, next);
      const pred2 = await model(predicted, nextLevel);
      const x = linearCombination([
        [1, state.x],
        [dt / 2, pred.derivative],
        [dt / 2, pred2.derivative],
      ]);
      return stateWithPrediction(x, pred2);
    },
  };
}
