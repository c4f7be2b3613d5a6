/**
 * SA-Solver, the stochastic Adams solver (Xue et al. 2023), as ComfyUI's sa_solver and sa_solver_pece run it:
 * a multistep predictor-corrector on the x0 predictions in the half-log-SNR lambda (half-log-snr.ts: VP and
 * flow grids), with SDE noise of strength tau on the levels between percent 0.2 and 0.8 of the model's
 * schedule (ComfyUI's default interval; tau 0 elsewhere: the ODE). Per step i, from the state x_pred at
 * level s_i:
 *  - evaluate D_i = D(x_pred, s_i);
 *  - corrector (from the second step on; with PECE also on the last): the step from s_{i-1} to s_i taken
 *    again with the newest predictions, x_i = (s_i / s_{i-1}) e^{-tau^2 h} x_{i-1} + sum_j b_j D_j, plus the
 *    predictor's noise of that step; PECE evaluates D there again and replaces D_i;
 *  - predictor: x_pred = (s_{i+1} / s_i) e^{-tau'^2 h'} x_i + sum_j b'_j D_j + s_{i+1} sqrt(1 - e^{-2 tau'^2 h'}) z
 *    (onto sigma 0: x = D_i).
 * The b_j are alpha_t times the integrals of the Lagrange basis through the used lambdas against
 * e^{(1 + tau^2) lambda} over the step (ComfyUI's sa_solver.py: integration by parts, then a Vandermonde
 * solve). Orders: predictor 3, corrector 4, lowered by the history available and, on grids ending at 0, near
 * the end.
 */
import type { Tensor } from '../core/tensor.ts';
import { FLOW_SNR_CAP } from './half-log-snr.ts';
import { linearCombination } from './ops.ts';
import { solveSmall } from './small-linear.ts';
import { checkSigmas, hasUpwardStep, levelAt, type DenoiseFn, type Solver, type SolverContext, type SolverState } from './solver.ts';
import type { Sigmas } from '../core/values.ts';

/** diffusers' SASolverScheduler settings (its grid's runs: origin SASolverScheduler). */
export interface DiffusersSaOptions {
  predictorOrder: number;
  correctorOrder: number;
  lowerOrderFinal: boolean;
  /** tau = 1 on levels from the table's timestep 800 down to 200 (its default tau_func), as VE levels. */
  tauLevels: { start: number; end: number };
}

export interface SaSolverOptions {
  /** Re-evaluate the model at each corrected state (sa_solver_pece). */
  pece?: boolean;
  /** On a grid made by SASolverScheduler's rules, run diffusers' arrangement (diffusersSaStep) with these settings. */
  diffusers?: DiffusersSaOptions;
  /** The SDE interval: tau = 1 for levels in [end, start] (ComfyUI: percent_to_sigma(0.8) .. (0.2)); none: the ODE. */
  tauInterval?: { start: number; end: number };
  sNoise?: number;
  /** tau inside the SDE interval (ComfyUI SamplerSASolver's eta; default 1; 0: the ODE). */
  tau?: number;
  predictorOrder?: number;
  /** 0 to 6 (0: no corrector). */
  correctorOrder?: number;
  /** Order-2 steps with the paper's simple coefficients (ComfyUI simple_order_2). */
  simpleOrder2?: boolean;
}

interface SaState extends SolverState {
  /** diffusers' arrangement (a SASolverScheduler grid): its state. */
  diffusers?: DiffusersSaState;
  /** The corrected state at the current level (ComfyUI's x), which the next corrector steps from. */
  corrected: Tensor;
  /** The x0 predictions, oldest first (at most max(predictor, corrector) order). */
  preds: Tensor[];
  /** The last predictor step: its tau, its lambda step and the noise it added (for the corrector). */
  tau: number;
  h: number;
  noise?: Tensor;
}

/** (1 + tau^2) * integral over [s, t] of e^{(1 + tau^2) x} x^p dx with e^{(1 + tau^2) t} factored out, p < order. */
function exponentialCoeffs(s: number, t: number, order: number, tau: number): number[] {
  const tauMul = 1 + tau * tau;
  const h = t - s;
  const e = Math.exp(-tauMul * h);
  const product = Array.from({ length: order }, (_, p) => t ** p - s ** p * e);
  const logFact = (n: number) => {
    let v = 0;
    for (let k = 2; k <= n; k++) v += Math.log(k);
    return v;
  };
  const out: number[] = [];
  for (let i = 0; i < order; i++) {
    let sum = 0;
    for (let j = 0; j <= i; j++) {
      const depth = i - j;
      const c = Math.exp(logFact(i) - logFact(j) - (tau > 0 ? depth * Math.log(tauMul) : 0)) * (depth % 2 === 0 ? 1 : -1);
      sum += c * product[j];
    }
    out.push(sum);
  }
  return out;
}

