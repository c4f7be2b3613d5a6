/**
 * DPM-Solver-2 in Karras' form (k-diffusion sample_dpm_2, diffusers KDPM2DiscreteScheduler, ComfyUI dpm_2):
 * an Euler half-step to the geometric midpoint s_mid = sqrt(s s_next) (halfway in log sigma), the model
 * there, then the whole step with the midpoint's derivative: x <- x + (s_next - s) d(x_mid, s_mid). The step
 * onto sigma 0 is plain Euler, so a run makes 2n - 1 model calls when the grid ends at 0. The midpoint is
 * off the grid: its timestep comes from SolverContext.timestepAt (diffusers interpolates it, ComfyUI takes
 * the nearest training step). On a flow grid the same step in t (the derivative is the velocity).
 *
 * The ancestral form (k-diffusion sample_dpm_2_ancestral, diffusers KDPM2AncestralDiscreteScheduler, ComfyUI
 * dpm_2_ancestral) takes the same step down to s_down (euler-ancestral.ts's split of s_next into s_down and
 * s_up), midpoint sqrt(s s_down), then adds s_noise * s_up * z: one draw per step, none on the step to 0. On
 * flow grids, ComfyUI's rectified-flow split (euler-ancestral.ts): the result rescaled onto s_next's signal.
 */
import { stateWithPrediction } from './deferred-prediction.ts';
import { ancestralOptions, ancestralSplit, ancestralInit, comfyFloat32Split, type EulerAncestralOptions } from './euler-ancestral.ts';
import { addScaled, linearCombination } from './ops.ts';
import { levelAt, offGridLevel, plainInit, type Solver, twoStageModelCalls } from './solver.ts';

export function createDpm2(): Solver {
  return {
    name: 'dpm_2',
    nfePerStep: 2,
    modelCalls: twoStageModelCalls,
    init: plainInit,
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const next = ctx.sigmas.sigmas[i + 1];
      const pred = await model(state.x, level);
      if (next === 0) return stateWithPrediction(addScaled(state.x, -level.sigma, pred.derivative), pred);
      const mid = Math.exp((Math.log(level.sigma) + Math.log(next)) / 2);
      const half = addScaled(state.x, mid - level.sigma, pred.derivative);
      const pred2 = await model(half, offGridLevel(ctx, mid));
      return stateWithPrediction(addScaled(state.x, next - level.sigma, pred2.derivative), pred2);
    },
  };
}

/** eta 1 = full ancestral noise, 0 = DPM-Solver-2. */
export type Dpm2AncestralOptions = EulerAncestralOptions;

export function createDpm2Ancestral(opts: Dpm2AncestralOptions = {}): Solver {
  const { eta, sNoise } = ancestralOptions('DPM-Solver-2 ancestral', opts);
  return {
    name: 'dpm_2_ancestral',
    nfePerStep: 2,
    stochastic: eta > 0,
    modelCalls: twoStageModelCalls,
    init: ancestralInit('DPM-Solver-2 ancestral', eta, false),
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const s = level.sigma;
      const pred = await model(state.x, level);
      // Flow grids: ComfyUI's rectified-flow form (sample_dpm_2_ancestral_RF), the step rescaled onto s_next's signal level.
      const { down, up, rescale } = ancestralSplit(ctx.sigmas.space, s, ctx.sigmas.sigmas[i + 1], eta, comfyFloat32Split(ctx.sigmas));
      if (down === 0) return stateWithPrediction(addScaled(state.x, -s, pred.derivative), pred);
      const mid = Math.exp((Math.log(s) + Math.log(down)) / 2);
      const pred2 = await model(addScaled(state.x, mid - s, pred.derivative), offGridLevel(ctx, mid));
      const terms: [number, typeof state.x][] = [
        [rescale, state.x],
        [rescale * (down - s), pred2.derivative],
      ];
      if (up > 0) terms.push([sNoise * up, ctx.noise!(state.x.dims)]);
      return { x: linearCombination(terms), denoised: pred2.denoised };
    },
  };
}
