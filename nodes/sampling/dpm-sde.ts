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
 *
 * eta and s_noise (k-diffusion's sample_dpmpp_2m_sde, ComfyUI's SamplerDPMPP_2M_SDE node): with h_eta = (1 + eta) h,
 *   x_t = (sigma_t/sigma_s) e^{-eta h} x + alpha_t (1 - e^{-h_eta}) D0 [+ the D1 term with h_eta for 2h]
 *         + s_noise sigma_t sqrt(1 - e^{-2 eta h}) z;
 * eta 1 and s_noise 1 (the defaults) are diffusers' form above, eta 0 the DPM-Solver++(2M) ODE step. No noise is
 * drawn when eta or s_noise is 0, as k-diffusion.
 */
import type { Tensor } from '../core/tensor.ts';
import { evaluateMultistep, initMultistep, type DpmSolverType, type ExpCommonOptions, type MultistepHistory } from './dpm-multistep.ts';
import { checkIntOption, checkMonotone, combine, ddimFormStep, isDegenerateStep, type ExpLevel } from './lambda.ts';
import { checkSigmas, type Solver } from './solver.ts';

export interface DpmSdeOptions extends ExpCommonOptions {
  /** 1 or 2 (default). */
  order?: number;
  /** k-diffusion's eta (default 1: the SDE; 0: the ODE). */
  eta?: number;
  /** Scale of the noise (default 1). */
  sNoise?: number;
  solverType?: DpmSolverType;
  lowerOrderFinal?: boolean;
  eulerAtFinal?: boolean;
}

export type DpmSdeState = MultistepHistory;

/** Coefficients of x, the outputs (newest first) and the noise for one SDE step (eta 1: diffusers' form). */
export function dpmSdeCoefficients(order: number, solverType: DpmSolverType, s: ExpLevel, t: ExpLevel, prev: ExpLevel | undefined, eta = 1): { x: number; m: number[]; noise: number } {
  const h = t.lambda - s.lambda;
  const hEta = (1 + eta) * h;
  const em = Math.expm1(-hEta); // e^{-h_eta} - 1
  const out = t.alpha / t.scale;
  // (sigma_t/sigma_s) e^{-eta h} on the native sample, converted to sampling variables.
  const x = ((t.sigma / s.sigma) * Math.exp(-eta * h) * s.scale) / t.scale;
  // A step that does not descend (an EDM grid ending on sigma_min twice, one float32 ulp up) adds no noise,
  // as diffusers, whose float32 logs make h exactly 0 there.
  const noise = (t.sigma * Math.sqrt(Math.max(-Math.expm1(-2 * eta * h), 0))) / t.scale;
  const k0 = -em;
  if (order === 1) return { x, m: [out * k0], noise };
  const r0 = (s.lambda - prev!.lambda) / h;
  const k1 = solverType === 'midpoint' ? -0.5 * em : em / hEta + 1;
  return { x, m: [out * (k0 + k1 / r0), (-out * k1) / r0], noise };
}

export function createDpmSde(opts: DpmSdeOptions = {}): Solver<DpmSdeState> {
  const name = 'DPM-Solver++ SDE';
  const order = checkIntOption(name, 'order', opts.order ?? 2, 1, 2);
  const solverType = opts.solverType ?? 'midpoint';
  if (solverType !== 'midpoint' && solverType !== 'heun') throw new Error(`${name}: solver type must be "midpoint" or "heun", got ${JSON.stringify(solverType)}`);
  const eta = opts.eta ?? 1;
  const sNoise = opts.sNoise ?? 1;
  if (!(eta >= 0 && Number.isFinite(eta))) throw new Error(`${name}: eta must be a finite number >= 0, got ${eta}`);
  if (!(sNoise >= 0 && Number.isFinite(sNoise))) throw new Error(`${name}: s_noise must be a finite number >= 0, got ${sNoise}`);
  const noisy = eta > 0 && sNoise > 0;
  return {
    name: `dpmpp_${order}m_sde`,
    nfePerStep: 1,
    stochastic: noisy,
    init(ctx, x) {
      checkSigmas(ctx.sigmas);
      if (checkMonotone(name, ctx.sigmas) === 'ascending') {
        throw new Error(`${name} is a stochastic sampler and cannot run an ascending (inversion) grid; use an ODE solver such as dpmpp_2m`);
      }
      if (noisy && !ctx.noise) throw new Error(`${name} needs a noise source (a seed or a NOISE input)`);
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
      const z = noisy ? ctx.noise!(state.x.dims, { from: s.level, to: t.level }) : undefined;
      let x: Tensor;
      if (isDegenerateStep(s, t)) {
        // Onto sigma 0 the step is x0-hat (e^{-h} = 0, no noise); from flow t = 1, x0-hat re-noised (the ODE: eps-hat).
        x = t.sigma === 0 ? combine([[t.alpha / t.scale, out.data]]) : z ? sdeFromPureNoise(t, out.data, z, sNoise) : ddimFormStep(t, out);
      } else {
        const c = dpmSdeCoefficients(k, solverType, s, t, history[0], eta);
        const ms = outputs.slice(-k).reverse();
        const terms: [number, Tensor][] = [[c.x, state.x], ...ms.map((m, j): [number, Tensor] => [c.m[j], m])];
        if (z) terms.splice(1, 0, [c.noise * sNoise, z]);
        x = combine(terms);
      }
      return { x, denoised: out.data, outputs, levels, lowerOrderNums: e.lowerOrderNums };
    },
  };
}

/**
 * The first-order SDE step from flow t = 1 (alpha_s = 0, lambda_s = -inf): e^{-h} = 0 there, so
 * x_t = alpha_t D + sigma_t z: the data prediction re-noised with fresh noise.
 */
function sdeFromPureNoise(t: ExpLevel, data: Tensor, z: Tensor, sNoise: number): Tensor {
  return combine([
    [t.alpha / t.scale, data],
    [(sNoise * t.sigma) / t.scale, z],
  ]);
}
