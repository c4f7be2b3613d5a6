/**
 * CFG++ samplers (Chung et al. 2024, "CFG++: manifold-constrained classifier free guidance"), as ComfyUI's
 * *_cfg_pp samplers run them: each step denoises with the guided x0 prediction D but renoises along the
 * unconditional one U, so that a small guidance scale (about 1 to 2, where plain CFG needs 5 to 10) keeps
 * the sample on the data manifold. U comes from the CFG node (Prediction.uncondDenoised, computed even at
 * scale 1); without CFG guidance U = D for each call, and each sampler but dpmpp_2s_ancestral_cfg_pp (whose
 * step mixes two calls' predictions) is its plain counterpart. In VE variables (x = x0 +
 * sigma eps; flow grids where noted):
 *  - euler_cfg_pp / euler_ancestral_cfg_pp (sample_euler_ancestral_cfg_pp): d = (x - a_s U) / s,
 *    x <- a_t D + a_t s_down' d, + a_t s_noise s_up z, with (s_down', s_up) the ancestral split of
 *    s / a_s -> s_next / a_t and a = 1 on VP grids, 1 - t on flow grids (eta 0: the Euler form);
 *  - dpmpp_2m_cfg_pp (sample_dpmpp_2m_cfg_pp): in t = -ln sigma, h = t_next - t,
 *    x <- D + e^-h x - e^-h U - expm1(-h) (D - U_prev) / (2 r), r = h_prev / h (first step and onto 0: no
 *    history term);
 *  - dpmpp_2s_ancestral_cfg_pp (sample_dpmpp_2s_ancestral_cfg_pp): DPM-Solver++(2S) to s_down with the state
 *    moved by D - U, then + s_noise s_up z; the stage moves it by D - U of the step's first call, the whole
 *    step by D - U_mid, the stage call's U (ComfyUI's hook holds the latest call's by then);
 *  - res_multistep_cfg_pp and gradient_estimation_cfg_pp are options of those solvers (res-multistep.ts,
 *    gradient-estimation.ts).
 * The step onto sigma 0 returns D, as ComfyUI's do.
 */
import type { Tensor } from '../core/tensor.ts';
import { stateWithPrediction } from './deferred-prediction.ts';
import { ancestralInit, ancestralOptions, ancestralStep, comfyFloat32Split, type EulerAncestralOptions } from './euler-ancestral.ts';
import { linearCombination } from './ops.ts';
import { levelAt, offGridLevel, twoStageModelCalls, type Prediction, type Solver, type SolverState } from './solver.ts';

/** The unconditional x0 prediction of a call: the guided one when the call had no CFG. */
export function uncondOf(pred: Prediction): Tensor {
  return pred.uncondDenoised ?? pred.denoised;
}

/**
 * k-diffusion's get_ancestral_step as Python evaluates it when s is infinite (a flow level at t = 1 seen as
 * s / a_s): the NaN inside min() loses to s_next, so all the step's noise is fresh (s_down 0).
 */
function ancestralStepAt(s: number, next: number, eta: number): { down: number; up: number } {
  if (s === Infinity && next > 0 && eta > 0) return { down: 0, up: next };
  return ancestralStep(s, next, eta);
}

/** The signal scale of a level: 1 on VP grids (VE variables), 1 - t on flow grids. */
function signalScale(flow: boolean, s: number): number {
  return flow ? 1 - s : 1;
}

/** euler_cfg_pp (eta 0, the default) and euler_ancestral_cfg_pp (eta > 0); VP and flow grids. */
export function createEulerCfgPp(opts: EulerAncestralOptions = {}): Solver {
  const { eta, sNoise } = ancestralOptions('Euler CFG++', { eta: opts.eta ?? 0, sNoise: opts.sNoise });
  const noisy = eta > 0 && sNoise > 0;
  const name = eta > 0 ? 'euler_ancestral_cfg_pp' : 'euler_cfg_pp';
  return {
    name,
    nfePerStep: 1,
    stochastic: noisy,
    init: ancestralInit(name, noisy ? eta : 0, false),
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const s = level.sigma;
      const next = ctx.sigmas.sigmas[i + 1];
      const pred = await model(state.x, level);
      if (next === 0) return stateWithPrediction(pred.denoised, pred);
      const flow = ctx.sigmas.space === 'flow';
      const aS = signalScale(flow, s);
      const aT = signalScale(flow, next);
      const { down, up } = ancestralStepAt(s / aS, next / aT, eta);
      const sDown = aT * down;
      // x <- a_t D + s_down (x - a_s U) / s
      const terms: [number, Tensor][] = [
        [aT, pred.denoised],
        [sDown / s, state.x],
        [(-sDown * aS) / s, uncondOf(pred)],
      ];
      // ComfyUI draws on every such step when eta and s_noise are positive.
      if (noisy) terms.push([aT * sNoise * up, ctx.noise!(state.x.dims)]);
      return stateWithPrediction(linearCombination(terms), pred);
    },
  };
}

