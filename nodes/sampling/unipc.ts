/**
 * UniPC (Zhao et al. 2023) with diffusers UniPCMultistepScheduler semantics (fact sheet 3.5): the B(h)
 * predictor UniP-p (bh1: B(h) = hh, bh2: B(h) = e^{hh} - 1, hh = -h for data prediction) and the corrector
 * UniC-p, orders 1-3, data (predict_x0, default) or noise prediction, lower_order_final and disable_corrector.
 *
 * Step i, as diffusers' step(): the model is called at the predicted (uncorrected) sample x_i; unless step i
 * is the first or step i - 1 is in disable_corrector, the corrector then rebuilds x_i from x_{i-1} with the
 * new output (no extra model call, order = the previous predictor's order, which is why UniPC-p + corrector
 * reaches order p + 1); the output evaluated at the uncorrected point is what the history keeps; the predictor
 * then steps from the corrected x_i. The sample a run returns is a predictor result (never corrected).
 *
 * Deliberate deviations (only where diffusers' own result is NaN): a step onto (or from) a level with
 * infinite lambda is first order in the DDIM form, and a correction across such a step is skipped. diffusers
 * returns NaN on its last step onto sigma 0 (final_sigmas_type "zero", the class default) with bh1
 * (alpha_t * B_h * pred_res = 1 * -inf * 0), with the noise form (sigma_t * (e^h - 1) = 0 * inf), and at
 * order >= 2 when lower_order_final is off; here that step gives x0 (bh2's data-form result). A repeated last
 * level (final_sigmas_type "sigma_min" on Karras/exponential/flow grids) makes the last step h = 0: first
 * order here, the identity, as diffusers' orders 1-2 give; its order 3 (lower_order_final off) solves a
 * system with b = 0/0 and returns NaN.
 */
import { solveSmall } from './small-linear.ts';
import { Tensor } from '../core/tensor.ts';
import type { ExpCommonOptions } from './dpm-multistep.ts';
import {
  checkIntOption,
  checkMonotone,
  dataFormCoefficients,
  ddimFormStep,
  expLevel,
  isDegenerateStep,
  noiseFormCoefficients,
  outputsAt,
  scheduleIndex,
  solverOutputs,
  usableOrder,
  type ExpLevel,
  combine,
} from './lambda.ts';
import { checkSigmas, levelAt, type Solver, type SolverState } from './solver.ts';

export type UniPCVariant = 'bh1' | 'bh2';

export interface UniPCOptions extends ExpCommonOptions {
  /** diffusers solver_order: 1, 2 (default) or 3. */
  order?: number;
  /** diffusers solver_type (default bh2). */
  variant?: UniPCVariant;
  /**
   * Data prediction or noise prediction (diffusers predict_x0). Unset: data prediction down a grid (diffusers'
   * default) and noise prediction up one (inversion): walking upward the data form's corrector weights grow
   * like e^|h| in lambda, and near t = 0 (huge lambda steps) its inversions diverge where the noise form
   * converges at high order (test/unipc.test.ts). diffusers has no inverse UniPC to follow.
   */
  predictX0?: boolean;
  /** Predictor order min(order, steps left) (default true). */
  lowerOrderFinal?: boolean;
  /** Step indices whose sample is not corrected at the next step (diffusers disable_corrector). */
  disableCorrector?: readonly number[];
  /** Switch the corrector off entirely (predictor-only UniP). */
  corrector?: boolean;
}

export interface UniPCState extends SolverState {
  /** Converted outputs at the latest levels, oldest first, and their levels. */
  outputs: Tensor[];
  levels: ExpLevel[];
  /** The sample the last predictor started from (diffusers last_sample), corrected when the corrector ran. */
  lastSample?: Tensor;
  /** The order the last predictor used: the corrector's order on the next step. */
  lastOrder: number;
  /** Which prediction this run integrates (fixed at init from the option and the grid's direction). */
  predictX0: boolean;
  lowerOrderNums: number;
}


export interface UniPCUpdate {
  predictX0: boolean;
  variant: UniPCVariant;
  order: number;
  /** Start level (s0) and end level (t). */
  s: ExpLevel;
  t: ExpLevel;
  /** Previous levels, newest first (order - 1 of them). */
  history: readonly ExpLevel[];
  /** The corrector (UniC) instead of the predictor (UniP). */
  corrector: boolean;
}

