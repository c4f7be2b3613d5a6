/**
 * Euler ancestral (k-diffusion sample_euler_ancestral; diffusers EulerAncestralDiscreteScheduler is eta = 1).
 * VP grids (fact sheet 3.3): s_up = min(s_next, eta sqrt(s_next^2 (s^2 - s_next^2) / s^2)),
 * s_down = sqrt(s_next^2 - s_up^2); x <- x + (s_down - s) d, then + s_noise * s_up * z.
 * Flow grids use the rectified-flow form (ComfyUI's sample_euler_ancestral_RF): an Euler step down to
 * s_down = s_next (1 + (s_next/s - 1) eta), rescaled by (1 - s_next)/(1 - s_down), plus the noise that
 * restores the marginal variance at s_next: sqrt(s_next^2 - s_down^2 (1 - s_next)^2 / (1 - s_down)^2).
 * Noise is drawn once per step that adds any (s_up > 0), never on the step to sigma 0. diffusers draws
 * randn(model_output.shape) on every step, the last included (times s_up = 0), so step k uses draw k in
 * both and the results agree for the same draws. diffusers refuses prediction_type "sample" here; this
 * solver accepts it (superset).
 */
import type { Tensor } from '../core/tensor.ts';
import { linearCombination } from './ops.ts';
import type { SigmaSpace } from '../core/values.ts';
import { checkSigmas, hasUpwardStep, levelAt, type Solver, type SolverContext, type SolverState } from './solver.ts';

export interface EulerAncestralOptions {
  /** 1 = full ancestral noise, 0 = plain Euler. */
  eta?: number;
  sNoise?: number;
}

/**
 * k-diffusion get_ancestral_step: the deterministic target s_down and the noise level s_up. `float32`: as
 * ComfyUI evaluates it, on the grid's float32 levels in float32 tensor arithmetic, every operation rounded
 * (torch's square, sqrt and the rest are correctly rounded). s_down^2 = s_next^2 - s_up^2 cancels when s_next
 * is far below s (s_down ~ s_next^2 / s): on a step from 14.6 to 0.029 float32 leaves s_down about 1% off,
 * which the samplers that step to ln(s_down) (DPM++ 2S, DPM-2 and RES multistep ancestral) carry into the
 * result (4e-4 on a two-step run).
 */
export function ancestralStep(s: number, next: number, eta: number, float32 = false): { down: number; up: number } {
  if (next === 0 || eta === 0) return { down: next, up: 0 };
  if (float32) {
    const f = Math.fround;
    const s2 = f(s * s);
    const n2 = f(next * next);
    const root = f(Math.sqrt(Math.max(f(f(n2 * f(s2 - n2)) / s2), 0)));
    const up = Math.min(next, eta === 1 ? root : f(f(eta) * root));
    return { down: f(Math.sqrt(Math.max(f(n2 - f(up * up)), 0))), up };
  }
  const up = Math.min(next, eta * Math.sqrt(Math.max((next * next * (s * s - next * next)) / (s * s), 0)));
  return { down: Math.sqrt(next * next - up * up), up };
}

/**
 * Whether a run's ancestral splits follow ComfyUI's float32 get_ancestral_step: on the grids ComfyUI's schedules
 * give, VP ones and the flow ones its VE-formula samplers walk (ancestralSplit's rectified-flow split ignores it).
 */
export function comfyFloat32Split(sigmas: { offGridTimesteps?: string }): boolean {
  return sigmas.offGridTimesteps === 'comfyui';
}

/**
 * A ComfyUI grid on a flow model (a Schedule (ComfyUI) node's): there ComfyUI runs the samplers that have no
 * rectified-flow form (res_multistep_ancestral, dpmpp_2m_cfg_pp, ddpm, dpm_fast, dpm_adaptive, ...) with their VE
 * formulas, the flow levels read as VE sigmas and the flow sample as the VE state; FlowStudio's solvers repeat
 * that on these grids only.
 */
export function comfyFlowGrid(sigmas: { offGridTimesteps?: string; space: SigmaSpace }): boolean {
  return sigmas.offGridTimesteps === 'comfyui' && sigmas.space === 'flow';
}

