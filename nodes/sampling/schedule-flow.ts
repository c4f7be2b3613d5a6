/**
 * Sampling grids of rectified-flow models (sigma = t in [0, 1], x_t = (1 - t) x0 + t eps):
 *  - FlowMatchEulerDiscreteScheduler rules, with SD3's static shift and FLUX's resolution-dependent
 *    exponential shift; pipelines of the FLUX kind pass sigmas linspace(1, 1/N, N) themselves;
 *  - the `use_flow_sigmas` grids of DPM-Solver / UniPC / DEIS configs (e.g. Sana).
 * Every solver on a flow model uses one of these (schedules.ts picks which).
 *
 * Deliberate deviations: levels are float64 (diffusers: float32, so they differ by at most float32 rounding);
 * the timesteps the model gets are exactly diffusers' float32 values: FlowMatch's __init__ table (torch
 * float32) and the float32 arithmetic numpy does on pipeline-given sigmas are emulated for them (for
 * shift_terminal on such sigmas, NumPy 2's scalar rules). With a FlowMatch config, multistep solvers get
 * the FlowMatch grid (diffusers would build a meaningless VP grid from such a config unless
 * use_flow_sigmas is set).
 */
import type { SchedulerConfig, Sigmas } from '../core/values.ts';
import { linspace, trainTimesteps } from './betas.ts';
import type { MuRule, PipelineSigmaList, ShiftBounds, TimestepUnits } from './model-time.ts';
import { cfgBool, cfgNumber, cfgOptionalNumber, cfgString } from './schedule-config.ts';
import { configGrid, SCHEDULER_RULES, type SigmaGrid } from './schedule-rules.ts';
import { checkCustomSigmas, type MultistepClass, type ScheduleOverrides } from './schedule-vp.ts';
import { checkSteps, isBoundedGrid, levelGrid, vpTable } from './sigma-grids.ts';
import { linspaceF32 } from './torch-linspace.ts';

const f32 = Math.fround;

export interface FlowShiftOptions {
  /** use_dynamic_shifting: the exponent mu, or the image token count to derive it from. */
  mu?: number;
  imageSeqLen?: number;
  /** How a pipeline derives mu from the token count (model-time.ts pipelineMuOptions); default calculate_shift. */
  muRule?: MuRule;
  /** calculate_shift's fallbacks for keys the config lacks, where the pipeline's differ from FLUX's. */
  muDefaults?: Partial<ShiftBounds>;
  /** A mu the pipeline fixes whatever the token count (Krea2's distilled models); an explicit mu still wins. */
  fixedMu?: number;
}

/** SD3 static shift s*sigma / (1 + (s-1)*sigma) (= the FLUX exponential shift with s = e^mu). */
export function shiftSigma(sigma: number, shift: number): number {
  return (shift * sigma) / (1 + (shift - 1) * sigma);
}

/** diffusers time_shift: exponential e^mu / (e^mu + (1/t - 1)), or linear mu / (mu + (1/t - 1)). */
export function timeShift(t: number, mu: number, type: 'exponential' | 'linear' = 'exponential'): number {
  const k = type === 'exponential' ? Math.exp(mu) : mu;
  return k / (k + (1 / t - 1));
}

/** FLUX mu from the image token count (diffusers calculate_shift with the config's bounds). */
export function fluxMu(cfg: SchedulerConfig, imageSeqLen: number, defaults: Partial<ShiftBounds> = {}): number {
  const baseLen = cfgNumber(cfg, 'base_image_seq_len', defaults.base_image_seq_len ?? 256);
  const maxLen = cfgNumber(cfg, 'max_image_seq_len', defaults.max_image_seq_len ?? 4096);
  const baseShift = cfgNumber(cfg, 'base_shift', defaults.base_shift ?? 0.5);
  const maxShift = cfgNumber(cfg, 'max_shift', defaults.max_shift ?? 1.15);
  // diffusers raises ZeroDivisionError there.
  if (maxLen === baseLen) throw new Error(`scheduler config: base_image_seq_len and max_image_seq_len are both ${baseLen}, so the dynamic shift's slope (max_shift - base_shift) / (max_image_seq_len - base_image_seq_len) divides by 0`);
  const m = (maxShift - baseShift) / (maxLen - baseLen);
  return imageSeqLen * m + (baseShift - m * baseLen);
}

