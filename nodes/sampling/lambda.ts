/**
 * Shared ground of the exponential-integrator solvers (DPM-Solver family, UniPC, DEIS): the per-level
 * quantities alpha_t, sigma_t and lambda_t = ln(alpha_t / sigma_t) of a grid level, the maps between the
 * solvers' native VP form (x = alpha x0 + sigma eps) and FlowStudio's sampling variables, the model-output
 * conversion (with diffusers' dynamic thresholding) and the first-order step at degenerate levels.
 *
 * Native form vs sampling variables (fact sheet section 1): for space 'vp' the state is x_ve = x_vp / alpha
 * at VE level s, with alpha = 1/sqrt(s^2+1), sigma = s alpha (diffusers' _sigma_to_alpha_sigma_t); for
 * space 'flow' the state is the flow sample itself, alpha = 1 - t, sigma = t (diffusers use_flow_sigmas).
 * So x_native = scale * x_state with scale = alpha (vp) or 1 (flow); every update is written in the native
 * form the references use and its coefficients are converted once, in float64.
 *
 * Deliberate deviation: diffusers evaluates lambda, h and the exponentials (e^{-h} - 1, ...) in float32 tensors;
 * here they are float64 (expm1), so the results differ from diffusers' only at the level of float32 rounding.
 */
import { Tensor } from '../core/tensor.ts';
import type { SigmaSpace, Sigmas } from '../core/values.ts';
import { limitDenoised } from './ddim.ts';
import { linearCombination } from './ops.ts';
import type { Prediction } from './solver.ts';

/** The exponential-integrator view of one grid level. */
export interface ExpLevel {
  /** The grid value: VE sigma (vp) or t (flow). */
  level: number;
  alpha: number;
  sigma: number;
  /** ln(alpha / sigma): +Infinity at sigma 0, -Infinity at alpha 0 (flow t = 1). */
  lambda: number;
  /** x_native = scale * x_state. */
  scale: number;
}

export function expLevel(space: SigmaSpace, level: number): ExpLevel {
  if (space === 'flow') {
    // ln(1 - t) - ln(t) as diffusers computes it; exact infinities at t = 0 and t = 1.
    return { level, alpha: 1 - level, sigma: level, lambda: Math.log(1 - level) - Math.log(level), scale: 1 };
  }
  const alpha = 1 / Math.sqrt(level * level + 1);
  // lambda = ln(alpha) - ln(s alpha) = -ln(s) exactly; written so that it is exact for tiny s too.
  return { level, alpha, sigma: level * alpha, lambda: -Math.log(level), scale: alpha };
}

/** The grid level whose lambda is `lambda` (the inverse of expLevel's lambda). */
export function levelAtLambda(space: SigmaSpace, lambda: number): number {
  return space === 'flow' ? 1 / (1 + Math.exp(lambda)) : Math.exp(-lambda);
}

/** rho = sigma / alpha: DEIS's time variable (the VE sigma for vp, t / (1 - t) for flow). */
export function rhoOf(l: ExpLevel): number {
  return l.sigma / l.alpha;
}

/**
 * Coefficients of the data-prediction (DPM-Solver++) update in sampling variables:
 * x_native(t) = (sigma_t / sigma_s) x_native(s) + alpha_t * (sum of data terms), so
 * x_state(t) = x * x_state(s) + out * (sum of data terms).
 */
export function dataFormCoefficients(s: ExpLevel, t: ExpLevel): { x: number; out: number } {
  return { x: (t.sigma * s.scale) / (s.sigma * t.scale), out: t.alpha / t.scale };
}

/** The same for the noise-prediction (DPM-Solver, DEIS) update: x_native(t) = (alpha_t/alpha_s) x_native(s) + sigma_t * (...). */
export function noiseFormCoefficients(s: ExpLevel, t: ExpLevel): { x: number; out: number } {
  return { x: (t.alpha * s.scale) / (s.alpha * t.scale), out: t.sigma / t.scale };
}

/**
 * A step whose coefficients a lambda-based update cannot form: an end at lambda = +-Infinity (sigma 0,
 * or flow t = 1). Those steps are taken first order in the DDIM form below.
 */
export function isDegenerateStep(s: ExpLevel, t: ExpLevel): boolean {
  return !Number.isFinite(s.lambda) || !Number.isFinite(t.lambda);
}

/**
 * The first-order step in the DDIM form x_native(t) = alpha_t D + sigma_t eps. DPM-Solver-1 (data or noise
 * form), UniPC-1 and DEIS-1 all equal it exactly whenever the prediction pair is consistent with x
 * (x = alpha_s D + sigma_s eps); unlike them it stays finite when sigma_s = 0 (an inversion grid starting at
 * clean data), alpha_s = 0 (a flow grid starting at t = 1) or at the ends of the grid.
 */
export function ddimFormStep(t: ExpLevel, out: SolverOutputs): Tensor {
  return linearCombination([
    [t.alpha / t.scale, out.data],
    [t.sigma / t.scale, out.noise],
  ]);
}

/**
 * The highest usable order <= `requested` of a lambda-based multistep update from level s to t with the
 * previous levels `history` (newest first): every level involved must have a finite lambda, and the
 * levels must be distinct (a repeated level would divide by a zero lambda step). Degenerate steps are
 * first order.
 */
export function usableOrder(requested: number, s: ExpLevel, t: ExpLevel, history: readonly ExpLevel[]): number {
  if (isDegenerateStep(s, t) || t.lambda === s.lambda) return 1;
  const seen = [s.lambda];
  let order = 1;
  for (const prev of history) {
    if (order >= requested) break;
    if (!Number.isFinite(prev.lambda) || seen.includes(prev.lambda)) break;
    seen.push(prev.lambda);
    order++;
  }
  return order;
}

