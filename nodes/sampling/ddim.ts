/**
 * DDIM (Song et al. 2021) with diffusers DDIMScheduler semantics (fact sheet 3.1):
 *   x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - std^2) eps + std z,
 *   std = eta sqrt((1 - abar_prev)/(1 - abar_t)) sqrt(1 - abar_t/abar_prev).
 * abar_prev is the level of `targets[i]` (diffusers' prev_t = t - T//N), which need not be the next grid
 * level. diffusers keeps the VP sample and feeds it unchanged to the next grid timestep; this solver keeps
 * the VE state, so it maps the VP result to the next grid level with that level's alpha:
 * x_ve(next) = x_vp_prev * sqrt(s_next^2 + 1). The VP sample at every grid level is the same as diffusers'
 * (equal in exact arithmetic; test/ddim.test.ts checks it against a VP-state reference).
 * On a flow grid DDIM is flow-matching Euler (eta must be 0).
 *
 * DDIM inversion (fact sheet 3.2) is the same update (eta 0) walked up an ascending grid built by
 * `ddimInverseSigmas`, in two variants: 'diffusers' (DDIMInverseScheduler: at grid value t_k the model is
 * called with t_k while x is still at t_k - T//N, then x moves to t_k) and 'current-level' (CODE: the model
 * is evaluated at the level x is at). RF inversion is the flow solvers on `reversedFlowSigmas`.
 */
import type { Tensor } from '../core/tensor.ts';
import type { SchedulerConfig, Sigmas } from '../core/values.ts';
import { limitDenoisedTensor } from './denoiser.ts';
import { createFlowEuler } from './flow-euler.ts';
import { toModelTimestep, type TimestepUnits } from './model-time.ts';
import { linearCombination } from './ops.ts';
import { cfgBool, cfgInt, cfgNumber, cfgString } from './schedule-config.ts';
import { arangeDown, checkSteps, roundHalfEven, vpTable } from './sigma-grids.ts';
import { checkSigmas, levelAt, type Solver, type SolverContext, type SolverState } from './solver.ts';

export interface DdimOptions {
  /** 0 = deterministic DDIM, 1 = DDPM-like ancestral noise. */
  eta?: number;
  /** diffusers clip_sample: clamp x0 to [-range, range]. */
  clipSampleRange?: number;
  /** diffusers thresholding (Imagen dynamic thresholding), applied instead of clipping when set. */
  thresholding?: { ratio: number; maxValue: number };
}

function cfgValue<T>(cfg: SchedulerConfig, key: string, fallback: T, check: (v: unknown) => boolean): T {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (!check(v)) throw new Error(`scheduler config: invalid "${key}": ${JSON.stringify(v)}`);
  return v as T;
}

/**
 * x0 clipping / thresholding from a scheduler config, as DDIMScheduler.from_config reads it (the same rule as
 * the Sampler's denoisedLimitFromConfig): a config without clip_sample gets the class default, true, whichever
 * class wrote it; flow-matching configs are the exception (DDIM there is flow Euler).
 */
export function ddimOptionsFromConfig(cfg: SchedulerConfig, eta = 0): DdimOptions {
  const isBool = (v: unknown) => typeof v === 'boolean';
  const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const opts: DdimOptions = { eta };
  const cls = cfg._class_name;
  const clipDefault = !(typeof cls === 'string' && cls.startsWith('FlowMatch'));
  if (cfgValue(cfg, 'thresholding', false, isBool)) {
    opts.thresholding = {
      ratio: cfgValue(cfg, 'dynamic_thresholding_ratio', 0.995, isNum),
      maxValue: cfgValue(cfg, 'sample_max_value', 1, isNum),
    };
  } else if (cfgValue(cfg, 'clip_sample', clipDefault, isBool)) {
    opts.clipSampleRange = cfgValue(cfg, 'clip_sample_range', 1, isNum);
  }
  return opts;
}

/** Clamps (or dynamically thresholds) an x0 prediction per sample, as DDIMScheduler does before the update. */
export function limitDenoised(x0: Tensor, opts: DdimOptions): Tensor {
  if (opts.thresholding) return limitDenoisedTensor(x0, { kind: 'threshold', ...opts.thresholding });
  if (opts.clipSampleRange !== undefined) return limitDenoisedTensor(x0, { kind: 'clip', range: opts.clipSampleRange });
  return x0;
}