/**
 * FLUX.2 pipelines' compute_empirical_mu(image_seq_len, num_steps) (black-forest-labs flux2 sampling.py):
 * linear in the token count above 4300 tokens, else interpolated in the step count between fits at 10 and 200 steps.
 */
export function flux2EmpiricalMu(imageSeqLen: number, steps: number): number {
  const a1 = 8.73809524e-5;
  const b1 = 1.89833333;
  const a2 = 0.00016927;
  const b2 = 0.45666666;
  if (imageSeqLen > 4300) return a2 * imageSeqLen + b2;
  const m200 = a2 * imageSeqLen + b2;
  const m10 = a1 * imageSeqLen + b1;
  const a = (m200 - m10) / 190.0;
  const b = m200 - 200.0 * a;
  return a * steps + b;
}

/**
 * CogView4Pipeline's calculate_shift: mu = sqrt(tokens / base_image_seq_len) max_shift + base_shift, with
 * its fallbacks 256, 0.25 and 0.75.
 */
export function cogView4Mu(cfg: SchedulerConfig, imageSeqLen: number): number {
  const m = (imageSeqLen / cfgNumber(cfg, 'base_image_seq_len', 256)) ** 0.5;
  return m * cfgNumber(cfg, 'max_shift', 0.75) + cfgNumber(cfg, 'base_shift', 0.25);
}

/**
 * `registersBounds`: the scheduler class registers base_shift, max_shift, base_image_seq_len and max_image_seq_len
 * in its config (FlowMatchEuler / FlowMatchLCM: 0.5, 1.15, 256, 4096), so a pipeline's
 * scheduler.config.get(key, fallback) never reaches its fallback (muDefaults: SD3's max_shift 1.16, Krea2's
 * max_image_seq_len 6400); the multistep classes (DPM-Solver, UniPC, DEIS) do not, and there it does.
 */
function requireMu(cfg: SchedulerConfig, opts: FlowShiftOptions, who: string, steps?: number, registersBounds = false): number {
  const fromTokens = (len: number) => {
    if (opts.muRule === 'flux2_empirical' && steps !== undefined) return flux2EmpiricalMu(len, steps);
    if (opts.muRule === 'cogview4') return cogView4Mu(cfg, len);
    return fluxMu(cfg, len, registersBounds ? {} : opts.muDefaults);
  };
  const mu = opts.mu ?? opts.fixedMu ?? (opts.imageSeqLen !== undefined ? fromTokens(opts.imageSeqLen) : undefined);
  if (mu === undefined) throw new Error(`${who}: use_dynamic_shifting needs mu or the image token count (connect a latent or give the image size)`);
  return mu;
}

export function checkShift(shift: number): number {
  if (!(shift > 0 && Number.isFinite(shift))) throw new Error(`flow shift must be a positive number, got ${shift}`);
  return shift;
}

/**
 * The dynamic shift's factor k = e^mu (exponential) or mu (linear): a shift, so positive and finite. A linear
 * mu of 0 or below, or an e^mu past float range, turned every level into NaN or a negative number.
 */
export function dynamicShiftFactor(mu: number, type: 'exponential' | 'linear', r: (x: number) => number = (x) => x): number {
  const k = r(type === 'exponential' ? Math.exp(mu) : mu);
  if (!(k > 0 && Number.isFinite(k))) {
    const factor = type === 'exponential' ? `e^mu = ${k}` : `mu = ${k}`;
    throw new Error(`the dynamic shift (time_shift_type ${type}) needs a positive finite shift, got ${factor} (mu ${mu}): check mu, or the scheduler config's base_shift, max_shift, base_image_seq_len and max_image_seq_len`);
  }
  return k;
}

