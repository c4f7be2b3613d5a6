/**
 * ComfyUI's sampling grids, so that a KSampler setting (scheduler, steps, denoise) gives the levels and
 * model timesteps ComfyUI walks. Written from its model_sampling.py and samplers.py (reference only).
 *
 * Its "model sampling" is a table of levels, ascending, index = timestep, stored in float32:
 *  - discrete VP models (ModelSamplingDiscrete): the VE sigmas of the training betas; a level's model
 *    timestep is the NEAREST table index in log sigma (an integer), a fractional timestep's level is
 *    interpolated in log sigma. zsnr rescales the sigmas with the last abar set to 4.897e-8;
 *  - flow models with a static shift (SD3, ModelSamplingDiscreteFlow): t = shift(i / 1000), i = 1..1000,
 *    timestep = t * 1000; with use_dynamic_shifting (FLUX, ModelSamplingFlux): t = e^mu / (e^mu + 1/u - 1),
 *    u = i / 10000, timestep = t (sent to the model as diffusers' FLUX pipelines send it).
 * The schedulers then pick levels from that table (simple, ddim_uniform, beta), interpolate it (normal,
 * sgm_uniform: a linspace in timesteps mapped back through the table, which on flow tables shifts the
 * already shifted ends once more, as ComfyUI does), or span its ends (karras, exponential, kl_optimal,
 * linear_quadratic). KSampler adds two rules: some samplers drop the second-to-last level, and
 * denoise < 1 keeps the last steps + 1 levels of a longer schedule (int(steps / denoise) steps).
 */
import type { SchedulerConfig, SigmaSpace, Sigmas } from '../core/values.ts';
import { alphasCumprod, betasFromConfig, veSigma } from './betas.ts';
import { noSignalError } from './float32-table.ts';
import { betaSamplingLevels, exponentialCurve, karrasCurve } from './comfy-sigma-curves.ts';
import { toModelTimestep, type TimestepUnits } from './model-time.ts';
import { cfgBool, cfgNumber } from './schedule-config.ts';
import { checkShift, dynamicShiftFactor, fluxMu } from './schedule-flow.ts';
import { linspaceF32 } from './torch-linspace.ts';

export { linspaceF32 };

const f32 = Math.fround;

export const COMFY_SCHEDULERS = ['simple', 'sgm_uniform', 'karras', 'exponential', 'ddim_uniform', 'beta', 'normal', 'linear_quadratic', 'kl_optimal'] as const;
export type ComfyScheduler = (typeof COMFY_SCHEDULERS)[number];

/** KSampler's samplers that take one step more and drop the second-to-last level (DISCARD_PENULTIMATE_SIGMA_SAMPLERS). */
export const COMFY_DISCARD_PENULTIMATE: readonly string[] = ['dpm_2', 'dpm_2_ancestral', 'uni_pc', 'uni_pc_bh2'];

/** ComfyUI's UniPC samplers stop at this level instead of 0 (sample_unipc replaces a final 0 with it). */
export const COMFY_UNIPC_END = 0.001;

/**
 * ComfyUI samplers a Sampler reproduces on these grids, with the solver and options that take the same steps:
 * k-diffusion's Euler (ComfyUI's ddim is the same step), Euler ancestral, Heun, DPM-Solver-2 (and ancestral), DPM++ 2S ancestral, iPNDM (fixed and variable step), RES multistep (and ancestral), its DEIS, gradient estimation, Heun++, DPM++ 2M, LMS (whose step onto
 * 0 returns the x0 prediction in ComfyUI), ComfyUI's UniPC (order 3, bh1 or bh2, data prediction), and the SDE samplers DPM++ SDE,
 * DPM++ 2M SDE (midpoint and heun) and DPM++ 3M SDE on VP models, lcm (multistep consistency sampling), and ddpm, er_sde, seeds_2, seeds_3,
 * exp_heun_2_x0 and exp_heun_2_x0_sde (SEEDS-2 with its stage at the step's end) on VP models.
 * On flow models ComfyUI runs the samplers without a rectified-flow form with their VE formulas, the flow levels
 * read as VE sigmas and the flow sample as the VE state; on these grids (offGridTimesteps 'comfyui', space flow)
 * FlowStudio's res_multistep_ancestral(_cfg_pp), dpmpp_2m_cfg_pp, ddpm_posterior, dpm_fast and dpm_adaptive repeat
 * that (comfyFlowGrid), as exp_level_space ve does for dpmpp_2m and uni_pc.
 */
