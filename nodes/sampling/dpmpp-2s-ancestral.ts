/**
 * DPM-Solver++(2S) ancestral (k-diffusion sample_dpmpp_2s_ancestral, ComfyUI and A1111 "DPM++ 2S a"): per step
 * the ancestral split of s_next into s_down and s_up (euler-ancestral.ts), then a second-order singlestep
 * exponential-integrator step down to s_down with its stage at the midpoint in lambda = -ln sigma
 * (sigma_mid = sqrt(s s_down)): in VE variables
 *   x_mid = (s_mid / s) x + (1 - s_mid / s) D(x, s),   x <- (s_down / s) x + (1 - s_down / s) D(x_mid, s_mid),
 * then + s_noise * s_up * z. The step onto sigma 0 is Euler; noise is drawn on every step but the last. No
 * diffusers class has it; VP models only (ComfyUI runs a different rectified-flow form on flow models).
 */
import { stateWithPrediction } from './deferred-prediction.ts';
import { ancestralStep } from './euler-ancestral.ts';
import { addScaled, linearCombination } from './ops.ts';
import { checkSigmas, levelAt, offGridLevel, type Solver, type SolverState } from './solver.ts';
import type { Sigmas } from '../core/values.ts';

export interface Dpmpp2sAncestralOptions {
  /** 1 = full ancestral noise, 0 = deterministic DPM-Solver++(2S). */
  eta?: number;
  sNoise?: number;
}

export function createDpmpp2sAncestral(opts: Dpmpp2sAncestralOptions = {}): Solver {
  const eta = opts.eta ?? 1;
  const sNoise = opts.sNoise ?? 1;
  if (!(eta >= 0 && eta <= 1)) throw new Error(`DPM++ 2S ancestral: eta must be in [0, 1], got ${eta}`);
  if (!(sNoise >= 0 && Number.isFinite(sNoise))) throw new Error(`DPM++ 2S ancestral: s_noise must be a finite number >= 0, got ${sNoise}`);
  return {
    name: 'dpmpp_2s_ancestral',
    nfePerStep: 2,
    stochastic: eta > 0,
    modelCalls(sigmas: Sigmas) {
      return 2 * sigmas.timesteps.length - sigmas.sigmas.slice(1).filter((s) => s === 0).length;
    },
    init(ctx, x): SolverState {
      checkSigmas(ctx.sigmas);
      if (ctx.sigmas.space !== 'vp') throw new Error('DPM++ 2S ancestral runs on VP models; use euler_ancestral on a flow model');
      if (ctx.sigmas.sigmas.some((v, k) => k > 0 && v > ctx.sigmas.sigmas[k - 1])) throw new Error('DPM++ 2S ancestral cannot walk a grid upwards (inversion)');
      if (eta > 0 && !ctx.noise) throw new Error('DPM++ 2S ancestral needs a noise source');
      return { x };
    },
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const s = level.sigma;
      const next = ctx.sigmas.sigmas[i + 1];
      const pred = await model(state.x, level);
      const { down, up } = ancestralStep(s, next, eta);
      let x;
      let last = pred;
      if (down === 0) {
        x = addScaled(state.x, -s, pred.derivative);
      } else {
        const mid = Math.sqrt(s * down);
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
      if (next > 0 && up > 0) x = addScaled(x, sNoise * up, ctx.noise!(state.x.dims));
      return stateWithPrediction(x, last);
    },
  };
}
