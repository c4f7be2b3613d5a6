/**
 * The VP training table as diffusers builds it, in float32 torch tensors, to the last bit: betas from a
 * float32 torch.linspace (squared in float32 for scaled_linear; betas_for_alpha_bar's Python floats
 * rounded once for squaredcos_cap_v2, trained_betas likewise), rescale_zero_terminal_snr in float32 ops,
 * alphas = 1 - betas in float32, torch.cumprod (which accumulates in double on the CPU and rounds each
 * product to float32), and sigmas = ((1 - abar) / abar) ** 0.5 in float32 (the 0.5 power is a correctly
 * rounded sqrt).
 *
 * Every diffusers grid reads its levels from this table (sigma-grids.ts vpTable). The float32 rounding
 * matters most where 1 - abar cancels: the first level of a table (SD's 0.0292, linear betas' 0.0100) is
 * off by about 1e-4 relative in float32, and Karras, exponential and beta grids take it as their end; a
 * float64 table moved diffusers' results by up to 1.3e-4 on cosine schedules and 1.6e-3 in fuzzed configs.
 */
import type { SchedulerConfig } from '../core/values.ts';
import { betasFromConfig, trainTimesteps } from './betas.ts';
import type { VpTable } from './sigma-grids.ts';
import { linspaceF32 } from './torch-linspace.ts';

const f32 = Math.fround;

interface BetaDefaults {
  start: number;
  end: number;
}

/** What the diffusers DDPM-family classes default beta_start / beta_end to (DPMSolverSDEScheduler: its own). */
const CLASS_BETAS: BetaDefaults = { start: 0.0001, end: 0.02 };
const DPM_SDE_BETAS: BetaDefaults = { start: 0.00085, end: 0.012 };

/** The betas of a config as diffusers' float32 tensors hold them, before any zero-SNR rescale. */
function float32Betas(cfg: SchedulerConfig, defaults: BetaDefaults): number[] {
  // Validation, and the betas of the other schedules (rounded once below), as betas.ts gives them.
  const float64 = betasFromConfig(cfg, { zeroSnr: false });
  const schedule = cfg.beta_schedule ?? 'linear';
  if (cfg.trained_betas == null && (schedule === 'linear' || schedule === 'scaled_linear')) {
    const n = trainTimesteps(cfg);
    const start = typeof cfg.beta_start === 'number' ? cfg.beta_start : defaults.start;
    const end = typeof cfg.beta_end === 'number' ? cfg.beta_end : defaults.end;
    if (schedule === 'linear') return linspaceF32(start, end, n);
    return linspaceF32(Math.sqrt(start), Math.sqrt(end), n).map((r) => f32(r * r));
  }
  return Array.from(float64, f32);
}

/** torch.cumprod(1 - betas) on float32 tensors: the product kept in double, each output rounded. */
function float32Cumprod(betas: readonly number[]): Float64Array {
  const out = new Float64Array(betas.length);
  let product = 1;
  for (let i = 0; i < betas.length; i++) {
    product *= f32(1 - betas[i]);
    out[i] = f32(product);
  }
  return out;
}

/** diffusers' rescale_zero_terminal_snr, each tensor op rounded to float32 as torch does it. */
function float32RescaleZeroTerminalSnr(betas: readonly number[]): number[] {
  const root = Array.from(float32Cumprod(betas), (a) => f32(Math.sqrt(a)));
  const first = root[0];
  const last = root[root.length - 1];
  if (!(first > last)) throw new Error('rescale_betas_zero_snr: the schedule must have decreasing alphas_cumprod');
  const factor = f32(first / f32(first - last));
  const abar = root.map((a) => f32(f32(a - last) * factor)).map((a) => f32(a * a));
  return abar.map((a, i) => f32(1 - (i === 0 ? a : f32(a / abar[i - 1]))));
}

/** ((1 - abar) / abar) ** 0.5 on a float32 abar, in float32. */
export function float32VeSigma(abar: number): number {
  return f32(Math.sqrt(f32(f32(1 - abar) / abar)));
}

function tableOf(betas: readonly number[]): VpTable {
  const alphasCumprod = float32Cumprod(betas);
  const sigmas = alphasCumprod.map(float32VeSigma);
  return { trainSteps: betas.length, alphasCumprod, sigmas };
}

/**
 * The table of a DDPM-family scheduler class for a config. `zeroSnr`: apply rescale_betas_zero_snr when the
 * config sets it (false for the classes without that key: from_config drops it there). The abar floor those
 * classes put on a zero-SNR table's last entry is the caller's (sigma-grids.ts).
 */
export function diffusersVpTable(cfg: SchedulerConfig, zeroSnr: boolean): VpTable {
  const betas = float32Betas(cfg, CLASS_BETAS);
  const rescaled = zeroSnr && cfg.rescale_betas_zero_snr === true;
  const table = tableOf(rescaled ? float32RescaleZeroTerminalSnr(betas) : betas);
  // A zero-SNR table ends at abar 0 by design (its classes floor that entry); any other 0 is an underflow.
  checkSignalLeft(table, cfg, rescaled ? table.trainSteps - 1 : table.trainSteps);
  return table;
}

/**
 * Throws, naming the config's betas, when a table level before entry `upTo` is infinite in float32: abar
 * underflows to 0, or (1 - abar) / abar, which diffusers takes before the square root, overflows (abar below
 * about 3e-39). Betas that large leave no signal there; diffusers and ComfyUI then sample NaN.
 */
function checkSignalLeft(table: VpTable, cfg: SchedulerConfig, upTo = table.trainSteps): void {
  for (let i = 0; i < upTo; i++) if (!Number.isFinite(table.sigmas[i])) throw noSignalError(cfg, i, table.trainSteps);
}

/** The error for a training table whose level at step `step` is infinite (no signal left). */
export function noSignalError(cfg: SchedulerConfig, step: number, total: number): Error {
  const keys = cfg.trained_betas != null ? 'trained_betas' : `beta_schedule ${cfg.beta_schedule ?? 'linear'}, beta_start ${cfg.beta_start ?? 'default'}, beta_end ${cfg.beta_end ?? 'default'}`;
  return new Error(
    `scheduler config: the betas (${keys}) leave no signal from training step ${step} of ${total} on: alphas_cumprod falls below float32's range there and the noise level is infinite; use smaller betas (SD 1.x: scaled_linear from 0.00085 to 0.012)`,
  );
}

const tables = new WeakMap<SchedulerConfig, VpTable>();

/**
 * DPMSolverSDEScheduler's table for a config (its own defaults: beta_start 0.00085, beta_end 0.012, linear;
 * no rescale_betas_zero_snr). Memoized per config object: treat as read-only.
 */
export function diffusersFloat32Table(cfg: SchedulerConfig): VpTable {
  const cached = tables.get(cfg);
  if (cached) return cached;
  const table = tableOf(float32Betas(cfg, DPM_SDE_BETAS));
  checkSignalLeft(table, cfg);
  tables.set(cfg, table);
  return table;
}
