/**
 * Training noise schedules (betas and their cumulative products) from a diffusers scheduler_config.json.
 * Follows diffusers' semantics key by key, in float64. The diffusers grids use these values rounded as
 * diffusers' float32 tensors hold them (float32-table.ts); the float64 table serves the analytic models'
 * closed forms and ComfyUI's schedules, which ComfyUI computes in float64.
 */

const DEFAULT_TRAIN_TIMESTEPS = 1000;
const DEFAULT_BETA_START = 0.0001;
const DEFAULT_BETA_END = 0.02;
/** diffusers betas_for_alpha_bar's max_beta: keeps the last cosine beta below 1. */
const COSINE_MAX_BETA = 0.999;

export const BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid', 'exp'] as const;
export type BetaSchedule = (typeof BETA_SCHEDULES)[number];

/** numpy/torch linspace: n points from a to b inclusive (n = 1 gives [a]). */
export function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = a;
    return out;
  }
  const step = (b - a) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = a + i * step;
  out[n - 1] = b;
  return out;
}

function numberKey(cfg: Record<string, unknown>, key: string, fallback: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new Error(`scheduler config: "${key}" must be a finite number, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** The number of training timesteps T (num_train_timesteps, default 1000). */
export function trainTimesteps(cfg: Record<string, unknown>): number {
  const t = numberKey(cfg, 'num_train_timesteps', DEFAULT_TRAIN_TIMESTEPS);
  if (!Number.isInteger(t) || t < 1) throw new Error(`scheduler config: num_train_timesteps must be a positive integer, got ${t}`);
  return t;
}

/** abar(t) of the improved-DDPM cosine schedule (Nichol & Dhariwal), t in [0, 1]. */
function cosineAlphaBar(t: number): number {
  return Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
}

/**
 * diffusers rescale_zero_terminal_snr (Lin et al. 2023): shifts and scales sqrt(abar) so the last level has
 * zero signal while the first keeps its value, then recovers betas from the ratios.
 */
export function rescaleZeroTerminalSnr(betas: Float64Array): Float64Array {
  const n = betas.length;
  const sqrtAbar = alphasCumprod(betas).map(Math.sqrt);
  const first = sqrtAbar[0];
  const last = sqrtAbar[n - 1];
  if (!(first > last)) throw new Error('rescale_betas_zero_snr: the schedule must have decreasing alphas_cumprod');
  const abar = sqrtAbar.map((a) => ((a - last) * first) / (first - last)).map((a) => a * a);
  const out = new Float64Array(n);
  out[0] = 1 - abar[0];
  for (let i = 1; i < n; i++) out[i] = 1 - abar[i] / abar[i - 1];
  return out;
}

export interface BetasOptions {
  /**
   * Apply rescale_betas_zero_snr when the config sets it (default true). False for the diffusers classes
   * that have no such key (Heun, LMS, DEIS, DPM singlestep): from_config drops it there.
   */
  zeroSnr?: boolean;
}

/** Betas of the training schedule described by a diffusers scheduler config. */
export function betasFromConfig(cfg: Record<string, unknown>, opts: BetasOptions = {}): Float64Array {
  const n = trainTimesteps(cfg);
  let betas: Float64Array;
  const trained = cfg.trained_betas;
  if (trained !== undefined && trained !== null) {
    if (!Array.isArray(trained) || trained.some((b) => typeof b !== 'number' || !Number.isFinite(b))) {
      throw new Error('scheduler config: trained_betas must be an array of finite numbers');
    }
    // diffusers takes trained_betas as given (its length wins over num_train_timesteps).
    betas = Float64Array.from(trained as number[]);
    if (betas.length === 0) throw new Error('scheduler config: trained_betas is empty');
  } else {
    const schedule = cfg.beta_schedule ?? 'linear';
    const b0 = numberKey(cfg, 'beta_start', DEFAULT_BETA_START);
    const b1 = numberKey(cfg, 'beta_end', DEFAULT_BETA_END);
    switch (schedule) {
      case 'linear':
        betas = linspace(b0, b1, n);
        break;
      case 'scaled_linear':
        // Latent-diffusion schedule: linear in sqrt(beta).
        betas = linspace(Math.sqrt(b0), Math.sqrt(b1), n).map((r) => r * r);
        break;
      case 'squaredcos_cap_v2':
        betas = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          betas[i] = Math.min(1 - cosineAlphaBar((i + 1) / n) / cosineAlphaBar(i / n), COSINE_MAX_BETA);
        }
        break;
      case 'exp':
        // HeunDiscreteScheduler only: betas_for_alpha_bar with abar(t) = exp(-12 t), so every beta is 1 - exp(-12 / T).
        betas = new Float64Array(n);
        for (let i = 0; i < n; i++) betas[i] = Math.min(1 - Math.exp(-12 * ((i + 1) / n)) / Math.exp(-12 * (i / n)), COSINE_MAX_BETA);
        break;
      case 'sigmoid':
        // DDPMScheduler only (GeoDiff): sigmoid of linspace(-6, 6) mapped onto [beta_start, beta_end].
        betas = linspace(-6, 6, n).map((v) => (1 / (1 + Math.exp(-v))) * (b1 - b0) + b0);
        break;
      default:
        throw new Error(
          `scheduler config: unknown beta_schedule ${JSON.stringify(schedule)} (expected one of ${BETA_SCHEDULES.join(', ')})`,
        );
    }
  }
  for (let i = 0; i < betas.length; i++) {
    if (!(betas[i] > 0 && betas[i] <= 1)) throw new Error(`scheduler config: beta[${i}] = ${betas[i]} is outside (0, 1]`);
  }
  if (cfg.rescale_betas_zero_snr === true && opts.zeroSnr !== false) betas = rescaleZeroTerminalSnr(betas);
  return betas;
}

/** abar_i = prod_{j <= i} (1 - beta_j). */
export function alphasCumprod(betas: ArrayLike<number>): Float64Array {
  const out = new Float64Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= 1 - betas[i];
    out[i] = acc;
  }
  return out;
}

/** VE noise level of a VP level: sigma = sqrt((1 - abar) / abar) (infinite at abar = 0). */
export function veSigma(abar: number): number {
  return Math.sqrt((1 - abar) / abar);
}
