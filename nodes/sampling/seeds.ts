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
 *
 * SEEDS-2 takes ComfyUI's stage fraction r and its two end rules: phi_1 (the default) weighs the x0 predictions
 * lerp(D, D_r, 1 / (2 r)) under phi1; phi_2 takes b2 = phi2(-h_eta) / r on D_r and phi1(-h_eta) - b2 on D. With r = 1
 * and phi_2 this is ComfyUI's exp_heun_2_x0 (eta 0) and exp_heun_2_x0_sde (eta 1): a first-order step to the end,
 * the model called there, and the exponential Heun step from both x0 predictions.
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
  /** SEEDS-2: the stage's fraction of the step in lambda, in (0, 1] (default 1/2). */
  r?: number;
  /** SEEDS-2: how the end weighs the two x0 predictions (default phi_1). */
  solverType?: 'phi_1' | 'phi_2';
  /** The solver's name (default seeds_2 / seeds_3). */
  name?: string;
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
  const name = opts.name ?? `seeds_${stages}`;
  const who = opts.name ?? `SEEDS-${stages}`;
  const { eta, sNoise } = ancestralOptions(who, opts);
  const noisy = eta > 0 && sNoise > 0;
  const r2 = opts.r ?? 0.5;
  if (stages === 3 && (opts.r !== undefined || opts.solverType !== undefined)) throw new Error(`${who}: r and the solver type apply to SEEDS-2 only`);
  if (!(r2 > 0 && r2 <= 1)) throw new Error(`${who}: the stage fraction r must be in (0, 1], got ${r2}`);
  const solverType = opts.solverType ?? 'phi_1';
  if (solverType !== 'phi_1' && solverType !== 'phi_2') throw new Error(`${who}: solver type must be phi_1 or phi_2, got ${JSON.stringify(solverType)}`);
  // Stage fractions of the step in lambda, the last one the step's end.
  const r = stages === 2 ? [r2, 1] : [1 / 3, 2 / 3, 1];
  return {
    name,
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
        // A stage at r = 1 is the step's end (torch.lerp returns its end at weight 1).
        const level = k === r.length - 1 || rk === 1 ? t : levelOfLambda(space, ls + rk * h);
        const alpha = snrLevel(space, level).alpha;
        // The x0 weights of this stage, -alpha (wD D + wS D_stage): a first stage takes D alone; SEEDS-3's
        // second stage and end mix D with the last stage's x0 through phi2; SEEDS-2's end by its solver type.
        const p1 = phi1(-rk * hEta);
        let wS = 0;
        if (k > 0 && stages === 3) wS = k === 1 ? (r[1] / r[0]) * phi2(-rk * hEta) : phi2(-hEta) / r[1];
        else if (k > 0) wS = solverType === 'phi_2' ? phi2(-hEta) / r2 : p1 / (2 * r2);
        const terms: [number, Tensor][] = [[(level / s) * Math.exp(-rk * h * eta), state.x]];
        if (p1 - wS !== 0) terms.push([-alpha * (p1 - wS), D]);
        if (wS !== 0) terms.push([-alpha * wS, stageD]);
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
