/**
 * MR Sampler (Li et al. 2025, grrrute/mr-sampler; fact sheet 7) for mean-reverting diffusion (IR-SDE):
 *   x_t = mu + a_t (x0 - mu) + sbar_t eps,  a_t = exp(-thetabar_t),  sbar_t = sigma_inf sqrt(1 - a_t^2),
 * mu the degraded image. On y = x - mu the path is VP-like, and MRS is DPM-Solver++ on y, written back in x:
 *   order 1: x_t = (sbar_t/sbar_s) x + a_t (1 - e^{-h}) D + mu (1 - sbar_t/sbar_s + (sbar_t/sbar_s) a_s - a_t),
 *   order 2 (multistep, the reference's "heun" form): + a_t (1 - (1 - e^{-h})/h) (D - D_prev)/r,
 *   order 3 (the reference's step_ode_3rd, DPM-Solver++ 3M's reference form: asymptotically second order on the
 *   Gaussian test, like that form, fact sheet 3.4),
 * with lambda = ln(a/sbar), h = lambda_t - lambda_s, r = h_prev/h and D the data (x0) prediction in x.
 * Besides this data-prediction ODE form, the reference's other forms: the noise parameterization (the
 * multistep history holds eps predictions: DPM-Solver on y, orders 1-3) and the SDE solver (orders 1-2, data
 * form SDE-DPM-Solver++ with its "heun" second order, noise form its SDE-DPM-Solver counterpart), which
 * draws sbar_t sqrt(1 - e^{-2h}) z (data) or sbar_t sqrt(e^{2h} - 1) z (noise) afresh every step.
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
  /** 1, 2 or 3 (the reference's default is 2); the SDE solver takes 1 or 2. */
  order?: number;
  /** ode (default): the probability-flow ODE; sde: the reverse SDE, drawing fresh noise every step (ctx.noise). */
  solverType?: 'ode' | 'sde';
  /** What the multistep history holds: data (x0, default) or noise (eps) predictions, as the reference's parameterization. */
  parameterization?: 'data' | 'noise';
  /** The mean the process reverts to (the degraded image); absent = 0. */
  mu?: Tensor;
  /** Stationary std of the MR SDE (IR-SDE max_sigma); 1 with mu = 0 is an ordinary VP model. */
  sigmaInf?: number;
  /** Steps of the whole schedule when this run walks a part of it (default: this grid's). */
  scheduleSteps?: number;
  /** The schedule step this grid's first step is (default 0). */
  scheduleStart?: number;
}

/** One earlier prediction of the multistep history (data or noise, per the parameterization) and its lambda. */
interface MrsHistory {
  q: Tensor;
  lambda: number;
}