export const COMFY_SAMPLERS: Readonly<Record<string, { solver: string; params: Readonly<Record<string, string | number>> }>> = {
  euler: { solver: 'euler', params: {} },
  ddim: { solver: 'euler', params: {} },
  euler_ancestral: { solver: 'euler_ancestral', params: {} },
  heun: { solver: 'heun', params: {} },
  dpm_2: { solver: 'dpm_2', params: {} },
  dpm_2_ancestral: { solver: 'dpm_2_ancestral', params: {} },
  dpmpp_2s_ancestral: { solver: 'dpmpp_2s_ancestral', params: {} },
  ipndm: { solver: 'ipndm', params: {} },
  ipndm_v: { solver: 'ipndm_v', params: {} },
  res_multistep: { solver: 'res_multistep', params: {} },
  res_multistep_ancestral: { solver: 'res_multistep_ancestral', params: {} },
  deis: { solver: 'deis_tab', params: {} },
  gradient_estimation: { solver: 'gradient_estimation', params: {} },
  heunpp2: { solver: 'heunpp2', params: {} },
  // ComfyUI's dpmpp_2m and uni_pc take lambda = -ln sigma on every model: on flow models too (exp_level_space ve).
  // k-diffusion's dpmpp_2m takes a first-order step only onto 0 (no lower_order_final: a run up flipped sigmas,
  // or down a grid ending above 0, ends second order).
  dpmpp_2m: { solver: 'dpmpp_2m', params: { exp_level_space: 've', lower_order_final: 'off' } },
  // The SDE samplers draw from a Brownian tree on the CPU (noise_generator comfyui reproduces it). Their _gpu
  // twins build the same tree on the sampling device: the same noise when ComfyUI samples on the CPU, another
  // path (the GPU's generator, which no CPU reproduces) on a GPU.
  dpmpp_sde: { solver: 'dpmpp_sde', params: {} },
  dpmpp_sde_gpu: { solver: 'dpmpp_sde', params: {} },
  // Like dpmpp_2m: first order (the x0 prediction) only onto 0.
  dpmpp_2m_sde: { solver: 'dpmpp_2m_sde', params: { lower_order_final: 'off' } },
  dpmpp_2m_sde_gpu: { solver: 'dpmpp_2m_sde', params: { lower_order_final: 'off' } },
  dpmpp_2m_sde_heun: { solver: 'dpmpp_2m_sde', params: { dpm_solver_type: 'heun', lower_order_final: 'off' } },
  dpmpp_2m_sde_heun_gpu: { solver: 'dpmpp_2m_sde', params: { dpm_solver_type: 'heun', lower_order_final: 'off' } },
  dpmpp_3m_sde: { solver: 'dpmpp_3m_sde', params: {} },
  dpmpp_3m_sde_gpu: { solver: 'dpmpp_3m_sde', params: {} },
  lcm: { solver: 'consistency', params: {} },
  ddpm: { solver: 'ddpm_posterior', params: {} },
  er_sde: { solver: 'er_sde', params: {} },
  seeds_2: { solver: 'seeds_2', params: {} },
  seeds_3: { solver: 'seeds_3', params: {} },
  exp_heun_2_x0: { solver: 'exp_heun_2_x0', params: {} },
  exp_heun_2_x0_sde: { solver: 'exp_heun_2_x0_sde', params: {} },
  // CFG++: the unconditional prediction comes from the CFG node (ComfyUI's post-CFG hook).
  euler_cfg_pp: { solver: 'euler_cfg_pp', params: {} },
  euler_ancestral_cfg_pp: { solver: 'euler_ancestral_cfg_pp', params: {} },
  dpmpp_2m_cfg_pp: { solver: 'dpmpp_2m_cfg_pp', params: {} },
  dpmpp_2s_ancestral_cfg_pp: { solver: 'dpmpp_2s_ancestral_cfg_pp', params: {} },
  res_multistep_cfg_pp: { solver: 'res_multistep_cfg_pp', params: {} },
  res_multistep_ancestral_cfg_pp: { solver: 'res_multistep_ancestral_cfg_pp', params: {} },
  gradient_estimation_cfg_pp: { solver: 'gradient_estimation_cfg_pp', params: {} },
  cfgpp_ud10_ab: { solver: 'cfgpp_ud10_ab', params: {} },
  sa_solver: { solver: 'sa_solver', params: {} },
  sa_solver_pece: { solver: 'sa_solver_pece', params: {} },
  dpm_fast: { solver: 'dpm_fast', params: {} },
  dpm_adaptive: { solver: 'dpm_adaptive', params: {} },
  lms: { solver: 'lms', params: { lms_final_step: 'denoise' } },
  uni_pc: { solver: 'unipc', params: { unipc_order: '3', unipc_variant: 'bh1', unipc_form: 'data', exp_level_space: 've' } },
  uni_pc_bh2: { solver: 'unipc', params: { unipc_order: '3', unipc_variant: 'bh2', unipc_form: 'data', exp_level_space: 've' } },
};
export const COMFY_SAMPLER_NAMES = Object.keys(COMFY_SAMPLERS);

