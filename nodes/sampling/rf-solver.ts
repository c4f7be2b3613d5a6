/**
 * RF-Solver (Wang et al. 2024, RF-Solver-Edit; fact sheet 4): a second-order step on the flow ODE with
 * D = t_next - t (negative when sampling, positive when inverting on the reversed grid):
 *   v = v(x, t); x_mid = x + (D/2) v; v_mid = v(x_mid, t + D/2); v' = (v_mid - v) / (D/2);
 *   x <- x + D v + (1/2) D^2 v'.
 * Algebraically that update is x + D v_mid (the explicit midpoint rule); it is computed in that form.
 * 2 model calls per step, the last step included (its midpoint lies above t = 0). On a VP grid the same
 * rule runs in VE variables with d = dx/dsigma. Editing hooks (feature injection) wrap the DenoiseFn and
 * can tell the two calls apart by level: the midpoint level is never a grid level of the step.
 */
import { addScaled } from './ops.ts';
import { levelAt, levelOf, plainInit, type Solver } from './solver.ts';
import { stateWithPrediction } from './deferred-prediction.ts';

export function createRfSolver(): Solver {
  return {
    name: 'rf_solver',
    nfePerStep: 2,
    init: plainInit,
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const D = ctx.sigmas.sigmas[i + 1] - level.sigma;
      const pred = await model(state.x, level);
      const mid = addScaled(state.x, D / 2, pred.derivative);
      const predMid = await model(mid, levelOf(ctx, level.sigma + D / 2));
      return stateWithPrediction(addScaled(state.x, D, predMid.derivative), predMid);
    },
  };
}
