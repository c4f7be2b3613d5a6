/**
 * Test support for the exponential-integrator solver tests: grids on the fake Gaussian models of
 * sampling-fake-model.ts whose timesteps map back to exactly the intended levels, the exact PF-ODE solution in
 * sampling variables, runs started from exact history, and diffusers-style VP grids computed here by hand.
 */
import { Tensor } from '../nodes/core/tensor.ts';
import type { SchedulerConfig, SigmaSpace, Sigmas } from '../nodes/core/values.ts';
import { alphasCumprod, betasFromConfig } from '../nodes/sampling/betas.ts';
import { createDenoiseFn } from '../nodes/sampling/denoiser.ts';
import { createGaussianParams, seededNormals, transportExact } from '../nodes/sampling/gaussian.ts';
import type { NoiseSource } from '../nodes/sampling/ops.ts';
import type { DenoiseFn, Solver, SolverState } from '../nodes/sampling/solver.ts';
import { fakeFlowModel, fakeVpModel, logLogSlope, relL2, SD_VP_DDIM, type FakeModel } from './sampling-fake-model.ts';

export const SAMPLE_DIMS = [3, 8, 8];
export const BATCH_DIMS = [1, ...SAMPLE_DIMS];
export const GAUSS = createGaussianParams({ dims: SAMPLE_DIMS, seed: 5 });
const D = SAMPLE_DIMS.reduce((a, b) => a * b, 1);
/** A standard-normal sample (the noise a run starts from, before scaling to the first level). */
export const NOISE = Float64Array.from(seededNormals(D, 11));

/** The VE level of each training step of the SD table the fake VP model uses. */
export const SD_TABLE = alphasCumprod(betasFromConfig(SD_VP_DDIM)).map((a) => Math.sqrt((1 - a) / a));

/**
 * The fractional timestep at which the fake VP model (linear in sigma between table entries) sees exactly
 * the VE level `sigma`: the inverse of its interpolation.
 */
export function fakeVpTimestep(sigma: number): number {
  const s = SD_TABLE;
  if (sigma <= s[0]) return 0;
  let i = 0;
  while (i < s.length - 2 && s[i + 1] < sigma) i++;
  return i + (sigma - s[i]) / (s[i + 1] - s[i]);
}

/** A grid over the given levels whose timesteps make the fake model see exactly those levels. */
export function exactGrid(space: SigmaSpace, levels: readonly number[]): Sigmas {
  const ts = levels.slice(0, -1).map((l) => (space === 'vp' ? fakeVpTimestep(l) : l));
  return { space, sigmas: [...levels], timesteps: ts };
}

/** n + 1 levels uniform in lambda = ln(alpha/sigma) between two levels (a geometric VE grid for vp). */
export function lambdaUniformLevels(space: SigmaSpace, from: number, to: number, n: number): number[] {
  const lam = (l: number) => (space === 'vp' ? -Math.log(l) : Math.log(1 - l) - Math.log(l));
  const inv = (x: number) => (space === 'vp' ? Math.exp(-x) : 1 / (1 + Math.exp(x)));
  const a = lam(from);
  const b = lam(to);
  return Array.from({ length: n + 1 }, (_, i) => (i === n ? to : i === 0 ? from : inv(a + ((b - a) * i) / n)));
}

/** n + 1 levels uniform in the grid variable (VE sigma or t). */
export function uniformLevels(from: number, to: number, n: number): number[] {
  return Array.from({ length: n + 1 }, (_, i) => from + ((to - from) * i) / n);
}

/**
 * The grids the convergence-order tests share: uniform in lambda between VE sigma 5 and 0.3 (flow t 0.83
 * and 0.23: the same rho range), and a flow grid uniform in t (unequal lambda steps).
 */
export const ORDER_GRIDS: readonly { name: string; space: SigmaSpace; levels: (n: number) => number[] }[] = [
  { name: 'VP, lambda-uniform', space: 'vp', levels: (n) => lambdaUniformLevels('vp', 5, 0.3, n) },
  { name: 'flow, lambda-uniform', space: 'flow', levels: (n) => lambdaUniformLevels('flow', 0.83, 0.23, n) },
  { name: 'flow, t-uniform', space: 'flow', levels: (n) => uniformLevels(0.83, 0.23, n) },
];