/** Rounding of one arithmetic result: none (float64, numpy's default path) or to float32 (float32 arrays). */
type Rounding = (x: number) => number;
const exact64: Rounding = (x) => x;

/** LTX's shift_terminal: stretch so the last level is exactly `terminal` (1 - (1 - t) / scale, op by op in `r`). */
function stretchToTerminal(levels: number[], terminal: unknown, r: Rounding = exact64): number[] {
  if (terminal === undefined || terminal === null || terminal === 0) return levels;
  if (typeof terminal !== 'number' || !(terminal > 0 && terminal < 1)) throw new Error(`scheduler config: shift_terminal must be in (0, 1), got ${JSON.stringify(terminal)}`);
  // A one-step grid is the single level t = 1: nothing to stretch (diffusers fails there with an IndexError).
  if (levels[levels.length - 1] >= 1) throw new Error('scheduler config: shift_terminal stretches the levels below t = 1, and this grid has no other (one step): use at least 2 steps');
  const scale = r(r(1 - levels[levels.length - 1]) / r(1 - terminal));
  return levels.map((t) => r(1 - r(r(1 - t) / scale)));
}

/**
 * FlowMatch set_timesteps step 2, op by op in `r` (numpy/torch cast a Python-float scalar to the array's
 * float32): time_shift(mu, 1.0, t) = k / (k + (1/t - 1)) with k = e^mu or mu, or the static shift
 * shift * t / (1 + (shift - 1) * t). With r the identity these are timeShift and shiftSigma.
 */
function shiftLevels(levels: readonly number[], r: Rounding, shift: { dynamic: false; shift: number } | { dynamic: true; mu: number; type: 'exponential' | 'linear' }): number[] {
  let out: number[];
  if (shift.dynamic) {
    const k = dynamicShiftFactor(shift.mu, shift.type, r);
    out = levels.map((t) => r(k / r(k + r(r(1 / t) - 1))));
  } else {
    const s = r(shift.shift);
    const s1 = r(shift.shift - 1);
    out = levels.map((t) => r(r(s * t) / r(1 + r(s1 * t))));
  }
  // A shift within float32's rounding of 0 makes 1 + (shift - 1) t exactly 0 at t = 1 (shift 1e-9: the
  // level is 1e-9 / 0), as it does in diffusers' float32 arithmetic.
  // (A level an ulp above 1 is normal there: callers clamp it.)
  const bad = out.findIndex((v) => !(Number.isFinite(v) && v >= 0));
  if (bad >= 0) {
    const what = shift.dynamic ? `the dynamic shift (mu ${shift.mu})` : `flow shift ${shift.shift}`;
    throw new Error(`${what} takes level t = ${levels[bad]} to ${out[bad]} in float32 arithmetic: use a shift further from 0`);
  }
  return out;
}

/**
 * FlowMatchEulerDiscreteScheduler.__init__'s sigma_max and sigma_min: the ends of the training table
 * float32(linspace(1, T, T)) / T, shifted in torch float32 unless the shift is dynamic. sigma_max is not
 * always exactly 1 (shift 0.1 gives 0.99999976).
 */
function initTableEnds(T: number, shift: number, dynamic: boolean): { sigmaMax: number; sigmaMin: number } {
  const ends = [f32(T / T), f32(1 / T)];
  const [sigmaMax, sigmaMin] = dynamic ? ends : shiftLevels(ends, f32, { dynamic: false, shift });
  return { sigmaMax, sigmaMin };
}

/** Flow timesteps: float32 t = sigma*T (SD3), or t/T in float32 as FLUX's transformer gets timestep / 1000. */
function flowTimestep(sigma: number, T: number, units: TimestepUnits): number {
  const t = f32(f32(sigma) * T);
  return units === 'fraction' ? f32(t / T) : t;
}

