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
}

/** One model evaluation as the solvers see it, in sampling variables. */
export interface Prediction {
  /** x0-hat (data prediction). */
  denoised: Tensor;
  /** eps-hat: x = denoised + sigma*eps (VE) or x = (1 - t) denoised + t eps (flow). */
  eps: Tensor;
  /** dx/dsigma of the probability-flow ODE: eps for VE, the velocity eps - x0 for flow. */
  derivative: Tensor;
}

/** Evaluates the model on a state in sampling variables. */
export type DenoiseFn = (x: Tensor, level: ModelLevel) => Promise<Prediction>;

export interface SolverContext {
  readonly sigmas: Sigmas;
  /** Standard normals for stochastic steps, seeded by the caller so runs reproduce. */
  readonly noise?: NoiseSource;
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
}

/** The model-call level of step i. */
export function levelAt(sigmas: Sigmas, i: number): ModelLevel {
  return { sigma: sigmas.sigmas[i], timestep: sigmas.timesteps[i] };
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
  const bad = [...s.sigmas, ...(s.targets ?? [])].find((v) => !Number.isFinite(v) || v < 0);
  if (bad !== undefined) throw new Error(`SIGMAS: level ${bad} is not a finite non-negative number`);
  if (s.timesteps.some((t) => !Number.isFinite(t))) throw new Error('SIGMAS: a timestep is not finite');
  if (s.space === 'flow' && s.sigmas.some((v) => v > 1)) throw new Error('SIGMAS: flow levels must lie in [0, 1]');
}