interface Dpmpp2mCfgPpState extends SolverState {
  /** The previous step's unconditional x0 prediction. */
  previousUncond?: Tensor;
}

/**
 * dpmpp_2m_cfg_pp: DPM-Solver++(2M) in CFG++ form; VP grids, and flow grids from a ComfyUI schedule, where this
 * repeats ComfyUI's VE formulas (t = -ln sigma on the flow levels, the flow sample as the VE state).
 */
export function createDpmpp2mCfgPp(): Solver<Dpmpp2mCfgPpState> {
  return {
    name: 'dpmpp_2m_cfg_pp',
    nfePerStep: 1,
    init: ancestralInit('DPM++ 2M CFG++', 0, true),
    async step(ctx, state, i, model) {
      const sig = ctx.sigmas.sigmas;
      const level = levelAt(ctx.sigmas, i);
      const s = level.sigma;
      const next = sig[i + 1];
      const pred = await model(state.x, level);
      const u = uncondOf(pred);
      // h = ln(s / s_next); onto sigma 0, e^-h = 0 and the step returns D.
      const decay = next / s;
      const terms: [number, Tensor][] = [
        [1, pred.denoised],
        [decay, state.x],
        [-decay, u],
      ];
      if (state.previousUncond !== undefined && next > 0) {
        const h = Math.log(s / next);
        const r = Math.log(sig[i - 1] / s) / h;
        const c = -Math.expm1(-h) / (2 * r);
        terms.push([c, pred.denoised], [-c, state.previousUncond]);
      }
      return { x: linearCombination(terms), denoised: pred.denoised, previousUncond: u };
    },
  };
}

/**
 * dpmpp_2s_ancestral_cfg_pp: DPM-Solver++(2S) ancestral in CFG++ form; VP grids, and flow grids from a ComfyUI
 * schedule, where this repeats the VE formulas ComfyUI's function runs on flow models: the flow levels as VE
 * sigmas, the split in float32. (Comfy-Org/ComfyUI#14814, an open pull request, would give it a rectified-flow form.)
 */
export function createDpmpp2sAncestralCfgPp(opts: EulerAncestralOptions = {}): Solver {
  const { eta, sNoise } = ancestralOptions('DPM++ 2S ancestral CFG++', opts);
  return {
    name: 'dpmpp_2s_ancestral_cfg_pp',
    nfePerStep: 2,
    stochastic: eta > 0,
    modelCalls: twoStageModelCalls,
    init: ancestralInit('DPM++ 2S ancestral CFG++', eta, true),
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const s = level.sigma;
      const next = ctx.sigmas.sigmas[i + 1];
      const pred = await model(state.x, level);
      const { down, up } = ancestralStep(s, next, eta, comfyFloat32Split(ctx.sigmas));
      const u = uncondOf(pred);
      let x: Tensor;
      let last = pred;
      if (down === 0) {
        // Euler onto s_down = 0: the guided x0.
        x = pred.denoised;
      } else {
        // The state moved by D - U, then the exponential-integrator step with the guided x0 at each stage.
        const mid = Math.sqrt(s * down);
        const xMid = linearCombination([
          [mid / s, state.x],
          [mid / s, pred.denoised],
          [-mid / s, u],
          [1 - mid / s, pred.denoised],
        ]);
        last = await model(xMid, offGridLevel(ctx, mid));
        // ComfyUI reads the unconditional x0 from its post-CFG hook, which the stage's call has overwritten
        // by then: the whole step moves the state by D minus the stage's U.
        x = linearCombination([
          [down / s, state.x],
          [down / s, pred.denoised],
          [-down / s, uncondOf(last)],
          [1 - down / s, last.denoised],
        ]);
      }
      if (next > 0 && up > 0) x = linearCombination([
        [1, x],
        [sNoise * up, ctx.noise!(state.x.dims)],
      ]);
      return stateWithPrediction(x, last);
    },
  };
}