/** A model's level table as ComfyUI keeps it, with its timestep <-> level maps. */
export interface ComfyModelSampling {
  space: SigmaSpace;
  /** Levels, ascending, float32 values: index i is timestep i (discrete) or level i + 1 of the grid (flow). */
  readonly table: Float64Array;
  sigmaMin: number;
  sigmaMax: number;
  /** Training timesteps the scheduler units count (the table length for VP, 1000 for flow). */
  trainSteps: number;
  /** The model timestep ComfyUI feeds for a level (scheduler units: flow timesteps are t * 1000 here). */
  timestep(sigma: number): number;
  /** The level of a (fractional) timestep, in ComfyUI's own timestep units. */
  sigma(timestep: number): number;
  /** A level's timestep in ComfyUI's own units (what sigma() takes back). */
  ownTimestep(sigma: number): number;
  /** percent_to_sigma (flow models): the level a fraction of the way down the schedule, in Python floats. */
  percentToSigma?(percent: number): number;
}

/** ComfyUI's zero-terminal-SNR rescale of VE sigmas (rescale_zero_terminal_snr_sigmas). */
function rescaleZsnrSigmas(sigmas: Float64Array): Float64Array {
  const sqrtAbar = sigmas.map((s) => Math.sqrt(1 / (s * s + 1)));
  const first = sqrtAbar[0];
  const last = sqrtAbar[sqrtAbar.length - 1];
  const abar = sqrtAbar.map((a) => ((a - last) * first) / (first - last)).map((a) => a * a);
  abar[abar.length - 1] = 4.8973451890853435e-8;
  return abar.map((a) => Math.sqrt((1 - a) / a));
}

/**
 * Index of the table entry nearest to v (ascending table), with ComfyUI's float32 distances |v - table[i]|
 * and argmin's lower index on a tie: a level halfway between two training steps in log sigma (sgm_uniform
 * and normal hit such levels) goes where float32 rounding sends it there.
 */
function nearestIndex(table: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = table.length - 1;
  if (v <= table[lo]) return lo;
  if (v >= table[hi]) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (table[mid] <= v) lo = mid;
    else hi = mid;
  }
  return f32(v - table[lo]) <= f32(table[hi] - v) ? lo : hi;
}


/** Whether ComfyUI's table for this model depends on the image size (FLUX-type: use_dynamic_shifting). */
export function comfyNeedsImageSize(cfg: SchedulerConfig, space: SigmaSpace): boolean {
  return space === 'flow' && cfgBool(cfg, 'use_dynamic_shifting', false);
}

/**
 * The ComfyUI model sampling for a model's scheduler config: discrete VP, or flow (static shift, or the
 * FLUX exponential shift with mu from the image token count when use_dynamic_shifting is set).
 */
