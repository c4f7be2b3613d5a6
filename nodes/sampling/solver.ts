/**
 * The step-at-a-time solver interface. A solver walks a Sigmas grid one step per call, state in and state
 * out, so samplers, inversion, guidance and editing nodes can act before and after every model call.
 *
 * Sampling variables: for space 'vp' the state is the VE sample x_ve = x_vp / alpha at VE level sigma
 * (k-diffusion's convention; the model sees x_ve / sqrt(sigma^2 + 1)); for space 'flow' it is the flow
 * sample x_t = (1 - t) x0 + t eps at sigma = t. Predictions are expressed in the same variables.
 */
import type { Tensor } from '../core/tensor.ts';
import type { SigmaSpace, Sigmas } from '../core/values.ts';
import type { NoiseSource } from './ops.ts';

/** Where the model is evaluated: a level and the timestep the model is called with there. */
export interface ModelLevel {
  sigma: number;
  timestep: number;
  /**
   * At a grid level, the grid's next level (and its model timestep, unless it is the grid's last level):
   * what a mean-flow network's second time input (HunyuanImage 2.1's timestep_r) is fed. Unset for levels
   * between grid levels.
   */
  nextSigma?: number;
  nextTimestep?: number;
}

/** One model evaluation as the solvers see it, in sampling variables. */
export interface Prediction {
  /** x0-hat (data prediction). */
  denoised: Tensor;
  /** eps-hat: x = denoised + sigma*eps (VE) or x = (1 - t) denoised + t eps (flow). */
  eps: Tensor;
  /** dx/dsigma of the probability-flow ODE: eps for VE, the velocity eps - x0 for flow. */
  derivative: Tensor;
  /**
   * The unconditional side's x0 prediction when the call was guided by CFG (the CFG++ solvers step along
   * it); absent for an unguided call.
   */
  uncondDenoised?: Tensor;
}

/** Evaluates the model on a state in sampling variables. */
export type DenoiseFn = (x: Tensor, level: ModelLevel) => Promise<Prediction>;

export interface SolverContext {
  readonly sigmas: Sigmas;
  /** Standard normals for stochastic steps, seeded by the caller so runs reproduce. */
  readonly noise?: NoiseSource;
  /**
   * The model timestep of any level, for solvers that evaluate the model between grid levels (Euler
   * churn, RF-Solver's midpoint). The Sampler derives it from the model's training table; without it
   * `timestepForSigma` interpolates within the grid.
   */
  readonly timestepAt?: (sigma: number) => number;
  /** Progress inside the current step, as the fraction of it done: for steps of many model calls (dpm_adaptive). */
  readonly progress?: (fraction: number) => void;
}

/** What every solver state carries; solvers add their own history (previous predictions, ...). */
export interface SolverState {
  /** The sample at level sigmas[i] before step i (at sigmas[i + 1] after it). */
  x: Tensor;
  /** The latest x0 prediction. */
  denoised?: Tensor;
}

export interface Solver<S extends SolverState = SolverState> {
  readonly name: string;
  /** Model evaluations per step (for progress totals and budgets). */
  readonly nfePerStep: number;
  /** Builds the starting state from the sample at sigmas[0]; checks that the grid suits the solver. */
  init(ctx: SolverContext, x: Tensor): S;
  /** Advances from level i to level i + 1. */
  step(ctx: SolverContext, state: S, i: number, model: DenoiseFn): Promise<S>;
  /** Model evaluations a whole run over `sigmas` makes when that is not nfePerStep per step (Heun: 2n - 1). */
  modelCalls?(sigmas: Sigmas): number;
  /** The fewest steps a run can have (default 1; PNDM's Runge-Kutta warm-up needs 4). */
  readonly minSteps?: number;
  /** The most steps its grid can have (LCM: original_inference_steps); default unbounded. */
  readonly maxSteps?: number;
  /** True when steps draw from ctx.noise (ancestral / SDE / churn): the run depends on the seed. */
  readonly stochastic?: boolean;
  /** For a solver whose noise depends on the grid it walks (SA-Solver on a SASolverScheduler grid): whether it draws there. */
  drawsNoiseOn?(sigmas: Sigmas): boolean;
}

/** Model evaluations of a full run of `solver` over `sigmas`. */
export function solverModelCalls(solver: Pick<Solver, 'nfePerStep' | 'modelCalls'>, sigmas: Sigmas): number {
  return solver.modelCalls ? solver.modelCalls(sigmas) : solver.nfePerStep * sigmas.timesteps.length;
}

/** The model-call level of step i. */
export function levelAt(sigmas: Sigmas, i: number): ModelLevel {
  // A part of a split schedule ends on the whole grid's level: its timestep is kept as endTimestep.
  const nextTimestep = i + 1 < sigmas.timesteps.length ? sigmas.timesteps[i + 1] : sigmas.endTimestep;
  return { sigma: sigmas.sigmas[i], timestep: sigmas.timesteps[i], nextSigma: sigmas.sigmas[i + 1], nextTimestep };
}

/**
 * Grid level i as a later stage of a step evaluates it (Heun's corrector at the step's target): the level
 * alone, without the level after it, which belongs to the next step's own first call (a mean-flow network
 * then takes its interval end r = t).
 */
export function gridLevel(sigmas: Sigmas, i: number): ModelLevel {
  return { sigma: sigmas.sigmas[i], timestep: sigmas.timesteps[i] };
}

