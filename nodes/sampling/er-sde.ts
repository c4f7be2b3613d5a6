/**
 * ER-SDE-Solver-3 (Cui et al. 2023, "Elucidating the solution space of extended reverse-time SDEs";
 * ComfyUI's er_sde): a stochastic multistep solver in lambda = sigma / alpha (rho in half-log-snr.ts: the VE
 * sigma on VP grids, t / (1 - t) on flow grids) with the noise scaler f(x) = x (e^{x^0.3} + 10),
 * r = f(lambda_t) / f(lambda_s), in sampling variables
 *   x <- (alpha_t / alpha_s) r x + alpha_t (1 - r) D                 (stage 1, from the first step)
 *        + alpha_t (dt + S1 f(lambda_t)) D'                          (stage 2, from the second)
 *        + alpha_t (dt^2 / 2 + S2 f(lambda_t)) D''                   (stage 3, from the third)
 *        + alpha_t s_noise sqrt(lambda_t^2 - lambda_s^2 r^2) z,
 * dt = lambda_t - lambda_s, D' and D'' divided differences of the x0 predictions over the grid's lambdas
 * (D'' over half the two-step span, as the reference code has it), and S1 = int 1/f, S2 = int (l -
 * lambda_s)/f over [lambda_s, lambda_t] by ComfyUI's 200-point rule (left points from lambda_t). The step
 * onto 0 returns D.
 *
 * ComfyUI's SamplerER_SDE node picks the noise scaler and the stages: 'er-sde' (the scaler above), 'reverse-time-sde'
 * (f(x) = x^(eta + 1): the reverse-time SDE of strength eta; eta 0 is the ODE) or 'ode' (eta 0 and no noise), and a
 * max_stage of 1 to 3.
 */
import type { Tensor } from '../core/tensor.ts';
import { checkAncestralRun } from './euler-ancestral.ts';
import { linearCombination } from './ops.ts';
import { snrLevel } from './half-log-snr.ts';
import { levelAt, type Solver, type SolverState } from './solver.ts';

export const ER_SDE_TYPES = ['er-sde', 'reverse-time-sde', 'ode'] as const;
export type ErSdeType = (typeof ER_SDE_TYPES)[number];

export interface ErSdeOptions {
  sNoise?: number;
  /** The noise scaler (default er-sde). */
  type?: ErSdeType;
  /** The reverse-time SDE's strength (type reverse-time-sde; default 1). */
  eta?: number;
  /** Stages used at most, 1 to 3 (default 3). */
  maxStage?: number;
}

interface State extends SolverState {
  /** The previous step's x0 prediction and first divided difference. */
  previous?: Tensor;
  previousSlope?: Tensor;
}

const POINTS = 200;

/** ComfyUI's default ER-SDE noise scaler. */
function erScaler(x: number): number {
  return x * (Math.exp(x ** 0.3) + 10);
}

/** The two integrals of stage 2 and 3 by ComfyUI's rule: POINTS left points from lambda_t towards lambda_s. */
export function erSdeIntegrals(ls: number, lt: number, scaler: (x: number) => number = erScaler): { s1: number; s2: number } {
  const dt = lt - ls;
  const step = -dt / POINTS;
  let s1 = 0;
  let s2 = 0;
  for (let k = 0; k < POINTS; k++) {
    const pos = lt + k * step;
    const f = scaler(pos);
    s1 += 1 / f;
    s2 += (pos - ls) / f;
  }
  return { s1: s1 * step, s2: s2 * step };
}

export function createErSde(opts: ErSdeOptions = {}): Solver<State> {
  const type = opts.type ?? 'er-sde';
  if (!(ER_SDE_TYPES as readonly string[]).includes(type)) throw new Error(`ER-SDE: type must be one of ${ER_SDE_TYPES.join(', ')}, got ${JSON.stringify(type)}`);
  const maxStage = opts.maxStage ?? 3;
  if (!(Number.isInteger(maxStage) && maxStage >= 1 && maxStage <= 3)) throw new Error(`ER-SDE: max stage must be 1, 2 or 3, got ${maxStage}`);
  let eta = opts.eta ?? 1;
  if (!(eta >= 0 && Number.isFinite(eta))) throw new Error(`ER-SDE: eta must be a finite number >= 0, got ${eta}`);
  let sNoise = opts.sNoise ?? 1;
  if (!(sNoise >= 0 && Number.isFinite(sNoise))) throw new Error(`ER-SDE: s_noise must be a finite number >= 0, got ${sNoise}`);
  // As SamplerER_SDE: the ODE, or the reverse-time SDE at eta 0, takes no noise.
  if (type === 'ode' || (type === 'reverse-time-sde' && eta === 0)) eta = sNoise = 0;
  const scaler = type === 'er-sde' ? erScaler : (x: number) => x ** (eta + 1);
  return {
    name: 'er_sde',
    nfePerStep: 1,
    stochastic: sNoise > 0,
    init(ctx, x): State {
      checkAncestralRun(ctx, 'ER-SDE', sNoise, false);
      return { x };
    },
    async step(ctx, state, i, model) {
      const { space } = ctx.sigmas;
      const levels = ctx.sigmas.sigmas;
      const D = (await model(state.x, levelAt(ctx.sigmas, i))).denoised;
      if (levels[i + 1] === 0) return { x: D, denoised: D };
      const rho = (k: number) => snrLevel(space, levels[k]).rho;
      const from = snrLevel(space, levels[i]);
      const to = snrLevel(space, levels[i + 1]);
      const [ls, lt, a] = [from.rho, to.rho, to.alpha];
      const ft = scaler(lt);
      const r = ft / scaler(ls);
      const terms: [number, Tensor][] = [
        [(a / from.alpha) * r, state.x],
        [a * (1 - r), D],
      ];
      let slope: Tensor | undefined;
      if (state.previous !== undefined && maxStage >= 2) {
        const dt = lt - ls;
        const { s1, s2 } = erSdeIntegrals(ls, lt, scaler);
        const c1 = 1 / (ls - rho(i - 1));
        slope = linearCombination([
          [c1, D],
          [-c1, state.previous],
        ]);
        terms.push([a * (dt + s1 * ft), slope]);
        if (state.previousSlope !== undefined && maxStage >= 3) {
          const c2 = (a * 2 * ((dt * dt) / 2 + s2 * ft)) / (ls - rho(i - 2));
          terms.push([c2, slope], [-c2, state.previousSlope]);
        }
      }
      if (sNoise > 0) {
        const std = Math.sqrt(lt * lt - ls * ls * r * r);
        if (std > 0) terms.push([a * sNoise * std, ctx.noise!(state.x.dims)]);
        else ctx.noise!(state.x.dims); // drawn all the same, as ComfyUI does (its weight is NaN -> 0 there)
      }
      return { x: linearCombination(terms), denoised: D, previous: D, previousSlope: slope };
    },
  };
}
