/**
 * SEEDS-2 and SEEDS-3 (Gonzalez et al. 2023, "Stochastic Explicit Exponential Derivative-free Solvers";
 * ComfyUI's seeds_2 and seeds_3, VP data prediction): singlestep stochastic exponential integrators in
 * the half-log-SNR lambda (half-log-snr.ts) with stages at r = 1/2 (SEEDS-2) or r = 1/3, 2/3 (SEEDS-3). With
 * h = lambda_t - lambda_s, h_eta = h (1 + eta), phi1(v) = e^v - 1 and phi2(v) = (e^v - 1 - v) / v, a stage
 * at r is, in sampling variables (sigma the level: the VE sigma, or t on flow grids),
 *   x_r = (sigma_r / sigma_s) e^{-r h eta} x - alpha_r (a1 D + a2 D_prev_stage) [+ noise],
 * and the noise is one Brownian-like increment carried through the stages: n <- n e^{(r_prev - r) h eta}
 * + sqrt(1 - e^{2 (r_prev - r) h eta}) z, added as s_noise s_r n. Each stage draws its own z, asked for with
 * the levels it spans. The step onto 0 returns D. eta 0 gives deterministic second- and third-order singlestep solvers.
 */
import type { Tensor } from '../core/tensor.ts';
import type { Sigmas } from '../core/values.ts';
import { stateWithPrediction } from './deferred-prediction.ts';
import { ancestralOptions, checkAncestralRun, type EulerAncestralOptions } from './euler-ancestral.ts';
import { linearCombination } from './ops.ts';
import { levelOfLambda, snrLevel } from './half-log-snr.ts';
import { levelAt, offGridLevel, type Solver, type SolverState } from './solver.ts';

export interface SeedsOptions extends EulerAncestralOptions {
  stages: 2 | 3;
}

const phi1 = (v: number) => Math.expm1(v);
const phi2 = (v: number) => (Math.expm1(v) - v) / v;

/** Model calls: `stages` per step, one on a step onto 0. */
function seedsModelCalls(stages: number): (sigmas: Sigmas) => number {
  return (sigmas) => {
    let calls = 0;
    for (let k = 1; k < sigmas.sigmas.length; k++) calls += sigmas.sigmas[k] === 0 ? 1 : stages;
    return calls;
  };
}

export function createSeeds(opts: SeedsOptions): Solver {
  const { stages } = opts;
  const who = `SEEDS-${stages}`;
  const { eta, sNoise } = ancestralOptions(who, opts);
  const noisy = eta > 0 && sNoise > 0;
  // Stage fractions of the step in lambda, the last one the step's end.
  const r = stages === 2 ? [0.5, 1] : [1 / 3, 2 / 3, 1];
  return {
    name: `seeds_${stages}`,
    nfePerStep: stages,
    stochastic: noisy,
    modelCalls: seedsModelCalls(stages),
    init(ctx, x): SolverState {
      checkAncestralRun(ctx, who, eta, false);
      return { x };
    },
    async step(ctx, state, i, model) {
      const s = ctx.sigmas.sigmas[i];
      const t = ctx.sigmas.sigmas[i + 1];
      const first = await model(state.x, levelAt(ctx.sigmas, i));
      if (t === 0) return stateWithPrediction(first.denoised, first);
      const { space } = ctx.sigmas;
      const ls = snrLevel(space, s).lambda;
      const h = snrLevel(space, t).lambda - ls;
      const hEta = h * (eta + 1);
      const D = first.denoised;
      let stageD = D;
      let last = first;
      let noise: Tensor | undefined;
      let x = state.x;
      for (let k = 0; k < r.length; k++) {
        const rk = r[k];
        const level = k === r.length - 1 ? t : levelOfLambda(space, ls + rk * h);
        const alpha = snrLevel(space, level).alpha;
        // The x0 weights of this stage: SEEDS-2's end and every first stage take the last stage's x0 alone;
        // SEEDS-3's second stage and end mix it with D through phi2.
        const mix = stages === 3 && k > 0 ? (k === 1 ? (r[1] / r[0]) * phi2(-rk * hEta) : phi2(-hEta) / r[1]) : 0;
        const terms: [number, Tensor][] = [
          [(level / s) * Math.exp(-rk * h * eta), state.x],
          [-alpha * (phi1(-rk * hEta) - mix), k === 0 || mix === 0 ? stageD : D],
        ];
        if (mix !== 0) terms.push([-alpha * mix, stageD]);
        if (noisy) {
          // No span: ComfyUI draws SEEDS noise from its sequential CPU sampler, not a Brownian tree.
          const z = ctx.noise!(state.x.dims);
          if (noise === undefined) noise = linearCombination([[Math.sqrt(-Math.expm1(-2 * rk * h * eta)), z]]);
          else {
            const seg = (r[k - 1] - rk) * h * eta;
            noise = linearCombination([
              [Math.exp(seg), noise],
              [Math.sqrt(-Math.expm1(2 * seg)), z],
            ]);
          }
          terms.push([level * sNoise, noise]);
        }
        x = linearCombination(terms);
        if (k < r.length - 1) {
          last = await model(x, offGridLevel(ctx, level));
          stageD = last.denoised;
        }
      }
      return stateWithPrediction(x, last);
    },
  };
}
