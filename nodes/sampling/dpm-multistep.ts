/**
 * Multistep DPM-Solver (Lu et al. 2022) with diffusers DPMSolverMultistepScheduler semantics (fact sheet 3.4):
 * DPM-Solver++ (data prediction, algorithm_type "dpmsolver++") and DPM-Solver (noise prediction,
 * "dpmsolver"), orders 1-3, midpoint/heun second-order variants, diffusers' warm-up (first step order 1,
 * second <= 2), lower_order_final, euler_at_final and the forced first-order step onto a final sigma 0.
 *
 * One model call per step, at the grid level and timestep (the DenoiseFn scales the state to the model's
 * input exactly as diffusers feeds its VP sample). Runs on ascending grids too (inversion, as diffusers'
 * DPMSolverMultistepInverseScheduler does with the same updates).
 *
 * The third-order update and its order (issue 4 item 7). The exact solution of the data-form ODE over a step
 * of h in lambda, with D expanded around lambda_s (D' and D'' derivatives in lambda), is
 *   x_t = (sigma_t/sigma_s) x_s + alpha_t [psi_0 D + psi_1 D' + psi_2 D'' + O(h^4)],
 *   psi_k = int_0^h e^{-(h-u)} u^k/k! du:  psi_0 = -phi1p, psi_1 = h phi2, psi_2 = -h^2 phi3
 * with phi1p = e^{-h} - 1, phi2 = phi1p/h + 1, phi3 = phi2/h - 1/2. For the previous outputs
 * m1 = D(lambda_s - r0 h), m2 = D(lambda_s - (r0 + r1) h), Taylor expansion gives
 *   D1_0 = (m0 - m1)/r0 = h D' - r0 h^2/2 D'' + O(h^3),   D1_1 = (m1 - m2)/r1 = h D' - (2 r0 + r1) h^2/2 D'' + O(h^3),
 *   D1 = D1_0 + r0/(r0 + r1) (D1_0 - D1_1) = h D' + O(h^3),   D2 = (D1_0 - D1_1)/(r0 + r1) = h^2 D''/2 + O(h^3).
 * So psi_2 D'' = -phi3 (h^2 D'') = -2 phi3 D2: the D2 term needs 2*phi3. The reference update (diffusers, the
 * official code, the fact sheet) uses -phi3 D2, which leaves alpha_t phi3 D2 ~ h^3 D''/12 per step: local error
 * O(h^3), global order 2 (measured 2.2 over 32-192 steps, tending to 2, in test/exp-solvers-order.test.ts; the
 * term is small, so on coarse grids it hides behind the h^3 terms). `variant: 'corrected'` uses 2*phi3 (local
 * O(h^4), measured order 3.1); it equals UniPC's order-3 predictor, the unique order-3 exponential multistep
 * weights, which the same test checks. The noise form has the same structure (psi_2 = h^2 phi3 with its phi3)
 * and the same factor. 'reference' stays the default for parity with diffusers.
 *
 * Deliberate deviation: diffusers refuses the noise form (algorithm_type "dpmsolver") with a schedule ending
 * at sigma 0 (final_sigmas_type "zero", the class default) with a ValueError; here that last step is the
 * forced first-order step, as in the data form, so dpm_2m runs on every config.
 */
import type { Tensor } from '../core/tensor.ts';
import type { SigmaSpace } from '../core/values.ts';
import {
  checkIntOption,
  checkMonotone,
  dataFormCoefficients,
  ddimFormStep,
  expLevel,
  isDegenerateStep,
  noiseFormCoefficients,
  scheduleIndex,
  solverOutputs,
  usableOrder,
  type ExpLevel,
  type SolverOutputs,
  type Thresholding,
  combine,
} from './lambda.ts';
import { checkSigmas, levelAt, type DenoiseFn, type Solver, type SolverContext, type SolverState } from './solver.ts';

