/**
 * DPM-Solver++(2M) SDE (Lu et al. 2022; diffusers DPMSolverMultistepScheduler with algorithm_type
 * "sde-dpmsolver++", fact sheet 3.4):
 *   x_t = (sigma_t/sigma_s) e^{-h} x + alpha_t (1 - e^{-2h}) D0 [+ second-order term] + sigma_t sqrt(1 - e^{-2h}) z,
 * second-order term 0.5 alpha_t (1 - e^{-2h}) D1 (midpoint) or alpha_t ((1 - e^{-2h})/(-2h) + 1) D1 (heun),
 * D1 = (m0 - m1)/r0 as in the ODE solver. z comes from the solver context's NoiseSource, one draw per step
 * (diffusers draws on every step, also where its weight is 0), so a seeded source reproduces a run and a
 * recorded sequence replays it. Same warm-up and lower_order_final rules as the ODE multistep solver.
 *
 * Deliberate deviations (parts of diffusers' SDE variants not offered; no solver name reaches them):
 *  - orders 1 and 2 only: diffusers' third-order SDE coefficient on D2, ((1 - e^{-2h} - 2h)/(2h)^2 - 1/2), tends
 *    to -1 as h -> 0 where the Taylor expansion of the SDE integral needs ~2h/3, so solver_order 3 with
 *    "sde-dpmsolver++" is not offered (dpmpp_2m_sde runs order 2 whatever the config's solver_order);
 *  - the noise-prediction SDE (algorithm_type "sde-dpmsolver": x_t = (alpha_t/alpha_s) x - 2 sigma_t (e^h - 1) eps
 *    + sigma_t sqrt(e^{2h} - 1) z) is not offered: dpmpp_2m_sde is always the data-prediction form;
 *  - DPMSolverSinglestepScheduler's "sde-dpmsolver++" is not offered (exp-solvers.ts refuses that config for
 *    the singlestep solvers).
 * Sampling direction only: the reverse SDE has no ascending (inversion) form.
 */
import type { Tensor } from '../core/tensor.ts';
import { evaluateMultistep, initMultistep, type DpmSolverType, type ExpCommonOptions, type MultistepHistory } from './dpm-multistep.ts';
import { checkIntOption, checkMonotone, combine, isDegenerateStep, type ExpLevel } from './lambda.ts';
import { checkSigmas, type Solver } from './solver.ts';

export interface DpmSdeOptions extends ExpCommonOptions {
  /** 1 or 2 (default). */
  order?: number;
  solverType?: DpmSolverType;
  lowerOrderFinal?: boolean;
  eulerAtFinal?: boolean;
}

export type DpmSdeState = MultistepHistory;

/** Coefficients of x, the outputs (newest first) and the noise for one SDE step. */
export function dpmSdeCoefficients(order: number, solverType: DpmSolverType, s: ExpLevel, t: ExpLevel, prev: ExpLevel | undefined): { x: number; m: number[]; noise: number } {
  const h = t.lambda - s.lambda;
  const em2h = Math.expm1(-2 * h); // e^{-2h} - 1
  const out = t.alpha / t.scale;
  // (sigma_t/sigma_s) e^{-h} on the native sample, converted to sampling variables.
  const x = ((t.sigma / s.sigma) * Math.exp(-h) * s.scale) / t.scale;
  // A step that does not descend (an EDM grid ending on sigma_min twice, one float32 ulp up) adds no noise,
  // as diffusers, whose float32 logs make h exactly 0 there.
  const noise = (t.sigma * Math.sqrt(Math.max(-em2h, 0))) / t.scale;
  const k0 = -em2h;
  if (order === 1) return { x, m: [out * k0], noise };
  const r0 = (s.lambda - prev!.lambda) / h;
  const k1 = solverType === 'midpoint' ? -0.5 * em2h : em2h / (2 * h) + 1;
  return { x, m: [out * (k0 + k1 / r0), (-out * k1) / r0], noise };
}

export function createDpmSde(opts: DpmSdeOptions = {}): Solver<DpmSdeState> {
  const name = 'DPM-Solver++ SDE';
  const order = checkIntOption(name, 'order', opts.order ?? 2, 1, 2);
  const solverType = opts.solverType ?? 'midpoint';
  if (solverType !== 'midpoint' && solverType !== 'heun') throw new Error(`${name}: solver type must be "midpoint" or "heun", got ${JSON.stringify(solverType)}`);
  return {
    name: `dpmpp_${order}m_sde`,
    nfePerStep: 1,
    stochastic: true,
    init(ctx, x) {
      checkSigmas(ctx.sigmas);
      if (checkMonotone(name, ctx.sigmas) === 'ascending') {
        throw new Error(`${name} is a stochastic sampler and cannot run an ascending (inversion) grid; use an ODE solver such as dpmpp_2m`);
      }
      if (!ctx.noise) throw new Error(`${name} needs a noise source (a seed or a NOISE input)`);
      return initMultistep(name, ctx, x, opts);
    },
    async step(ctx, state, i, model) {
      const e = await evaluateMultistep(ctx, state, i, model, {
        order,
        pick: (out) => out.data,
        thresholding: opts.thresholding,
        scheduleSteps: opts.scheduleSteps,
        scheduleStart: opts.scheduleStart,
        lowerOrderFinal: opts.lowerOrderFinal ?? true,
        eulerAtFinal: opts.eulerAtFinal ?? false,
        zeroFinalRule: true,
      });
      const { s, t, out, outputs, levels, history, k } = e;
      // The span lets a Brownian source (ComfyUI's) answer for this step's levels; sequential sources ignore it.
      const z = ctx.noise!(state.x.dims, { from: s.level, to: t.level });
      let x: Tensor;
      if (isDegenerateStep(s, t)) {
        // Onto sigma 0 the step is x0-hat (e^{-h} = 0, no noise); from flow t = 1, x = eps-hat there.
        x = t.sigma === 0 ? combine([[t.alpha / t.scale, out.data]]) : sdeFromPureNoise(t, out.data, z);
      } else {
        const c = dpmSdeCoefficients(k, solverType, s, t, history[0]);
        const ms = outputs.slice(-k).reverse();
        x = combine([[c.x, state.x], [c.noise, z], ...ms.map((m, j): [number, Tensor] => [c.m[j], m])]);
      }
      return { x, denoised: out.data, outputs, levels, lowerOrderNums: e.lowerOrderNums };
    },
  };
}

/**
 * The first-order SDE step from flow t = 1 (alpha_s = 0, lambda_s = -inf): e^{-h} = 0 there, so
 * x_t = alpha_t D + sigma_t z: the data prediction re-noised with fresh noise.
 */
function sdeFromPureNoise(t: ExpLevel, data: Tensor, z: Tensor): Tensor {
  return combine([
    [t.alpha / t.scale, data],
    [t.sigma / t.scale, z],
  ]);
}