/** The coefficients of one DDIM update from VE level s to target level p, landing on grid level `next`. */
export function ddimCoefficients(s: number, p: number, next: number, eta: number): { denoised: number; eps: number; noise: number } {
  // With abar = 1/(sigma^2+1): 1 - abar_p = p^2/(p^2+1), 1 - abar_t/abar_p = (s^2 - p^2)/(s^2+1), so the
  // variance is p^2 (s^2 - p^2) / (s^2 (p^2 + 1)); written so no 1 - abar cancellation occurs.
  const variance = s === 0 ? 0 : (p * p * (s * s - p * p)) / (s * s * (p * p + 1));
  if (eta > 0 && variance < 0) throw new Error(`DDIM with eta > 0 cannot step up in noise (sigma ${s} -> ${p})`);
  const std = eta * Math.sqrt(Math.max(variance, 0));
  const oneMinusAbarP = (p * p) / (p * p + 1);
  const dir = Math.sqrt(Math.max(oneMinusAbarP - std * std, 0));
  const toNext = Math.sqrt(next * next + 1);
  return { denoised: toNext / Math.sqrt(p * p + 1), eps: dir * toNext, noise: std * toNext };
}

export function createDdim(opts: DdimOptions = {}): Solver {
  const eta = opts.eta ?? 0;
  if (!(eta >= 0 && Number.isFinite(eta))) throw new Error(`DDIM: eta must be a finite number >= 0, got ${eta}`);
  const flow = createFlowEuler();
  return {
    name: 'ddim',
    nfePerStep: 1,
    init(ctx: SolverContext, x: Tensor): SolverState {
      checkSigmas(ctx.sigmas);
      if (ctx.sigmas.space === 'flow') {
        if (eta > 0) throw new Error('DDIM eta > 0 is defined for VP models only; this is a flow model (use eta 0)');
        return flow.init(ctx, x);
      }
      if (eta > 0 && !ctx.noise) throw new Error('DDIM with eta > 0 needs a noise source');
      return { x };
    },
    async step(ctx, state, i, model) {
      if (ctx.sigmas.space === 'flow') return flow.step(ctx, state, i, model);
      const { sigmas } = ctx;
      const level = levelAt(sigmas, i);
      const pred = await model(state.x, level);
      const denoised = limitDenoised(pred.denoised, opts);
      const target = sigmas.targets?.[i] ?? sigmas.sigmas[i + 1];
      const c = ddimCoefficients(level.sigma, target, sigmas.sigmas[i + 1], eta);
      const terms: [number, Tensor][] = [
        [c.denoised, denoised],
        [c.eps, pred.eps],
      ];
      // diffusers draws the variance noise on every step once eta > 0 (even when its std is 0).
      if (eta > 0) terms.push([c.noise, ctx.noise!(state.x.dims)]);
      return { x: linearCombination(terms), denoised };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// DDIM inversion

export const DDIM_INVERSION_VARIANTS = ['diffusers', 'current-level'] as const;
export type DdimInversionVariant = (typeof DDIM_INVERSION_VARIANTS)[number];

/**
 * Ascending timesteps of diffusers DDIMInverseScheduler.set_timesteps: leading arange(0, N) * (T//N) +
 * steps_offset; trailing round(arange(T, 0, -T/N))[::-1] - 1. DDIMInverseScheduler has no linspace spacing
 * (diffusers raises); neither does this.
 * Deliberate deviation (as the forward trailing grid, sigma-grids.ts): for the N where numpy's float arange
 * yields N + 1 entries (61, 103, ...) diffusers' first inverse step has t = -1 (the model is called with -1
 * and alphas_cumprod[-1] wraps to the noisiest level); that entry is dropped here, always N entries.
 */
export function ddimInverseTimesteps(cfg: SchedulerConfig, steps: number): number[] {
  const T = vpTable(cfg).trainSteps;
  checkSteps(steps, T);
  const spacing = cfgString(cfg, 'timestep_spacing', ['linspace', 'leading', 'trailing'] as const, 'leading');
  let ts: number[];
  if (spacing === 'leading') {
    const ratio = Math.floor(T / steps);
    const offset = cfgInt(cfg, 'steps_offset', 0);
    ts = Array.from({ length: steps }, (_, k) => k * ratio + offset);
  } else if (spacing === 'trailing') {
    const ratio = T / steps;
    ts = Array.from({ length: steps }, (_, k) => roundHalfEven(arangeDown(T, ratio, steps - 1 - k)) - 1);
  } else {
    throw new Error('DDIM inversion supports timestep_spacing "leading" or "trailing" (diffusers DDIMInverseScheduler has no "linspace"): set the Schedule\'s spacing to one of them');
  }
  for (const t of ts) if (t < 0 || t >= T) throw new Error(`DDIM inversion grid: timestep ${t} is outside [0, ${T}) (check steps_offset)`);
  return ts;
}

/**
 * DDIMInverseScheduler's initial_alpha_cumprod rule: set_alpha_to_one (default true), except that the deprecated
 * set_alpha_to_zero key, which from_config still passes (_deprecated_kwargs), replaces it when not null.
 */
function inverseAlphaToOne(cfg: SchedulerConfig): boolean {
  const legacy = cfg.set_alpha_to_zero;
  return legacy !== undefined && legacy !== null ? cfgBool(cfg, 'set_alpha_to_zero', true) : cfgBool(cfg, 'set_alpha_to_one', true);
}

/**
 * The ascending grid DDIM inversion walks, in the Sigmas conventions (VE levels; step i calls the model
 * with timesteps[i] on the sample at sigmas[i]).
 *  - 'diffusers': N steps. Step i starts at the level of t_i - T//N (set_alpha_to_one: abar = 1, i.e.
 *    sigma 0, when that is below 0; else abar[0]) and calls the model with t_i; x0 comes from the start
 *    level and x is placed at t_i (`targets`, which differ from the next start level when the spacing is
 *    not a multiple of T//N, as in diffusers).
 *  - 'current-level': N - 1 steps between the grid's own levels t_0 < ... < t_{N-1}; each step calls the
 *    model at the level x is at (CODE's encoder), so the walk is the exact reverse of DDIM's ODE step.
 */
export function ddimInverseSigmas(
  cfg: SchedulerConfig,
  steps: number,
  variant: DdimInversionVariant = 'diffusers',
  units: TimestepUnits = 'scheduler',
): Sigmas {
  const table = vpTable(cfg);
  const T = table.trainSteps;
  const ts = ddimInverseTimesteps(cfg, steps);
  const toModel = (t: number) => toModelTimestep(t, T, units);
  if (variant === 'current-level') {
    return {
      space: 'vp',
      sigmas: ts.map((t) => table.sigmas[t]),
      timesteps: ts.slice(0, -1).map(toModel),
      origin: 'DDIMInverseScheduler (current level)',
    };
  }
  if (variant !== 'diffusers') throw new Error(`DDIM inversion: unknown variant ${JSON.stringify(variant)} (expected ${DDIM_INVERSION_VARIANTS.join(' or ')})`);
  const ratio = Math.floor(T / steps);
  const initial = inverseAlphaToOne(cfg) ? 0 : table.sigmas[0];
  const starts = ts.map((t) => {
    const from = Math.min(t - ratio, T - 1);
    return from >= 0 ? table.sigmas[from] : initial;
  });
  const targets = ts.map((t) => table.sigmas[t]);
  const out: Sigmas = {
    space: 'vp',
    sigmas: [...starts, targets[targets.length - 1]],
    timesteps: ts.map(toModel),
    origin: 'DDIMInverseScheduler',
  };
  if (targets.some((v, i) => v !== out.sigmas[i + 1])) out.targets = targets;
  return out;
}

/**
 * x0 limiting of DDIMInverseScheduler: clip_sample with clip_sample_range; it has no dynamic thresholding
 * (CODE's encoder thresholds: pass `thresholding` to createDdimInverse for that). A config without the key
 * clips, whichever class wrote it: DDIMInverseScheduler.from_config leaves absent keys at its own default.
 */
export function ddimInverseOptionsFromConfig(cfg: SchedulerConfig): DdimOptions {
  return cfgBool(cfg, 'clip_sample', true) ? { clipSampleRange: cfgNumber(cfg, 'clip_sample_range', 1) } : {};
}

/** DDIM (eta 0) walking an ascending grid: VP grids from ddimInverseSigmas, or a reversed flow grid. */
export function createDdimInverse(opts: Omit<DdimOptions, 'eta'> = {}): Solver {
  const ddim = createDdim({ ...opts, eta: 0 });
  return {
    ...ddim,
    name: 'ddim_inverse',
    init(ctx, x) {
      const s = ctx.sigmas.sigmas;
      const down = s.findIndex((v, k) => k > 0 && v < s[k - 1]);
      if (down > 0) {
        throw new Error(`DDIM inversion walks up the levels, but these go down at step ${down} (${s[down - 1]} -> ${s[down]}): use a schedule that only ascends (Schedule with direction invert, or FlipSigmas)`);
      }
      return ddim.init(ctx, x);
    },
  };
}

/**
 * A flow grid walked backwards (t from its last level up to its first): RF inversion with any flow solver.
 * Timesteps are proportional to t on flow grids, so the new start level (often t = 0) gets one too.
 */
export function reversedFlowSigmas(s: Sigmas): Sigmas {
  if (s.space !== 'flow') throw new Error('reversedFlowSigmas needs a flow grid (VP models invert with ddimInverseSigmas)');
  const k = s.sigmas.findIndex((v, j) => j < s.timesteps.length && v > 0);
  if (k < 0) throw new Error('reversedFlowSigmas: the grid has no positive level');
  const unit = s.timesteps[k] / s.sigmas[k];
  const levels = [...s.sigmas].reverse();
  return { space: 'flow', sigmas: levels, timesteps: levels.slice(0, -1).map((t) => t * unit), origin: `${s.origin ?? 'grid'} (reversed)` };
}