// ---------------------------------------------------------------------------------------------
// Grids

/**
 * Throws unless the grid is monotone: descending to sample, ascending to invert (repeats allowed, and steps
 * back within float32 rounding: an EDM grid ending on sigma_min repeats its last level as float32 rounds
 * it, which can sit an ulp above the level before, and diffusers takes that step).
 */
export function checkMonotone(solver: string, s: Sigmas): 'descending' | 'ascending' {
  const v = s.sigmas;
  const ROUNDING = 1e-6;
  let down = false;
  let up = false;
  for (let i = 1; i < v.length; i++) {
    if (v[i] < v[i - 1] * (1 - ROUNDING)) down = true;
    if (v[i] > v[i - 1] * (1 + ROUNDING)) up = true;
  }
  if (down && up) throw new Error(`${solver}: the sigma grid must be monotone (descending to sample, ascending to invert)`);
  return up ? 'ascending' : 'descending';
}

/**
 * Index bookkeeping for diffusers' end-of-schedule rules (lower_order_final, the singlestep order list,
 * UniPC's disable_corrector): diffusers counts steps in the whole schedule it was set up with, also when an
 * img2img run starts part-way down it. `scheduleSteps` is that schedule's length and `scheduleStart` the
 * index of the grid's first step in it: by default the grid is the schedule's tail (img2img), or the whole
 * schedule when scheduleSteps is absent too. A head (an inversion stopped part-way, as diffusers' DiffEdit
 * runs it) has start 0.
 */
export function scheduleIndex(s: Sigmas, i: number, scheduleSteps: number | undefined, scheduleStart?: number): { index: number; total: number } {
  const n = s.timesteps.length;
  const total = scheduleSteps ?? n;
  if (!Number.isInteger(total) || total < n) throw new Error(`scheduleSteps (${total}) must be an integer >= the grid's ${n} steps`);
  const start = scheduleStart ?? total - n;
  if (!Number.isInteger(start) || start < 0 || start + n > total) throw new Error(`scheduleStart (${start}) must place the grid's ${n} steps inside the ${total}-step schedule`);
  return { index: i + start, total };
}

// ---------------------------------------------------------------------------------------------
// Model outputs

export interface Thresholding {
  /** diffusers dynamic_thresholding_ratio. */
  ratio: number;
  /** diffusers sample_max_value. */
  maxValue: number;
}

/** The model output pair the solvers integrate: x0-hat and eps-hat, consistent with the state x. */
export interface SolverOutputs {
  data: Tensor;
  noise: Tensor;
}

/**
 * Turns a Prediction into the pair the solvers use. With thresholding (diffusers' convert_model_output) the
 * x0 prediction is thresholded and eps recomputed from it, so x = alpha D + sigma eps still holds.
 */
export function solverOutputs(pred: Prediction, x: Tensor, l: ExpLevel, thresholding: Thresholding | undefined): SolverOutputs {
  if (!thresholding) return { data: pred.denoised, noise: pred.eps };
  const data = limitDenoised(pred.denoised, { thresholding });
  if (!(l.sigma > 0)) return { data, noise: pred.eps };
  // eps = (x_native - alpha D) / sigma, written in sampling variables.
  const noise = linearCombination([
    [l.scale / l.sigma, x],
    [-l.alpha / l.sigma, data],
  ]);
  return { data, noise };
}

/**
 * The pair re-derived at a sample x that differs from the one the model saw (UniPC's corrected sample),
 * keeping the output the solver integrates (x0 for the data form, eps for the noise form) and solving
 * x = alpha D + sigma eps for the other. The DDIM-form step from it then equals the solver's first-order
 * update from x, also where that update's own coefficients are not finite.
 */
export function outputsAt(x: Tensor, l: ExpLevel, out: SolverOutputs, form: 'data' | 'noise'): SolverOutputs {
  if (form === 'data') {
    if (!(l.sigma > 0)) return out;
    return { data: out.data, noise: linearCombination([[l.scale / l.sigma, x], [-l.alpha / l.sigma, out.data]]) };
  }
  if (!(l.alpha > 0)) return out;
  return { data: linearCombination([[l.scale / l.alpha, x], [-l.sigma / l.alpha, out.noise]]), noise: out.noise };
}

/**
 * sum_k c_k t_k like ops.ts linearCombination, with the four- and five-term shapes of the third-order and
 * corrector updates unrolled into one pass (linearCombination's general path makes one pass per term over a
 * float64 accumulator). Each element is still summed in float64 and rounded once.
 */
export function combine(terms: ReadonlyArray<readonly [number, Tensor]>): Tensor {
  const live = terms.filter(([c]) => c !== 0);
  if ((live.length !== 4 && live.length !== 5) || live.some(([c, t]) => !Number.isFinite(c) || !t.sameShape(live[0][1]))) {
    return linearCombination(terms);
  }
  const out = new Tensor(live[0][1].dims);
  const o = out.data;
  const [[c0, { data: a }], [c1, { data: b }], [c2, { data: d }], [c3, { data: e }]] = live;
  if (live.length === 4) {
    for (let i = 0; i < o.length; i++) o[i] = c0 * a[i] + c1 * b[i] + c2 * d[i] + c3 * e[i];
  } else {
    const [c4, { data: f }] = live[4];
    for (let i = 0; i < o.length; i++) o[i] = c0 * a[i] + c1 * b[i] + c2 * d[i] + c3 * e[i] + c4 * f[i];
  }
  return out;
}

/** Checks an integer option in [lo, hi], naming the solver. */
export function checkIntOption(solver: string, name: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`${solver}: ${name} must be an integer in [${lo}, ${hi}], got ${v}`);
  return v;
}
