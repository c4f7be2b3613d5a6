/**
 * RES multistep (ComfyUI res_multistep, res_multistep_ancestral; Zhang et al. 2023, "Improved order analysis
 * of exponential integrators", arxiv 2308.02157): a second-order multistep exponential integrator in
 * t = -ln sigma on the x0 predictions, one model call per step. Per step the ancestral split of s_next into
 * s_down and s_up (eta 0: s_down = s_next, no noise), then with h = t(s_down) - t(s) and
 * c2 = (t(s_prev) - t(s_down of the previous step)) / h,
 *   x <- e^-h x + h (b1 D + b2 D_prev),  b1 = phi1(-h) - phi2(-h) / c2,  b2 = phi2(-h) / c2,
 * phi1(z) = (e^z - 1) / z, phi2(z) = (phi1(z) - 1) / z; an Euler step to s_down on the first step and onto
 * sigma 0; then + s_noise * s_up * z. The same arithmetic runs on flow grids (sigma := t), as ComfyUI does; the
 * ancestral forms only on ComfyUI grids (ComfyUI's VE get_ancestral_step on flow levels; other flow grids refuse them).
 * CFG++ (res_multistep_cfg_pp, res_multistep_ancestral_cfg_pp; cfg-pp.ts): the Euler steps renoise along the
 * unconditional x0 U (x <- D + s_down (x - U) / s), the multistep one moves the state by D - U and then
 * steps with U in D's place, and the history keeps U.
 */
import type { Tensor } from '../core/tensor.ts';
import { ancestralOptions, ancestralStep, checkAncestralRun, comfyFloat32Split, type EulerAncestralOptions } from './euler-ancestral.ts';
import { addScaled, linearCombination } from './ops.ts';
import { uncondOf } from './cfg-pp.ts';
import { checkSigmas, levelAt, type Solver, type SolverState } from './solver.ts';

export interface ResMultistepState extends SolverState {
  /** The previous step's x0 prediction and the level it stepped down to. */
  previous?: { denoised: Tensor; down: number };
}

/** phi1(z) = (e^z - 1) / z and phi2(z) = (phi1(z) - 1) / z, for z != 0. */
function phis(z: number): [number, number] {
  const phi1 = Math.expm1(z) / z;
  return [phi1, (phi1 - 1) / z];
}

export interface ResMultistepOptions extends EulerAncestralOptions {
  /** The CFG++ form (ComfyUI's *_cfg_pp samplers). */
  cfgPp?: boolean;
}

/** eta 0 (default): the deterministic solver; eta > 0: res_multistep_ancestral (VP models; flow models on ComfyUI grids). */
export function createResMultistep(opts: ResMultistepOptions = {}): Solver<ResMultistepState> {
  const { eta, sNoise } = ancestralOptions('RES multistep', { eta: opts.eta ?? 0, sNoise: opts.sNoise });
  const cfgPp = opts.cfgPp === true;
  return {
    name: `${eta > 0 ? 'res_multistep_ancestral' : 'res_multistep'}${cfgPp ? '_cfg_pp' : ''}`,
    nfePerStep: 1,
    stochastic: eta > 0,
    init(ctx, x): ResMultistepState {
      // On flow models only on ComfyUI grids, where ComfyUI runs it with these VE formulas (flow levels as VE sigmas).
      if (eta > 0) checkAncestralRun(ctx, 'RES multistep ancestral', eta, true);
      else checkSigmas(ctx.sigmas);
      return { x };
    },
    async step(ctx, state, i, model) {
      const sig = ctx.sigmas.sigmas;
      const level = levelAt(ctx.sigmas, i);
      const s = level.sigma;
      const next = sig[i + 1];
      const pred = await model(state.x, level);
      // ComfyUI splits the step in float32 on flow grids too (its VE get_ancestral_step on the flow levels).
      const { down, up } = ancestralStep(s, next, eta, comfyFloat32Split(ctx.sigmas));
      // CFG++ steps along the unconditional x0 (D without CFG).
      const u = cfgPp ? uncondOf(pred) : pred.denoised;
      let x: Tensor;
      if (down === 0 || state.previous === undefined) {
        x = cfgPp
          ? linearCombination([
              [1, pred.denoised],
              [down / s, state.x],
              [-down / s, u],
            ])
          : addScaled(state.x, down - s, pred.derivative);
      } else {
        const t = -Math.log(s);
        const h = -Math.log(down) - t;
        const c2 = (-Math.log(sig[i - 1]) + Math.log(state.previous.down)) / h;
        const [phi1, phi2] = phis(-h);
        // ComfyUI maps NaN coefficients to 0 (nan_to_num).
        const b1 = nanToZero(phi1 - phi2 / c2);
        const b2 = nanToZero(phi2 / c2);
        // CFG++: x + (D - U) first, then U where the plain form has D.
        const e = Math.exp(-h);
        x = linearCombination([
          [e, state.x],
          ...(cfgPp ? ([[e, pred.denoised], [-e, u]] as [number, Tensor][]) : []),
          [h * b1, u],
          [h * b2, state.previous.denoised],
        ]);
      }
      if (next > 0 && up > 0) x = addScaled(x, sNoise * up, ctx.noise!(state.x.dims));
      return { x, denoised: pred.denoised, previous: { denoised: u, down } };
    },
  };
}

function nanToZero(v: number): number {
  return Number.isNaN(v) ? 0 : v;
}
