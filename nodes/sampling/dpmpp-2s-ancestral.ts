/**
 * DPM-Solver++(2S) ancestral (k-diffusion sample_dpmpp_2s_ancestral, ComfyUI and A1111 "DPM++ 2S a"): per step
 * the ancestral split of s_next into s_down and s_up (euler-ancestral.ts), then a second-order singlestep
 * exponential-integrator step down to s_down with its stage at the midpoint in lambda = -ln sigma
 * (sigma_mid = sqrt(s s_down)): in VE variables
 *   x_mid = (s_mid / s) x + (1 - s_mid / s) D(x, s),   x <- (s_down / s) x + (1 - s_down / s) D(x_mid, s_mid),
 * then + s_noise * s_up * z. The step onto sigma 0 is Euler; noise is drawn on every step but the last. No
 * diffusers class has it. On flow grids ComfyUI's rectified-flow form (sample_dpmpp_2s_ancestral_RF): its
 * stage halfway in the flow's lambda, and the result rescaled onto s_next's signal before the noise.
 */
import { stateWithPrediction } from './deferred-prediction.ts';
import { ancestralOptions, ancestralSplit, ancestralInit, comfyFloat32Split, type EulerAncestralOptions } from './euler-ancestral.ts';
import { addScaled, linearCombination } from './ops.ts';
import { levelAt, offGridLevel, twoStageModelCalls, type Solver } from './solver.ts';

/** eta 1 = full ancestral noise, 0 = deterministic DPM-Solver++(2S). */
export type Dpmpp2sAncestralOptions = EulerAncestralOptions;

export function createDpmpp2sAncestral(opts: Dpmpp2sAncestralOptions = {}): Solver {
  const { eta, sNoise } = ancestralOptions('DPM++ 2S ancestral', opts);
  return {
    name: 'dpmpp_2s_ancestral',
    nfePerStep: 2,
    stochastic: eta > 0,
    modelCalls: twoStageModelCalls,
    init: ancestralInit('DPM++ 2S ancestral', eta, false),
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const s = level.sigma;
      const next = ctx.sigmas.sigmas[i + 1];
      const pred = await model(state.x, level);
      const flow = ctx.sigmas.space === 'flow';
      const { down, up, rescale } = ancestralSplit(ctx.sigmas.space, s, next, eta, comfyFloat32Split(ctx.sigmas));
      let x;
      let last = pred;
      if (down === 0) {
        x = addScaled(state.x, -s, pred.derivative);
      } else {
        const mid = flow ? flowMidpoint(s, down) : Math.sqrt(s * down);
        const xMid = linearCombination([
          [mid / s, state.x],
          [1 - mid / s, pred.denoised],
        ]);
        last = await model(xMid, offGridLevel(ctx, mid));
        x = linearCombination([
          [down / s, state.x],
          [1 - down / s, last.denoised],
        ]);
      }
      if (next > 0 && up > 0) x = linearCombination([
        [rescale, x],
        [sNoise * up, ctx.noise!(state.x.dims)],
      ]);
      return stateWithPrediction(x, last);
    },
  };
}

/**
 * ComfyUI's flow stage level (sample_dpmpp_2s_ancestral_RF): halfway in the flow's lambda = ln((1 - t) / t)
 * between t and t_down, and 0.9999 from t = 1 (where lambda is -infinity).
 */
function flowMidpoint(t: number, down: number): number {
  if (t === 1) return 0.9999;
  const lambda = (v: number) => Math.log((1 - v) / v);
  return 1 / (Math.exp((lambda(t) + lambda(down)) / 2) + 1);
}
