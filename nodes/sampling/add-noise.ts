/**
 * img2img starts (diffusers pipelines' `strength` and each scheduler's add_noise), as pure functions.
 *
 * The start step: init_timestep = min(floor(N * strength), N), t_start = max(N - init_timestep, 0); the run
 * takes the last N - t_start steps of the full N-step grid (for Heun diffusers slices t_start * order
 * entries of its doubled list: the same levels).
 *
 * add_noise at the first level of that tail, in each scheduler's own variables:
 *  - DDIM (abar at the start timestep), DPM-Solver, UniPC, DEIS (alpha, sigma of the start level): the VP
 *    sample sqrt(abar) x0 + sqrt(1 - abar) noise;
 *  - Euler family: the VE sample x0 + sigma noise;
 *  - flow (FlowMatch scale_noise): (1 - s) x0 + s noise.
 * The solvers here hold VP states in VE variables (x_ve = x_vp / alpha), so for every VP family the start
 * state is x0 + sigma noise: `noisedStart` returns that; `schedulerAddNoise` returns what diffusers holds.
 */
import type { Tensor } from '../core/tensor.ts';
import type { SchedulerConfig, Sigmas } from '../core/values.ts';
import { linearCombination } from './ops.ts';
import { isEulerFamilyOrigin, SCHEDULER_RULES } from './schedule-rules.ts';
import { vpTable } from './sigma-grids.ts';
import { sliceSigmas } from './sigmas-split.ts';

function checkStrength(strength: number): void {
  if (!(strength >= 0 && strength <= 1)) throw new Error(`denoise strength must be in [0, 1], got ${strength}`);
}

/** diffusers get_timesteps: the index of the first step an img2img run takes. */
export function img2imgStartStep(steps: number, strength: number): number {
  checkStrength(strength);
  const initTimestep = Math.min(Math.floor(steps * strength), steps);
  return Math.max(steps - initTimestep, 0);
}

/**
 * SD3 / FLUX (and Chroma, QwenImage, SanaSprint) img2img get_timesteps: init_timestep = min(N * strength, N)
 * stays a float and t_start = int(max(N - init_timestep, 0)), so the run takes ceil(N * strength) steps
 * (the VP pipelines floor N * strength first and take floor(N * strength)); computed in doubles as there.
 */
export function flowImg2imgStartStep(steps: number, strength: number): number {
  checkStrength(strength);
  return Math.trunc(Math.max(steps - Math.min(steps * strength, steps), 0));
}

/**
 * diffusers' legacy ONNX img2img pipeline (OnnxStableDiffusionImg2ImgPipeline) starts differently from the
 * torch pipelines above: init = min(floor(N * strength) + steps_offset, N); the noise goes in at
 * timesteps[-init] (index N - init; Python's [-0] is index 0) but the loop starts at
 * t_start = max(N - init + steps_offset, 0): one step later than the noise level with steps_offset 1 (SD 1.x
 * configs), and at strength 1 the first step is skipped. Grid indices; start may equal N (no steps).
 */
export function onnxImg2imgStart(steps: number, strength: number, stepsOffset: number): { start: number; noiseAt: number } {
  checkStrength(strength);
  if (!Number.isInteger(stepsOffset) || stepsOffset < 0) throw new Error(`steps_offset must be a non-negative integer, got ${stepsOffset}`);
  const init = Math.min(Math.floor(steps * strength) + stepsOffset, steps);
  return { start: Math.min(Math.max(steps - init + stepsOffset, 0), steps), noiseAt: init === 0 ? 0 : steps - init };
}

/**
 * The legacy ONNX img2img start state in sampling variables: add_noise at level `noiseSigma` in the
 * scheduler's own variables (VE for the Euler family, the VP sample otherwise), then taken as the state at
 * the first level the loop runs, `startSigma`, exactly as that pipeline hands it to step().
 */
export function onnxNoisedStart(x0: Tensor, noise: Tensor, noiseSigma: number, startSigma: number, origin: string | undefined): Tensor {
  const ve = addNoiseVe(x0, noise, noiseSigma);
  if (isEulerFamilyOrigin(origin)) return ve;
  // VP sample sqrt(abar_n) (x0 + s_n noise), read as the sample at the start level: x_ve = x_vp * sqrt(s^2 + 1).
  return linearCombination([[Math.sqrt((startSigma * startSigma + 1) / (noiseSigma * noiseSigma + 1)), ve]]);
}