export interface MrsState extends SolverState {
  /** The previous prediction and its lambda (orders 2 and 3). */
  prev?: MrsHistory;
  /** The one before it (order 3). */
  prev2?: MrsHistory;
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

/**
 * The terms A D1 + B D2 of a multistep step on the history q0 (this step's), q1, q2: D1 = (q0 - q1)/r at
 * second order; at third order the reference's D1 = D1_0 + w (D1_0 - D1_1), D2 = (D1_0 - D1_1)/(r + r1),
 * w = r/(r + r1), with D1_0 = (q0 - q1)/r and D1_1 = (q1 - q2)/r1.
 */
function historyTerms(A: number, B: number, q0: Tensor, prev: MrsHistory, prev2: MrsHistory | undefined, r: number, r1: number, stepOrder: number): [number, Tensor][] {
  if (stepOrder === 2) return [[A / r, q0], [-A / r, prev.q]];
  const w = r / (r + r1);
  const c0 = (A * (1 + w) + B / (r + r1)) / r;
  const c2 = (A * w + B / (r + r1)) / r1;
  return [[c0, q0], [-c0 - c2, prev.q], [c2, prev2!.q]];
}

export function createMrs(opts: MrsOptions = {}): Solver<MrsState> {
  const order = opts.order ?? 2;
  const sigmaInf = opts.sigmaInf ?? 1;
  const sde = (opts.solverType ?? 'ode') === 'sde';
  const noiseForm = (opts.parameterization ?? 'data') === 'noise';
  const mu = opts.mu;
  if (opts.solverType !== undefined && opts.solverType !== 'ode' && opts.solverType !== 'sde') throw new Error(`MRS: solver type must be ode or sde, got ${opts.solverType}`);
  if (opts.parameterization !== undefined && opts.parameterization !== 'data' && opts.parameterization !== 'noise') throw new Error(`MRS: parameterization must be data or noise, got ${opts.parameterization}`);
  if (order !== 1 && order !== 2 && order !== 3) throw new Error(`MRS: order must be 1, 2 or 3, got ${order}`);
  if (sde && order === 3) throw new Error('MRS: the SDE solver has orders 1 and 2 (the reference has no third-order SDE step)');
  if (!(sigmaInf > 0 && Number.isFinite(sigmaInf))) throw new Error(`MRS: sigma_inf must be a finite number > 0, got ${sigmaInf}`);
  return {
    name: 'mrs',
    nfePerStep: 1,
    init(ctx, x): MrsState {
      checkSigmas(ctx.sigmas);
      if (ctx.sigmas.space !== 'vp') throw new Error('MRS needs a VP-type (mean-reverting) grid, not a flow grid');
      if (hasUpwardStep(ctx.sigmas)) throw new Error('MRS cannot walk a grid upwards');
      if (mu && !mu.sameShape(x)) throw new Error(`MRS: mu has shape ${mu.shapeString()} but the sample has ${x.shapeString()}`);
      if (sde && !ctx.noise) throw new Error('MRS (sde) needs a noise source');
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
      // The noise form's history holds eps = (x - mu - a_s (D - mu)) / sbar_s, the reference's noise prediction.
      const eps = noiseForm
        ? linearCombination([
            [1 / from.sbar, state.x],
            [-from.a / from.sbar, D],
            ...(mu ? [[(from.a - 1) / from.sbar, mu] as [number, Tensor]] : []),
          ])
        : undefined;
      const q = eps ?? D;
      // Each form as the reference writes it on y = x - mu, then back in x: c_x x + ... + c_mu mu with
      // c_mu = 1 - c_x - (the coefficient D carries), which is what keeps x = mu a fixed point.
      let terms: [number, Tensor][];
      let cX: number;
      let cD = 0;
      let A: number;
      let B = 0;
      if (!noiseForm && !sde) {
        // y_t = (sbar_t/sbar_s) y_s + a_t (1 - e^{-h}) D; higher orders a_t (phi2 D1 - phi3 D2).
        const phi = -Math.expm1(-h);
        const phi2 = 1 - phi / h;
        cX = to.sbar / from.sbar;
        cD = to.a * phi;
        terms = [[cX, state.x], [cD, D]];
        A = to.a * phi2;
        B = -to.a * (phi2 / h - 0.5);
      } else if (!noiseForm) {
        // SDE-DPM-Solver++: y_t = (sbar_t/sbar_s) e^{-h} y_s + a_t (1 - e^{-2h}) D + a_t (1 - (1 - e^{-2h})/(2h)) D1 + sbar_t sqrt(1 - e^{-2h}) z.
        const e2 = -Math.expm1(-2 * h);
        cX = (to.sbar / from.sbar) * Math.exp(-h);
        cD = to.a * e2;
        terms = [[cX, state.x], [cD, D], [to.sbar * Math.sqrt(e2), ctx.noise!(state.x.dims)]];
        A = to.a * (1 - e2 / (2 * h));
      } else {
        // Noise form: y_t = (a_t/a_s) y_s - k sbar_t (phi1 eps + phi2 D1 + phi3 D2), k = 1 (ODE) or 2 (SDE, plus sbar_t sqrt(e^{2h} - 1) z).
        const k = sde ? 2 : 1;
        const phi1 = Math.expm1(h);
        const phi2 = phi1 / h - 1;
        cX = to.a / from.a;
        terms = [[cX, state.x], [-k * to.sbar * phi1, eps!]];
        if (sde) terms.push([to.sbar * Math.sqrt(Math.expm1(2 * h)), ctx.noise!(state.x.dims)]);
        A = -k * to.sbar * phi2;
        B = -to.sbar * (phi2 / h - 0.5);
      }
      // eps carries mu's share itself (it is built from x - mu); D's share is c_D.
      if (mu) terms.push([1 - cX - cD, mu]);
      const n = opts.scheduleSteps ?? ctx.sigmas.timesteps.length;
      const global = (opts.scheduleStart ?? 0) + i;
      const history = state.prev2 ? 2 : state.prev ? 1 : 0;
      const stepOrder = Math.min(mrsStepOrder(order, global, n), history + 1);
      if (stepOrder >= 2) {
        const r = (lambdaS - state.prev!.lambda) / h;
        const r1 = state.prev2 ? (state.prev!.lambda - state.prev2.lambda) / h : NaN;
        terms.push(...historyTerms(A, B, q, state.prev!, state.prev2, r, r1, stepOrder));
      }
      return { x: linearCombination(terms), denoised: D, prev: { q, lambda: lambdaS }, prev2: state.prev };
    },
  };
}

/**
 * MRS on an ordinary VP model inside the Sampler loop, whose states are VE samples: with mu = 0 and
 * sigma_inf = 1 the MR sample is the VP sample x_ve / sqrt(s^2 + 1), so each step converts in and out.
 * (That makes it DPM-Solver++ 1 / 2M in its "heun" form, or its SDE / noise-prediction forms. IR-SDE networks run MRS on x itself, through
 * mean-reverting.ts's model wrapper and irsde.ts's grid.)
 */
export function createMrsOnVe(opts: Pick<MrsOptions, 'order' | 'solverType' | 'parameterization' | 'scheduleSteps' | 'scheduleStart'> = {}): Solver<MrsState> {
  const inner = createMrs(opts);
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