export function comfyModelSampling(cfg: SchedulerConfig, space: SigmaSpace, imageSeqLen?: number): ComfyModelSampling {
  if (space === 'vp') {
    let ve = alphasCumprod(betasFromConfig(cfg, { zeroSnr: false })).map(veSigma);
    // ComfyUI takes the levels in float64 and keeps them in float32, where they may overflow.
    const infinite = ve.findIndex((s) => !Number.isFinite(f32(s)));
    if (infinite >= 0) throw noSignalError(cfg, infinite, ve.length);
    if (cfgBool(cfg, 'rescale_betas_zero_snr', false)) ve = Float64Array.from(rescaleZsnrSigmas(ve));
    const table = ve.map(f32);
    const logs = ve.map((s) => f32(Math.log(s)));
    const nearest = (sigma: number) => nearestIndex(logs, f32(Math.log(f32(sigma))));
    const last = table.length - 1;
    return {
      space,
      table,
      sigmaMin: table[0],
      sigmaMax: table[last],
      trainSteps: table.length,
      // Float32 throughout, as ComfyUI computes it: log of the float32 level, interpolation weights and sums.
      // The timestep fed to the model is the table index itself, in both units.
      timestep: nearest,
      ownTimestep: nearest,
      sigma(t) {
        const c = f32(Math.min(Math.max(t, 0), last));
        const lo = Math.floor(c);
        const w = f32(c - lo);
        return f32(Math.exp(f32(f32(f32(1 - w) * logs[lo]) + f32(w * logs[Math.ceil(c)]))));
      },
      // ModelSamplingDiscrete.percent_to_sigma: sigma(torch.tensor((1 - percent) * 999.0)).
      percentToSigma(p) {
        if (p <= 0) return 999999999.9;
        if (p >= 1) return 0;
        return this.sigma(f32((1 - p) * 999));
      },
    };
  }
  if (comfyNeedsImageSize(cfg, space)) {
    if (imageSeqLen === undefined) throw new Error('ComfyUI FLUX sampling: the shift depends on the image size; connect a latent');
    const mu = fluxMu(cfg, imageSeqLen);
    const k = dynamicShiftFactor(mu, 'exponential');
    const kf = dynamicShiftFactor(mu, 'exponential', f32);
    const shift = (t: number) => f32(kf / f32(kf + f32(f32(1 / t) - 1)));
    const table = checkFlowTable(Float64Array.from({ length: 10000 }, (_, i) => f32(shift(f32((i + 1) / 10000)))), `the FLUX shift e^mu = ${k}`);
    // ModelSamplingFlux: timestep = sigma (scheduler units: * 1000); percent_to_sigma is flux_time_shift in Python floats.
    return flowSampling(table, (sig) => sig, (t) => shift(f32(t)), (p) => k / (k + (1 / (1 - p) - 1)));
  }
  const s = checkShift(cfgNumber(cfg, 'shift', 1));
  const sf = checkShift(f32(s));
  const shift = (t: number) => (s === 1 ? t : f32(f32(sf * t) / f32(1 + f32(f32(s - 1) * t))));
  const table = checkFlowTable(Float64Array.from({ length: 1000 }, (_, i) => shift(f32(f32(f32((i + 1) / 1000) * 1000) / 1000))), `flow shift ${s}`);
  // ModelSamplingDiscreteFlow: timestep = sigma * 1000, sigma(t) = shift(t / 1000), in float32; percent_to_sigma
  // is time_snr_shift in Python floats.
  const percentToSigma = (p: number) => (s === 1 ? 1 - p : (s * (1 - p)) / (1 + (s - 1) * (1 - p)));
  return flowSampling(table, (sig) => f32(sig * 1000), (t) => shift(f32(t / 1000)), percentToSigma);
}

/** A shift within float32's rounding of 0 makes ComfyUI's level 1 / 0 (shift 1e-9: 1 + (shift - 1) t is 0 at t = 1). */
function checkFlowTable(table: Float64Array, what: string): Float64Array {
  const bad = table.findIndex((v) => !(Number.isFinite(v) && v >= 0));
  if (bad >= 0) throw new Error(`${what} takes ComfyUI's level ${bad + 1} of ${table.length} to ${table[bad]} in float32 arithmetic: use a shift further from 0`);
  return table;
}