function flowGrid(cfg: SchedulerConfig, ov: ScheduleOverrides, cls: 'FlowMatchEulerDiscreteScheduler' | MultistepClass): SigmaGrid {
  const grid = ov.grid ?? configGrid(cfg, SCHEDULER_RULES[cls], cls);
  if (grid === 'lu_lambda') throw new Error('lu_lambda grids need a VP model (a flow grid starts at t = 1, where lambda is -inf)');
  return grid;
}

/** CogView4Pipeline's timesteps list: int(linspace(T, 1, N)), as float32 values. */
function cogView4Timesteps(T: number, steps: number): number[] {
  return Array.from(linspace(T, 1, steps), (t) => f32(Math.trunc(t)));
}

/**
 * The sigma list a FLUX-kind pipeline passes (model-time.ts), as float32 values: linspace(1, 1/N, N) by numpy
 * (float64, cast by the scheduler) or torch (float32); CogView4's linspace(T, 1, N) truncated to int64, as
 * float32, over T.
 */
function pipelineSigmaValues(list: PipelineSigmaList, steps: number, T: number): number[] {
  if (list === 'torch') return linspaceF32(1, 1 / steps, steps);
  if (list === 'cogview4') return cogView4Timesteps(T, steps).map((t) => f32(t / T));
  if (list === 'numpy-open') return Array.from(linspace(1, 0, steps + 1).subarray(0, steps), f32);
  return Array.from(linspace(1, 1 / steps, steps), f32);
}

/**
 * FlowMatchEulerDiscreteScheduler. Its __init__ already shifts the training table, so sigma_min =
 * shift(1/T) (computed in float32 there); set_timesteps spaces linspace(sigma_max, sigma_min, N) and shifts
 * again (the fact sheet's gotcha: shift 3 ends on ~0.00893). `pipelineSigmas`: FLUX-style pipelines pass
 * linspace(1, 1/N, N) (numpy's, or torch's float32 one) and mu instead (mu by `muRule` from the token count when not given). Then
 * shift_terminal, then Karras / exponential / beta levels; the final level is 0. A shift override is a static
 * shift replacing both. Not offered: invert_sigmas (Mochi). (stochastic_sampling changes
 * the step, not the grid: flow-euler.ts.)
 */