/**
 * The tail of a full grid that an img2img run with this strength walks (the whole grid at strength 1):
 * floor(N * strength) steps on VP grids, ceil(N * strength) on flow grids (their pipelines do not floor).
 */
export function img2imgSigmas(sigmas: Sigmas, strength: number): Sigmas {
  const n = sigmas.timesteps.length;
  return sliceSigmas(sigmas, sigmas.space === 'flow' ? flowImg2imgStartStep(n, strength) : img2imgStartStep(n, strength), n);
}

/** DDIM/DDPM add_noise: sqrt(abar) x0 + sqrt(1 - abar) noise (VP variables). */
export function addNoiseVp(x0: Tensor, noise: Tensor, abar: number): Tensor {
  if (!(abar >= 0 && abar <= 1)) throw new Error(`add_noise: alphas_cumprod must be in [0, 1], got ${abar}`);
  return linearCombination([
    [Math.sqrt(abar), x0],
    [Math.sqrt(1 - abar), noise],
  ]);
}

/** Euler-family add_noise: x0 + sigma noise (VE variables). */
export function addNoiseVe(x0: Tensor, noise: Tensor, sigma: number): Tensor {
  return linearCombination([
    [1, x0],
    [sigma, noise],
  ]);
}

/** Flow-matching scale_noise: (1 - t) x0 + t noise. */
export function addNoiseFlow(x0: Tensor, noise: Tensor, t: number): Tensor {
  if (!(t >= 0 && t <= 1)) throw new Error(`scale_noise: flow level must be in [0, 1], got ${t}`);
  return linearCombination([
    [1 - t, x0],
    [t, noise],
  ]);
}

/** abar of a VE level: 1 / (sigma^2 + 1). */
export function abarOfSigma(sigma: number): number {
  return 1 / (sigma * sigma + 1);
}

/**
 * The img2img start state in sampling variables at the grid's first level (VE for VP models). A
 * SASolverScheduler grid (with its model's scheduler config) is the exception: that class's add_noise is
 * DDPM's, at the training level of the grid's first int64 timestep, which on Karras, exponential and beta
 * grids is not the grid's first level; the VP sample it makes is then stepped as the sample at that level.
 */
export function noisedStart(x0: Tensor, noise: Tensor, sigmas: Sigmas, scheduler?: SchedulerConfig): Tensor {
  const s = sigmas.sigmas[0];
  if (sigmas.space === 'flow') return addNoiseFlow(x0, noise, s);
  if (sigmas.origin === 'SASolverScheduler' && scheduler) {
    const table = vpTable(scheduler, SCHEDULER_RULES.SASolverScheduler.zeroSnr).sigmas;
    const t = Math.min(Math.max(Math.trunc(sigmas.timesteps[0]), 0), table.length - 1);
    return onnxNoisedStart(x0, noise, table[t], s, sigmas.origin);
  }
  // ComfyUI's noise_scaling (EPS / V_PREDICTION): latent + noise * sqrt(1 + sigma^2) when the grid starts at the
  // table's top (max_denoise: a denoise close enough to 1 that int(steps / denoise) == steps), else latent +
  // noise * sigma. comfySigmas records that factor as the grid's initNoiseSigma.
  if (sigmas.offGridTimesteps === 'comfyui' && sigmas.initNoiseSigma !== undefined) return addNoiseVe(x0, noise, sigmas.initNoiseSigma);
  return addNoiseVe(x0, noise, s);
}

/** What the diffusers scheduler that made the grid holds after add_noise (its own variables), for parity checks. */
export function schedulerAddNoise(x0: Tensor, noise: Tensor, sigmas: Sigmas): Tensor {
  const s = sigmas.sigmas[0];
  if (sigmas.space === 'flow') return addNoiseFlow(x0, noise, s);
  return isEulerFamilyOrigin(sigmas.origin) ? addNoiseVe(x0, noise, s) : addNoiseVp(x0, noise, abarOfSigma(s));
}