function flowSampling(table: Float64Array, own: (sigma: number) => number, sigmaOf: (t: number) => number, percentToSigma: (p: number) => number): ComfyModelSampling {
  return {
    space: 'flow',
    table,
    sigmaMin: table[0],
    sigmaMax: table[table.length - 1],
    trainSteps: 1000,
    timestep: (sigma) => sigma * 1000,
    ownTimestep: own,
    sigma: sigmaOf,
    percentToSigma: (p) => (p <= 0 ? 1 : p >= 1 ? 0 : percentToSigma(p)),
  };
}

// ---------------------------------------------------------------------------------------------
// Schedulers: descending levels, ending at 0 (as ComfyUI returns them)

function simple(ms: ComfyModelSampling, steps: number): number[] {
  const n = ms.table.length;
  const ss = n / steps;
  const out: number[] = [];
  for (let x = 0; x < steps; x++) out.push(ms.table[n - 1 - Math.trunc(x * ss)]);
  out.push(0);
  return out;
}

function ddimUniform(ms: ComfyModelSampling, steps: number): number[] {
  const n = ms.table.length;
  let count = steps;
  let out: number[];
  if (Math.abs(ms.table[1]) <= 1e-5) {
    count += 1;
    out = [];
  } else {
    out = [0];
  }
  const ss = Math.max(Math.floor(n / count), 1);
  for (let x = 1; x < n; x += ss) out.push(ms.table[x]);
  return out.reverse();
}

function normal(ms: ComfyModelSampling, steps: number, sgm: boolean): number[] {
  const start = ms.ownTimestep(ms.sigmaMax);
  const end = ms.ownTimestep(ms.sigmaMin);
  let ts: number[];
  let appendZero = true;
  if (sgm) {
    ts = linspaceF32(start, end, steps + 1).slice(0, steps);
  } else {
    let n = steps;
    if (Math.abs(ms.sigma(end)) <= 1e-5) {
      n += 1;
      appendZero = false;
    }
    ts = linspaceF32(start, end, n);
  }
  const out = ts.map((t) => ms.sigma(t));
  if (appendZero) out.push(0);
  return out;
}

function linearQuadratic(ms: ComfyModelSampling, steps: number, threshold = 0.025): number[] {
  let schedule: number[];
  if (steps === 1) {
    schedule = [1, 0];
  } else {
    const linearSteps = Math.floor(steps / 2);
    const linear = Array.from({ length: linearSteps }, (_, i) => (i * threshold) / linearSteps);
    const diff = linearSteps - threshold * steps;
    const quadSteps = steps - linearSteps;
    const quadCoef = diff / (linearSteps * quadSteps ** 2);
    const linCoef = threshold / linearSteps - (2 * diff) / quadSteps ** 2;
    const c = quadCoef * linearSteps ** 2;
    const quad = Array.from({ length: steps - linearSteps }, (_, k) => {
      const i = linearSteps + k;
      return quadCoef * i * i + linCoef * i + c;
    });
    schedule = [...linear, ...quad, 1].map((v) => 1 - v);
  }
  return schedule.map((v) => f32(v) * ms.sigmaMax);
}

function klOptimal(ms: ComfyModelSampling, n: number): number[] {
  const out: number[] = [];
  // Float32 as ComfyUI computes it (which near pi/2 moves a large sigma_max's level by ~1e-4 relative).
  const lo = Math.atan(ms.sigmaMin);
  const hi = Math.atan(ms.sigmaMax);
  for (let i = 0; i < n; i++) {
    const adj = n === 1 ? 0 : f32(i / (n - 1));
    out.push(f32(Math.tan(f32(f32(adj * lo) + f32(f32(1 - adj) * hi)))));
  }
  out.push(0);
  return out;
}

