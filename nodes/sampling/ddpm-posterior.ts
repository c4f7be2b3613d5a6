/**
 * DDPM ancestral sampling on any VP grid (ComfyUI's ddpm sampler, k-diffusion's generic DDPM step): each
 * step draws from the DDPM posterior q(x_next | x, x0) between the two levels, with abar = 1 / (s^2 + 1),
 * a = abar / abar_next and, in VP variables,
 *   x_next = (x - (1 - a) eps / sqrt(1 - abar)) / sqrt(a) + sqrt((1 - a)(1 - abar_next) / (1 - abar)) z,
 * eps = (x_ve - D) / s; onto 0 it is the x0 prediction. This is DDIM at eta 1 without diffusers'
 * DDIMScheduler defaults (its x0 clipping, its timestep rules): diffusers' DDPMScheduler, which walks only
 * its training levels, is `ddpm`. Noise is drawn only on steps that add it. VP models, and flow models on a
 * ComfyUI grid: ComfyUI's ddpm runs these VE formulas there too (abar = 1 / (t^2 + 1) of a flow level t, the flow
 * sample as the VE state), and so does this solver.
 */
import { stateWithPrediction } from './deferred-prediction.ts';
import { ancestralInit, comfyFlowGrid } from './euler-ancestral.ts';
import { linearCombination } from './ops.ts';
import { levelAt, type Solver } from './solver.ts';

export function createDdpmPosterior(): Solver {
  return {
    name: 'ddpm_posterior',
    nfePerStep: 1,
    stochastic: true,
    init: ancestralInit('DDPM posterior sampling', 1, true),
    async step(ctx, state, i, model) {
      const s = ctx.sigmas.sigmas[i];
      const t = ctx.sigmas.sigmas[i + 1];
      const pred = await model(state.x, levelAt(ctx.sigmas, i));
      if (t === 0) return stateWithPrediction(pred.denoised, pred);
      // On ComfyUI flow grids the scalars are rounded as ComfyUI's float32 tensors hold them: 1 - a cancels on
      // the small last levels of a flow grid (t^2 ~ 1e-6), where float32 leaves it percents off.
      const f = comfyFlowGrid(ctx.sigmas) ? Math.fround : (v: number) => v;
      const abar = f(1 / f(f(s * s) + 1));
      const abarNext = f(1 / f(f(t * t) + 1));
      const a = f(abar / abarNext);
      // In VE variables: x_vp = x / sqrt(1 + s^2), and the result is scaled back by sqrt(1 + t^2).
      const back = f(Math.sqrt(f(1 + f(t * t))));
      const cx = (back / f(Math.sqrt(f(1 + f(s * s))))) * f(Math.sqrt(f(1 / a)));
      const cEps = (-back * f(1 - a)) / f(Math.sqrt(f(1 - abar))) * f(Math.sqrt(f(1 / a)));
      const cz = back * f(Math.sqrt(f(f(f(1 - a) * f(1 - abarNext)) / f(1 - abar))));
      // eps from the x0 prediction, as ComfyUI's step takes it: (x - D) / s.
      const x = linearCombination([
        [cx + cEps / s, state.x],
        [-cEps / s, pred.denoised],
        [cz, ctx.noise!(state.x.dims)],
      ]);
      return stateWithPrediction(x, pred);
    },
  };
}
