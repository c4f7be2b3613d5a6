/**
 * ComfyUI's cfgpp_ud10_ab (comfyanonymous/ComfyUI#15951, `_sample_cfgpp_history` with history weight 1/4,
 * σ = 0 extrapolation weight 1 and unconditional history weight 1/10): a CFG++ Euler step whose unconditional
 * derivative is extrapolated from the last step's, blended with a second-order Adams-Bashforth step over the last
 * two step derivatives, and on the step onto σ = 0 replaced by the x0 history extrapolated to σ = 0.
 *
 * In sampling variables (VE on VP grids, the flow sample on flow grids), with a = 1 on VP grids and 1 - t on flow
 * grids (a = 1 at σ = 0), D the guided and U the unconditional x0 of step i:
 *   u_i = (x - a_i U) / σ_i,  ud = u_i + w_u (Δσ_i / Δσ_{i-1}) (u_i - u_{i-1})  (from the second step),
 *   e = a_{i+1} D + σ_{i+1} ud - x,  d_i = e / Δσ_i,
 *   x <- x + lerp(e, c_0 d_i + c_1 d_{i-1}, w_h)  (the Euler step e alone on the first step),
 * c_j the order-2 linear-multistep weights over [σ_i, σ_{i+1}] (lms.ts). Onto σ = 0 after a first step, x becomes
 * lerp(x, D - σ_i (D - D_{i-1}) / (σ_i - σ_{i-1}), w_0). Without CFG U = D.
 */
import type { Tensor } from '../core/tensor.ts';
import { uncondOf } from './cfg-pp.ts';
import { lmsCoefficients } from './lms.ts';
import { linearCombination } from './ops.ts';
import { checkSigmas, levelAt, type Solver, type SolverState } from './solver.ts';

export interface CfgppHistoryOptions {
  /** Weight of the Adams-Bashforth step against the Euler step (ComfyUI history_weight). */
  historyWeight: number;
  /** Weight of the σ = 0 extrapolation on the last step (ComfyUI zero_weight; undefined: none). */
  zeroWeight?: number;
  /** Weight of the unconditional derivative's extrapolation from the last step (uncond_history_weight). */
  uncondHistoryWeight: number;
}

/** cfgpp_ud10_ab's weights (sample_cfgpp_ud10_ab). */
export const UD10_AB: Readonly<CfgppHistoryOptions> = Object.freeze({ historyWeight: 0.25, zeroWeight: 1, uncondHistoryWeight: 0.1 });

interface CfgppHistoryState extends SolverState {
  /** The last two step derivatives, oldest first. */
  derivatives: Tensor[];
  /** The last step's guided x0 (for the extrapolation to sigma 0). */
  prevDenoised?: Tensor;
  /** The last step's unconditional derivative u. */
  uncondD?: Tensor;
}

export function createCfgppHistory(name: string, opts: CfgppHistoryOptions): Solver<CfgppHistoryState> {
  const { historyWeight: wh, zeroWeight: w0, uncondHistoryWeight: wu } = opts;
  for (const [key, v] of [['history weight', wh], ['unconditional history weight', wu], ['zero weight', w0 ?? 0]] as const) {
    if (!Number.isFinite(v)) throw new Error(`${name}: the ${key} must be a finite number, got ${v}`);
  }
  return {
    name,
    nfePerStep: 1,
    init(ctx, x) {
      checkSigmas(ctx.sigmas);
      return { x, derivatives: [] };
    },
    async step(ctx, state, i, model) {
      const sig = ctx.sigmas.sigmas;
      const s = sig[i];
      const next = sig[i + 1];
      const flow = ctx.sigmas.space === 'flow';
      const pred = await model(state.x, levelAt(ctx.sigmas, i));
      const D = pred.denoised;
      const aS = flow ? 1 - s : 1;
      const aT = flow && next !== 0 ? 1 - next : 1;
      const dt = next - s;
      // u = (x - a_s U) / s
      const u = linearCombination([
        [1 / s, state.x],
        [-aS / s, uncondOf(pred)],
      ]);
      // ud = u + w_u (dt / dt_prev) (u - u_prev), then e = a_t D + next ud - x.
      const terms: [number, Tensor][] = [
        [aT, D],
        [next, u],
        [-1, state.x],
      ];
      if (i > 0 && wu !== 0 && state.uncondD) {
        const k = (next * wu * dt) / (s - sig[i - 1]);
        terms.push([k, u], [-k, state.uncondD]);
      }
      const euler = linearCombination(terms);
      const d = linearCombination([[1 / dt, euler]]);
      const derivatives = [...state.derivatives, d].slice(-2);
      let step = euler;
      if (derivatives.length === 2) {
        const [c0, c1] = lmsCoefficients([s, sig[i - 1]], s, next);
        // lerp(euler, c0 d_i + c1 d_{i-1}, w_h)
        step = linearCombination([
          [1 - wh, euler],
          [wh * c0, derivatives[1]],
          [wh * c1, derivatives[0]],
        ]);
      }
      let x = linearCombination([
        [1, state.x],
        [1, step],
      ]);
      const prevD = state.prevDenoised;
      if (next === 0 && w0 !== undefined && prevD) {
        // The line through the last two x0 predictions, read at sigma 0.
        const slope = 1 / (s - sig[i - 1]);
        const zero = linearCombination([
          [1 - s * slope, D],
          [s * slope, prevD],
        ]);
        x = linearCombination([
          [1 - w0, x],
          [w0, zero],
        ]);
      }
      return { x, denoised: D, derivatives, prevDenoised: D, uncondD: u };
    },
  };
}