/** calculate_sigmas: the levels of a ComfyUI scheduler for `steps` steps, descending, ending at 0 (float32 values). */
export function comfyLevels(ms: ComfyModelSampling, scheduler: ComfyScheduler, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`ComfyUI schedule: steps must be a positive integer, got ${steps}`);
  let levels: number[];
  switch (scheduler) {
    case 'simple':
      levels = simple(ms, steps);
      break;
    case 'sgm_uniform':
      levels = normal(ms, steps, true);
      break;
    case 'normal':
      levels = normal(ms, steps, false);
      break;
    case 'karras':
      // The levels must be these float32 values to the last bit: a Brownian tree (the SDE samplers' noise)
      // rounds its query times to 1e-6, about one float32 step at sigma 14.6.
      levels = karrasCurve(steps, ms.sigmaMin, ms.sigmaMax, 7);
      break;
    case 'exponential':
      levels = exponentialCurve(steps, ms.sigmaMin, ms.sigmaMax);
      break;
    case 'ddim_uniform':
      levels = ddimUniform(ms, steps);
      break;
    case 'beta':
      levels = betaSamplingLevels(ms, steps, 0.6, 0.6);
      break;
    case 'linear_quadratic':
      levels = linearQuadratic(ms, steps);
      break;
    case 'kl_optimal':
      levels = klOptimal(ms, steps);
      break;
  }
  const out = levels.map(f32);
  // ComfyUI's float32 arithmetic can leave a curve's range: kl_optimal's tan of a float32 atan(sigma_max) is
  // negative once sigma_max is past about 1e7 (the float32 angle lands above pi / 2).
  const bad = out.findIndex((v) => !(Number.isFinite(v) && v >= 0));
  if (bad >= 0) {
    throw new Error(`ComfyUI's ${scheduler} schedule puts level ${bad + 1} of ${out.length} at ${out[bad]} for this model's levels ${ms.sigmaMin} to ${ms.sigmaMax} (in float32, as ComfyUI computes it): the model's top level is out of this schedule's range; check the scheduler config's betas, or use another schedule`);
  }
  return out;
}

export interface KSamplerGridOptions {
  /** KSampler drops the second-to-last level for dpm_2, dpm_2_ancestral, uni_pc and uni_pc_bh2 (see samplerLevels). */
  discardPenultimate?: boolean;
  /** KSampler's denoise: below 1, the last steps + 1 levels of an int(steps / denoise)-step schedule. */
  denoise?: number;
}

/** KSampler.set_steps: the levels a KSampler with these settings walks (descending; empty at denoise 0). */
export function kSamplerLevels(ms: ComfyModelSampling, scheduler: ComfyScheduler, steps: number, opts: KSamplerGridOptions = {}): number[] {
  const calc = (n: number) => {
    if (!opts.discardPenultimate) return comfyLevels(ms, scheduler, n);
    const l = comfyLevels(ms, scheduler, n + 1);
    return [...l.slice(0, -2), l[l.length - 1]];
  };
  const denoise = opts.denoise ?? 1;
  if (!(denoise >= 0 && denoise <= 1)) throw new Error(`ComfyUI schedule: denoise must be in [0, 1], got ${denoise}`);
  if (denoise > 0.9999) return calc(steps);
  if (denoise <= 0) return [];
  const all = calc(Math.trunc(steps / denoise));
  return all.slice(-(steps + 1));
}

/** The levels a KSampler with this sampler name sets: its grid rule (the dropped second-to-last level) and denoise cut. */
export function samplerLevels(ms: ComfyModelSampling, sampler: string, scheduler: ComfyScheduler, steps: number, denoise = 1): number[] {
  return kSamplerLevels(ms, scheduler, steps, { denoise, discardPenultimate: COMFY_DISCARD_PENULTIMATE.includes(sampler) });
}

/**
 * SIGMAS for a ComfyUI grid: each step's model timestep is the one ComfyUI feeds for its level (the nearest
 * table index for VP models, t * 1000 for flow models), levels between grid levels likewise
 * (offGridTimesteps), and the start noise scale is KSampler's: sqrt(1 + sigma^2) when the first level is
 * the table's top (max_denoise), else sigma (VP in VE variables); sigma for flow models.
 */
export function comfySigmas(ms: ComfyModelSampling, levels: readonly number[], units: TimestepUnits, origin: string): Sigmas {
  if (levels.length < 2) throw new Error('ComfyUI schedule: no steps to take (denoise 0 or a single level)');
  return {
    space: ms.space,
    sigmas: [...levels],
    timesteps: levels.slice(0, -1).map(comfyTimestepOf(ms, units)),
    origin,
    initNoiseSigma: comfyStartScale(ms, levels[0]),
    offGridTimesteps: 'comfyui',
  };
}

