/**
 * PNDM (Liu et al. 2022) with diffusers PNDMScheduler semantics. It walks the DDIM grid (integer timesteps,
 * prev_t = t - T//N, final_alpha_cumprod at the end) and takes DDIM's deterministic step with a combination
 * of the model's outputs, in one of two warm-ups:
 *  - skip_prk_steps = true (PLMS, Stable Diffusion 1.x's configs): step 0 takes the output e0 at t0, a DDIM
 *    step to t0 - T//N, a second call there (at timestep t1), then the step from t0 again with
 *    (e0 + e1') / 2; N + 1 model calls in all;
 *  - skip_prk_steps = false (the class default): the first three steps are classical Runge-Kutta steps
 *    (4 calls each, stages at t + T//N//2 above the next timestep); N + 9 model calls, N >= 4.
 * After the warm-up, step k uses (3 e_k - e_{k-1}) / 2, then (23, -16, 5) / 12, then (55, -59, 37, -9) / 24
 * (Adams-Bashforth with constant coefficients, whatever the spacing of the grid).
 * Outputs are combined raw (v_prediction outputs before their conversion to noise), as diffusers does; the
 * conversion then uses the step's own level and sample. Where diffusers treats a sample as if it were at
 * another level (PLMS's second warm-up call takes the start sample as at t1 + T//N; PRK's second stage
 * evaluates at t1 + T//N//2 a sample moved to t0 - T//N//2), the same levels are used here; on leading
 * grids with an even T//N they coincide.
 *
 * img2img: diffusers' img2img pipeline cuts PNDM's timestep list at the strength index k. PLMS's list has
 * its second entry doubled, so the cut starts one level early and its warm-up (counters 0 and 1) runs on the
 * list's first two entries, after which the sample is called at the next entry whatever level it is at;
 * `plmsImg2imgSigmas` builds that walk as a grid plus the warm-up's second call (`warmup`).
 *
 * Deliberate deviation: the Runge-Kutta list cut part-way through its 12 stage entries is not reproduced;
 * an img2img tail with the Runge-Kutta warm-up runs it from the tail's first level, as a full run would.
 */
import type { Tensor } from '../core/tensor.ts';
import type { SchedulerConfig, Sigmas } from '../core/values.ts';
import { linearCombination } from './ops.ts';
import { trainingTimestepLookup } from './table-timesteps.ts';
import { checkSigmas, levelAt, type DenoiseFn, type ModelLevel, type Prediction, type Solver, type SolverState } from './solver.ts';

export interface PndmOptions {
  /** The model's training table: the VE level of each integer timestep (vpTable(cfg).sigmas). */
  tableSigmas: ArrayLike<number>;
  /** How the model's outputs are parameterized (PNDMScheduler accepts these two). */
  predictionType?: 'epsilon' | 'v_prediction';
  /** The Runge-Kutta warm-up (diffusers skip_prk_steps = false); default: PLMS's (skip_prk_steps = true). */
  rungeKutta?: boolean;
  /**
   * PLMS: the level and timestep of the warm-up's second call (diffusers' counter 1), where step 0 then
   * lands; default the grid's second level. Set by plmsImg2imgSigmas for img2img tails.
   */
  warmup?: ModelLevel;
}

export interface PndmState extends SolverState {
  /** Raw model outputs of the past steps, oldest first (at most 4). */
  ets: Tensor[];
}

/** Runge-Kutta steps before the multistep phase (diffusers: pndm_order 4 timesteps, 3 steps). */
const RK_STEPS = 3;

/** Adams-Bashforth weights on the last 1-4 outputs (newest first), as diffusers' step_plms. */
const AB: readonly (readonly number[])[] = [[1], [3 / 2, -1 / 2], [23 / 12, -16 / 12, 5 / 12], [55 / 24, -59 / 24, 37 / 24, -9 / 24]];

const alphaOf = (s: number) => 1 / Math.sqrt(s * s + 1);

