/**
 * Heun++ (ComfyUI heunpp2, from sd-webui-samplers-scheduler): per step an Euler predictor to the next level
 * and, while two levels remain, a second Euler predictor on to the one after; the step then takes the
 * weighted derivative w1 d + w2 d_next + w3 d_after with w2 = s_next / (3 s_0), w3 = s_after / (3 s_0),
 * w1 = 1 - w2 - w3 (s_0: the run's first level), three model calls. The step before the last uses
 * w2 = s_next / (2 s_0) over two calls, the last step is Euler. Churn (s_churn > 0) is not offered.
 */
import type { Tensor } from '../core/tensor.ts';
import { addScaled, linearCombination } from './ops.ts';
import { gridLevel, hasUpwardStep, levelAt, plainInit, type Solver, type SolverState } from './solver.ts';
import type { Sigmas } from '../core/values.ts';

export function createHeunpp2(): Solver {
  return {
    name: 'heunpp2',
    nfePerStep: 3,
    modelCalls(sigmas: Sigmas) {
      const n = sigmas.timesteps.length;
      return n === 0 ? 0 : n === 1 ? 1 : 3 * (n - 2) + 3;
    },
    init(ctx, x) {
      // Its weights divide by the run's first level: a descending grid only.
      if (hasUpwardStep(ctx.sigmas)) throw new Error('Heun++ cannot walk a grid upwards (inversion)');
      return plainInit(ctx, x);
    },
    async step(ctx, state, i, model): Promise<SolverState> {
      const sig = ctx.sigmas.sigmas;
      const end = sig[sig.length - 1];
      const s = sig[i];
      const next = sig[i + 1];
      const dt = next - s;
      const pred = await model(state.x, levelAt(ctx.sigmas, i));
      const d = pred.derivative;
      if (next === end) return { x: addScaled(state.x, dt, d), denoised: pred.denoised };
      const x2 = addScaled(state.x, dt, d);
      const pred2 = await model(x2, gridLevel(ctx.sigmas, i + 1));
      const terms: [number, Tensor][] = [[1, state.x]];
      if (sig[i + 2] === end) {
        const w2 = next / (2 * sig[0]);
        terms.push([(1 - w2) * dt, d], [w2 * dt, pred2.derivative]);
        return { x: linearCombination(terms), denoised: pred2.denoised };
      }
      const x3 = addScaled(x2, sig[i + 2] - next, pred2.derivative);
      const pred3 = await model(x3, gridLevel(ctx.sigmas, i + 2));
      const w2 = next / (3 * sig[0]);
      const w3 = sig[i + 2] / (3 * sig[0]);
      terms.push([(1 - w2 - w3) * dt, d], [w2 * dt, pred2.derivative], [w3 * dt, pred3.derivative]);
      return { x: linearCombination(terms), denoised: pred3.denoised };
    },
  };
}