/** KSampler's start noise scale for a first level: sqrt(1 + sigma^2) at the table's top or above (max_denoise, VP), else sigma. */
export function comfyStartScale(ms: ComfyModelSampling, s0: number): number {
  const maxDenoise = Math.abs(ms.sigmaMax - s0) <= 1e-5 * Math.max(Math.abs(ms.sigmaMax), Math.abs(s0)) || s0 > ms.sigmaMax;
  return ms.space === 'vp' && maxDenoise ? Math.sqrt(1 + s0 * s0) : s0;
}

/**
 * The grid a ComfyUI sampler walks for the levels it is handed (a KSampler's, a scheduler node's, or those
 * split or edited), by the rules its own sampling function applies to any grid: UniPC ends at 0.001 instead
 * of 0, dpm_fast and dpm_adaptive walk their own grids between the grid's ends, and on flow models the SDE
 * samplers move a first level at t = 1. `solver` is the Sampler's solver (COMFY_SAMPLERS' names). The Sampler
 * applies this when it runs, not the schedule nodes: so each part of a split grid, or an edited one, gets
 * the rules as ComfyUI's SamplerCustom applies them to the sigmas it is given.
 */
export function comfyRunGrid(ms: ComfyModelSampling, solver: string, sig: Sigmas, units: TimestepUnits): Sigmas {
  // No steps, nothing to sample: ComfyUI's samplers return the latent as it is.
  if (sig.timesteps.length === 0) return sig;
  const n = sig.sigmas.length - 1;
  if (solver === 'unipc') return n >= 1 && sig.sigmas[n] === 0 ? { ...sig, sigmas: [...sig.sigmas.slice(0, n), COMFY_UNIPC_END] } : sig;
  if (solver === 'dpm_fast') return comfyDpmFastGrid(ms, sig, units);
  if (solver === 'dpm_adaptive') return comfyDpmAdaptiveGrid(ms, sig);
  if (SNR_OFFSET_SOLVERS.has(solver)) return comfySnrOffset(ms, sig, units);
  return sig;
}

/** DPM-Solver-fast's step orders for a number of model calls (k-diffusion dpm_solver_fast). */
export function dpmFastOrders(nfe: number): number[] {
  const m = Math.floor(nfe / 3) + 1;
  return nfe % 3 === 0 ? [...Array<number>(Math.max(m - 2, 0)).fill(3), 2, 1] : [...Array<number>(m - 1).fill(3), nfe % 3];
}

/**
 * The grid ComfyUI's dpm_fast walks for a KSampler grid: it keeps only the ends (the last positive level, as
 * it never steps onto 0) and the step count as its number of model calls, then takes floor(N / 3) + 1 steps
 * uniform in t = -ln sigma (float32 torch.linspace) with the orders of dpmFastOrders. The run ends at that
 * last level, as ComfyUI's does. On flow models the same, the flow levels read as VE sigmas (ComfyUI's VE
 * formulas there); a KSampler grid ending at 0 leaves the result unscaled (comfyUnscaledEnd).
 */
export function comfyDpmFastGrid(ms: ComfyModelSampling, sig: Sigmas, units: TimestepUnits): Sigmas {
  const levels = sig.sigmas;
  const nfe = levels.length - 1;
  const sMax = levels[0];
  const sMin = levels[nfe] === 0 ? levels[nfe - 1] : levels[nfe];
  if (!(sMin > 0 && sMax > 0)) throw new Error('dpm_fast: the grid needs positive first and last levels');
  const orders = dpmFastOrders(nfe);
  const ts = linspaceF32(f32(-f32(Math.log(f32(sMax)))), f32(-f32(Math.log(f32(sMin)))), orders.length + 1);
  const fast = ts.map((t) => f32(Math.exp(f32(-t))));
  return { ...sig, sigmas: fast, timesteps: fast.slice(0, -1).map(comfyTimestepOf(ms, units)), stepOrders: orders, ...unscaledEnd(ms, levels) };
}

