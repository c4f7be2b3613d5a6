/**
 * A VP training table as diffusers builds it, in float32 torch tensors, to the last bit: betas from a
 * float32 torch.linspace (squared in float32 for scaled_linear; betas_for_alpha_bar's Python floats
 * rounded once for squaredcos_cap_v2), alphas = 1 - betas in float32, torch.cumprod (which accumulates
 * in double on the CPU and rounds each product to float32), and sigmas = ((1 - abar) / abar) ** 0.5 in
 * float32 (the 0.5 power is a correctly rounded sqrt).
 *
 * The other grids use the float64 table of betas.ts (a documented deviation of ~1e-7 in the levels). This
 * one is for DPMSolverSDEScheduler, whose noise comes from a Brownian tree queried at the levels: torchsde
 * resolves query times to 1e-6, so a level one float32 ulp off is another point of the path.
 */
import type { SchedulerConfig } from '../core/values.ts';
import { betasFromConfig, trainTimesteps } from './betas.ts';
import type { VpTable } from './sigma-grids.ts';
import { linspaceF32 } from './torch-linspace.ts';

const f32 = Math.fround;

/** The betas of a config as diffusers' float32 tensors hold them (schedules DPMSolverSDEScheduler takes). */
function float32Betas(cfg: SchedulerConfig): number[] {
  const trained = cfg.trained_betas;
  const schedule = cfg.beta_schedule ?? 'linear';
  if ((trained === undefined || trained === null) && (schedule === 'linear' || schedule === 'scaled_linear')) {
    const n = trainTimesteps(cfg);
    const start = typeof cfg.beta_start === 'number' ? cfg.beta_start : 0.00085;
    const end = typeof cfg.beta_end === 'number' ? cfg.beta_end : 0.012;
    if (schedule === 'linear') return linspaceF32(start, end, n);
    return linspaceF32(Math.sqrt(start), Math.sqrt(end), n).map((r) => f32(r * r));
  }
  // trained_betas and squaredcos_cap_v2: Python floats made into a float32 tensor. Validation (and the
  // errors for other schedules) as betas.ts gives them.
  return Array.from(betasFromConfig(cfg, { zeroSnr: false }), f32);
}

const tables = new WeakMap<SchedulerConfig, VpTable>();

/**
 * DPMSolverSDEScheduler's table for a config (its own defaults: beta_start 0.00085, beta_end 0.012, linear;
 * no rescale_betas_zero_snr). Memoized per config object: treat as read-only.
 */
export function diffusersFloat32Table(cfg: SchedulerConfig): VpTable {
  const cached = tables.get(cfg);
  if (cached) return cached;
  const betas = float32Betas(cfg);
  const alphasCumprod = new Float64Array(betas.length);
  const sigmas = new Float64Array(betas.length);
  let product = 1;
  for (let i = 0; i < betas.length; i++) {
    product *= f32(1 - betas[i]);
    const abar = f32(product);
    alphasCumprod[i] = abar;
    sigmas[i] = f32(Math.sqrt(f32(f32(1 - abar) / abar)));
  }
  const table = { trainSteps: betas.length, alphasCumprod, sigmas };
  tables.set(cfg, table);
  return table;
}