function alphaSigma(space: SigmaSpace, level: number): [number, number] {
  if (space === 'flow') return [1 - level, level];
  const a = 1 / Math.sqrt(level * level + 1);
  return [a, level * a];
}

/** The exact PF-ODE transport of a state (sampling variables) from one level to another. */
export function exactState(space: SigmaSpace, x: Float64Array, from: number, to: number): Float64Array {
  const [a1, b1] = alphaSigma(space, from);
  const [a2, b2] = alphaSigma(space, to);
  const scale1 = space === 'vp' ? a1 : 1;
  const scale2 = space === 'vp' ? a2 : 1;
  const native = transportExact(GAUSS, x.map((v) => v * scale1), a1, b1, a2, b2);
  return native.map((v) => v / scale2);
}

/** The start state at a level: the noise NOISE taken along the exact trajectory from the prior at level `top`. */
export function startState(space: SigmaSpace, level: number): Float64Array {
  // At a level this high the marginal is close to the prior; the trajectory through it is exact anyway.
  const top = space === 'vp' ? 80 : 0.999;
  const atTop = space === 'vp' ? NOISE.map((v) => v * top) : NOISE.map((v) => v);
  return exactState(space, atTop, top, level);
}

export function fakeModelFor(space: SigmaSpace): FakeModel {
  return space === 'vp' ? fakeVpModel(GAUSS) : fakeFlowModel(GAUSS, undefined, 'fraction');
}

export function denoiseFor(space: SigmaSpace, model: FakeModel = fakeModelFor(space)): DenoiseFn {
  return createDenoiseFn(model, { space });
}

/**
 * Runs a solver over a grid; the first `exactSteps` results are replaced by the exact solution, so the
 * solver's history past them holds model outputs at exact trajectory points (fact sheet 8). UniPC also keeps
 * the (corrected) sample of the previous level for its next correction: exact history makes that exact too.
 */
export async function runFromExact<S extends SolverState>(
  solver: Solver<S>,
  sigmas: Sigmas,
  x0: Float64Array,
  model: DenoiseFn,
  exactSteps: number,
  noise?: NoiseSource,
): Promise<Float32Array> {
  const ctx = { sigmas, noise };
  let state = solver.init(ctx, new Tensor(BATCH_DIMS, Float32Array.from(x0)));
  for (let i = 0; i < sigmas.timesteps.length; i++) {
    state = await solver.step(ctx, state, i, model);
    if (i < exactSteps) {
      const exactAt = (k: number) => new Tensor(BATCH_DIMS, Float32Array.from(exactState(sigmas.space, x0, sigmas.sigmas[0], sigmas.sigmas[k])));
      state = { ...state, x: exactAt(i + 1) };
      if ('lastSample' in state && state.lastSample) state = { ...state, lastSample: exactAt(i) };
    }
  }
  return state.x.data;
}

export interface OrderCase {
  space: SigmaSpace;
  /** Grid levels for n steps. */
  levels: (n: number) => number[];
  steps: readonly number[];
  make: () => Solver<SolverState>;
  exactSteps: number;
}

/** Global errors at the grid's last level for each step count, and the measured order (minus the log-log slope). */
export async function measureOrder(c: OrderCase): Promise<{ errors: number[]; order: number }> {
  const errors: number[] = [];
  for (const n of c.steps) {
    const levels = c.levels(n);
    const sigmas = exactGrid(c.space, levels);
    const x0 = startState(c.space, levels[0]);
    const out = await runFromExact(c.make(), sigmas, x0, denoiseFor(c.space), c.exactSteps);
    errors.push(relL2(out, exactState(c.space, x0, levels[0], levels[levels.length - 1])));
  }
  return { errors, order: -logLogSlope(c.steps, errors) };
}

// ---------------------------------------------------------------------------------------------
// diffusers-style VP grids for the parity tests, computed here from the formulas (not the schedule code)