/**
 * Coefficients of one UniP or UniC update in sampling variables: x_t = x * x_s + m[0] m0 + m[k] m_k
 * (history outputs, newest first) + mt * m_t (corrector only: the output at t).
 */
export function unipcCoefficients(u: UniPCUpdate): { x: number; m: number[]; mt: number } {
  const { s, t, order } = u;
  const h = t.lambda - s.lambda;
  const hh = u.predictX0 ? -h : h;
  const { x, out } = u.predictX0 ? dataFormCoefficients(s, t) : noiseFormCoefficients(s, t);
  const hPhi1 = Math.expm1(hh);
  const B = u.variant === 'bh1' ? hh : Math.expm1(hh);
  const rks = [...u.history.slice(0, order - 1).map((l) => (l.lambda - s.lambda) / h), 1];
  // b_k = g_k k! / B(h), g_1 = (e^{hh} - 1)/hh - 1, g_{k+1} = g_k/hh - 1/(k+1)!.
  const b: number[] = [];
  let g = hPhi1 / hh - 1;
  let factorial = 1;
  for (let k = 1; k <= order; k++) {
    b.push((g * factorial) / B);
    factorial *= k + 1;
    g = g / hh - 1 / factorial;
  }
  const R = (n: number) => Array.from({ length: n }, (_, row) => rks.slice(0, n).map((r) => r ** row));
  let rhos: number[]; // weights of D_k = (m_k - m0)/r_k, k = 1..order-1
  let rhoT = 0; // weight of m_t - m0 (corrector)
  if (!u.corrector) {
    rhos = order === 1 ? [] : order === 2 ? [0.5] : solveSmall(R(order - 1), b.slice(0, order - 1));
  } else if (order === 1) {
    rhos = [];
    rhoT = 0.5;
  } else {
    const all = solveSmall(R(order), b);
    rhos = all.slice(0, -1);
    rhoT = all[order - 1];
  }
  const m = [-hPhi1 + B * rhoT];
  for (let k = 0; k < rhos.length; k++) {
    m[0] += (B * rhos[k]) / rks[k];
    m.push((-B * rhos[k]) / rks[k]);
  }
  return { x, m: m.map((c) => out * c), mt: -out * B * rhoT };
}

type Term = [number, Tensor];

/** True when every coefficient is finite and non-zero and every tensor has the shape of the first. */
function plainTerms(terms: readonly Term[], first: Tensor): boolean {
  for (const [c, t] of terms) if (c === 0 || !Number.isFinite(c) || !t.sameShape(first)) return false;
  return true;
}

/**
 * The corrector then the predictor of the usual order-2 step in one pass over the data: x = sum of the
 * four corrector terms (rounded to float32, as combine() stores it), next = px x + the two predictor terms.
 * Bit-identical to two combine() calls; undefined for any other shape of the update (the caller falls back).
 */
export function correctThenPredict(corrector: readonly Term[], px: number, predictor: readonly Term[]): [Tensor, Tensor] | undefined {
  if (corrector.length !== 4 || predictor.length !== 2) return undefined;
  const first = corrector[0][1];
  if (px === 0 || !Number.isFinite(px) || !plainTerms(corrector, first) || !plainTerms(predictor, first)) return undefined;
  const [[c0, { data: a }], [c1, { data: b }], [c2, { data: d }], [c3, { data: e }]] = corrector;
  const [[p0, { data: f }], [p1, { data: g }]] = predictor;
  const x = new Tensor(first.dims);
  const next = new Tensor(first.dims);
  const xo = x.data;
  const no = next.data;
  if (f === b && g === d) {
    // The usual case: the predictor's outputs are the corrector's m_i and m_{i-1}; each is loaded once.
    // Two elements per iteration, as ops.ts's loops (fewer bounds and loop checks per element).
    const n = xo.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const b0 = b[i];
      const d0 = d[i];
      const b1 = b[i + 1];
      const d1 = d[i + 1];
      const v0 = Math.fround(c0 * a[i] + c1 * b0 + c2 * d0 + c3 * e[i]);
      const v1 = Math.fround(c0 * a[i + 1] + c1 * b1 + c2 * d1 + c3 * e[i + 1]);
      xo[i] = v0;
      xo[i + 1] = v1;
      no[i] = px * v0 + p0 * b0 + p1 * d0;
      no[i + 1] = px * v1 + p0 * b1 + p1 * d1;
    }
    if (i < n) {
      const v = Math.fround(c0 * a[i] + c1 * b[i] + c2 * d[i] + c3 * e[i]);
      xo[i] = v;
      no[i] = px * v + p0 * b[i] + p1 * d[i];
    }
  } else {
    for (let i = 0; i < xo.length; i++) {
      const v = Math.fround(c0 * a[i] + c1 * b[i] + c2 * d[i] + c3 * e[i]);
      xo[i] = v;
      no[i] = px * v + p0 * f[i] + p1 * g[i];
    }
  }
  return [x, next];
}

