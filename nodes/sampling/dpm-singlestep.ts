/**
 * Singlestep DPM-Solver 1/2/3 (Lu et al. 2022; fact sheet 3.4), data form (DPM-Solver++) or noise form,
 * with two placements of the intermediate stages:
 *
 * - 'diffusers' (default, for parity with DPMSolverSinglestepScheduler): each grid step is one model call;
 *   get_order_list assigns an order to every step ([1, 2, 3, 1, 2, 3, ...]), and an order-k step jumps from
 *   the sample where its group started (the last order-1 step) to the next level, using the outputs of the
 *   k grid levels since then as the intermediate stages (s1 = sigmas[i - 1], ... instead of r1 = 1/2 in
 *   lambda). On smooth grids the stage ratios tend to the classical ones, so the orders hold.
 * - 'official' (LuChengTHU/dpm-solver "singlestep_fixed"): each grid step is a full order-k singlestep with
 *   its stages at r1 = 1/2 (order 2) or r1 = 1/3, r2 = 2/3 (order 3) in lambda: k model calls per step, the
 *   intermediate ones at levels off the grid (their timesteps from `timestepAt`). solverType 'midpoint' is
 *   the official "dpmsolver" type, 'heun' its "taylor" type.
 *
 * Steps from or onto a level with infinite lambda (sigma 0, flow t = 1) are first order (DDIM form).
 *
 * Deliberate deviation: DPMSolverSinglestepScheduler's algorithm_type "sde-dpmsolver++" (a fresh noise draw on
 * every step, each order-k step re-noising from its group's start sample) is not offered; exp-solvers.ts
 * refuses such a config for the singlestep solvers.
 */
import type { Tensor } from '../core/tensor.ts';
import type { SigmaSpace, Sigmas } from '../core/values.ts';
import { comfyFlowGrid } from './euler-ancestral.ts';
import { applyCoefficients, type DpmForm, type DpmSolverType, type ExpCommonOptions } from './dpm-multistep.ts';
import {
  checkIntOption,
  checkMonotone,
  dataFormCoefficients,
  ddimFormStep,
  expLevel,
  isDegenerateStep,
  levelAtLambda,
  noiseFormCoefficients,
  outputsAt,
  scheduleIndex,
  solverOutputs,
  type ExpLevel,
  type SolverOutputs,
} from './lambda.ts';
import { checkSigmas, levelAt, timestepForSigma, type DenoiseFn, type ModelLevel, type Solver, type SolverContext, type SolverState } from './solver.ts';

export type SinglestepPlacement = 'diffusers' | 'official';

export interface DpmSinglestepOptions extends ExpCommonOptions {
  /** diffusers solver_order: 1, 2 (default) or 3. */
  order?: number;
  form?: DpmForm;
  solverType?: DpmSolverType;
  /**
   * diffusers lower_order_final (default false). As DPMSolverSinglestepScheduler.set_timesteps does, it is
   * switched on when the step count is not a multiple of the order or the grid ends at sigma 0.
   */
  lowerOrderFinal?: boolean;
  placement?: SinglestepPlacement;
  /**
   * 'official' placement only: the model timestep of an off-grid level. Default: the run's
   * SolverContext.timestepAt (the Sampler derives it from the model's training table), else an
   * interpolation within the grid (solver.ts timestepForSigma).
   */
  timestepAt?: (level: number) => number;
  /**
   * 'official' placement only: each step's order from the grid's stepOrders (ComfyUI's dpm_fast grid); a
   * grid without them gets order 3 but 2 and 1 on its last two steps. `order` caps them.
   */
  gridOrders?: boolean;
  /**
   * ComfyUI's dpm_fast on flow models: flow grids only from a ComfyUI schedule, whose levels it then reads as VE
   * sigmas (lambda = -ln sigma) and whose sample as the VE state, eps = (x - D) / sigma, repeating the VE
   * formulas ComfyUI's DPMSolver runs on flow models. Other flow grids are refused.
   */
  comfyFlowVe?: boolean;
}

export interface DpmSinglestepState extends SolverState {
  /** diffusers placement: the sample where the current group started, its grid index, and the group's outputs. */
  groupStart?: Tensor;
  groupIndex: number;
  outputs: Tensor[];
  /** The order of every step of the schedule (diffusers get_order_list). */
  orderList: readonly number[];
}

