/**
 * Flow-matching Euler (diffusers FlowMatchEulerDiscreteScheduler): x <- x + (t_next - t) * v. DDIM written
 * in rectified-flow variables is exactly this step (fact sheet 1), so 'ddim' on a flow model runs it. It
 * walks a reversed grid (t increasing) unchanged: that is RF inversion with Euler.
 *
 * `stochastic` is the scheduler's stochastic_sampling: x0 = x - t v, then x <- (1 - t_next) x0 + t_next z
 * with fresh noise z. diffusers draws z on every step, the last included (times t_next = 0); here it is
 * drawn only on steps that use it, so step k takes draw k in both.
 */
import { addScaledChecked, axpby } from './ops.ts';
import { checkSigmas, hasUpwardStep, levelAt, type Solver, type SolverState } from './solver.ts';
import { stateWithPrediction } from './deferred-prediction.ts';

export interface FlowEulerOptions {
  /** FlowMatchEulerDiscreteScheduler stochastic_sampling (default false). */
  stochastic?: boolean;
}

export function createFlowEuler(opts: FlowEulerOptions = {}): Solver {
  const stochastic = opts.stochastic === true;
  return {
    name: 'flow_euler',
    nfePerStep: 1,
    stochastic,
    init(ctx, x): SolverState {
      checkSigmas(ctx.sigmas);
      if (ctx.sigmas.space !== 'flow') throw new Error(`flow-matching Euler needs a flow grid, got a "${ctx.sigmas.space}" grid`);
      if (stochastic) {
        if (hasUpwardStep(ctx.sigmas)) throw new Error('stochastic flow Euler cannot walk a grid upwards (inversion): turn stochastic_sampling off');
        if (!ctx.noise) throw new Error('stochastic flow Euler (stochastic_sampling) needs a noise source');
      }
      return { x };
    },
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const pred = await model(state.x, level);
      const next = ctx.sigmas.sigmas[i + 1];
      if (stochastic) {
        // pred.denoised = x - t v for a velocity model (the scheduler's x0).
        const x = next > 0 ? axpby(1 - next, pred.denoised, next, ctx.noise!(state.x.dims)) : pred.denoised.clone();
        return { x, denoised: pred.denoised };
      }
      // For flow predictions `derivative` is the velocity v = eps - x0.
      return stateWithPrediction(addScaledChecked(state.x, next - level.sigma, pred.derivative), pred);
    },
  };
}
