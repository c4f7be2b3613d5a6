/**
 * DPM-Solver++(3M) SDE (k-diffusion sample_dpmpp_3m_sde; ComfyUI's dpmpp_3m_sde): a multistep stochastic
 * exponential integrator in lambda = -ln sigma on the x0 predictions, one model call per step. In VE
 * variables, with h = ln(s / s_next) and h_eta = h (1 + eta):
 *   x <- (s_next / s) e^{-eta h} x + (1 - e^{-h_eta}) D + phi_2 d1 - phi_3 d2 + s_noise s_next sqrt(1 - e^{-2 eta h}) z,
 * phi_2 = (e^{-h_eta} - 1) / h_eta + 1, phi_3 = phi_2 / h_eta - 1/2, and d1, d2 the first and second
 * divided differences of the last three predictions in lambda (second order from the second step, first
 * order on the first). The step onto 0 returns the x0 prediction. Its noise is asked for with the levels
 * it spans (ComfyUI draws it from a Brownian tree; see dpmpp-sde.ts). On flow grids the same step in
 * half-log-SNR terms (half-log-snr.ts): lambda = ln((1 - t) / t), the x0 terms times alpha_next = 1 - t_next.
 * eta 0 is the reference DPM-Solver++(3M) update (diffusers' dpmpp_3m form).
 */
import type { Tensor } from '../core/tensor.ts';
import { ancestralOptions, checkAncestralRun, type EulerAncestralOptions } from './euler-ancestral.ts';
import { linearCombination } from './ops.ts';
import { snrLevel } from './half-log-snr.ts';
import { levelAt, type Solver, type SolverState } from './solver.ts';

export type Dpmpp3mSdeOptions = EulerAncestralOptions;

interface State extends SolverState {
  /** The last two x0 predictions (newest first) and the lambda steps that led to them. */
  previous: Tensor[];
  steps: number[];
}

export function createDpmpp3mSde(opts: Dpmpp3mSdeOptions = {}): Solver<State> {
  const { eta, sNoise } = ancestralOptions('DPM++ 3M SDE', opts);
  const noisy = eta > 0 && sNoise > 0;
  return {
    name: 'dpmpp_3m_sde',
    nfePerStep: 1,
    stochastic: noisy,
    init(ctx, x): State {
      checkAncestralRun(ctx, 'DPM++ 3M SDE', eta, false);
      return { x, previous: [], steps: [] };
    },
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const s = level.sigma;
      const next = ctx.sigmas.sigmas[i + 1];
      const pred = await model(state.x, level);
      const D = pred.denoised;
      if (next === 0) return { x: D, denoised: D, previous: [], steps: [] };
      const { space } = ctx.sigmas;
      const from = snrLevel(space, s);
      const to = snrLevel(space, next);
      const h = to.lambda - from.lambda;
      const hEta = h * (eta + 1);
      const phi1 = -Math.expm1(-hEta);
      const alphaNext = to.alpha;
      const terms: [number, Tensor][] = [
        [(next / s) * Math.exp(-h * eta), state.x],
        [alphaNext * phi1, D],
      ];
      const phi2 = 1 - phi1 / hEta;
      const [D1, D2] = state.previous;
      const [h1, h2] = state.steps;
      if (D2 !== undefined) {
        // d1 = d1_0 + (d1_0 - d1_1) r0 / (r0 + r1), d2 = (d1_0 - d1_1) / (r0 + r1), expanded over D, D1, D2.
        const r0 = h1 / h;
        const r1 = h2 / h;
        const phi3 = phi2 / hEta - 0.5;
        const a = 1 / r0; // d1_0 = a (D - D1)
        const b = 1 / r1; // d1_1 = b (D1 - D2)
        const w = r0 / (r0 + r1);
        const v = 1 / (r0 + r1);
        // d1 = (1 + w) a (D - D1) - w b (D1 - D2);  d2 = v (a (D - D1) - b (D1 - D2))
        const cD = phi2 * (1 + w) * a - phi3 * v * a;
        const cD1 = -phi2 * ((1 + w) * a + w * b) + phi3 * v * (a + b);
        const cD2 = phi2 * w * b - phi3 * v * b;
        terms.push([alphaNext * cD, D], [alphaNext * cD1, D1], [alphaNext * cD2, D2]);
      } else if (D1 !== undefined) {
        const c = alphaNext * phi2 * (h / h1);
        terms.push([c, D], [-c, D1]);
      }
      if (noisy) terms.push([sNoise * next * Math.sqrt(-Math.expm1(-2 * h * eta)), ctx.noise!(state.x.dims, { from: s, to: next })]);
      return { x: linearCombination(terms), denoised: D, previous: [D, ...state.previous].slice(0, 2), steps: [h, ...state.steps].slice(0, 2) };
    },
  };
}
