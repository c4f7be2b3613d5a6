/**
 * DPM-Solver-23 / -12 with adaptive step size (Lu et al. 2022; k-diffusion dpm_solver_adaptive, ComfyUI's
 * dpm_adaptive), in t = -ln sigma on VP grids (VE variables, noise form). Each attempt from s with step h
 * takes a lower- and a higher-order singlestep (order 3: DPM-Solver-2 with r1 = 1/3 and DPM-Solver-3 with
 * r1 = 1/3, r2 = 2/3, sharing their first two model calls; order 2: DPM-Solver-1 and -2), measures
 *   error = || (x_low - x_high) / max(atol, rtol max(|x_low|, |x_prev|)) || / sqrt(numel)
 * and lets a PID controller (k-diffusion's PIDStepSizeController, default an I controller) accept the high
 * order result and resize h. Every attempt costs its model calls, accepted or not. s and t are float32
 * values as k-diffusion's tensors hold them.
 *
 * Each grid step is integrated this way, the controller's state carried from step to step: Schedule
 * (ComfyUI) gives dpm_adaptive the one step ComfyUI integrates (from the KSampler grid's first level to its
 * last positive one; the run ends there, above 0). A step onto sigma 0 returns the x0 prediction.
 *
 * Flow models: only on a ComfyUI grid, where this repeats the VE formulas ComfyUI's DPMSolver runs there (the flow
 * levels read as VE sigmas, t = -ln sigma, the flow sample as the VE state and eps = (x - D) / sigma).
 */
import type { Tensor } from '../core/tensor.ts';
import { ancestralStep, comfyFlowGrid } from './euler-ancestral.ts';
import { linearCombination } from './ops.ts';
import { checkSigmas, hasUpwardStep, offGridLevel, type DenoiseFn, type Solver, type SolverContext, type SolverState } from './solver.ts';

export interface DpmAdaptiveOptions {
  order?: 2 | 3;
  rtol?: number;
  atol?: number;
  hInit?: number;
  pcoeff?: number;
  icoeff?: number;
  dcoeff?: number;
  acceptSafety?: number;
  /**
   * k-diffusion's eta (ComfyUI SamplerDPMAdaptative's; default 0): each attempt aims at the ancestral step's lower
   * level, and an accepted step adds s_noise times that split's noise (the controller then takes order 1.5).
   */
  eta?: number;
  sNoise?: number;
}

const f32 = Math.fround;

/** The largest factor the PID controller proposes, 1 + pi/2 (an accept safety at or above it accepts nothing). */
const MAX_STEP_FACTOR = 1 + Math.PI / 2;
/**
 * Rejections in a row before a run is refused. A rejection shrinks the step by a factor of 0.21 at most, so an
 * accept safety up to 1 reaches float32's resolution (refused too) long before; above 1, a controller can
 * propose factors between 1 and the safety forever while the step stays clamped to the grid step's end.
 */
const MAX_REJECTED_IN_A_ROW = 100;

/** k-diffusion's PIDStepSizeController. */
class PidStepSize {
  private readonly b1: number;
  private readonly b2: number;
  private readonly b3: number;
  private errs: number[] = [];

  constructor(
    public h: number,
    pcoeff: number,
    icoeff: number,
    dcoeff: number,
    order: number,
    private readonly acceptSafety: number,
    private readonly eps = 1e-8,
  ) {
    this.b1 = (pcoeff + icoeff + dcoeff) / order;
    this.b2 = -(pcoeff + 2 * dcoeff) / order;
    this.b3 = dcoeff / order;
  }

  /** Takes an attempt's error: whether to accept it; resizes h either way. */
  propose(error: number): boolean {
    const inv = 1 / (error + this.eps);
    if (this.errs.length === 0) this.errs = [inv, inv, inv];
    this.errs[0] = inv;
    const factor = 1 + Math.atan(this.errs[0] ** this.b1 * this.errs[1] ** this.b2 * this.errs[2] ** this.b3 - 1);
    const accept = factor >= this.acceptSafety;
    if (accept) {
      this.errs[2] = this.errs[1];
      this.errs[1] = this.errs[0];
    }
    this.h *= factor;
    return accept;
  }
}

interface DpmAdaptiveState extends SolverState {
  pid: PidStepSize;
  /** The previous accepted low-order result (the error's scale). */
  xPrev: Tensor;
}

