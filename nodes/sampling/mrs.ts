/**
 * MR Sampler (Li et al. 2025, grrrute/mr-sampler; fact sheet 7) for mean-reverting diffusion (IR-SDE):
 *   x_t = mu + a_t (x0 - mu) + sbar_t eps,  a_t = exp(-thetabar_t),  sbar_t = sigma_inf sqrt(1 - a_t^2),
 * mu the degraded image. On y = x - mu the path is VP-like, and MRS is DPM-Solver++ on y, written back in x:
 *   order 1: x_t = (sbar_t/sbar_s) x + a_t (1 - e^{-h}) D + mu (1 - sbar_t/sbar_s + (sbar_t/sbar_s) a_s - a_t),
 *   order 2 (multistep, the reference's "heun" form): + a_t (1 - (1 - e^{-h})/h) (D - D_prev)/r,
 *   order 3 (the reference's step_ode_3rd, DPM-Solver++ 3M's reference form: asymptotically second order on the
 *   Gaussian test, like that form, fact sheet 3.4),
 * with lambda = ln(a/sbar), h = lambda_t - lambda_s, r = h_prev/h and D the data (x0) prediction in x.
 *
 * Grid convention: a mean-reverting schedule is carried in an ordinary 'vp' Sigmas whose levels are the VE
 * levels of y, s = sbar/a (so lambda = -ln s), and a = sigma_inf/sqrt(s^2 + sigma_inf^2). The solver's
 * state is the MR sample x itself (not VE-scaled), and its DenoiseFn must return x0-hat in x.
 * Step orders as the reference's sampling loop picks them (mrsStepOrder): warm-up at orders 1, 2; the last step
 * at the full order; with fewer than 10 steps min(order, n - g - 1) before it, which lowers the steps just before
 * the last. The step to sigma 0 returns D. A split run counts steps within the whole schedule (scheduleSteps,
 * scheduleStart), so the end rule fires only near the schedule's end, and each part warms up again.
 */
import type { Tensor } from '../core/tensor.ts';
import type { Sigmas } from '../core/values.ts';
import { linearCombination } from './ops.ts';
import { checkSigmas, type DenoiseFn, hasUpwardStep, levelAt, type Solver, type SolverState } from './solver.ts';

export interface MrsOptions {
  /** 1, 2 or 3 (the reference's default is 2). */
  order?: number;
  /** The mean the process reverts to (the degraded image); absent = 0. */
  mu?: Tensor;
  /** Stationary std of the MR SDE (IR-SDE max_sigma); 1 with mu = 0 is an ordinary VP model. */
  sigmaInf?: number;
  /** Steps of the whole schedule when this run walks a part of it (default: this grid's). */
  scheduleSteps?: number;
  /** The schedule step this grid's first step is (default 0). */
  scheduleStart?: number;
}

export interface MrsState extends SolverState {
  /** The previous data prediction and its lambda (orders 2 and 3). */
  prev?: { denoised: Tensor; lambda: number };
  /** The one before it (order 3). */
  prev2?: { denoised: Tensor; lambda: number };
}

/** Below this many steps the steps before the last are taken at lowered orders (the reference's short-run rule). */
const SHORT_RUN = 10;

/** The MR coefficients of a grid level s = sbar/a: a = sigma_inf / sqrt(s^2 + sigma_inf^2), sbar = s a. */
export function mrCoefficients(s: number, sigmaInf: number): { a: number; sbar: number } {
  const a = sigmaInf / Math.sqrt(s * s + sigmaInf * sigmaInf);
  return { a, sbar: s * a };
}

/**
 * A 'vp' Sigmas for an MR schedule from its a_t values at every level (noise descending, so a increases;
 * a = 1 is sigma 0), with one model timestep per step (one fewer than levels).
 */
export function mrSigmas(a: readonly number[], sigmaInf: number, timesteps: readonly number[]): Sigmas {
  if (!(sigmaInf > 0)) throw new Error(`MRS: sigma_inf must be > 0, got ${sigmaInf}`);
  if (a.length !== timesteps.length + 1) throw new Error(`MRS: ${a.length} levels for ${timesteps.length} timesteps (expected one more)`);
  const sigmas = a.map((ai) => {
    if (!(ai > 0 && ai <= 1)) throw new Error(`MRS: a_t = ${ai} is outside (0, 1]`);
    return (sigmaInf * Math.sqrt(Math.max(1 - ai * ai, 0))) / ai;
  });
  return { space: 'vp', sigmas, timesteps: [...timesteps], origin: 'MeanReverting' };
}

/**
 * The order of schedule step g (from 0) of n, as MR Sampler's sampling loop picks it: the first order - 1 steps
 * warm up at orders 1, 2; the last step runs at the full order; in between, runs shorter than 10 steps take
 * min(order, n - g - 1), which lowers the steps just before the last.
 */
export function mrsStepOrder(order: number, g: number, n: number): number {
  if (g < order - 1) return g + 1;
  if (g === n - 1) return order;
  return n < SHORT_RUN ? Math.min(order, n - g - 1) : order;
}

