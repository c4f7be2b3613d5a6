/**
 * Predictions that compute their x0 (and eps) on first read. For eps and velocity models the ODE
 * derivative is the raw model output itself, and Euler-type steps (Euler, flow Euler, Heun, RF-Solver)
 * read nothing else: deferring x0 saves a pass over the latent per model call there, and costs nothing
 * when a solver does read it. The sampler checks the derivative for non-finite values after every call;
 * a NaN or infinity in the model output always reaches the derivative, so that check still catches it.
 */
import type { Tensor } from '../core/tensor.ts';
import { addScaledChecked, axpby } from './ops.ts';
import type { Prediction, SolverState } from './solver.ts';

export class DeferredPrediction implements Prediction {
  readonly derivative: Tensor;
  uncondDenoised?: Tensor;
  #denoised: Tensor | undefined;
  #eps: Tensor | undefined;

  /**
   * x0 = x + x0Coef * out; eps = out when epsCoef is undefined, else x + epsCoef * out; the derivative
   * is `out`.
   */
  constructor(
    private readonly out: Tensor,
    private readonly x: Tensor,
    private readonly x0Coef: number,
    private readonly epsCoef?: number,
  ) {
    this.derivative = out;
  }

  get denoised(): Tensor {
    return (this.#denoised ??= denoisedChecked(this.x, this.x0Coef, this.out));
  }

  get eps(): Tensor {
    if (this.epsCoef === undefined) return this.out;
    return (this.#eps ??= axpby(1, this.x, this.epsCoef, this.out));
  }

  /** True once something has read the x0 prediction (the sampler checks it only then). */
  get denoisedComputed(): boolean {
    return this.#denoised !== undefined;
  }
}

/** A solver state whose x0 is read from a prediction on demand (see stateWithPrediction). */
class PredictedState implements SolverState {
  constructor(
    readonly x: Tensor,
    private readonly pred: Prediction,
  ) {}

  get denoised(): Tensor {
    return this.pred.denoised;
  }
}

/**
 * The state after a step that lands on `x`, whose x0 is that of `pred`, read only when someone asks
 * (a progress preview, the trajectory, the run's end). A class, not an object literal with a getter:
 * V8 builds such a literal through a runtime call, which cost more than the rest of an Euler step.
 */
export function stateWithPrediction(x: Tensor, pred: Prediction): SolverState {
  return new PredictedState(x, pred);
}

/**
 * x + c * out (the x0 prediction of eps and velocity models), scanning both for non-finite values in the
 * same pass (ops.addScaledChecked), so the sampler's check of the output costs nothing afterwards.
 */
export function denoisedChecked(x: Tensor, c: number, out: Tensor): Tensor {
  if (c === 0 || !Number.isFinite(c) || !out.sameShape(x)) return axpby(1, x, c, out);
  return addScaledChecked(x, c, out);
}
