/**
 * Trajectory Consistency Distillation sampling (Zheng et al. 2024, "TCD"; diffusers TCDScheduler), for
 * TCD-distilled models and TCD-LoRA. Its timesteps are LCM's (lcm.ts: the distillation schedule of
 * original_inference_steps); its grid ends on the table's first level (the last step goes to timestep 0).
 * Each step from t to the next timestep t' (0 after the last) goes to the intermediate timestep
 * s = floor((1 - gamma) t') with the model's x0 and eps (a DDIM step), then, except on the last step,
 * forward-noises from s to t' with fresh noise. In VE variables:
 *   x_s = x0 + sigma_s eps,   x <- x_s + sqrt(sigma_t'^2 - sigma_s^2) z.
 * gamma 0 is DDIM on the TCD timesteps; gamma 1 re-noises the x0 prediction all the way (LCM-like).
 * gamma is diffusers' `eta` of TCDScheduler.step (0.3 there; a pipeline passes its own eta, 0 by default).
 */
import { linearCombination } from './ops.ts';
import { trainingTimestepLookup } from './table-timesteps.ts';
import { checkSigmas, levelAt, type Solver, type SolverState } from './solver.ts';

export interface TcdOptions {
  /** The model's training table: the VE level of each integer timestep (vpTable(cfg).sigmas). */
  tableSigmas: ArrayLike<number>;
  /** Stochasticity gamma in [0, 1] (diffusers' eta; default 0.3). */
  gamma?: number;
  /** diffusers original_inference_steps (default 50): the most steps a grid can have. */
  originalSteps?: number;
}

export function createTcd(opts: TcdOptions): Solver {
  const name = 'TCD';
  const table = opts.tableSigmas;
  const gamma = opts.gamma ?? 0.3;
  if (!(gamma >= 0 && gamma <= 1)) throw new Error(`${name}: gamma must be in [0, 1], got ${gamma}`);
  const timestepOf = trainingTimestepLookup(table, name, 'TCD walks its own grid of training timesteps');
  return {
    name: 'tcd',
    nfePerStep: 1,
    stochastic: gamma > 0,
    maxSteps: opts.originalSteps ?? 50,
    init(ctx, x): SolverState {
      checkSigmas(ctx.sigmas);
      if (ctx.sigmas.space !== 'vp') throw new Error(`${name} is defined for VP (diffusion) models only`);
      const levels = ctx.sigmas.sigmas;
      for (const s of levels) timestepOf(s);
      for (let k = 1; k < levels.length; k++) {
        if (!(levels[k] < levels[k - 1])) throw new Error(`${name} walks its grid downwards only (level ${k} is not below level ${k - 1})`);
      }
      if (gamma > 0 && ctx.sigmas.timesteps.length > 1 && !ctx.noise) throw new Error(`${name} with gamma > 0 needs a noise source`);
      return { x };
    },
    async step(ctx, state, i, model): Promise<SolverState> {
      const { sigmas } = ctx;
      const pred = await model(state.x, levelAt(sigmas, i));
      const next = sigmas.sigmas[i + 1];
      const s = table[Math.floor((1 - gamma) * timestepOf(next))];
      const terms: [number, typeof pred.denoised][] = [
        [1, pred.denoised],
        [s, pred.eps],
      ];
      const last = i === sigmas.timesteps.length - 1;
      if (gamma > 0 && !last) terms.push([Math.sqrt(Math.max(next * next - s * s, 0)), ctx.noise!(state.x.dims)]);
      return { x: linearCombination(terms), denoised: pred.denoised };
    },
  };
}
