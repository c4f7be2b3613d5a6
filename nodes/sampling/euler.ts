/**
 * Euler on the probability-flow ODE (k-diffusion sample_euler / diffusers EulerDiscreteScheduler):
 * x <- x + (s_next - s) * d, d = dx/dsigma from the model. In VE variables d = eps = (x - D)/s; on a flow
 * model the same step with sigma := t and d = v (fact sheet 1 and 3.3).
 *
 * Churn (k-diffusion, fact sheet 3.3): inside [s_tmin, s_tmax] the level is first raised to
 * s_hat = s (1 + gamma), gamma = min(s_churn / n, sqrt(2) - 1), by adding s_noise * sqrt(s_hat^2 - s^2) z,
 * and the model is evaluated at s_hat. Deliberate deviation from diffusers: diffusers' EulerDiscreteScheduler
 * evaluates the model at s on the un-churned sample (the pipeline calls it before step()), then churns the
 * sample and takes x0 = x_hat - s_hat * eps (v_prediction: the c_skip/c_out of s); this follows k-diffusion
 * (model at s_hat on the churned sample). Both draw noise only when gamma > 0. gamma divides by this run's
 * step count (k-diffusion); diffusers divides by len(sigmas) - 1 of its whole schedule (N + 1 with
 * interpolation_type log_linear, the full N for an img2img tail). diffusers' pipelines never pass s_churn,
 * so their runs are churn-free: with s_churn = 0 both agree exactly.
 */
import { addScaledChecked, linearCombination } from './ops.ts';
import { checkSigmas, levelAt, levelOf, type Solver, type SolverState } from './solver.ts';
import { stateWithPrediction } from './deferred-prediction.ts';

export interface EulerOptions {
  /** Amount of noise re-injected per step (0 = the deterministic ODE solver). */
  sChurn?: number;
  /** Churn only applies to levels in [sTmin, sTmax]. */
  sTmin?: number;
  sTmax?: number;
  /** Scale of the re-injected noise (slightly above 1 compensates detail loss in k-diffusion's EDM setup). */
  sNoise?: number;
}

function checkOptions(o: Required<EulerOptions>): void {
  if (!(o.sChurn >= 0 && Number.isFinite(o.sChurn))) throw new Error(`Euler: s_churn must be a finite number >= 0, got ${o.sChurn}`);
  if (!(o.sNoise >= 0 && Number.isFinite(o.sNoise))) throw new Error(`Euler: s_noise must be a finite number >= 0, got ${o.sNoise}`);
  if (!(o.sTmin >= 0) || Number.isNaN(o.sTmax) || o.sTmax < o.sTmin) throw new Error(`Euler: need 0 <= s_tmin <= s_tmax, got ${o.sTmin} and ${o.sTmax}`);
}

export function createEuler(opts: EulerOptions = {}): Solver {
  const o: Required<EulerOptions> = { sChurn: opts.sChurn ?? 0, sTmin: opts.sTmin ?? 0, sTmax: opts.sTmax ?? Infinity, sNoise: opts.sNoise ?? 1 };
  checkOptions(o);
  const churns = o.sChurn > 0;
  return {
    name: 'euler',
    nfePerStep: 1,
    stochastic: churns,
    init(ctx, x): SolverState {
      checkSigmas(ctx.sigmas);
      if (churns && ctx.sigmas.space === 'flow') throw new Error('Euler churn (s_churn > 0) is defined for VP models only; use s_churn 0 on a flow model');
      if (churns && !ctx.noise) throw new Error('Euler with s_churn > 0 needs a noise source');
      return { x };
    },
    async step(ctx, state, i, model) {
      const s = ctx.sigmas.sigmas[i];
      const n = ctx.sigmas.timesteps.length;
      const gamma = churns && s >= o.sTmin && s <= o.sTmax ? Math.min(o.sChurn / n, Math.SQRT2 - 1) : 0;
      let x = state.x;
      let level = levelAt(ctx.sigmas, i);
      if (gamma > 0) {
        const sHat = s * (1 + gamma);
        x = linearCombination([
          [1, x],
          [o.sNoise * Math.sqrt(sHat * sHat - s * s), ctx.noise!(x.dims)],
        ]);
        level = levelOf(ctx, sHat);
      }
      const pred = await model(x, level);
      // Euler always lands on the next grid level; DDIM-style `targets` do not apply to it.
      return stateWithPrediction(addScaledChecked(x, ctx.sigmas.sigmas[i + 1] - level.sigma, pred.derivative), pred);
    },
  };
}
