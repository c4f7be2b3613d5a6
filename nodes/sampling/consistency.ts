/**
 * Multistep consistency sampling (ComfyUI's lcm sampler, sample_lcm): each step takes the model's x0
 * prediction and noises it afresh to the next level, x <- alpha_next D + sigma_next z (VE: D + s_next z;
 * flow: (1 - t_next) D + t_next z); the step onto 0 returns D. Noise is drawn only on steps that add it.
 * It is what an LCM or other consistency-distilled model is sampled with in ComfyUI, and on flow models
 * diffusers' FlowMatchLCMScheduler step (on FlowMatch Euler's grid). diffusers' LCMScheduler (`lcm`) is
 * another thing: its own grid and the LCM boundary conditions (c_skip, c_out).
 */
import { stateWithPrediction } from './deferred-prediction.ts';
import { checkAncestralRun } from './euler-ancestral.ts';
import { linearCombination } from './ops.ts';
import { levelAt, type Solver } from './solver.ts';

/** `name`: the registered solver it runs as (diffusers' SCMScheduler is this step on its own grid, scm.ts). */
export function createConsistency(name = 'consistency'): Solver {
  return {
    name,
    nfePerStep: 1,
    stochastic: true,
    init(ctx, x) {
      checkAncestralRun(ctx, 'Consistency sampling', 1, false);
      return { x };
    },
    async step(ctx, state, i, model) {
      const next = ctx.sigmas.sigmas[i + 1];
      const pred = await model(state.x, levelAt(ctx.sigmas, i));
      if (next === 0) return stateWithPrediction(pred.denoised, pred);
      const signal = ctx.sigmas.space === 'flow' ? 1 - next : 1;
      return stateWithPrediction(
        linearCombination([
          [signal, pred.denoised],
          [next, ctx.noise!(state.x.dims)],
        ]),
        pred,
      );
    },
  };
}