export function createPndm(opts: PndmOptions): Solver<PndmState> {
  const name = 'PNDM';
  const table = opts.tableSigmas;
  if (table.length < 2) throw new Error(`${name}: the training table is empty`);
  const type = opts.predictionType ?? 'epsilon';
  if (type !== 'epsilon' && type !== 'v_prediction') throw new Error(`${name}: prediction_type must be epsilon or v_prediction (diffusers PNDMScheduler), got ${JSON.stringify(type)}`);
  const rk = opts.rungeKutta === true;
  const T = table.length;
  const timestepOf = trainingTimestepLookup(table, name, "PNDM walks the DDIM grid; Karras or custom levels are not PNDM's");

  /** The raw model output (eps, or v) from a prediction made at VE level s. */
  function raw(pred: Prediction, s: number): Tensor {
    if (type === 'epsilon') return pred.eps;
    // v = a eps - s a x0 (VP: alpha eps - sigma x0). Not (eps - s a^2 x) / a: at the top of a cosine schedule
    // (a ~ 5e-5) that subtracts two numbers of the VE sample's size (~2e4) and keeps v to ~1e-3.
    const a = alphaOf(s);
    return linearCombination([
      [a, pred.eps],
      [-s * a, pred.denoised],
    ]);
  }

  /**
   * diffusers' _get_prev_sample: the sample x (VE at level `at`) is taken as the VP sample at level `from`,
   * stepped by DDIM with the combined raw output to level `to`, and returned as the VE sample at `next`.
   */
  function prevSample(x: Tensor, at: number, from: number, to: number, next: number, out: Tensor): Tensor {
    const aAt = alphaOf(at);
    const aFrom = alphaOf(from);
    const aTo = alphaOf(to);
    const land = aTo / alphaOf(next);
    // In VE variables at `from`: x_from = x_vp / a_from, x_to = x_from + (to - from) eps, x_vp' = a_to x_to.
    const xScale = (aAt / aFrom) * land;
    const epsScale = (to - from) * land;
    if (type === 'epsilon') return linearCombination([
      [xScale, x],
      [epsScale, out],
    ]);
    // v -> eps with the `from` level and the sample: eps = a_from v + s_from a_from x_vp, x_vp = a_at x.
    return linearCombination([
      [xScale + epsScale * from * aFrom * aAt, x],
      [epsScale * aFrom, out],
    ]);
  }

  /**
   * diffusers' step_prk over one grid step, from t_i to t_{i+1}: stages at t_i, at t_{i+1} + T//N//2 (twice)
   * and at t_{i+1}, each DDIM-stepped from t_i; the result uses (e1 + 2 e2 + 2 e3 + e4) / 6. The first
   * stage's output joins the multistep history.
   */
  async function rungeKuttaStep(state: PndmState, i: number, levels: readonly number[], total: number, model: DenoiseFn): Promise<PndmState> {
    const half = Math.floor(Math.floor(T / total) / 2);
    const s = levels[i];
    const next = levels[i + 1];
    const t = timestepOf(s);
    const tNext = timestepOf(next);
    const level = (k: number) => {
      if (k < 0 || k >= T) throw new Error(`${name}: Runge-Kutta stage at t = ${k} is outside the training table (${T} levels)`);
      return table[k];
    };
    const x = state.x;
    // Stage 1 at t_i; the sample moves to t_i - half for stage 2, which diffusers calls at t_{i+1} + half.
    const p1 = await model(x, { sigma: s, timestep: t });
    const e1 = raw(p1, s);
    const sMid = level(tNext + half);
    const x2 = prevSample(x, s, s, level(t - half), level(t - half), e1);
    const e2 = raw(await model(x2, { sigma: level(t - half), timestep: tNext + half }), level(t - half));
    const x3 = prevSample(x, s, s, sMid, sMid, e2);
    const e3 = raw(await model(x3, { sigma: sMid, timestep: tNext + half }), sMid);
    const x4 = prevSample(x, s, s, next, next, e3);
    const e4 = raw(await model(x4, { sigma: next, timestep: tNext }), next);
    const combined = linearCombination([
      [1 / 6, e1],
      [1 / 3, e2],
      [1 / 3, e3],
      [1 / 6, e4],
    ]);
    return { x: prevSample(x, s, s, next, next, combined), denoised: p1.denoised, ets: [...state.ets, e1] };
  }

  return {
    name: 'pndm',
    nfePerStep: 1,
    minSteps: rk ? RK_STEPS + 1 : 1,
    modelCalls(sigmas) {
      const n = sigmas.timesteps.length;
      if (rk) return n + RK_STEPS * 3;
      return n >= 2 ? n + 1 : n;
    },
    init(ctx, x) {
      checkSigmas(ctx.sigmas);
      if (ctx.sigmas.space !== 'vp') throw new Error(`${name} is defined for VP (diffusion) models only`);
      const s = ctx.sigmas.sigmas;
      for (let k = 1; k < s.length; k++) if (!(s[k] <= s[k - 1])) throw new Error(`${name} needs a descending grid`);
      const n = ctx.sigmas.timesteps.length;
      for (let k = 0; k < n; k++) timestepOf(s[k]);
      if (rk && n <= RK_STEPS) throw new Error(`${name}: the Runge-Kutta warm-up (the config's skip_prk_steps is false) needs at least ${RK_STEPS + 1} steps, got ${n}`);
      return { x, ets: [] };
    },
    async step(ctx, state, i, model) {
      const { sigmas } = ctx;
      const n = sigmas.timesteps.length;
      const s = sigmas.sigmas[i];
      const next = sigmas.sigmas[i + 1];
      const target = sigmas.targets?.[i] ?? next;
      if (rk && i < RK_STEPS) return rungeKuttaStep(state, i, sigmas.sigmas, sigmas.segment?.total ?? n, model);
      const pred = await model(state.x, levelAt(sigmas, i));
      const out = raw(pred, s);
      if (i === 0 && !rk) {
        if (n < 2 && !opts.warmup) return { x: prevSample(state.x, s, s, target, next, out), denoised: pred.denoised, ets: [out] };
        // Second warm-up call (diffusers' counter 1) on the first-order result, at the next timestep of
        // its list; then the step from the start again with the mean output, taken as from that
        // timestep + T//N down to it.
        const w = opts.warmup ?? levelAt(sigmas, 1);
        const first = prevSample(state.x, s, s, target, target, out);
        const pred2 = await model(first, { sigma: target, timestep: w.timestep });
        const mean = linearCombination([
          [0.5, raw(pred2, target)],
          [0.5, out],
        ]);
        const ratio = Math.floor(T / (sigmas.segment?.total ?? n));
        const tFrom = timestepOf(w.sigma) + ratio;
        if (tFrom >= T) throw new Error(`${name}: warm-up level t = ${tFrom} is outside the training table (${T} levels)`);
        return { x: prevSample(state.x, s, table[tFrom], w.sigma, next, mean), denoised: pred.denoised, ets: [out] };
      }
      const ets = [...state.ets, out].slice(-4);
      const w = AB[ets.length - 1];
      const combined = ets.length === 1 ? out : linearCombination(w.map((c, k): [number, Tensor] => [c, ets[ets.length - 1 - k]]));
      return { x: prevSample(state.x, s, s, target, next, combined), denoised: pred.denoised, ets };
    },
  };
}