const sigmaOf = (t: number) => f32(Math.exp(f32(-t)));
const tOf = (sigma: number) => f32(-f32(Math.log(f32(sigma))));

export function createDpmAdaptive(opts: DpmAdaptiveOptions = {}): Solver<DpmAdaptiveState> {
  const order = opts.order ?? 3;
  const rtol = opts.rtol ?? 0.05;
  const atol = opts.atol ?? 0.0078;
  if (order !== 2 && order !== 3) throw new Error(`DPM-Solver adaptive: order must be 2 or 3, got ${order}`);
  if (!(rtol > 0 && atol > 0)) throw new Error('DPM-Solver adaptive: rtol and atol must be positive');
  const eta = opts.eta ?? 0;
  const acceptSafety = opts.acceptSafety ?? 0.81;
  // The controller's factor 1 + atan(...) stays below 1 + pi/2: a higher bar accepts nothing.
  if (!(acceptSafety >= 0 && acceptSafety < MAX_STEP_FACTOR)) throw new Error(`DPM-Solver adaptive: accept safety must be in [0, ${MAX_STEP_FACTOR.toFixed(3)}) (the controller's largest factor), got ${acceptSafety}`);
  const sNoise = opts.sNoise ?? 1;
  if (!(eta >= 0 && Number.isFinite(eta))) throw new Error(`DPM-Solver adaptive: eta must be a finite number >= 0, got ${eta}`);
  if (!(sNoise >= 0 && Number.isFinite(sNoise))) throw new Error(`DPM-Solver adaptive: s_noise must be a finite number >= 0, got ${sNoise}`);
  return {
    name: 'dpm_adaptive',
    nfePerStep: order,
    stochastic: eta > 0 && sNoise > 0,
    init(ctx, x): DpmAdaptiveState {
      checkSigmas(ctx.sigmas);
      if (ctx.sigmas.space !== 'vp' && !comfyFlowGrid(ctx.sigmas)) {
        throw new Error('dpm_adaptive runs on VP models, and on flow models on a Schedule (ComfyUI) grid (ComfyUI takes its steps in -ln sigma)');
      }
      if (hasUpwardStep(ctx.sigmas)) throw new Error('dpm_adaptive cannot walk a grid upwards (inversion)');
      if (eta > 0 && !ctx.noise) throw new Error('dpm_adaptive with eta > 0 needs a noise source');
      const pid = new PidStepSize(Math.abs(opts.hInit ?? 0.05), opts.pcoeff ?? 0, opts.icoeff ?? 1, opts.dcoeff ?? 0, eta > 0 ? 1.5 : order, acceptSafety);
      return { x, pid, xPrev: x };
    },
    async step(ctx, state, i, model) {
      const from = ctx.sigmas.sigmas[i];
      const to = ctx.sigmas.sigmas[i + 1];
      if (to === 0) {
        const pred = await model(state.x, offGridLevel(ctx, from));
        return { ...state, x: pred.denoised, denoised: pred.denoised };
      }
      const tEnd = tOf(to);
      const tStart = tOf(from);
      let s = tStart;
      let { x, xPrev } = state;
      let denoised: Tensor | undefined;
      let rejected = 0;
      while (s < f32(tEnd - 1e-5)) {
        const t = Math.min(tEnd, f32(s + state.pid.h));
        // k-diffusion loops on here for good: a run that cannot move is refused instead (a cancel would be the only way out).
        if (!(t > s)) throw new Error(`dpm_adaptive: the step size fell to ${state.pid.h.toPrecision(3)} at sigma ${Number(sigmaOf(s).toPrecision(6))}, below float32's resolution there: the tolerances cannot be met; loosen rtol (${rtol}) or atol (${atol})`);
        if (rejected >= MAX_REJECTED_IN_A_ROW) {
          throw new Error(`dpm_adaptive: ${rejected} attempts in a row rejected at sigma ${Number(sigmaOf(s).toPrecision(6))} (accept safety ${acceptSafety}, rtol ${rtol}, atol ${atol}): lower the accept safety or loosen the tolerances`);
        }
        // With eta, the attempt aims at the ancestral split's lower level t_, and su is the noise back up to t.
        let target = t;
        let su = 0;
        if (eta > 0) {
          const { down } = ancestralStep(sigmaOf(s), sigmaOf(t), eta, true);
          target = Math.min(tEnd, tOf(down));
          const sigT = sigmaOf(t);
          const sigTarget = sigmaOf(target);
          su = f32(Math.sqrt(Math.max(f32(f32(sigT * sigT) - f32(sigTarget * sigTarget)), 0)));
        }
        const attempt = await attemptStep(ctx, model, x, s, target, order);
        denoised = attempt.denoised;
        const error = scaledError(attempt.low, attempt.high, xPrev, rtol, atol);
        rejected++;
        if (state.pid.propose(error)) {
          rejected = 0;
          xPrev = attempt.low;
          // ComfyUI draws on every accepted step (a zero weight at eta 0).
          x = su > 0 && sNoise > 0 ? linearCombination([[1, attempt.high], [su * sNoise, ctx.noise!(x.dims)]]) : attempt.high;
          s = t;
          // The share of the step's -ln sigma span walked (k-diffusion's progress bar counts the same).
          ctx.progress?.(Math.min(1, (s - tStart) / (tEnd - tStart)));
        }
      }
      return { ...state, x, xPrev, denoised };
    },
  };
}