/**
 * The grid ComfyUI's dpm_adaptive integrates for a KSampler grid: one step from its first level to its last
 * positive one (the run ends there); the solver picks its own steps inside. VP models, and flow models with
 * ComfyUI's VE formulas, as for dpm_fast.
 */
export function comfyDpmAdaptiveGrid(ms: ComfyModelSampling, sig: Sigmas): Sigmas {
  const levels = sig.sigmas;
  const n = levels.length - 1;
  const sMin = levels[n] === 0 ? levels[n - 1] : levels[n];
  if (!(sMin > 0 && levels[0] > sMin)) throw new Error('dpm_adaptive: the grid needs a positive last level below its first');
  return { ...sig, sigmas: [levels[0], sMin], timesteps: sig.timesteps.slice(0, 1), ...unscaledEnd(ms, levels) };
}

/** dpm_fast / dpm_adaptive on a flow model: ComfyUI's inverse_noise_scaling sees the KSampler grid's 0, not their end. */
function unscaledEnd(ms: ComfyModelSampling, levels: readonly number[]): { comfyUnscaledEnd?: boolean } {
  return ms.space === 'flow' && levels[levels.length - 1] === 0 ? { comfyUnscaledEnd: true } : {};
}

/**
 * ComfyUI samplers that move a flow grid's first level off t = 1 before their first step
 * (offset_first_sigma_for_snr: their half-log-SNR is -infinity there).
 */
export const COMFY_SNR_OFFSET_SAMPLERS: readonly string[] = [
  'dpmpp_sde', 'dpmpp_sde_gpu', 'dpmpp_2m_sde', 'dpmpp_2m_sde_gpu', 'dpmpp_2m_sde_heun', 'dpmpp_2m_sde_heun_gpu',
  'dpmpp_3m_sde', 'dpmpp_3m_sde_gpu', 'er_sde', 'seeds_2', 'seeds_3', 'exp_heun_2_x0', 'exp_heun_2_x0_sde', 'sa_solver', 'sa_solver_pece',
];
/** Their solvers (COMFY_SAMPLERS), which the Sampler moves such a first level for. */
const SNR_OFFSET_SOLVERS: ReadonlySet<string> = new Set(COMFY_SNR_OFFSET_SAMPLERS.map((name) => COMFY_SAMPLERS[name].solver));

/**
 * The grid such a sampler (SNR_OFFSET_SOLVERS) walks on a flow model starting at t >= 1: its first level becomes
 * percent_to_sigma(1e-4) (float32), with that level's model timestep. The start noise scale stays the
 * grid's (KSampler scales the noise before the sampler moves the level), and the Brownian tree keeps
 * spanning the levels before the move (the sampler builds it first): comfyNoiseRange.
 */
function comfySnrOffset(ms: ComfyModelSampling, sig: Sigmas, units: TimestepUnits): Sigmas {
  if (ms.space !== 'flow' || !(sig.sigmas[0] >= 1) || !ms.percentToSigma) return sig;
  const first = f32(ms.percentToSigma(1e-4));
  const positive = sig.sigmas.filter((v) => v > 0);
  return {
    ...sig,
    sigmas: [first, ...sig.sigmas.slice(1)],
    timesteps: [comfyTimestepOf(ms, units)(first), ...sig.timesteps.slice(1)],
    comfyNoiseRange: [Math.min(...positive), Math.max(...positive)],
  };
}

/** A level's model timestep as ComfyUI feeds it, in the model's own units (fraction: FLUX-kind pipelines). */
export function comfyTimestepOf(ms: ComfyModelSampling, units: TimestepUnits): (sigma: number) => number {
  return (sigma) => f32(toModelTimestep(ms.timestep(sigma), ms.trainSteps, units));
}

/**
 * The Sampler's timestep for levels between grid levels on a ComfyUI grid. Built on first use: most
 * solvers evaluate only grid levels, and a FLUX table needs the image size.
 */
export function comfyTimestepAt(cfg: SchedulerConfig, space: SigmaSpace, units: TimestepUnits, imageSeqLen?: number): (sigma: number) => number {
  let at: ((sigma: number) => number) | undefined;
  return (sigma) => (at ??= comfyTimestepOf(comfyModelSampling(cfg, space, imageSeqLen), units))(sigma);
}
