/**
 * Test support for the k-diffusion / RF-Solver / MRS / guidance tests: the optimal model of Gaussian data as a
 * DenoiseFn evaluated at the exact continuous level (no timestep table in between), grids over chosen
 * levels, and the exact PF-ODE end state (nodes/sampling/gaussian.ts, fact sheet section 8).
 */
import { Tensor } from '../nodes/core/tensor.ts';
import type { SigmaSpace, Sigmas } from '../nodes/core/values.ts';
import { predictionFromOutput } from '../nodes/sampling/denoiser.ts';
import { denoisedVE, transportExact, velocityRF, type GaussianParams } from '../nodes/sampling/gaussian.ts';
import type { DenoiseFn } from '../nodes/sampling/solver.ts';

/** The exact model in sampling variables: VE D*(x, s) for 'vp', the RF velocity for 'flow'. Counts calls. */
export function exactModel(p: GaussianParams, space: SigmaSpace): DenoiseFn & { calls: number; levels: number[] } {
  const fn = (async (x: Tensor, level: { sigma: number }) => {
    fn.calls++;
    fn.levels.push(level.sigma);
    const xs = Float64Array.from(x.data);
    if (space === 'flow') return predictionFromOutput(new Tensor(x.dims, Float32Array.from(velocityRF(p, xs, level.sigma))), x, level.sigma, 'flow', 'flow');
    const d = denoisedVE(p, xs, level.sigma);
    // eps = (x - D)/s in VE variables: the raw output of an eps model.
    const eps = Float32Array.from(xs, (v, k) => (v - d[k]) / level.sigma);
    return predictionFromOutput(new Tensor(x.dims, eps), x, level.sigma, 'vp', 'epsilon');
  }) as unknown as DenoiseFn & { calls: number; levels: number[] };
  fn.calls = 0;
  fn.levels = [];
  return fn;
}

/** A grid over the given levels; timesteps are the levels themselves (the exact model ignores them). */
export function gridOf(space: SigmaSpace, levels: readonly number[]): Sigmas {
  return { space, sigmas: [...levels], timesteps: levels.slice(0, -1) };
}

/** n + 1 levels geometric between two positive levels. */
export function geometricLevels(from: number, to: number, n: number): number[] {
  return Array.from({ length: n + 1 }, (_, i) => (i === n ? to : from * (to / from) ** (i / n)));
}

/** n + 1 levels uniform between two levels. */
export function uniformLevels(from: number, to: number, n: number): number[] {
  return Array.from({ length: n + 1 }, (_, i) => (i === n ? to : from + ((to - from) * i) / n));
}

/** (a, b) of a level on x = a x0 + b eps in sampling variables. */
export function pathAt(space: SigmaSpace, level: number): [number, number] {
  return space === 'flow' ? [1 - level, level] : [1, level];
}

/** The exact PF-ODE end state from x at level `from` to level `to`, in sampling variables. */
export function exactEnd(p: GaussianParams, space: SigmaSpace, x: ArrayLike<number>, from: number, to: number): Float64Array {
  const [a1, b1] = pathAt(space, from);
  const [a2, b2] = pathAt(space, to);
  return transportExact(p, Float64Array.from(x), a1, b1, a2, b2);
}
