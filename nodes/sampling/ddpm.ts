/**
 * DDPM ancestral sampling (Ho et al. 2020) with diffusers DDPMScheduler semantics: each step goes from t to
 * the next timestep t' of the list (abar = 1 after the last) with the posterior mean
 *   x' = sqrt(abar') beta_t / (1 - abar) x0 + sqrt(alpha_t) (1 - abar') / (1 - abar) x_t,
 *   alpha_t = abar / abar', beta_t = 1 - alpha_t,
 * plus std z with std^2 = (1 - abar') / (1 - abar) beta_t (fixed_small, floored at 1e-20; fixed_small_log is
 * the same) or beta_t (fixed_large), drawn only while t > 0. x0 is clipped (clip_sample, default on) or
 * thresholded by the model wrapper, as DDPMScheduler does before the update.
 *
 * Not offered: variance_type "learned" / "learned_range" (the model's variance channels do not reach the
 * solver) and "fixed_large_log", for which diffusers takes the square root of a log (NaN).
 */
import type { Tensor } from '../core/tensor.ts';
import { linearCombination } from './ops.ts';
import { trainingTimestepLookup } from './table-timesteps.ts';
import { checkSigmas, levelAt, type Solver, type SolverState } from './solver.ts';

export type DdpmVariance = 'fixed_small' | 'fixed_small_log' | 'fixed_large';

export interface DdpmOptions {
  /** The model's training table: the VE level of each integer timestep (vpTable(cfg).sigmas). */
  tableSigmas: ArrayLike<number>;
  variance?: DdpmVariance;
}

const abarOf = (s: number) => 1 / (s * s + 1);

export function createDdpm(opts: DdpmOptions): Solver {
  const name = 'DDPM';
  const variance = opts.variance ?? 'fixed_small';
  if (variance !== 'fixed_small' && variance !== 'fixed_small_log' && variance !== 'fixed_large') {
    throw new Error(`${name}: variance_type ${JSON.stringify(variance)} is not offered (fixed_small, fixed_small_log, fixed_large; learned variances need the model's variance channels)`);
  }
  const table = opts.tableSigmas;
  const timestepOf = trainingTimestepLookup(table, name, 'DDPM walks its own grid of training timesteps');
  return {
    name: 'ddpm',
    nfePerStep: 1,
    stochastic: true,
    init(ctx, x) {
      checkSigmas(ctx.sigmas);
      if (ctx.sigmas.space !== 'vp') throw new Error(`${name} is defined for VP (diffusion) models only`);
      const s = ctx.sigmas.sigmas;
      for (let k = 0; k < ctx.sigmas.timesteps.length; k++) timestepOf(s[k]);
      for (let k = 1; k < s.length; k++) if (!(s[k] < s[k - 1])) throw new Error(`${name} needs a descending grid`);
      if (!ctx.noise) throw new Error(`${name} needs a noise source`);
      return { x };
    },
    async step(ctx, state, i, model): Promise<SolverState> {
      const { sigmas } = ctx;
      const s = sigmas.sigmas[i];
      const p = sigmas.targets?.[i] ?? sigmas.sigmas[i + 1];
      const next = sigmas.sigmas[i + 1];
      const pred = await model(state.x, levelAt(sigmas, i));
      const a = abarOf(s);
      const ap = abarOf(p);
      const alpha = a / ap;
      const beta = 1 - alpha;
      // In VP variables x_vp = x_ve sqrt(a); the result lands in VE at `next` (x_ve' = x_vp' / sqrt(abar(next))).
      const land = Math.sqrt(next * next + 1);
      const cX0 = (Math.sqrt(ap) * beta) / (1 - a);
      const cX = (Math.sqrt(alpha) * (1 - ap)) / (1 - a);
      const terms: [number, Tensor][] = [
        [cX0 * land, pred.denoised],
        [cX * Math.sqrt(a) * land, state.x],
      ];
      if (timestepOf(s) > 0) {
        const small = Math.max(((1 - ap) / (1 - a)) * beta, 1e-20);
        const std = Math.sqrt(variance === 'fixed_large' ? beta : small);
        terms.push([std * land, ctx.noise!(state.x.dims)]);
      }
      return { x: linearCombination(terms), denoised: pred.denoised };
    },
  };
}
