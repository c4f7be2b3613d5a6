/**
 * Linear multistep (diffusers LMSDiscreteScheduler, k-diffusion sample_lms): Adams-Bashforth in sigma on
 * dx/dsigma = d. With the last `order` derivatives d_j at levels s_j (newest first),
 *   x <- x + sum_j c_j d_j,  c_j = integral from s to s_next of prod_{k != j} (tau - s_k)/(s_j - s_k) dtau.
 * The order ramps up from 1 as history accumulates (diffusers: min(step_index + 1, order)). diffusers
 * integrates with scipy quad (epsrel 1e-4); the integrand is a polynomial of degree < 4, which 3-point
 * Gauss-Legendre integrates exactly.
 *
 * img2img tails (diffusers quirk): a run that starts at step k > 0 of an N-step schedule (strength < 1)
 * has diffusers' step_index = k, so its first steps already use order min(k + 1, 4), with coefficients
 * from the schedule's levels sigmas[k], sigmas[k-1], ... (levels this run never visited) while only the
 * derivatives gathered so far are summed (zip with the shorter derivative list): the first step is not an
 * Euler step. Pass the skipped levels as `precedingLevels` to reproduce that; without them (full runs,
 * SplitSigmas chains) the order ramps up from 1 over this run's own history.
 */
import type { Tensor } from '../core/tensor.ts';
import { linearCombination } from './ops.ts';
import { checkSigmas, levelAt, type Solver, type SolverState } from './solver.ts';

export const LMS_MAX_ORDER = 4;

export interface LmsOptions {
  /** 1..4 (diffusers default 4). */
  order?: number;
  /**
   * Levels of the full schedule before this run's first level, oldest first (the img2img start step k: the
   * last min(k, order - 1) of sigmas[0..k-1]; more are ignored). See the quirk above.
   */
  precedingLevels?: readonly number[];
  /**
   * The step onto sigma 0: 'multistep' (diffusers, k-diffusion) combines the derivatives as every other
   * step; 'denoise' (ComfyUI's sample_lms) returns the x0 prediction, as Euler's step to 0 does.
   */
  finalStep?: LmsFinalStep;
}

export const LMS_FINAL_STEPS = ['multistep', 'denoise'] as const;
export type LmsFinalStep = (typeof LMS_FINAL_STEPS)[number];

export interface LmsState extends SolverState {
  /** Past derivatives and their levels, oldest first (at most `order`). Tests may prefill it with exact values. */
  history: { sigma: number; d: Tensor }[];
}

const GL_NODES = [-Math.sqrt(3 / 5), 0, Math.sqrt(3 / 5)];
const GL_WEIGHTS = [5 / 9, 8 / 9, 5 / 9];

/** c_j of the Lagrange basis through `levels` (newest first) integrated over [from, to]. */
export function lmsCoefficients(levels: readonly number[], from: number, to: number): number[] {
  const half = (to - from) / 2;
  const mid = (to + from) / 2;
  return levels.map((sj, j) => {
    let sum = 0;
    for (let q = 0; q < GL_NODES.length; q++) {
      const tau = mid + half * GL_NODES[q];
      let prod = 1;
      for (let k = 0; k < levels.length; k++) if (k !== j) prod *= (tau - levels[k]) / (sj - levels[k]);
      sum += GL_WEIGHTS[q] * prod;
    }
    return sum * half;
  });
}

export function createLms(opts: LmsOptions = {}): Solver<LmsState> {
  const order = opts.order ?? LMS_MAX_ORDER;
  if (!Number.isInteger(order) || order < 1 || order > LMS_MAX_ORDER) throw new Error(`LMS: order must be an integer in 1..${LMS_MAX_ORDER}, got ${order}`);
  const finalStep = opts.finalStep ?? 'multistep';
  if (!(LMS_FINAL_STEPS as readonly string[]).includes(finalStep)) throw new Error(`LMS: final step must be one of ${LMS_FINAL_STEPS.join(', ')}, got ${finalStep}`);
  const denoiseAtZero = finalStep === 'denoise';
  const preceding = order > 1 ? (opts.precedingLevels ?? []).slice(-(order - 1)) : [];
  if (preceding.some((s, k) => !(Number.isFinite(s) && s > 0) || (k > 0 && !(s < preceding[k - 1])))) {
    throw new Error('LMS: precedingLevels must be positive, finite and decreasing');
  }
  /** Levels of the Lagrange basis at step i, newest first: diffusers' sigmas[t], sigmas[t-1], ... over the whole schedule. */
  const basisLevels = (sigmas: readonly number[], i: number, history: LmsState['history']): number[] => {
    if (preceding.length === 0) return [...history].reverse().map((h) => h.sigma);
    const global = preceding.length + i;
    const n = Math.min(global + 1, order);
    return Array.from({ length: n }, (_, j) => (i - j >= 0 ? sigmas[i - j] : preceding[preceding.length + i - j]));
  };
  return {
    name: 'lms',
    nfePerStep: 1,
    init(ctx, x): LmsState {
      checkSigmas(ctx.sigmas);
      return { x, history: [] };
    },
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const pred = await model(state.x, level);
      const history = [...state.history, { sigma: level.sigma, d: pred.derivative }].slice(-order);
      if (denoiseAtZero && ctx.sigmas.sigmas[i + 1] === 0) return { x: pred.denoised, denoised: pred.denoised, history };
      const newestFirst = [...history].reverse();
      const c = lmsCoefficients(basisLevels(ctx.sigmas.sigmas, i, history), level.sigma, ctx.sigmas.sigmas[i + 1]);
      // diffusers zips coefficients with the derivatives it holds: the shorter list wins.
      const used = Math.min(c.length, newestFirst.length);
      const terms: [number, Tensor][] = [[1, state.x], ...newestFirst.slice(0, used).map((h, j) => [c[j], h.d] as [number, Tensor])];
      return { x: linearCombination(terms), denoised: pred.denoised, history };
    },
  };
}