/** Whether a scheduler config runs PNDM as PLMS (skip_prk_steps) rather than after the Runge-Kutta warm-up. */
export function skipsRungeKutta(cfg: SchedulerConfig): boolean {
  return cfg.skip_prk_steps === true;
}

/**
 * diffusers' StableDiffusionImg2ImgPipeline with PNDM's PLMS list [g0, g1, g1, g2, ..., g_{N-1}] cut at
 * t_start = N - min(floor(N * strength), N): the add_noise level is the cut list's first entry; its second
 * entry is the warm-up's second call; every later entry is one step, from its own level (where diffusers
 * takes the sample to be) to that entry's DDIM target. As a grid: the first entry, then the entries from
 * the third on, with the full grid's targets; step 0 lands on the second entry's level (the end of the run
 * when the cut list has two entries). Undefined when the run is the whole schedule or nothing of it.
 */
export function plmsImg2imgSigmas(full: Sigmas, strength: number): { sigmas: Sigmas; warmup: ModelLevel } | undefined {
  const n = full.timesteps.length;
  const k = n - Math.min(Math.floor(n * strength), n);
  if (k === 0 || k >= n || n < 2) return undefined;
  // Indices into the full grid of the cut list's entries: plms index j is grid step j - 1 for j >= 2.
  const plms = [0, 1, ...Array.from({ length: n - 1 }, (_, j) => j + 1)];
  const list = plms.slice(k);
  const steps = [list[0], ...list.slice(2)];
  const target = (j: number) => full.targets?.[j] ?? full.sigmas[j + 1];
  const warm = list[1];
  const sigmas: Sigmas = {
    space: full.space,
    sigmas: [...steps.map((j) => full.sigmas[j]), steps.length > 1 ? target(steps[steps.length - 1]) : full.sigmas[warm]],
    timesteps: steps.map((j) => full.timesteps[j]),
    targets: steps.map(target),
    segment: { start: (full.segment?.start ?? 0) + k, total: full.segment?.total ?? n, preceding: [...(full.segment?.preceding ?? []), ...full.sigmas.slice(0, steps[0])] },
  };
  if (full.origin !== undefined) sigmas.origin = full.origin;
  return { sigmas, warmup: { sigma: full.sigmas[warm], timestep: full.timesteps[warm] } };
}