/**
 * The b_j of a step from lambda_s to lambda_t through the lambdas of the predictions used (oldest first):
 * sum_j lambda_j^k b_j = the k-th exponential integral, times alpha_t = sigma_t e^{lambda_t}.
 */
export function stochasticAdamsCoeffs(sigmaT: number, lambdas: readonly number[], lambdaS: number, lambdaT: number, tau: number, simpleOrder2 = false, corrector = false): number[] {
  const n = lambdas.length;
  if (simpleOrder2 && n === 2) return simpleOrder2Coeffs(sigmaT, lambdas, lambdaS, lambdaT, tau, corrector);
  const integrals = exponentialCoeffs(lambdaS, lambdaT, n, tau);
  const vandermondeT = Array.from({ length: n }, (_, k) => lambdas.map((l) => l ** k));
  const alphaT = sigmaT * Math.exp(lambdaT);
  return solveSmall(vandermondeT, integrals).map((b) => alphaT * b);
}

/**
 * The SA-Solver paper's simple order-2 coefficients (its Appendix D; ComfyUI's simple_order_2), oldest first: with
 * k = 1 + tau^2 and the whole step's weight w = alpha_t (1 - e^{-k h}), the corrector puts alpha_t k h / 2 on the
 * newest prediction, the predictor alpha_t k h^2 / 2 / (lambda_prev - lambda_s) on the older; the other takes the rest.
 */
function simpleOrder2Coeffs(sigmaT: number, lambdas: readonly number[], lambdaS: number, lambdaT: number, tau: number, corrector: boolean): number[] {
  const k = 1 + tau * tau;
  const h = lambdaT - lambdaS;
  const alphaT = sigmaT * Math.exp(lambdaT);
  const whole = -alphaT * Math.expm1(-h * k);
  if (corrector) {
    const newest = alphaT * 0.5 * k * h;
    return [whole - newest, newest];
  }
  const older = (alphaT * 0.5 * k * h * h) / (lambdas[0] - lambdaS);
  return [older, whole - older];
}

/** Half-log-SNR of a level: -ln s on VP grids, ln((1 - t) / t) on flow grids (t = 1 at FLOW_SNR_CAP). */
function lambdaOf(sigmas: Sigmas, s: number): number {
  if (sigmas.space === 'flow') {
    const t = s >= 1 ? FLOW_SNR_CAP : s;
    return Math.log((1 - t) / t);
  }
  return -Math.log(s);
}

