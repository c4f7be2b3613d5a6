/**
 * diffusers' training table as the written-out references read it: its float32 values (float32-table.ts,
 * pinned to torch's own in betas.test.ts), abar and ((1 - abar) / abar) ** 0.5 as diffusers' tensors hold them.
 */
import type { SchedulerConfig } from '../../nodes/core/values.ts';
import { diffusersVpTable, float32VeSigma } from '../../nodes/sampling/float32-table.ts';

/** alphas_cumprod (a fresh copy: references floor its last entry themselves). `zeroSnr` false: no rescale. */
export function diffusersAbar(cfg: SchedulerConfig, zeroSnr = true): Float64Array {
  return diffusersVpTable(cfg, zeroSnr).alphasCumprod.slice();
}

/** The VE level of one abar entry, in float32 as diffusers computes its sigma table. */
export const veLevel = float32VeSigma;