export function flowMatchSigmas(
  cfg: SchedulerConfig,
  steps: number,
  units: TimestepUnits = 'scheduler',
  opts: FlowShiftOptions & ScheduleOverrides & { pipelineSigmas?: PipelineSigmaList; keepPipelineTimesteps?: boolean } = {},
): Sigmas {
  if (cfg.invert_sigmas === true) throw new Error('scheduler config: "invert_sigmas" is not supported for flow-matching grids');
  const T = trainTimesteps(cfg);
  const grid = flowGrid(cfg, opts, 'FlowMatchEulerDiscreteScheduler');
  let levels: number[];
  // diffusers' values before its float32 cast, for the timesteps (levels themselves stay float64).
  let exact: number[];
  let last = 0;
  if (grid === 'custom') {
    const custom = checkCustomSigmas(opts.customSigmas, 1);
    levels = custom.slice(0, -1);
    exact = levels;
    last = custom[custom.length - 1];
  } else {
    checkSteps(steps, T);
    const shift = checkShift(opts.shift ?? cfgNumber(cfg, 'shift', 1));
    const dynamic = opts.shift === undefined && cfgBool(cfg, 'use_dynamic_shifting', false);
    const rule = dynamic
      ? { dynamic, mu: requireMu(cfg, opts, 'flow-matching grid', steps, true), type: cfgString(cfg, 'time_shift_type', ['exponential', 'linear'] as const, 'exponential') }
      : { dynamic, shift };
    if (opts.pipelineSigmas) {
      // np.array(sigmas).astype(np.float32): the shift and stretch then run in float32 arithmetic there.
      // ZImage's list is torch.linspace in float32 already (.tolist() of it), not numpy's float64 rounded.
      const given = pipelineSigmaValues(opts.pipelineSigmas, steps, T);
      levels = stretchToTerminal(shiftLevels(given, exact64, rule), cfg.shift_terminal);
      exact = stretchToTerminal(shiftLevels(given, f32, rule), cfg.shift_terminal, f32);
    } else {
      // float64 linspace between __init__'s float32 table ends (the fact sheet's double-shift gotcha), then shifted.
      const { sigmaMax, sigmaMin } = initTableEnds(T, shift, dynamic);
      const spaced = Array.from(linspace(sigmaMax * T, sigmaMin * T, steps), (t) => t / T);
      levels = stretchToTerminal(shiftLevels(spaced, exact64, rule), cfg.shift_terminal);
      exact = levels;
    }
    if (isBoundedGrid(grid)) {
      // _convert_to_karras / _exponential / _beta (float64): bounded by self.config.sigma_min / sigma_max when
      // the config file carries them (from_config keeps keys __init__ does not take), else the shifted ends.
      const bounded = (l: number[]) => levelGrid(grid, cfgOptionalNumber(cfg, 'sigma_min') ?? l[l.length - 1], cfgOptionalNumber(cfg, 'sigma_max') ?? l[0], steps);
      levels = bounded(levels);
      exact = bounded(exact);
    }
    // __init__'s float32 shift of the table's top (shift 2.89, 4.32, 0.33, ...: 1.0000001) shifted again can put
    // the first level an ulp or so above 1 (1.00000004 for shift 2.89; diffusers' float32 level is 1.0 there,
    // 1.0000004 for shift 0.33). A flow level is at most 1: clamp (the timesteps keep diffusers' values).
    levels = levels.map((t) => Math.min(t, 1));
  }
  // CogView4Pipeline passes its timesteps list with its sigmas. FlowMatchEulerDiscreteScheduler recomputes the
  // timesteps from the shifted (Karras, ...) sigmas; FlowMatchLCMScheduler keeps the list it was given
  // (is_timesteps_provided), so the model is fed the unshifted int(linspace(T, 1, N)) while the steps walk the
  // shifted levels: a diffusers quirk, kept.
  const pipelineTimesteps = opts.keepPipelineTimesteps && grid !== 'custom' && opts.pipelineSigmas === 'cogview4' ? cogView4Timesteps(T, steps) : undefined;
  return {
    space: 'flow',
    sigmas: [...levels, last],
    timesteps: pipelineTimesteps ? pipelineTimesteps.map((t) => (units === 'fraction' ? f32(t / T) : t)) : exact.map((s) => flowTimestep(s, T, units)),
    origin: 'FlowMatchEulerDiscreteScheduler',
    initNoiseSigma: 1,
  };
}

/**
 * The use_flow_sigmas grids of the multistep schedulers on flow models. DPM-Solver/DEIS: 1 - linspace(1, 1/T,
 * N + 1), shifted by flow_shift (e^mu when dynamic), reversed, last dropped; UniPC: linspace(1, 1/T, N + 1)
 * without its last point, shifted (exponential/linear time shift when dynamic), shift_terminal, and a first
 * level of exactly 1 nudged to 1 - 1e-6. Timesteps sigma*T are int64-truncated, as there.
 * final_sigmas_type sigma_min: DPM-Solver appends the VP table's sigma_min (a diffusers quirk kept for
 * parity), UniPC/DEIS repeat the last level.
 */
