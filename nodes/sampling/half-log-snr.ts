/**
 * Levels in the half-log-SNR terms ComfyUI's SDE samplers work in, in sampling variables: x = alpha x0 +
 * sigma eps with alpha = 1, sigma = s on VP grids (VE variables) and alpha = 1 - t, sigma = t on flow grids;
 * lambda = ln(alpha / sigma) and rho = sigma / alpha = e^{-lambda} (the VE-like level ComfyUI's ancestral
 * splits and ER-SDE take). A flow grid's t = 1 (lambda = -infinity) is taken at FLOW_SNR_CAP: Schedule
 * (ComfyUI) moves that level below it first, as ComfyUI does, with the model's own shift.
 */
import type { SigmaSpace } from '../core/values.ts';

export interface SnrLevel {
  level: number;
  alpha: number;
  lambda: number;
  rho: number;
}

/** The flow level whose half-log-SNR stands in for t = 1's (-infinity): ComfyUI's percent_to_sigma(1e-4) on an unshifted model. */
export const FLOW_SNR_CAP = 1 - 1e-4;

export function snrLevel(space: SigmaSpace, level: number): SnrLevel {
  if (space === 'flow') {
    const t = level >= 1 ? FLOW_SNR_CAP : level;
    return { level, alpha: 1 - t, lambda: Math.log((1 - t) / t), rho: t / (1 - t) };
  }
  return { level, alpha: 1, lambda: -Math.log(level), rho: level };
}

/** The level whose lambda is `lambda` (sigmoid(-lambda) on flow grids, e^{-lambda} on VP ones). */
export function levelOfLambda(space: SigmaSpace, lambda: number): number {
  return space === 'flow' ? 1 / (1 + Math.exp(lambda)) : Math.exp(-lambda);
}
