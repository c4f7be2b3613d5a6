/**
 * ComfyUI's deis sampler (sample_deis, mode 'tab', from diff-sampler's DEIS reimplementation): a multistep
 * method on the EDM derivative d = (x - D) / sigma, one model call per step, order ramping 1, 2, 3 (max 3),
 * whose coefficients integrate DEIS's exponential-integrator weight against the Lagrange basis through the
 * last levels. The levels are first mapped to the time of a VP-SDE fitted to EDM's sigma range
 * (sigma_min 0.002, sigma_max 80, epsilon 1e-3, fixed whatever the model):
 *   t(sigma) = (sqrt(b0^2 + 2 bd ln(sigma^2 + 1)) - b0) / bd,  alpha(t) = exp(-bd t^2 / 2 - b0 t),
 * weight w(t) = -(1/2) dln(alpha)/dt / sqrt(alpha (1 - alpha)), and coefficient j of step i is the sum of
 * w(tau) l_j(tau) dtau over 10000 points tau = linspace(t_i, t_{i+1}) with dtau = (t_{i+1} - t_i) / 10000
 * (ComfyUI's rule, which counts both ends). x <- x + sum_j c_j d_{i-j}; the first step and the step onto
 * sigma 0 are Euler. Named deis_tab here: `deis` is diffusers' DEISMultistepScheduler, another method.
 */
import { combineDerivatives, keepDerivatives, type DerivativeHistoryState } from './ipndm.ts';
import { addScaled } from './ops.ts';
import { checkSigmas, hasUpwardStep, levelAt, type Solver } from './solver.ts';

const EPS_S = 1e-3;
const EDM_SIGMA_MIN = 0.002;
const EDM_SIGMA_MAX = 80;
const POINTS = 10000;
export const DEIS_TAB_MAX_ORDER = 3;

const BETA_D = (2 * (Math.log(EDM_SIGMA_MIN ** 2 + 1) / EPS_S - Math.log(EDM_SIGMA_MAX ** 2 + 1))) / (EPS_S - 1);
const BETA_MIN = Math.log(EDM_SIGMA_MAX ** 2 + 1) - 0.5 * BETA_D;

/** The DEIS VP time of an EDM level. */
export function deisTime(sigma: number): number {
  return (Math.sqrt(BETA_MIN ** 2 + 2 * BETA_D * Math.log(sigma * sigma + 1)) - BETA_MIN) / BETA_D;
}

/** w(t) = -(1/2) dln(alpha)/dt / sqrt(alpha (1 - alpha)), alpha(t) = exp(-bd t^2 / 2 - b0 t). */
function weight(t: number): number {
  const alpha = Math.exp(-0.5 * t * t * BETA_D - t * BETA_MIN);
  const dLogAlpha = -(t * BETA_D + BETA_MIN);
  return (-0.5 * dLogAlpha) / Math.sqrt(alpha * (1 - alpha));
}

/** Coefficients of step i over [t, tNext] on the Lagrange basis through `prev` (t_i, t_{i-1}, ..., newest first). */
export function deisTabCoefficients(t: number, tNext: number, prev: readonly number[]): number[] {
  const dtau = (tNext - t) / POINTS;
  const step = (tNext - t) / (POINTS - 1);
  const out = new Array<number>(prev.length).fill(0);
  for (let q = 0; q < POINTS; q++) {
    const tau = q === POINTS - 1 ? tNext : t + q * step;
    const w = weight(tau) * dtau;
    for (let j = 0; j < prev.length; j++) {
      let poly = 1;
      for (let k = 0; k < prev.length; k++) if (k !== j) poly *= (tau - prev[k]) / (prev[j] - prev[k]);
      out[j] += w * poly;
    }
  }
  return out;
}

export type DeisTabState = DerivativeHistoryState;

export function createDeisTab(maxOrder = DEIS_TAB_MAX_ORDER): Solver<DeisTabState> {
  if (!Number.isInteger(maxOrder) || maxOrder < 1 || maxOrder > 4) throw new Error(`ComfyUI DEIS: order must be an integer in 1..4, got ${maxOrder}`);
  return {
    name: 'deis_tab',
    nfePerStep: 1,
    init(ctx, x): DeisTabState {
      checkSigmas(ctx.sigmas);
      if (hasUpwardStep(ctx.sigmas)) throw new Error('ComfyUI DEIS cannot walk a grid upwards (inversion)');
      return { x, history: [] };
    },
    async step(ctx, state, i, model) {
      const sig = ctx.sigmas.sigmas;
      const level = levelAt(ctx.sigmas, i);
      const next = sig[i + 1];
      const pred = await model(state.x, level);
      const d = pred.derivative;
      const history = keepDerivatives(state.history, d, maxOrder);
      const order = next <= 0 ? 1 : Math.min(maxOrder, i + 1);
      if (order === 1) return { x: addScaled(state.x, next - level.sigma, d), denoised: pred.denoised, history };
      const prev = Array.from({ length: order }, (_, k) => deisTime(sig[i - k]));
      const c = deisTabCoefficients(prev[0], deisTime(next), prev);
      return { x: combineDerivatives(state.x, c, d, state.history), denoised: pred.denoised, history };
    },
  };
}