/** diffusers DPMSolverSinglestepScheduler.get_order_list, after set_timesteps' lower_order_final switch. */
export function singlestepOrderList(steps: number, order: number, lowerOrderFinal: boolean, finalIsZero: boolean): number[] {
  const lower = lowerOrderFinal || steps % order !== 0 || finalIsZero;
  const repeat = (pattern: number[], times: number) => Array.from({ length: Math.max(times, 0) }, () => pattern).flat();
  let orders: number[];
  if (order === 1) orders = repeat([1], steps);
  else if (!lower) orders = order === 3 ? repeat([1, 2, 3], steps / 3) : repeat([1, 2], steps / 2);
  else if (order === 3) {
    if (steps % 3 === 0) orders = [...repeat([1, 2, 3], steps / 3 - 1), 1, 2, 1];
    else if (steps % 3 === 1) orders = [...repeat([1, 2, 3], (steps - 1) / 3), 1];
    else orders = [...repeat([1, 2, 3], (steps - 2) / 3), 1, 2];
  } else {
    orders = steps % 2 === 0 ? [...repeat([1, 2], steps / 2 - 1), 1, 1] : [...repeat([1, 2], (steps - 1) / 2), 1];
  }
  if (finalIsZero) orders[orders.length - 1] = 1;
  return orders;
}

/** Stage outputs newest first: m[0] at the newest stage. */
interface SinglestepUpdate {
  form: DpmForm;
  solverType: DpmSolverType;
  x: Tensor;
  s: ExpLevel;
  t: ExpLevel;
  /** Stage levels after s, oldest first (s1, s2). */
  stages: readonly ExpLevel[];
  /** Outputs at s, s1, s2 (oldest first). */
  m: readonly Tensor[];
}

/**
 * One singlestep update from s to t with the outputs at s and the stages (diffusers'
 * singlestep_dpm_solver_{second,third}_order_update, written for any stage positions).
 */
export function singlestepUpdate(u: SinglestepUpdate): Tensor {
  const { s, t, form } = u;
  const order = u.m.length;
  const h = t.lambda - s.lambda;
  const data = form === 'data';
  const { x: cx, out } = data ? dataFormCoefficients(s, t) : noiseFormCoefficients(s, t);
  // phi1 = e^{-h} - 1 (data) or e^h - 1 (noise); phi2, phi3 the next divided differences.
  const phi1 = data ? Math.expm1(-h) : Math.expm1(h);
  const phi2 = data ? phi1 / h + 1 : phi1 / h - 1;
  const phi3 = phi2 / h - 0.5;
  const sign = data ? 1 : -1;
  const [m0, m1, m2] = u.m;
  if (order === 1) return applyCoefficients(u.x, cx, [m0], [-out * phi1]);
  if (order === 2) {
    const r0 = (u.stages[0].lambda - s.lambda) / h;
    // D1 = (m1 - m0)/r0; midpoint: -0.5 phi1 D1; heun: +phi2 D1 (data) / -phi2 D1 (noise).
    const k1 = u.solverType === 'midpoint' ? -0.5 * phi1 : sign * phi2;
    return applyCoefficients(u.x, cx, [m0, m1], [out * (-phi1 - k1 / r0), (out * k1) / r0]);
  }
  const r0 = (u.stages[0].lambda - s.lambda) / h;
  const r1 = (u.stages[1].lambda - s.lambda) / h;
  if (u.solverType === 'midpoint') {
    // Only the last stage: D1_1 = (m2 - m0)/r1 with phi2 (the official third-order "dpmsolver" update).
    return applyCoefficients(u.x, cx, [m0, m2], [out * (-phi1 - (sign * phi2) / r1), (out * sign * phi2) / r1]);
  }
  // heun: D1_0 = (m1 - m0)/r0, D1_1 = (m2 - m0)/r1, D1 = (r1 D1_0 - r0 D1_1)/(r1 - r0), D2 = 2 (D1_1 - D1_0)/(r1 - r0);
  // data: + phi2 D1 - phi3 D2, noise: - phi2 D1 - phi3 D2.
  const a0 = [-1 / r0, 1 / r0, 0];
  const a1 = [-1 / r1, 0, 1 / r1];
  const d1 = a0.map((v, k) => (r1 * v - r0 * a1[k]) / (r1 - r0));
  const d2 = a0.map((v, k) => (2 * (a1[k] - v)) / (r1 - r0));
  const c = d1.map((v, k) => sign * phi2 * v - phi3 * d2[k]);
  c[0] -= phi1;
  return applyCoefficients(u.x, cx, [m0, m1, m2], c.map((v) => out * v));
}

