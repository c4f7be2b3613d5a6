/**
 * DPM-Solver++ SDE (k-diffusion sample_dpmpp_sde; ComfyUI's dpmpp_sde, A1111's "DPM++ SDE"): a singlestep
 * second-order stochastic step in the half-log-SNR lambda with its stage at r = 1/2, each half an ancestral
 * split of an exponential-integrator step. In half-log-SNR terms (half-log-snr.ts: rho = e^{-lambda} is the
 * VE sigma on VP grids, t / (1 - t) on flow grids), with rho_down, rho_up the ancestral split of
 * rho_s -> rho_mid and then of rho_s -> rho_next (euler-ancestral.ts):
 *   x_mid = (alpha_mid / alpha_s)(rho_down / rho_s) x + alpha_mid (1 - rho_down / rho_s) D(x, s) + alpha_mid s_noise rho_up z(s, mid),
 *   x    <- the same from s to s_next with D(x_mid, mid) and z(s, s_next).
 * Both noises are asked for with the levels they span: ComfyUI draws them from one Brownian path (its
 * noise_generator takes them from the same Brownian tree, so z(s, s_mid) and z(s, s_next) are correlated as
 * there, and diffusers' DPMSolverSDEScheduler with noise_generator torch); other noise sources give two
 * independent draws. The step onto 0 returns the x0 prediction. diffusers' DPMSolverSDEScheduler is this
 * step at eta 1 and s_noise 1 split into two scheduler calls: the first half (to the stage level) and the
 * second (from the saved sample, with the stage's x0 alone, which is r = 1/2's weighting).
 */
import type { Tensor } from '../core/tensor.ts';
import type { SigmaSpace } from '../core/values.ts';
import { stateWithPrediction } from './deferred-prediction.ts';
import { ancestralOptions, ancestralStep, checkAncestralRun, type EulerAncestralOptions } from './euler-ancestral.ts';
import { FLOW_SNR_CAP, snrLevel } from './half-log-snr.ts';
import { linearCombination } from './ops.ts';
import { levelAt, offGridLevel, twoStageModelCalls, type Solver, type SolverState } from './solver.ts';

export interface DpmppSdeOptions extends EulerAncestralOptions {
  /**
   * The levels the Brownian noise is asked for. 'levels' (ComfyUI): the grid levels and the stage level as
   * they are. 'diffusers' (DPMSolverSDEScheduler, after k-diffusion's first form): a grid level goes
   * through sigma_fn(t_fn(sigma)) = exp(-(-ln sigma)) in float32 first, which can move it by an ulp, and
   * so to another point of the tree. VP grids.
   */
  noiseAt?: 'levels' | 'diffusers';
  /**
   * The stage's fraction of the step in lambda (k-diffusion's r, ComfyUI SamplerDPMPP_SDE's; default 1/2). The
   * step's x0 is lerp(D, D_stage, 1 / (2 r)), D_stage alone at 1/2.
   */
  r?: number;
}

/** sigma_fn(t_fn(sigma)) as float32 tensor ops: exp(log(sigma)), each rounded to float32. */
function float32RoundTrip(sigma: number): number {
  return f32(Math.exp(f32(Math.log(f32(sigma)))));
}

const f32 = Math.fround;

/**
 * The stage level halfway in lambda between two levels, computed as ComfyUI computes it: float32 tensor
 * ops on -ln sigma (VP) or -logit(t) (flow), back through exp or the sigmoid. The level is where the model
 * is called and where the Brownian noise is queried, so it must be the same float32 value: torchsde rounds
 * query times to 1e-6, and a one-ulp difference can cross that rounding.
 */
export function comfySdeMidpoint(space: SigmaSpace, s: number, next: number, r = 0.5): number {
  // A flow level at t = 1 is taken at FLOW_SNR_CAP (its logit is infinite); ComfyUI's grids never start there.
  const lambda =
    space === 'flow'
      ? (v: number) => {
          const t = f32(v >= 1 ? FLOW_SNR_CAP : v);
          return f32(-f32(Math.log(f32(t / f32(1 - t)))));
        }
      : (v: number) => f32(-f32(Math.log(f32(v))));
  const ls = lambda(s);
  const h = f32(lambda(next) - ls);
  const mid = f32(ls + f32(f32(r) * h));
  return space === 'flow' ? f32(1 / f32(1 + f32(Math.exp(mid)))) : f32(Math.exp(f32(-mid)));
}

export function createDpmppSde(opts: DpmppSdeOptions = {}): Solver {
  const { eta, sNoise } = ancestralOptions('DPM++ SDE', opts);
  const diffusersQueries = opts.noiseAt === 'diffusers';
  const noisy = eta > 0 && sNoise > 0;
  const r = opts.r ?? 0.5;
  if (!(r > 0 && Number.isFinite(r))) throw new Error(`DPM++ SDE: r must be a positive number, got ${r}`);
  if (diffusersQueries && r !== 0.5) throw new Error("DPM++ SDE: diffusers' DPMSolverSDEScheduler takes its stage halfway (r 1/2)");
  const fac = 1 / (2 * r);
  return {
    name: 'dpmpp_sde',
    nfePerStep: 2,
    stochastic: noisy,
    modelCalls: twoStageModelCalls,
    init(ctx, x): SolverState {
      checkAncestralRun(ctx, 'DPM++ SDE', eta, false);
      return { x };
    },
    async step(ctx, state, i, model) {
      const { space } = ctx.sigmas;
      const level = levelAt(ctx.sigmas, i);
      const s = level.sigma;
      const next = ctx.sigmas.sigmas[i + 1];
      const pred = await model(state.x, level);
      if (next === 0) return stateWithPrediction(pred.denoised, pred);
      const from = snrLevel(space, s);
      const mid = comfySdeMidpoint(space, s, next, r);
      // An exponential-integrator step from s towards `to` on the ancestral split, with that span's noise.
      const halfStep = (to: number, denoised: Tensor): Tensor => {
        const target = snrLevel(space, to);
        const { down, up } = ancestralStep(from.rho, target.rho, eta);
        const a = target.alpha;
        const terms: [number, Tensor][] = [
          [(a / from.alpha) * (down / from.rho), state.x],
          [a * (1 - down / from.rho), denoised],
        ];
        if (noisy && up > 0) {
          const span = diffusersQueries ? { from: float32RoundTrip(s), to: to === mid ? mid : float32RoundTrip(to) } : { from: s, to };
          terms.push([a * sNoise * up, ctx.noise!(state.x.dims, span)]);
        }
        return linearCombination(terms);
      };
      const xMid = halfStep(mid, pred.denoised);
      const last = await model(xMid, offGridLevel(ctx, mid));
      // (1 - fac) D + fac D_stage: the stage's x0 alone at r = 1/2.
      const blended = fac === 1 ? last.denoised : linearCombination([[1 - fac, pred.denoised], [fac, last.denoised]]);
      return stateWithPrediction(halfStep(next, blended), last);
    },
  };
}
