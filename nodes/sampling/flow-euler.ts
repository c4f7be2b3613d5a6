/**
 * Flow-matching Euler (diffusers FlowMatchEulerDiscreteScheduler): x <- x + (t_next - t) * v. DDIM written
 * in rectified-flow variables is exactly this step (fact sheet 1), so 'ddim' on a flow model runs it. It
 * walks a reversed grid (t increasing) unchanged: that is RF inversion with Euler.
 */
import { addScaled } from './ops.ts';
import { checkSigmas, levelAt, type Solver, type SolverState } from './solver.ts';

export function createFlowEuler(): Solver {
  return {
    name: 'flow_euler',
    nfePerStep: 1,
    init(ctx, x): SolverState {
      checkSigmas(ctx.sigmas);
      if (ctx.sigmas.space !== 'flow') throw new Error(`flow-matching Euler needs a flow grid, got a "${ctx.sigmas.space}" grid`);
      return { x };
    },
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const pred = await model(state.x, level);
      // For flow predictions `derivative` is the velocity v = eps - x0.
      return { x: addScaled(state.x, ctx.sigmas.sigmas[i + 1] - level.sigma, pred.derivative), denoised: pred.denoised };
    },
  };
}