/**
 * The official intermediate stages from s: order 1 to the first stage (diffusers-free DPM-Solver-1), and
 * for order 3 the second stage x_s2 = ... + (r2/r1) alpha_s2 phi22 (m_s1 - m_s), phi22 = phi1(r2 h)/(r2 h) + 1
 * (data; the noise form flips the sign and uses phi1(r2 h)/(r2 h) - 1). `lambdaS1` is lambda_s1 - lambda_s.
 */
function officialStage(form: DpmForm, x: Tensor, s: ExpLevel, stage: ExpLevel, m: readonly Tensor[], lambdaS1: number): Tensor {
  const data = form === 'data';
  const { x: cx, out } = data ? dataFormCoefficients(s, stage) : noiseFormCoefficients(s, stage);
  const hs = stage.lambda - s.lambda;
  const phi1 = data ? Math.expm1(-hs) : Math.expm1(hs);
  if (m.length === 1) return applyCoefficients(x, cx, [m[0]], [-out * phi1]);
  const phi22 = data ? phi1 / hs + 1 : phi1 / hs - 1;
  const k = (data ? 1 : -1) * (hs / lambdaS1) * phi22;
  return applyCoefficients(x, cx, [m[0], m[1]], [out * (-phi1 - k), out * k]);
}

export function createDpmSinglestep(opts: DpmSinglestepOptions = {}): Solver<DpmSinglestepState> {
  const form = opts.form ?? 'data';
  const name = form === 'data' ? 'DPM-Solver++ singlestep' : 'DPM-Solver singlestep';
  const order = checkIntOption(name, 'order', opts.order ?? 2, 1, 3);
  const solverType = opts.solverType ?? 'midpoint';
  const placement = opts.placement ?? 'diffusers';
  if (solverType !== 'midpoint' && solverType !== 'heun') throw new Error(`${name}: solver type must be "midpoint" or "heun", got ${JSON.stringify(solverType)}`);
  if (placement !== 'diffusers' && placement !== 'official') throw new Error(`${name}: placement must be "diffusers" or "official", got ${JSON.stringify(placement)}`);
  /** The space whose formulas the solver takes on a grid: VE on a ComfyUI flow grid with comfyFlowVe. */
  const spaceOf = (sigmas: Sigmas): SigmaSpace => (opts.comfyFlowVe && comfyFlowGrid(sigmas) ? 'vp' : sigmas.space);
  const convert = async (model: DenoiseFn, x: Tensor, l: ExpLevel, level: ModelLevel, veOnFlow: boolean): Promise<SolverOutputs> => {
    const out = solverOutputs(await model(x, level), x, l, opts.thresholding);
    // The model's eps is the flow noise; ComfyUI's is (x - D) / sigma, the VE noise at the level.
    return veOnFlow ? outputsAt(x, l, out, 'data') : out;
  };
  const pick = (o: SolverOutputs) => (form === 'data' ? o.data : o.noise);

  async function officialStep(ctx: SolverContext, x: Tensor, s: ExpLevel, t: ExpLevel, first: SolverOutputs, model: DenoiseFn, k: number): Promise<Tensor> {
    const space = spaceOf(ctx.sigmas);
    const veOnFlow = space !== ctx.sigmas.space;
    const h = t.lambda - s.lambda;
    const ratios = k === 2 ? [0.5] : [1 / 3, 2 / 3];
    const stages: ExpLevel[] = [];
    const m: Tensor[] = [pick(first)];
    for (const r of ratios) {
      const level = levelAtLambda(space, s.lambda + r * h);
      const stage = expLevel(space, level);
      const xs = officialStage(form, x, s, stage, m, ratios[0] * h);
      stages.push(stage);
      const timestep = opts.timestepAt ? opts.timestepAt(level) : timestepForSigma(ctx, level);
      m.push(pick(await convert(model, xs, stage, { sigma: level, timestep }, veOnFlow)));
    }
    return singlestepUpdate({ form, solverType, x, s, t, stages, m });
  }

  /** The order the grid asks of step i (gridOrders), else the solver's. */
  const requested = (sigmas: Sigmas, i: number): number => {
    if (!opts.gridOrders) return order;
    const n = sigmas.timesteps.length;
    const k = sigmas.stepOrders?.[i] ?? (i === n - 1 ? 1 : i === n - 2 ? 2 : 3);
    return Math.min(Math.max(Math.trunc(k), 1), order);
  };
  /** The official placement's order for a step: first order where its stages cannot be placed. */
  const officialOrder = (s: ExpLevel, t: ExpLevel, k: number) => (isDegenerateStep(s, t) || t.lambda === s.lambda ? 1 : k);

  return {
    name: form === 'data' ? `dpmpp_${order}s` : `dpm_${order}s`,
    nfePerStep: placement === 'official' ? order : 1,
    modelCalls(sigmas) {
      if (placement !== 'official') return sigmas.timesteps.length;
      let calls = 0;
      const space = spaceOf(sigmas);
      for (let i = 0; i < sigmas.timesteps.length; i++) calls += officialOrder(expLevel(space, sigmas.sigmas[i]), expLevel(space, sigmas.sigmas[i + 1]), requested(sigmas, i));
      return calls;
    },
    init(ctx, x) {
      const { sigmas } = ctx;
      checkSigmas(sigmas);
      checkMonotone(name, sigmas);
      if (opts.comfyFlowVe && sigmas.space === 'flow' && !comfyFlowGrid(sigmas)) {
        throw new Error(`${name}: on flow models this solver (ComfyUI's dpm_fast) runs only on a Schedule (ComfyUI) grid, where it repeats ComfyUI's VE formulas`);
      }
      const { total } = scheduleIndex(sigmas, 0, opts.scheduleSteps, opts.scheduleStart);
      const orderList = singlestepOrderList(total, order, opts.lowerOrderFinal ?? false, sigmas.sigmas[sigmas.sigmas.length - 1] === 0);
      return { x, groupIndex: 0, outputs: [], orderList };
    },
    async step(ctx, state, i, model) {
      const { sigmas } = ctx;
      const space = spaceOf(sigmas);
      const s = expLevel(space, sigmas.sigmas[i]);
      const t = expLevel(space, sigmas.sigmas[i + 1]);
      const first = await convert(model, state.x, s, levelAt(sigmas, i), space !== sigmas.space);
      if (placement === 'official') {
        const k = officialOrder(s, t, requested(sigmas, i));
        const x = k === 1 ? firstOrder(state.x, s, t, first) : await officialStep(ctx, state.x, s, t, first, model, k);
        return { ...state, x, denoised: first.data };
      }
      const { index } = scheduleIndex(sigmas, i, opts.scheduleSteps, opts.scheduleStart);
      // diffusers lowers the order while too few outputs exist (img2img starts). An order-k step needs its
      // group to have started exactly k - 1 steps back, at levels with finite, distinct lambdas; else it
      // starts a new group.
      const span = i - state.groupIndex + 1;
      let k = Math.min(state.orderList[index], span);
      if (k > 1 && (k !== span || !groupUsable(sigmas, state.groupIndex, i + 1))) k = 1;
      const outputs = k === 1 ? [pick(first)] : [...state.outputs, pick(first)];
      const groupStart = k === 1 ? state.x : state.groupStart!;
      const groupIndex = k === 1 ? i : state.groupIndex;
      let x: Tensor;
      if (k === 1) x = firstOrder(state.x, s, t, first);
      else {
        const g = expLevel(sigmas.space, sigmas.sigmas[groupIndex]);
        const stages = Array.from({ length: k - 1 }, (_, j) => expLevel(sigmas.space, sigmas.sigmas[groupIndex + 1 + j]));
        x = singlestepUpdate({ form, solverType, x: groupStart, s: g, t, stages, m: outputs });
      }
      return { ...state, x, denoised: first.data, groupStart, groupIndex, outputs };
    },
  };

  function firstOrder(x: Tensor, s: ExpLevel, t: ExpLevel, out: SolverOutputs): Tensor {
    if (isDegenerateStep(s, t)) return ddimFormStep(t, out);
    return singlestepUpdate({ form, solverType, x, s, t, stages: [], m: [pick(out)] });
  }
}

/**
 * A group (start .. stage levels, then its target `to`) can take a higher-order step: its own levels have finite,
 * distinct lambdas, and the target's is finite and not the start's. The target may repeat a stage (a grid that
 * ends on sigma_min twice, as exponential and beta grids with final_sigmas_type sigma_min do): diffusers then
 * takes the step with that stage's r = 1, which is well defined.
 */
function groupUsable(s: Sigmas, from: number, to: number): boolean {
  const lambdas: number[] = [];
  for (let j = from; j < to; j++) {
    const l = expLevel(s.space, s.sigmas[j]).lambda;
    if (!Number.isFinite(l) || lambdas.includes(l)) return false;
    lambdas.push(l);
  }
  const target = expLevel(s.space, s.sigmas[to]).lambda;
  return Number.isFinite(target) && target !== lambdas[0];
}