/** One attempt from s to t: the lower- and higher-order results (k-diffusion's eps cache shares their calls). */
async function attemptStep(ctx: SolverContext, model: DenoiseFn, x: Tensor, s: number, t: number, order: 2 | 3): Promise<{ low: Tensor; high: Tensor; denoised: Tensor }> {
  // On a flow grid the model's eps is the flow noise; ComfyUI's DPMSolver takes (x - D) / sigma, the VE noise.
  const flow = ctx.sigmas.space === 'flow';
  const call = async (u: Tensor, at: number) => {
    const sig = sigmaOf(at);
    const pred = await model(u, offGridLevel(ctx, sig));
    return { denoised: pred.denoised, eps: flow ? linearCombination([[1 / sig, u], [-1 / sig, pred.denoised]]) : pred.eps };
  };
  const eps = async (u: Tensor, at: number) => (await call(u, at)).eps;
  const h = f32(t - s);
  const sigT = sigmaOf(t);
  const first = await call(x, s);
  const e0 = first.eps;
  // x - sigma(t) expm1(h) eps: the first-order part every update shares.
  const base: [number, Tensor][] = [
    [1, x],
    [-sigT * Math.expm1(h), e0],
  ];
  const stage = (r: number, extra: [number, Tensor][] = []) => {
    const sig = sigmaOf(f32(s + f32(r * h)));
    return linearCombination([[1, x], [-sig * Math.expm1(r * h), e0], ...extra]);
  };
  const r1 = order === 3 ? 1 / 3 : 1 / 2;
  const s1 = f32(s + f32(r1 * h));
  const e1 = await eps(stage(r1), s1);
  // DPM-Solver-2 with stage r1: - sigma(t) / (2 r1) expm1(h) (eps_r1 - eps).
  const c2 = (-sigT / (2 * r1)) * Math.expm1(h);
  const second = linearCombination([...base, [c2, e1], [-c2, e0]]);
  if (order === 2) return { low: linearCombination(base), high: second, denoised: first.denoised };
  const r2 = 2 / 3;
  const s2 = f32(s + f32(r2 * h));
  const sig2 = sigmaOf(s2);
  const k = sig2 * (r2 / r1) * (Math.expm1(r2 * h) / (r2 * h) - 1);
  const e2 = await eps(stage(r2, [[-k, e1], [k, e0]]), s2);
  const c3 = (-sigT / r2) * (Math.expm1(h) / h - 1);
  return { low: second, high: linearCombination([...base, [c3, e2], [-c3, e0]]), denoised: first.denoised };
}

/** || (low - high) / max(atol, rtol max(|low|, |prev|)) || / sqrt(numel). */
function scaledError(low: Tensor, high: Tensor, prev: Tensor, rtol: number, atol: number): number {
  let sum = 0;
  for (let k = 0; k < low.size; k++) {
    const delta = Math.max(atol, rtol * Math.max(Math.abs(low.data[k]), Math.abs(prev.data[k])));
    const d = (low.data[k] - high.data[k]) / delta;
    sum += d * d;
  }
  return Math.sqrt(sum) / Math.sqrt(low.size);
}