/** numpy round: half to even. */
export function npRound(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** np.linspace(start, stop, n) in float64: start + i * step, the last point exactly `stop`. */
export function npLinspace(start: number, stop: number, n: number): number[] {
  if (n === 1) return [start];
  const step = (stop - start) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? stop : i * step + start));
}

/**
 * The descending integer timesteps DDIM, PNDM and DDPM's set_timesteps give for a config's
 * timestep_spacing (default leading) and steps_offset (default 0): linspace round(linspace(0, T-1, N)),
 * leading round(arange(N) * (T//N)) + offset, trailing round(arange(T, 0, -T/N)) - 1.
 */
export function ddimFamilyTimesteps(cfg: SchedulerConfig, n: number, T = 1000): number[] {
  const spacing = (cfg.timestep_spacing as string | undefined) ?? 'leading';
  if (spacing === 'linspace') return npLinspace(0, T - 1, n).map(npRound).reverse();
  if (spacing === 'leading') return Array.from({ length: n }, (_, i) => i * Math.floor(T / n) + ((cfg.steps_offset as number | undefined) ?? 0)).reverse();
  // np.arange(T, 0, -T/N) has ceil(T / (T/N)) entries T - i * step.
  const step = T / n;
  return Array.from({ length: Math.ceil(T / step) }, (_, i) => npRound(T - i * step) - 1);
}

/** DPMSolverMultistep/UniPC/DEIS "linspace" timesteps: round(linspace(0, T-1, N+1)) reversed, last dropped. */
export function multistepTimesteps(steps: number, T = 1000): number[] {
  const out: number[] = [];
  for (let i = steps; i >= 1; i--) out.push(npRound(((T - 1) * i) / steps));
  return out;
}

/** The sigmas diffusers pairs with integer timesteps (table values), then the final level. */
export function tableGrid(cfg: SchedulerConfig, timesteps: number[], final: 'zero' | 'sigma_min'): Sigmas {
  const table = alphasCumprod(betasFromConfig(cfg)).map((a) => Math.sqrt((1 - a) / a));
  return {
    space: 'vp',
    sigmas: [...timesteps.map((t) => table[t]), final === 'zero' ? 0 : table[0]],
    timesteps: [...timesteps],
  };
}

/** The VP sample at a grid's first level for a unit noise (diffusers' init_noise_sigma = 1 for these schedulers). */
export function vpStartToState(xvp: Float64Array, level: number): Float32Array {
  return Float32Array.from(xvp, (v) => v * Math.sqrt(level * level + 1));
}

/** Per-step seeded noises and the NoiseSource that hands them out in order. */
export function noiseSequence(n: number, seed: number): { draws: Float32Array[]; source: NoiseSource; used: () => number } {
  const draws = Array.from({ length: n }, (_, i) => Float32Array.from(seededNormals(D, seed + i)));
  let next = 0;
  return {
    draws,
    source: (dims) => {
      if (next >= draws.length) throw new Error('noise sequence exhausted');
      return new Tensor(dims, draws[next++].slice());
    },
    used: () => next,
  };
}

export { relL2, logLogSlope };

/** Float64 state vectors of the diffusers-faithful references in the solver tests. */
export type Vec = Float64Array;

/** sum_k c_k * v_k in float64 (the references' arithmetic). */
export const lin = (terms: [number, Vec][]): Vec => {
  const out = new Float64Array(terms[0][1].length);
  for (const [c, v] of terms) for (let k = 0; k < out.length; k++) out[k] += c * v[k];
  return out;
};

/**
 * diffusers' DDPMScheduler._threshold_sample on one sample, written from its code: s = torch.quantile(|x0|,
 * ratio) (linear interpolation), clamped to [1, maxValue]; x0 = clamp(x0, -s, s) / s.
 */
export function thresholdSampleRef(x0: Vec, ratio: number, maxValue: number): Vec {
  const sorted = Float64Array.from(x0, Math.abs).sort();
  const pos = ratio * (sorted.length - 1);
  const lo = Math.floor(pos);
  const q = sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (pos - lo);
  const s = Math.min(Math.max(q, 1), maxValue);
  return x0.map((v) => Math.min(Math.max(v, -s), s) / s);
}
