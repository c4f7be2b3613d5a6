/**
 * iPNDM (Zhang & Chen's improved PNDM; k-diffusion-style sample_ipndm / sample_ipndm_v in ComfyUI):
 * Adams-Bashforth in sigma on dx/dsigma = d, one model call per step, the order ramping 1, 2, 3, 4 over the
 * run's first steps from its own history. 'ipndm' uses the fixed-step coefficients (1; 3/2, -1/2; 23/12,
 * -16/12, 5/12; 55/24, -59/24, 37/24, -9/24) whatever the spacing; 'ipndm_v' the variable-step ones built
 * from the last step sizes, as diff-solvers publishes them (on a uniform grid they are AB2 and AB3, but its
 * order-4 formula gives (57, -65, 43, -11) / 24 there, not AB4's). The step onto sigma 0 returns the
 * x0 prediction. On a flow grid the same steps in t (the derivative is the velocity).
 */
import type { Tensor } from '../core/tensor.ts';
import { linearCombination } from './ops.ts';
import { checkSigmas, levelAt, type Solver, type SolverState } from './solver.ts';

export const IPNDM_MAX_ORDER = 4;

export interface IpndmOptions {
  /** Variable-step coefficients (ComfyUI ipndm_v) instead of the fixed-step ones. */
  variable?: boolean;
  /** 1..4 (default 4). */
  maxOrder?: number;
}

/** The state of a derivative multistep method (iPNDM, ComfyUI's DEIS). */
export interface DerivativeHistoryState extends SolverState {
  /** The derivatives of the last steps, oldest first (at most maxOrder - 1). */
  history: Tensor[];
}
export type IpndmState = DerivativeHistoryState;

/** The history kept after a step: the last maxOrder - 1 derivatives, this step's `d` included. */
export function keepDerivatives(history: readonly Tensor[], d: Tensor, maxOrder: number): Tensor[] {
  return maxOrder === 1 ? [] : [...history, d].slice(-(maxOrder - 1));
}

/** x + sum_k c_k d_k over this step's derivative `d` (k = 0) and the earlier ones, newest first. */
export function combineDerivatives(x: Tensor, c: readonly number[], d: Tensor, earlier: readonly Tensor[]): Tensor {
  const ds = [d, ...earlier.slice().reverse()];
  return linearCombination([[1, x], ...c.map((ck, k): [number, Tensor] => [ck, ds[k]])]);
}

const FIXED: readonly (readonly number[])[] = [[1], [3 / 2, -1 / 2], [23 / 12, -16 / 12, 5 / 12], [55 / 24, -59 / 24, 37 / 24, -9 / 24]];

/**
 * The variable-step coefficients of the newest derivative and the older ones (newest first), from the step
 * h = s_next - s and the previous steps hs[0] = s - s_prev, hs[1], hs[2] (ComfyUI sample_ipndm_v, term by term).
 */
export function ipndmVariableCoefficients(order: number, h: number, hs: readonly number[]): number[] {
  if (order === 1) return [1];
  const [h1, h2, h3] = hs;
  const c1 = (2 + h / h1) / 2;
  const c2 = -(h / h1) / 2;
  if (order === 2) return [c1, c2];
  const temp1 = (1 - ((h / (3 * (h + h1))) * (h * (h + h1))) / (h1 * (h1 + h2))) / 2;
  if (order === 3) return [c1 + temp1, c2 - (1 + h1 / h2) * temp1, (temp1 * h1) / h2];
  const temp2 =
    (((1 - h / (3 * (h + h1))) / 2 + ((1 - h / (2 * (h + h1))) * h) / (6 * (h + h1 + h2))) * (h * (h + h1) * (h + h1 + h2))) /
    (h1 * (h1 + h2) * (h1 + h2 + h3));
  const r = (h1 * (h1 + h2)) / (h2 * (h2 + h3));
  return [
    c1 + temp1 + temp2,
    c2 - (1 + h1 / h2) * temp1 - (1 + h1 / h2 + r) * temp2,
    (temp1 * h1) / h2 + (h1 / h2 + r * (1 + h2 / h3)) * temp2,
    (-temp2 * r * h1) / h2,
  ];
}

export function createIpndm(opts: IpndmOptions = {}): Solver<IpndmState> {
  const maxOrder = opts.maxOrder ?? IPNDM_MAX_ORDER;
  if (!Number.isInteger(maxOrder) || maxOrder < 1 || maxOrder > IPNDM_MAX_ORDER) throw new Error(`iPNDM: order must be an integer in 1..${IPNDM_MAX_ORDER}, got ${maxOrder}`);
  return {
    name: opts.variable ? 'ipndm_v' : 'ipndm',
    nfePerStep: 1,
    init(ctx, x): IpndmState {
      checkSigmas(ctx.sigmas);
      return { x, history: [] };
    },
    async step(ctx, state, i, model) {
      const sig = ctx.sigmas.sigmas;
      const level = levelAt(ctx.sigmas, i);
      const next = sig[i + 1];
      const pred = await model(state.x, level);
      const d = pred.derivative;
      const history = keepDerivatives(state.history, d, maxOrder);
      if (next === 0) return { x: pred.denoised, denoised: pred.denoised, history };
      const order = Math.min(maxOrder, i + 1);
      const h = next - level.sigma;
      const c = opts.variable ? ipndmVariableCoefficients(order, h, [sig[i] - sig[i - 1], sig[i - 1] - sig[i - 2], sig[i - 2] - sig[i - 3]]) : FIXED[order - 1];
      return { x: combineDerivatives(state.x, c.map((ck) => h * ck), d, state.history), denoised: pred.denoised, history };
    },
  };
}
