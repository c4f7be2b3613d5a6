/**
 * DEIS (Zhang & Chen 2023), the log-rho multistep variant of diffusers DEISMultistepScheduler (fact sheet
 * 3.6), orders 1-3. It integrates the noise prediction in rho = sigma/alpha (the VE sigma for vp models,
 * t/(1 - t) for flow):
 *   x_t / alpha_t = x_s / alpha_s + sum_j c_j eps_j,  c_j = int_{rho_s}^{rho_t} L_j(ln rho) d rho,
 * L_j the Lagrange basis through ln rho of the last `order` levels. In VE variables this is simply
 * x_ve(t) = x_ve(s) + sum c_j eps_j; order 1 is Euler in rho. The antiderivatives of L_j(ln rho) are the closed
 * forms diffusers uses (ind_fn), evaluated in float64.
 *
 * Warm-up and lower_order_final (default on, below 15 steps) as diffusers. Steps from or onto a level
 * where rho is 0 or infinite (sigma 0, flow t = 1) are first order in the DDIM form; diffusers' own DEIS
 * grids end at sigma_min and never reach them. Its Karras/exponential/flow grids repeat the last level, so
 * the last step (h = 0) leaves the sample unchanged at every order, here as there.
 */
import type { Tensor } from '../core/tensor.ts';
import { evaluateMultistep, initMultistep, type ExpCommonOptions, type MultistepHistory } from './dpm-multistep.ts';
import { checkIntOption, combine, ddimFormStep, isDegenerateStep, rhoOf, type ExpLevel } from './lambda.ts';
import type { Solver } from './solver.ts';

export interface DeisOptions extends ExpCommonOptions {
  /** diffusers solver_order: 1, 2 (default) or 3. */
  order?: number;
  lowerOrderFinal?: boolean;
}

export type DeisState = MultistepHistory;

/** Antiderivative in rho of the linear Lagrange basis (ln rho - ln c)/(ln b - ln c). */
function ind2(t: number, b: number, c: number): number {
  return (t * (-Math.log(c) + Math.log(t) - 1)) / (Math.log(b) - Math.log(c));
}

/** Antiderivative in rho of the quadratic basis (ln rho - ln c)(ln rho - ln d) / ((ln b - ln c)(ln b - ln d)). */
function ind3(t: number, b: number, c: number, d: number): number {
  const [lt, lb, lc, ld] = [Math.log(t), Math.log(b), Math.log(c), Math.log(d)];
  const numerator = t * (lc * (ld - lt + 1) - ld * lt + ld + lt * lt - 2 * lt + 2);
  return numerator / ((lb - lc) * (lb - ld));
}

/**
 * The DEIS weights on eps at s and the previous levels (newest first), in rho units:
 * x_t/alpha_t = x_s/alpha_s + sum c_j eps_j.
 */
export function deisCoefficients(order: number, s: ExpLevel, t: ExpLevel, history: readonly ExpLevel[]): number[] {
  const rt = rhoOf(t);
  const r0 = rhoOf(s);
  if (order === 1) return [rt - r0];
  const r1 = rhoOf(history[0]);
  if (order === 2) return [ind2(rt, r0, r1) - ind2(r0, r0, r1), ind2(rt, r1, r0) - ind2(r0, r1, r0)];
  const r2 = rhoOf(history[1]);
  return [
    ind3(rt, r0, r1, r2) - ind3(r0, r0, r1, r2),
    ind3(rt, r1, r2, r0) - ind3(r0, r1, r2, r0),
    ind3(rt, r2, r0, r1) - ind3(r0, r2, r0, r1),
  ];
}

export function createDeis(opts: DeisOptions = {}): Solver<DeisState> {
  const name = 'DEIS';
  const order = checkIntOption(name, 'order', opts.order ?? 2, 1, 3);
  return {
    name: 'deis',
    nfePerStep: 1,
    init(ctx, x) {
      return initMultistep(name, ctx, x, opts);
    },
    async step(ctx, state, i, model) {
      // diffusers DEIS: lower_order_final below 15 steps only (no euler_at_final, no sigma-0 rule: its grids end at sigma_min).
      const e = await evaluateMultistep(ctx, state, i, model, {
        order,
        pick: (out) => out.noise,
        thresholding: opts.thresholding,
        scheduleSteps: opts.scheduleSteps,
        scheduleStart: opts.scheduleStart,
        lowerOrderFinal: opts.lowerOrderFinal ?? true,
        eulerAtFinal: false,
        zeroFinalRule: false,
      });
      const { s, t, out, outputs, levels, history, k } = e;
      let x: Tensor;
      if (isDegenerateStep(s, t)) x = ddimFormStep(t, out);
      else {
        const c = deisCoefficients(k, s, t, history);
        // Native x_t = alpha_t (x_s/alpha_s + sum c eps); in sampling variables divide by scale_t.
        const cx = (t.alpha * s.scale) / (s.alpha * t.scale);
        const ce = t.alpha / t.scale;
        const ms = outputs.slice(-k).reverse();
        x = combine([[cx, state.x], ...ms.map((m, j): [number, Tensor] => [ce * c[j], m])]);
      }
      return { x, denoised: out.data, outputs, levels, lowerOrderNums: e.lowerOrderNums };
    },
  };
}