export function createSaSolver(opts: SaSolverOptions = {}): Solver<SaState> {
  const pece = opts.pece === true;
  const sNoise = opts.sNoise ?? 1;
  const P = opts.predictorOrder ?? 3;
  const C = opts.correctorOrder ?? 4;
  if (!(sNoise >= 0 && Number.isFinite(sNoise))) throw new Error(`SA-Solver: s_noise must be a finite number >= 0, got ${sNoise}`);
  for (const [name, v, min] of [['predictor', P, 1], ['corrector', C, 0]] as const) {
    if (!Number.isInteger(v) || v < min || v > 6) throw new Error(`SA-Solver: ${name} order must be an integer from ${min} to 6, got ${v}`);
  }
  const simple2 = opts.simpleOrder2 === true;
  const tauIn = opts.tau ?? 1;
  if (!(tauIn >= 0 && Number.isFinite(tauIn))) throw new Error(`SA-Solver: eta (tau) must be a finite number >= 0, got ${tauIn}`);
  // No SDE interval, or tau 0: the ODE (get_tau_interval_func at eta 0).
  const interval = tauIn > 0 ? opts.tauInterval : undefined;
  const tauAt = (s: number) => (interval && interval.start >= s && s >= interval.end ? tauIn : 0);
  const name = pece ? 'sa_solver_pece' : 'sa_solver';
  return {
    name,
    nfePerStep: 1,
    stochastic: interval !== undefined && sNoise > 0,
    drawsNoiseOn: (sigmas) => (interval !== undefined && sNoise > 0) || (!pece && opts.diffusers !== undefined && sigmas.origin === 'SASolverScheduler'),
    modelCalls: (sigmas) => (pece ? Math.max(2 * sigmas.timesteps.length - 1, 0) : sigmas.timesteps.length),
    init(ctx, x): SaState {
      checkSigmas(ctx.sigmas);
      if (hasUpwardStep(ctx.sigmas)) throw new Error(`${name} cannot walk a grid upwards (inversion): use an ODE solver (euler, ddim, ...)`);
      const diffusers = !pece && opts.diffusers && ctx.sigmas.origin === 'SASolverScheduler' ? opts.diffusers : undefined;
      if ((diffusers || (interval && sNoise > 0)) && !ctx.noise) throw new Error(`${name} needs a noise source`);
      const base = { x, corrected: x, preds: [], tau: 0, h: 0 };
      return diffusers ? { ...base, diffusers: { opts: diffusers, lowerOrderNums: 0, correctorOrder: 0 } } : base;
    },
    async step(ctx, state, i, model) {
      if (state.diffusers) return diffusersSaStep(ctx, state, state.diffusers, i, model);
      const { sigmas } = ctx;
      const lv = sigmas.sigmas;
      const n = sigmas.timesteps.length;
      const s = lv[i];
      const next = lv[i + 1];
      const level = levelAt(sigmas, i);
      let pred = await model(state.x, level);
      const preds = [...state.preds, pred.denoised].slice(-Math.max(P, C));
      let predictorOrder = Math.min(P, preds.length);
      let correctorOrder = i === 0 || (next === 0 && !pece) ? 0 : Math.min(C, preds.length);
      // Lower orders near the end of a grid that ends at 0, for stability (ComfyUI's lower_order_to_end).
      if (lv[lv.length - 1] === 0) {
        predictorOrder = Math.min(predictorOrder, n - 1 - i);
        correctorOrder = Math.min(correctorOrder, n - i);
      }
      const combine = (base: [number, Tensor], order: number, b: number[]): [number, Tensor][] => [
        base,
        ...b.map((c, j): [number, Tensor] => [c, preds[preds.length - order + j]]),
      ];
      let x: Tensor;
      if (correctorOrder === 0) {
        x = state.x;
      } else {
        const prev = lv[i - 1];
        const lambdas = Array.from({ length: correctorOrder }, (_, j) => lambdaOf(sigmas, lv[i - correctorOrder + 1 + j]));
        const b = stochasticAdamsCoeffs(s, lambdas, lambdaOf(sigmas, prev), lambdaOf(sigmas, s), state.tau, simple2, true);
        const terms = combine([(s / prev) * Math.exp(-(state.tau ** 2) * state.h), state.corrected], correctorOrder, b);
        if (state.tau > 0 && sNoise > 0 && state.noise) terms.push([1, state.noise]);
        x = linearCombination(terms);
        if (pece) {
          pred = await model(x, level);
          preds[preds.length - 1] = pred.denoised;
        }
      }
      if (next === 0) return { x: pred.denoised, denoised: pred.denoised, corrected: pred.denoised, preds, tau: 0, h: 0 };
      const tau = tauAt(next);
      const lambdas = Array.from({ length: predictorOrder }, (_, j) => lambdaOf(sigmas, lv[i - predictorOrder + 1 + j]));
      const lambdaS = lambdaOf(sigmas, s);
      const lambdaT = lambdaOf(sigmas, next);
      const b = stochasticAdamsCoeffs(next, lambdas, lambdaS, lambdaT, tau, simple2, false);
      const h = lambdaT - lambdaS;
      const terms = combine([(next / s) * Math.exp(-(tau ** 2) * h), x], predictorOrder, b);
      let noise: Tensor | undefined;
      if (tau > 0 && sNoise > 0) {
        const z = ctx.noise!(x.dims);
        noise = linearCombination([[next * Math.sqrt(-Math.expm1(-2 * tau * tau * h)) * sNoise, z]]);
        terms.push([1, noise]);
      }
      return { x: linearCombination(terms), denoised: pred.denoised, corrected: x, preds, tau, h, noise };
    },
  };
}

interface DiffusersSaState {
  opts: DiffusersSaOptions;
  /** Steps taken, capped at max(predictor order, corrector order - 1) (diffusers' warm-up counter). */
  lowerOrderNums: number;
  /** The corrector order the previous step set for this one. */
  correctorOrder: number;
}

/**
 * The extra term diffusers adds at order 2 ("similar to UniPC", for few-step sampling), in VE coefficients:
 * the predictor's (1 + tau^2) (h^2 / 2 - (h k - 1 + e^{-k h}) / k^2) / (lambda_s - lambda_prev) and the
 * corrector's (1 + tau^2) (h / 2 - (h k - 1 + e^{-k h}) / (k^2 h)), k = 1 + tau^2, added to the newest
 * prediction's coefficient and taken from the older one.
 */
function orderTwoTerm(corrector: boolean, h: number, tau: number, lambdaGap: number): number {
  const k = 1 + tau * tau;
  const tail = h * k - 1 + Math.exp(-k * h);
  return k * (corrector ? h / 2 - tail / (k * k * h) : (h * h) / 2 / lambdaGap - tail / (k * k) / lambdaGap);
}

