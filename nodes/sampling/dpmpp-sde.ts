/**
 * DPM-Solver++ SDE (k-diffusion sample_dpmpp_sde; ComfyUI's dpmpp_sde, A1111's "DPM++ SDE"): a singlestep
 * second-order stochastic step in lambda = -ln sigma with its stage at r = 1/2, each half an ancestral
 * split (euler-ancestral.ts) of an exponential-integrator step. In VE variables, with s_down, s_up the
 * ancestral split of s -> s_mid and then of s -> s_next:
 *   x_mid = (s_down / s) x + (1 - s_down / s) D(x, s) + s_noise s_up z(s, s_mid),
 *   x    <- (s_down / s) x + (1 - s_down / s) D(x_mid, s_mid) + s_noise s_up z(s, s_next).
 * Both noises are asked for with the levels they span: ComfyUI draws them from one Brownian path (its
 * noise_generator takes them from the same Brownian tree, so z(s, s_mid) and z(s, s_next) are correlated as
 * there); other noise sources give two independent draws. The step onto 0 returns the x0 prediction. VP
 * models only (ComfyUI moves a flow grid's first level off t = 1 before the step; not reproduced here).
 * No diffusers class has this step.
 */
import type { Tensor } from '../core/tensor.ts';
import { stateWithPrediction } from './deferred-prediction.ts';
import { ancestralOptions, ancestralStep, ancestralInit, type EulerAncestralOptions } from './euler-ancestral.ts';
import { linearCombination } from './ops.ts';
import { levelAt, offGridLevel, twoStageModelCalls, type Solver } from './solver.ts';

export type DpmppSdeOptions = EulerAncestralOptions;

const f32 = Math.fround;

/**
 * The stage level sigma(lambda_s + h / 2), computed as ComfyUI computes it: float32 tensor ops on -ln sigma.
 * The level is where the model is called and where the Brownian noise is queried, so it must be the same
 * float32 value: torchsde rounds query times to 1e-6, and a one-ulp difference can cross that rounding.
 */
export function comfySdeMidpoint(s: number, next: number): number {
  const ls = f32(-f32(Math.log(f32(s))));
  const lt = f32(-f32(Math.log(f32(next))));
  const h = f32(lt - ls);
  return f32(Math.exp(f32(-f32(ls + f32(0.5 * h)))));
}

export function createDpmppSde(opts: DpmppSdeOptions = {}): Solver {
  const { eta, sNoise } = ancestralOptions('DPM++ SDE', opts);
  const noisy = eta > 0 && sNoise > 0;
  return {
    name: 'dpmpp_sde',
    nfePerStep: 2,
    stochastic: noisy,
    modelCalls: twoStageModelCalls,
    init: ancestralInit('DPM++ SDE', eta, true),
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const s = level.sigma;
      const next = ctx.sigmas.sigmas[i + 1];
      const pred = await model(state.x, level);
      if (next === 0) return stateWithPrediction(pred.denoised, pred);
      const mid = comfySdeMidpoint(s, next);
      // An exponential-integrator step from s towards `to` on the ancestral split, with that span's noise.
      const halfStep = (to: number, denoised: Tensor): Tensor => {
        const { down, up } = ancestralStep(s, to, eta);
        const terms: [number, Tensor][] = [
          [down / s, state.x],
          [1 - down / s, denoised],
        ];
        if (noisy && up > 0) terms.push([sNoise * up, ctx.noise!(state.x.dims, { from: s, to })]);
        return linearCombination(terms);
      };
      const xMid = halfStep(mid, pred.denoised);
      const last = await model(xMid, offGridLevel(ctx, mid));
      return stateWithPrediction(halfStep(next, last.denoised), last);
    },
  };
}