export function createMrs(opts: MrsOptions = {}): Solver<MrsState> {
  const order = opts.order ?? 2;
  const sigmaInf = opts.sigmaInf ?? 1;
  const mu = opts.mu;
  if (order !== 1 && order !== 2 && order !== 3) throw new Error(`MRS: order must be 1, 2 or 3, got ${order}`);
  if (!(sigmaInf > 0 && Number.isFinite(sigmaInf))) throw new Error(`MRS: sigma_inf must be a finite number > 0, got ${sigmaInf}`);
  return {
    name: 'mrs',
    nfePerStep: 1,
    init(ctx, x): MrsState {
      checkSigmas(ctx.sigmas);
      if (ctx.sigmas.space !== 'vp') throw new Error('MRS needs a VP-type (mean-reverting) grid, not a flow grid');
      if (hasUpwardStep(ctx.sigmas)) throw new Error('MRS cannot walk a grid upwards');
      if (mu && !mu.sameShape(x)) throw new Error(`MRS: mu has shape ${mu.shapeString()} but the sample has ${x.shapeString()}`);
      return { x };
    },
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const next = ctx.sigmas.sigmas[i + 1];
      const pred = await model(state.x, level);
      const D = pred.denoised;
      if (next === 0) return { x: D, denoised: D };
      const from = mrCoefficients(level.sigma, sigmaInf);
      const to = mrCoefficients(next, sigmaInf);
      const lambdaS = -Math.log(level.sigma);
      const lambdaT = -Math.log(next);
      const h = lambdaT - lambdaS;
      const ratio = to.sbar / from.sbar;
      const phi = -Math.expm1(-h); // 1 - e^{-h}
      const terms: [number, Tensor][] = [
        [ratio, state.x],
        [to.a * phi, D],
      ];
      if (mu) terms.push([1 - ratio + ratio * from.a - to.a, mu]);
      const n = opts.scheduleSteps ?? ctx.sigmas.timesteps.length;
      const global = (opts.scheduleStart ?? 0) + i;
      const history = state.prev2 ? 2 : state.prev ? 1 : 0;
      const stepOrder = Math.min(mrsStepOrder(order, global, n), history + 1);
      if (stepOrder >= 2) {
        const r = (lambdaS - state.prev!.lambda) / h;
        // phi2 = (e^{-h} - 1)/h + 1, the reference's coefficient of D1 (with a_t and the sign folded in).
        const phi2 = 1 - phi / h;
        if (stepOrder === 2) {
          const c = (to.a * phi2) / r;
          terms.push([c, D], [-c, state.prev!.denoised]);
        } else {
          // The reference's third order (its step_ode_3rd): D1 = D1_0 + w (D1_0 - D1_1), D2 = (D1_0 - D1_1)/(r + r1),
          // w = r/(r + r1), added as a_t (phi2 D1 - phi3 D2), phi3 = phi2/h - 1/2; written on (D - D_prev) and (D_prev - D_prev2).
          const r1 = (state.prev!.lambda - state.prev2!.lambda) / h;
          const phi3 = phi2 / h - 0.5;
          const w = r / (r + r1);
          const cA = (to.a * (phi2 * (1 + w) - phi3 / (r + r1))) / r;
          const cB = (-to.a * (phi2 * w - phi3 / (r + r1))) / r1;
          terms.push([cA, D], [-cA + cB, state.prev!.denoised], [-cB, state.prev2!.denoised]);
        }
      }
      return { x: linearCombination(terms), denoised: D, prev: { denoised: D, lambda: lambdaS }, prev2: state.prev };
    },
  };
}

/**
 * MRS on an ordinary VP model inside the Sampler loop, whose states are VE samples: with mu = 0 and
 * sigma_inf = 1 the MR sample is the VP sample x_ve / sqrt(s^2 + 1), so each step converts in and out.
 * (That makes it DPM-Solver++ 1 / 2M in its "heun" form. IR-SDE networks run MRS on x itself, through
 * mean-reverting.ts's model wrapper and irsde.ts's grid.)
 */
export function createMrsOnVe(order = 2, place: Pick<MrsOptions, 'scheduleSteps' | 'scheduleStart'> = {}): Solver<MrsState> {
  const inner = createMrs({ order, ...place });
  const toVp = (s: number) => 1 / Math.sqrt(s * s + 1);
  return {
    name: 'mrs',
    nfePerStep: 1,
    init(ctx, x) {
      inner.init(ctx, x);
      return { x };
    },
    async step(ctx, state, i, model) {
      const s = ctx.sigmas.sigmas[i];
      const next = ctx.sigmas.sigmas[i + 1];
      // The VP sample in MR variables; the model wrapper maps it back to VE (the prediction's denoised and
      // eps are the same in both variables).
      const vpModel: DenoiseFn = (x, level) => model(linearCombination([[1 / toVp(level.sigma), x]]), level);
      const out = await inner.step(ctx, { ...state, x: linearCombination([[toVp(s), state.x]]) }, i, vpModel);
      return { ...out, x: linearCombination([[1 / toVp(next), out.x]]) };
    },
  };
}