/**
 * diffusers' SASolverScheduler.step in VE variables: the corrector first (Adams-Moulton through the new
 * prediction, from the previous corrected sample with the previous predictor's noise and tau), then a fresh
 * noise draw (every step), the orders (warm-up and lower_order_final), and the Adams-Bashforth predictor.
 * Its grid ends on the table's first level: the last predictor result is returned as it is.
 */
async function diffusersSaStep(ctx: SolverContext, state: SaState, d: DiffusersSaState, i: number, model: DenoiseFn): Promise<SaState> {
  const { sigmas } = ctx;
  const lv = sigmas.sigmas;
  const n = sigmas.timesteps.length;
  const { predictorOrder: P, correctorOrder: C, lowerOrderFinal, tauLevels } = d.opts;
  // Half-log-SNR of a level: VE sigmas on VP grids; on use_flow_sigmas grids ln((1 - t) / t), diffusers' alpha_t = 1 - t,
  // sigma_t = t (with the state in flow variables, the (s_t / s_s) e^{-tau^2 h} and s_t sqrt(.) factors read the same).
  const lambda = (k: number) => (sigmas.space === 'flow' ? lambdaOf(sigmas, lv[k]) : -Math.log(lv[k]));
  // alpha_t of the target level: 1 in VE variables, 1 - t on flow grids (the order-2 terms are alpha_t times theirs).
  const alphaOf = (k: number) => (sigmas.space === 'flow' ? 1 - lv[k] : 1);
  const tauAt = (s: number) => (tauLevels.start >= s && s >= tauLevels.end ? 1 : 0);
  const pred = await model(state.x, levelAt(sigmas, i));
  const D = pred.denoised;
  let sample = state.x;
  if (i > 0) {
    // Adams-Moulton through D from level i - 1, with the points (newest first) i, i - 1, ...
    const order = d.correctorOrder;
    const tau = state.tau;
    // The newest order - 1 earlier predictions (none at order 1: slice(-0) would take them all), then D.
    const ds = [...state.preds.slice(state.preds.length - (order - 1)), D];
    const lambdas = Array.from({ length: order }, (_, j) => lambda(i - order + 1 + j));
    const b = stochasticAdamsCoeffs(lv[i], lambdas, lambda(i - 1), lambda(i), tau);
    const h = lambda(i) - lambda(i - 1);
    if (order === 2) {
      const extra = alphaOf(i) * orderTwoTerm(true, h, tau, 0);
      b[1] += extra;
      b[0] -= extra;
    }
    const terms: [number, Tensor][] = [[Math.exp(-tau * tau * h) * (lv[i] / lv[i - 1]), state.corrected], ...b.map((c, j): [number, Tensor] => [c, ds[j]])];
    if (state.noise) terms.push([lv[i] * Math.sqrt(-Math.expm1(-2 * tau * tau * h)), state.noise]);
    sample = linearCombination(terms);
  }
  const preds = [...state.preds, D].slice(-Math.max(P, C - 1, 1));
  const noise = ctx.noise!(sample.dims);
  let pOrder = lowerOrderFinal ? Math.min(P, n - i) : P;
  let cOrder = lowerOrderFinal ? Math.min(C, n - i + 1) : C;
  pOrder = Math.min(pOrder, d.lowerOrderNums + 1);
  cOrder = Math.min(cOrder, d.lowerOrderNums + 2);
  const tau = tauAt(lv[i]);
  // Adams-Bashforth from level i to i + 1 through the newest pOrder predictions.
  const lambdas = Array.from({ length: pOrder }, (_, j) => lambda(i - pOrder + 1 + j));
  const b = stochasticAdamsCoeffs(lv[i + 1], lambdas, lambda(i), lambda(i + 1), tau);
  const h = lambda(i + 1) - lambda(i);
  if (pOrder === 2) {
    const extra = alphaOf(i + 1) * orderTwoTerm(false, h, tau, lambda(i) - lambda(i - 1));
    b[1] += extra;
    b[0] -= extra;
  }
  const used = preds.slice(-pOrder);
  const terms: [number, Tensor][] = [[Math.exp(-tau * tau * h) * (lv[i + 1] / lv[i]), sample], ...b.map((c, j): [number, Tensor] => [c, used[j]])];
  terms.push([lv[i + 1] * Math.sqrt(-Math.expm1(-2 * tau * tau * h)), noise]);
  return {
    x: linearCombination(terms),
    denoised: D,
    corrected: sample,
    preds,
    tau,
    h,
    noise,
    diffusers: { ...d, correctorOrder: cOrder, lowerOrderNums: Math.min(d.lowerOrderNums + 1, Math.max(P, C - 1)) },
  };
}