/** Whether a grid has a step upwards (an inversion grid, or part of one). */
export function hasUpwardStep(sigmas: Sigmas): boolean {
  const s = sigmas.sigmas;
  for (let k = 1; k < s.length; k++) if (s[k] > s[k - 1]) return true;
  return false;
}

/** The init of a solver whose state is the sample alone: checks the grid, starts from x. */
export function plainInit(ctx: SolverContext, x: Tensor): SolverState {
  checkSigmas(ctx.sigmas);
  return { x };
}

/** Model calls of a two-stage-per-step solver whose steps onto sigma 0 take one (Heun, DPM-Solver-2, ...). */
export function twoStageModelCalls(sigmas: Sigmas): number {
  let ontoZero = 0;
  for (let k = 1; k < sigmas.sigmas.length; k++) if (sigmas.sigmas[k] === 0) ontoZero++;
  return 2 * sigmas.timesteps.length - ontoZero;
}

/**
 * The model level of a stage placed off the grid by construction (a midpoint): its timestep by the off-grid
 * rule even where it equals a grid level (the ancestral midpoint sqrt(s s_down) is s_next itself at eta 1).
 * diffusers computes such timesteps apart from the grid's, and a Karras grid's own are rounded where these
 * are not; ComfyUI takes the nearest training step either way.
 */
export function offGridLevel(ctx: SolverContext, sigma: number): ModelLevel {
  return { sigma, timestep: ctx.timestepAt ? ctx.timestepAt(sigma) : timestepForSigma(ctx, sigma) };
}

/**
 * The model timestep at level `sigma`: a grid level's own timestep when it is one, else ctx.timestepAt,
 * else an interpolation within the grid (flow timesteps are proportional to t; VP ones are interpolated
 * linearly in ln(sigma) between neighbouring grid levels, clamped to the grid's range).
 */
export function timestepForSigma(ctx: SolverContext, sigma: number): number {
  const { sigmas, timesteps } = ctx.sigmas;
  for (let k = 0; k < timesteps.length; k++) if (sigmas[k] === sigma) return timesteps[k];
  if (ctx.timestepAt) return ctx.timestepAt(sigma);
  const n = timesteps.length;
  if (n === 0) throw new Error(`no timestep for level ${sigma}: the grid has no steps`);
  if (ctx.sigmas.space === 'flow') {
    const k = sigmas.findIndex((s, j) => j < n && s > 0);
    if (k < 0) throw new Error(`no timestep for level ${sigma}: the flow grid has no positive level`);
    return (timesteps[k] / sigmas[k]) * sigma;
  }
  // Grid pairs (level, timestep) with a positive level, sorted by level.
  const pairs = Array.from({ length: n }, (_, k) => [sigmas[k], timesteps[k]] as const)
    .filter(([s]) => s > 0)
    .sort((a, b) => a[0] - b[0]);
  if (pairs.length === 0) throw new Error(`no timestep for level ${sigma}: the grid has no positive level`);
  if (pairs.length === 1 || sigma <= pairs[0][0]) return pairs[0][1];
  const last = pairs[pairs.length - 1];
  if (sigma >= last[0]) return last[1];
  let j = 1;
  while (pairs[j][0] < sigma) j++;
  const [s0, t0] = pairs[j - 1];
  const [s1, t1] = pairs[j];
  const w = (Math.log(sigma) - Math.log(s0)) / (Math.log(s1) - Math.log(s0));
  return t0 + w * (t1 - t0);
}

/** The model-call level at any `sigma` (see timestepForSigma). */
export function levelOf(ctx: SolverContext, sigma: number): ModelLevel {
  return { sigma, timestep: timestepForSigma(ctx, sigma) };
}

/** Factor from sampling variables to the model's data variables at a level: 1/sqrt(s^2+1) for VP, 1 for flow. */
export function modelInputScale(space: SigmaSpace, sigma: number): number {
  return space === 'vp' ? 1 / Math.sqrt(sigma * sigma + 1) : 1;
}

/** Throws a clear error for a grid that no solver can walk. */
export function checkSigmas(s: Sigmas): void {
  const n = s.timesteps.length;
  if (s.space !== 'vp' && s.space !== 'flow') throw new Error(`SIGMAS: unknown space ${JSON.stringify(s.space)}`);
  if (s.sigmas.length !== n + 1) {
    throw new Error(`SIGMAS: ${s.sigmas.length} levels for ${n} timesteps (expected one more level than timesteps)`);
  }
  if (s.targets && s.targets.length !== n) throw new Error(`SIGMAS: ${s.targets.length} targets for ${n} timesteps`);
  // Runs at the start of every sampler run: plain loops, no spread copies.
  checkLevels(s.sigmas, s.space === 'flow');
  if (s.targets) checkLevels(s.targets, false);
  for (let k = 0; k < n; k++) if (!Number.isFinite(s.timesteps[k])) throw new Error('SIGMAS: a timestep is not finite');
}

function checkLevels(levels: readonly number[], flow: boolean): void {
  for (let k = 0; k < levels.length; k++) {
    const v = levels[k];
    if (!Number.isFinite(v) || v < 0) throw new Error(`SIGMAS: level ${v} is not a finite non-negative number`);
  }
  if (flow) for (let k = 0; k < levels.length; k++) if (levels[k] > 1) throw new Error('SIGMAS: flow levels must lie in [0, 1]');
}