export function createUniPC(opts: UniPCOptions = {}): Solver<UniPCState> {
  const name = 'UniPC';
  const order = checkIntOption(name, 'order', opts.order ?? 2, 1, 3);
  const variant = opts.variant ?? 'bh2';
  const disabled = new Set(opts.disableCorrector ?? []);
  if (variant !== 'bh1' && variant !== 'bh2') throw new Error(`${name}: variant must be "bh1" or "bh2", got ${JSON.stringify(variant)}`);
  for (const k of disabled) if (!Number.isInteger(k)) throw new Error(`${name}: disable_corrector entries must be step indices, got ${k}`);
  return {
    name: 'unipc',
    nfePerStep: 1,
    init(ctx, x) {
      checkSigmas(ctx.sigmas);
      const direction = checkMonotone(name, ctx.sigmas);
      scheduleIndex(ctx.sigmas, 0, opts.scheduleSteps, opts.scheduleStart);
      return { x, outputs: [], levels: [], lastOrder: 1, lowerOrderNums: 0, predictX0: opts.predictX0 ?? direction === 'descending' };
    },
    async step(ctx, state, i, model) {
      const { sigmas } = ctx;
      const space = opts.levelSpace ?? sigmas.space;
      const s = expLevel(space, sigmas.sigmas[i]);
      const t = expLevel(space, sigmas.sigmas[i + 1]);
      const { index, total } = scheduleIndex(sigmas, i, opts.scheduleSteps, opts.scheduleStart);
      const { predictX0 } = state;
      const pred = await model(state.x, levelAt(sigmas, i));
      // diffusers thresholds only the data prediction (its noise branch has no thresholding).
      const out = solverOutputs(pred, state.x, s, predictX0 ? opts.thresholding : undefined);
      const m = predictX0 ? out.data : out.noise;

      // The corrector (UniC) for x_i, from x_{i-1} and the new output: no extra model call.
      const prev = state.levels[state.levels.length - 1];
      const correct = opts.corrector !== false && index > 0 && !disabled.has(index - 1) && state.lastSample !== undefined && prev !== undefined;
      let corrector: Term[] | undefined;
      if (correct && !isDegenerateStep(prev, s) && prev.lambda !== s.lambda) {
        const history = state.levels.slice(0, -1).reverse();
        const c = unipcCoefficients({ predictX0, variant, order: state.lastOrder, s: prev, t: s, history, corrector: true });
        const ms = state.outputs.slice(-state.lastOrder).reverse();
        corrector = [[c.x, state.lastSample!], [c.mt, m], ...ms.map((o, k): Term => [c.m[k], o])];
      }

      // The predictor (UniP) from the corrected x_i to level i + 1.
      const outputs = [...state.outputs, m].slice(-order);
      const levels = [...state.levels, s].slice(-order);
      let wanted = opts.lowerOrderFinal === false ? order : Math.min(order, total - index);
      wanted = Math.min(wanted, state.lowerOrderNums + 1);
      const history = levels.slice(0, -1).reverse();
      const k = usableOrder(wanted, s, t, history);
      let x = state.x;
      let next: Tensor;
      if (isDegenerateStep(s, t)) {
        if (corrector) x = combine(corrector);
        next = ddimFormStep(t, outputsAt(x, s, out, predictX0 ? 'data' : 'noise'));
      } else {
        const c = unipcCoefficients({ predictX0, variant, order: k, s, t, history, corrector: false });
        const predictor = outputs.slice(-k).reverse().map((o, j): Term => [c.m[j], o]);
        const fused = corrector ? correctThenPredict(corrector, c.x, predictor) : undefined;
        if (fused) [x, next] = fused;
        else {
          if (corrector) x = combine(corrector);
          next = combine([[c.x, x], ...predictor]);
        }
      }
      return { x: next, denoised: out.data, outputs, levels, lastSample: x, lastOrder: k, lowerOrderNums: Math.min(state.lowerOrderNums + 1, order), predictX0 };
    },
  };
}