/** 'data': DPM-Solver++ (diffusers "dpmsolver++"); 'noise': DPM-Solver (diffusers "dpmsolver"). */
export type DpmForm = 'data' | 'noise';
export type DpmSolverType = 'midpoint' | 'heun';
export type Dpm3Variant = 'reference' | 'corrected';

/** Options every exponential-integrator solver shares. */
export interface ExpCommonOptions {
  /** diffusers `thresholding` (dynamic thresholding of x0), off when absent. */
  thresholding?: Thresholding;
  /** Length of the whole schedule when the grid is a part of it (img2img tail, inversion head), for diffusers' end-of-schedule rules. */
  scheduleSteps?: number;
  /** Index of the grid's first step in that schedule (default: the grid is its tail). */
  scheduleStart?: number;
  /**
   * The space whose alpha, sigma and lambda the grid's levels are read in (default: the grid's own). 'vp' on a
   * flow grid: the levels as VE sigmas (lambda = -ln sigma), as ComfyUI's dpmpp_2m and uni_pc read any grid.
   */
  levelSpace?: SigmaSpace;
}

export interface DpmMultistepOptions extends ExpCommonOptions {
  /** diffusers solver_order: 1, 2 (default) or 3. */
  order?: number;
  form?: DpmForm;
  solverType?: DpmSolverType;
  /** Lower orders in the last steps of schedules shorter than 15 steps (default true). */
  lowerOrderFinal?: boolean;
  /** First order on the last step (default false). */
  eulerAtFinal?: boolean;
  /** Third-order D2 coefficient: the reference form (default) or the order-3 corrected one. */
  variant?: Dpm3Variant;
}

export type DpmMultistepState = MultistepHistory;

/** diffusers' order rule for a multistep step (DPMSolverMultistepScheduler.step). */
export function multistepOrder(p: {
  order: number;
  lowerOrderNums: number;
  index: number;
  total: number;
  lowerOrderFinal: boolean;
  eulerAtFinal: boolean;
  /** The schedule ends at sigma 0 (diffusers final_sigmas_type "zero"). */
  finalIsZero: boolean;
}): number {
  const last = p.index === p.total - 1;
  const lowerFinal = last && (p.eulerAtFinal || (p.lowerOrderFinal && p.total < 15) || p.finalIsZero);
  const lowerSecond = p.index === p.total - 2 && p.lowerOrderFinal && p.total < 15;
  if (p.order === 1 || p.lowerOrderNums < 1 || lowerFinal) return 1;
  if (p.order === 2 || p.lowerOrderNums < 2 || lowerSecond) return 2;
  return 3;
}

/** The history every exponential multistep solver keeps (DPM-Solver(++), its SDE form, DEIS). */
export interface MultistepHistory extends SolverState {
  /** The latest converted model outputs, oldest first. */
  outputs: Tensor[];
  /** The levels they were evaluated at, oldest first. */
  levels: ExpLevel[];
  /** diffusers lower_order_nums: how many steps have run, capped at the order. */
  lowerOrderNums: number;
}

/** Checks a grid for a multistep solver and starts an empty history. */
export function initMultistep(name: string, ctx: SolverContext, x: Tensor, schedule: Pick<ExpCommonOptions, 'scheduleSteps' | 'scheduleStart'>): MultistepHistory {
  checkSigmas(ctx.sigmas);
  checkMonotone(name, ctx.sigmas);
  scheduleIndex(ctx.sigmas, 0, schedule.scheduleSteps, schedule.scheduleStart);
  return { x, outputs: [], levels: [], lowerOrderNums: 0 };
}

export interface MultistepEvaluation {
  s: ExpLevel;
  t: ExpLevel;
  out: SolverOutputs;
  /** The history with this step's output appended (at most `order` entries), oldest first. */
  outputs: Tensor[];
  levels: ExpLevel[];
  /** Earlier levels, newest first (what the coefficient formulas call s1, s2). */
  history: ExpLevel[];
  /** The order this step may use: diffusers' rule, capped by the history and the step's levels. */
  k: number;
  lowerOrderNums: number;
}