export function multistepFlowSigmas(
  cfg: SchedulerConfig,
  steps: number,
  units: TimestepUnits,
  opts: FlowShiftOptions & ScheduleOverrides,
  cls: MultistepClass,
): Sigmas {
  const rules = SCHEDULER_RULES[cls];
  const T = trainTimesteps(cfg);
  const grid = flowGrid(cfg, opts, cls);
  // UniPC alone maps Karras levels to flow time (below); the other bounded grids would be VP grids on a flow model.
  if (isBoundedGrid(grid) && !(grid === 'karras' && cls === 'UniPCMultistepScheduler')) throw new Error(`${cls} with use_flow_sigmas: ${grid} sigmas are not supported`);
  let levels: number[];
  let custom: readonly number[] | undefined;
  if (grid === 'karras') {
    // UniPC's Karras branch: the VP table's Karras levels (bounded by sigma_min / sigma_max keys when the
    // config has them) turned into flow time s / (s + 1); no flow_shift, and no mu even when dynamic.
    checkSteps(steps, T);
    const table = vpTable(cfg, rules.zeroSnr);
    const smin = cfgOptionalNumber(cfg, 'sigma_min') ?? table.sigmas[0];
    const smax = cfgOptionalNumber(cfg, 'sigma_max') ?? table.sigmas[T - 1];
    levels = levelGrid('karras', smin, smax, steps).map((v) => v / (v + 1));
  } else if (grid === 'custom') {
    custom = checkCustomSigmas(opts.customSigmas, 1);
    levels = custom.slice(0, -1);
  } else {
    checkSteps(steps, T);
    const dynamic = opts.shift === undefined && cfgBool(cfg, 'use_dynamic_shifting', false);
    if (cls === 'UniPCMultistepScheduler') {
      levels = Array.from(linspace(1, 1 / T, steps + 1)).slice(0, steps);
      if (dynamic) {
        const type = cfgString(cfg, 'time_shift_type', ['exponential', 'linear'] as const, 'exponential');
        const mu = requireMu(cfg, opts, cls, steps);
        dynamicShiftFactor(mu, type);
        levels = levels.map((t) => timeShift(t, mu, type));
      } else {
        const shift = checkShift(opts.shift ?? cfgNumber(cfg, 'flow_shift', 1));
        levels = levels.map((t) => shiftSigma(t, shift));
      }
      levels = stretchToTerminal(levels, cfg.shift_terminal);
      if (Math.abs(levels[0] - 1) < 1e-6) levels[0] -= 1e-6;
    } else {
      // flow_shift = e^mu when dynamic and mu is known (set_timesteps(mu=...)), else the config's.
      const mu = dynamic ? (opts.mu ?? (opts.imageSeqLen !== undefined ? requireMu(cfg, opts, cls, steps) : undefined)) : undefined;
      const shift = checkShift(opts.shift ?? (mu !== undefined ? Math.exp(mu) : cfgNumber(cfg, 'flow_shift', 1)));
      const rising = Array.from(linspace(1, 1 / T, steps + 1), (a) => shiftSigma(1 - a, shift));
      levels = rising.reverse().slice(0, steps);
    }
  }
  const finalType = opts.finalSigmasType ?? (rules.final === 'key' ? cfgString(cfg, 'final_sigmas_type', ['zero', 'sigma_min'] as const, 'zero') : rules.final);
  if (rules.final === 'sigma_min' && finalType === 'zero') {
    throw new Error(`${cls} always ends on sigma_min (its last step divides by the final level); final_sigmas_type "zero" is not possible`);
  }
  const last = custom
    ? custom[custom.length - 1]
    : finalType === 'zero'
      ? 0
      : rules.sigmaMinIsLastLevel
        ? levels[levels.length - 1]
        : vpTable(cfg, rules.zeroSnr).sigmas[0];
  return {
    space: 'flow',
    sigmas: [...levels, last],
    timesteps: levels.map((s) => {
      const t = Math.trunc(s * T);
      return units === 'fraction' ? t / T : t;
    }),
    origin: cls,
    initNoiseSigma: 1,
  };
}

/**
 * Image tokens of a latent for resolution-dependent shifting: [B, L, C] packed (FLUX) gives L; [B, C, H, W]
 * counts 2x2 patches. From a pixel size (VAE x8, patch 2): floor(H/16) * floor(W/16).
 */
export function imageSeqLenOfLatent(dims: readonly number[]): number | undefined {
  if (dims.length === 3) return dims[1];
  if (dims.length === 4) return Math.floor(dims[2] / 2) * Math.floor(dims[3] / 2);
  return undefined;
}

export function imageSeqLenOfPixels(width: number, height: number): number {
  return Math.floor(width / 16) * Math.floor(height / 16);
}
