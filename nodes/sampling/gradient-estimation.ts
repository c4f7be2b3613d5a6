/**
 * Gradient estimation (ComfyUI gradient_estimation; Permenter & Yuan, "Interpreting and improving diffusion
 * models from an optimization perspective"): Euler on dx/dsigma = d, plus from the second step the
 * correction (gamma - 1) (d - d_prev) (s_next - s), i.e. the step taken with gamma d + (1 - gamma) d_prev;
 * one model call per step, the step onto sigma 0 returns the x0 prediction. gamma 1 is Euler; ComfyUI's
 * default is 2. CFG++ (gradient_estimation_cfg_pp; cfg-pp.ts): d = (x - U) / s with the unconditional x0 U,
 * and the Euler part x <- D + s_next d.
 */
import type { Tensor } from '../core/tensor.ts';
import { uncondOf } from './cfg-pp.ts';
import { linearCombination } from './ops.ts';
import { checkSigmas, levelAt, type Solver, type SolverState } from './solver.ts';

export interface GradientEstimationState extends SolverState {
  /** The previous step's derivative. */
  previous?: Tensor;
}

export function createGradientEstimation(gamma = 2, cfgPp = false): Solver<GradientEstimationState> {
  if (!Number.isFinite(gamma)) throw new Error(`gradient estimation: gamma must be a finite number, got ${gamma}`);
  return {
    name: cfgPp ? 'gradient_estimation_cfg_pp' : 'gradient_estimation',
    nfePerStep: 1,
    init(ctx, x): GradientEstimationState {
      checkSigmas(ctx.sigmas);
      return { x };
    },
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const next = ctx.sigmas.sigmas[i + 1];
      const pred = await model(state.x, level);
      const s = level.sigma;
      // CFG++: the derivative towards the unconditional x0, (x - U) / s (ComfyUI's to_d on any grid).
      const d = cfgPp ? linearCombination([[1 / s, state.x], [-1 / s, uncondOf(pred)]]) : pred.derivative;
      if (next === 0) return { x: pred.denoised, denoised: pred.denoised, previous: d };
      const dt = next - s;
      const terms: [number, Tensor][] = cfgPp
        ? [
            [1, pred.denoised],
            [next, d],
          ]
        : [
            [1, state.x],
            [dt, d],
          ];
      if (state.previous !== undefined) terms.push([(gamma - 1) * dt, d], [-(gamma - 1) * dt, state.previous]);
      return { x: linearCombination(terms), denoised: pred.denoised, previous: d };
    },
  };
}