/**
 * The shared first half of a multistep step: one model call at level i, its output (picked in the
 * solver's form) appended to the history, and the order diffusers' rules allow for this step.
 */
export async function evaluateMultistep(
  ctx: SolverContext,
  state: MultistepHistory,
  i: number,
  model: DenoiseFn,
  o: {
    order: number;
    pick: (out: SolverOutputs) => Tensor;
    thresholding?: Thresholding;
    scheduleSteps?: number;
    scheduleStart?: number;
    lowerOrderFinal: boolean;
    eulerAtFinal: boolean;
    /** Whether a final sigma of 0 forces a first-order last step (DEIS grids never end at 0). */
    zeroFinalRule: boolean;
    levelSpace?: SigmaSpace;
  },
): Promise<MultistepEvaluation> {
  const { sigmas } = ctx;
  const space = o.levelSpace ?? sigmas.space;
  const s = expLevel(space, sigmas.sigmas[i]);
  const t = expLevel(space, sigmas.sigmas[i + 1]);
  const pred = await model(state.x, levelAt(sigmas, i));
  const out = solverOutputs(pred, state.x, s, o.thresholding);
  const outputs = [...state.outputs, o.pick(out)].slice(-o.order);
  const levels = [...state.levels, s].slice(-o.order);
  const { index, total } = scheduleIndex(sigmas, i, o.scheduleSteps, o.scheduleStart);
  const wanted = multistepOrder({
    order: o.order,
    lowerOrderNums: state.lowerOrderNums,
    index,
    total,
    lowerOrderFinal: o.lowerOrderFinal,
    eulerAtFinal: o.eulerAtFinal,
    finalIsZero: o.zeroFinalRule && sigmas.sigmas[sigmas.sigmas.length - 1] === 0,
  });
  const history = levels.slice(0, -1).reverse();
  const k = usableOrder(wanted, s, t, history);
  return { s, t, out, outputs, levels, history, k, lowerOrderNums: Math.min(state.lowerOrderNums + 1, o.order) };
}

/** Coefficients on [m0, m1, m2]. */
type Vec3 = [number, number, number];

function mix(...terms: [number, Vec3][]): Vec3 {
  const out: Vec3 = [0, 0, 0];
  for (const [c, v] of terms) for (let k = 0; k < 3; k++) out[k] += c * v[k];
  return out;
}

/**
 * The multistep update's data/noise terms as coefficients on the outputs: order 1 uses m0; order 2 the
 * difference D1 = (m0 - m1)/r0; order 3 the D1, D2 of the module comment. k1/k2 weigh D1/D2.
 */
export function multistepDifferences(order: number, r0: number, r1: number, k0: number, k1: number, k2: number): Vec3 {
  const m0: Vec3 = [1, 0, 0];
  if (order === 1) return mix([k0, m0]);
  const d10: Vec3 = [1 / r0, -1 / r0, 0];
  if (order === 2) return mix([k0, m0], [k1, d10]);
  const d11: Vec3 = [0, 1 / r1, -1 / r1];
  const diff = mix([1, d10], [-1, d11]);
  const d1 = mix([1, d10], [r0 / (r0 + r1), diff]);
  const d2 = mix([1 / (r0 + r1), diff]);
  return mix([k0, m0], [k1, d1], [k2, d2]);
}

export interface DpmUpdate {
  form: DpmForm;
  solverType: DpmSolverType;
  variant: Dpm3Variant;
  order: number;
  /** Current level and target. */
  s: ExpLevel;
  t: ExpLevel;
  /** Previous levels, newest first (order - 1 of them). */
  history: readonly ExpLevel[];
}

/**
 * The scalar coefficients of one multistep update in sampling variables: x_t = x * x_s + sum m[k] * m_k
 * (m_0 at s, m_1, m_2 at the previous levels). Float64 throughout; e^{+-h} - 1 via expm1.
 */
