/**
 * Euler on the probability-flow ODE (k-diffusion sample_euler / diffusers EulerDiscreteScheduler with
 * s_churn = 0): x <- x + (s_next - s) * d, d = dx/dsigma from the model. In VE variables d = eps =
 * (x - D)/s; on a flow model the same step with sigma := t and d = v (fact sheet 1 and 3.3).
 */
import { addScaled } from './ops.ts';
import { checkSigmas, levelAt, type Solver, type SolverState } from './solver.ts';

export function createEuler(): Solver {
  return {
    name: 'euler',
    nfePerStep: 1,
    init(ctx, x): SolverState {
      checkSigmas(ctx.sigmas);
      return { x };
    },
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const pred = await model(state.x, level);
      // Euler always lands on the next grid level; DDIM-style `targets` do not apply to it.
      const x = addScaled(state.x, ctx.sigmas.sigmas[i + 1] - level.sigma, pred.derivative);
      return { x, denoised: pred.denoised };
    },
  };
}