/** The flow-grid ancestral step: Euler target, rescale factor onto s_next's signal level, and the noise std. */
export function flowAncestralStep(s: number, next: number, eta: number): { down: number; rescale: number; up: number } {
  if (next === 0 || eta === 0) return { down: next, rescale: 1, up: 0 };
  const down = next * (1 + (next / s - 1) * eta);
  const rescale = (1 - next) / (1 - down);
  const up = Math.sqrt(Math.max(next * next - down * down * rescale * rescale, 0));
  return { down, rescale, up };
}

/**
 * The ancestral split of a step s -> s_next on either grid: the deterministic target s_down, the factor the
 * state is rescaled by after the step (1 on VP grids; onto s_next's signal level on flow grids) and the noise
 * level s_up.
 */
export function ancestralSplit(space: SigmaSpace, s: number, next: number, eta: number, float32 = false): { down: number; rescale: number; up: number } {
  return space === 'flow' ? flowAncestralStep(s, next, eta) : { ...ancestralStep(s, next, eta, float32), rescale: 1 };
}

/** An ancestral solver's eta (default 1) and s_noise (default 1), checked; `who` names the solver in errors. */
export function ancestralOptions(who: string, opts: EulerAncestralOptions): Required<EulerAncestralOptions> {
  const eta = opts.eta ?? 1;
  const sNoise = opts.sNoise ?? 1;
  if (!(eta >= 0 && eta <= 1)) throw new Error(`${who}: eta must be in [0, 1], got ${eta}`);
  if (!(sNoise >= 0 && Number.isFinite(sNoise))) throw new Error(`${who}: s_noise must be a finite number >= 0, got ${sNoise}`);
  return { eta, sNoise };
}

/**
 * What an ancestral solver needs of a run: a descending grid (with `veFormulas`, a VP model or a flow model on a
 * ComfyUI grid, where the solver repeats ComfyUI's VE formulas), and noise to draw when eta > 0.
 */
export function checkAncestralRun(ctx: SolverContext, who: string, eta: number, veFormulas: boolean): void {
  checkSigmas(ctx.sigmas);
  if (veFormulas && ctx.sigmas.space !== 'vp' && !comfyFlowGrid(ctx.sigmas)) {
    throw new Error(`${who} runs on VP models, and on flow models on a Schedule (ComfyUI) grid (ComfyUI's VE formulas); use euler_ancestral on this flow grid`);
  }
  if (hasUpwardStep(ctx.sigmas)) throw new Error(`${who} cannot walk a grid upwards (inversion): use an ODE solver (euler, ddim, ...)`);
  if (eta > 0 && !ctx.noise) throw new Error(`${who} needs a noise source`);
}

/** The init of an ancestral or SDE solver whose state is the sample alone: checkAncestralRun, then x. */
export function ancestralInit(who: string, eta: number, veFormulas: boolean): (ctx: SolverContext, x: Tensor) => SolverState {
  return (ctx, x) => {
    checkAncestralRun(ctx, who, eta, veFormulas);
    return { x };
  };
}

export function createEulerAncestral(opts: EulerAncestralOptions = {}): Solver {
  const { eta, sNoise } = ancestralOptions('Euler ancestral', opts);
  return {
    name: 'euler_ancestral',
    nfePerStep: 1,
    stochastic: eta > 0,
    init: ancestralInit('Euler ancestral', eta, false),
    async step(ctx, state, i, model) {
      const level = levelAt(ctx.sigmas, i);
      const s = level.sigma;
      const next = ctx.sigmas.sigmas[i + 1];
      const pred = await model(state.x, level);
      const d = pred.derivative;
      const a = ancestralSplit(ctx.sigmas.space, s, next, eta, comfyFloat32Split(ctx.sigmas));
      const terms: [number, typeof d][] = [
        [a.rescale, state.x],
        [a.rescale * (a.down - s), d],
      ];
      if (a.up > 0) terms.push([sNoise * a.up, ctx.noise!(state.x.dims)]);
      return { x: linearCombination(terms), denoised: pred.denoised };
    },
  };
}