export function dpmMultistepCoefficients(u: DpmUpdate): { x: number; m: Vec3 } {
  const { s, t, order } = u;
  const h = t.lambda - s.lambda;
  const r0 = order >= 2 ? (s.lambda - u.history[0].lambda) / h : 1;
  const r1 = order >= 3 ? (u.history[0].lambda - u.history[1].lambda) / h : 1;
  const c3 = u.variant === 'corrected' ? 2 : 1;
  let x: number;
  let out: number;
  let k0: number;
  let k1: number;
  let k2: number;
  if (u.form === 'data') {
    ({ x, out } = dataFormCoefficients(s, t));
    const phi1 = Math.expm1(-h);
    const phi2 = phi1 / h + 1;
    const phi3 = phi2 / h - 0.5;
    k0 = -phi1;
    // Second order: midpoint -0.5 phi1 D1, heun +phi2 D1; third order always phi2 D1 - phi3 D2.
    k1 = order === 2 && u.solverType === 'midpoint' ? -0.5 * phi1 : phi2;
    k2 = -c3 * phi3;
  } else {
    ({ x, out } = noiseFormCoefficients(s, t));
    const phi1 = Math.expm1(h);
    const phi2 = phi1 / h - 1;
    const phi3 = phi2 / h - 0.5;
    k0 = -phi1;
    k1 = order === 2 && u.solverType === 'midpoint' ? -0.5 * phi1 : -phi2;
    k2 = -c3 * phi3;
  }
  const m = multistepDifferences(order, r0, r1, k0, k1, k2);
  return { x, m: [out * m[0], out * m[1], out * m[2]] };
}

/** Applies coefficients to the state and the outputs (newest first). */
export function applyCoefficients(x: Tensor, cx: number, outputsNewestFirst: readonly Tensor[], cm: readonly number[]): Tensor {
  const terms: [number, Tensor][] = [[cx, x]];
  for (let k = 0; k < outputsNewestFirst.length; k++) terms.push([cm[k], outputsNewestFirst[k]]);
  return combine(terms);
}

export function createDpmMultistep(opts: DpmMultistepOptions = {}): Solver<DpmMultistepState> {
  const form = opts.form ?? 'data';
  const name = form === 'data' ? 'DPM-Solver++ multistep' : 'DPM-Solver multistep';
  const order = checkIntOption(name, 'order', opts.order ?? 2, 1, 3);
  const solverType = opts.solverType ?? 'midpoint';
  const variant = opts.variant ?? 'reference';
  const lowerOrderFinal = opts.lowerOrderFinal ?? true;
  const eulerAtFinal = opts.eulerAtFinal ?? false;
  if (solverType !== 'midpoint' && solverType !== 'heun') throw new Error(`${name}: solver type must be "midpoint" or "heun", got ${JSON.stringify(solverType)}`);
  if (variant !== 'reference' && variant !== 'corrected') throw new Error(`${name}: variant must be "reference" or "corrected", got ${JSON.stringify(variant)}`);
  return {
    name: form === 'data' ? `dpmpp_${order}m` : `dpm_${order}m`,
    nfePerStep: 1,
    init(ctx, x) {
      return initMultistep(name, ctx, x, opts);
    },
    async step(ctx, state, i, model) {
      const e = await evaluateMultistep(ctx, state, i, model, {
        order,
        pick: (out) => (form === 'data' ? out.data : out.noise),
        thresholding: opts.thresholding,
        scheduleSteps: opts.scheduleSteps,
        scheduleStart: opts.scheduleStart,
        lowerOrderFinal,
        eulerAtFinal,
        zeroFinalRule: true,
        levelSpace: opts.levelSpace,
      });
      const { s, t, out, outputs, levels, history, k } = e;
      let x: Tensor;
      if (isDegenerateStep(s, t)) x = ddimFormStep(t, out);
      else {
        const c = dpmMultistepCoefficients({ form, solverType, variant, order: k, s, t, history });
        x = applyCoefficients(state.x, c.x, outputs.slice(-k).reverse(), c.m);
      }
      return { x, denoised: out.data, outputs, levels, lowerOrderNums: e.lowerOrderNums };
    },
  };
}
