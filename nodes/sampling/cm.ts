/**
 * Consistency models (Song et al. 2023), as diffusers' CMStochasticIterativeScheduler and
 * ConsistencyModelPipeline run them (openai/diffusers-cd_* and -ct_* checkpoints). The sample is in VE
 * variables (it starts as noise times sigma_max), and the network is the consistency function f(x, s):
 *   input  x / sqrt(s^2 + sd^2);   timestep  1000 * 0.25 * ln(s + 1e-44);
 *   output D = c_skip x + c_out F,  c_skip = sd^2 / ((s - s_min)^2 + sd^2),  c_out = (s - s_min) sd / sqrt(s^2 + sd^2)
 * (the boundary-condition scalings: f(x, s_min) = x), clipped to [-1, 1] when clip_denoised.
 * Multistep sampling (the paper's Algorithm 1): x <- D + s_noise z sqrt(s_hat^2 - s_min^2), s_hat the next level
 * clamped to [s_min, s_max]. The grid: N steps take training indices (0, 1, ..., N-1) * (T // N) (T =
 * num_train_timesteps, 40 by default), reversed, as a ramp i / (T - 1) into Karras levels, then s_min.
 */
import { Tensor } from '../core/tensor.ts';
import type { SchedulerConfig, Sigmas } from '../core/values.ts';
import { cfgBool, cfgNumber } from './schedule-config.ts';
import { linearCombination } from './ops.ts';
import { stateWithPrediction } from './deferred-prediction.ts';
import { checkSigmas, hasUpwardStep, levelAt, type Solver } from './solver.ts';

export const CM_CLASS = 'CMStochasticIterativeScheduler';

const f32 = Math.fround;

export interface CmParams {
  trainSteps: number;
  sigmaMin: number;
  sigmaMax: number;
  sigmaData: number;
  sNoise: number;
  rho: number;
  clipDenoised: boolean;
}

/** A consistency model's parameters when its scheduler config is CMStochasticIterativeScheduler; undefined otherwise. */
export function cmParams(cfg: SchedulerConfig): CmParams | undefined {
  if (cfg._class_name !== CM_CLASS) return undefined;
  const p: CmParams = {
    trainSteps: cfgNumber(cfg, 'num_train_timesteps', 40),
    sigmaMin: cfgNumber(cfg, 'sigma_min', 0.002),
    sigmaMax: cfgNumber(cfg, 'sigma_max', 80),
    sigmaData: cfgNumber(cfg, 'sigma_data', 0.5),
    sNoise: cfgNumber(cfg, 's_noise', 1),
    rho: cfgNumber(cfg, 'rho', 7),
    clipDenoised: cfgBool(cfg, 'clip_denoised', true),
  };
  if (!(Number.isInteger(p.trainSteps) && p.trainSteps >= 2 && p.sigmaData > 0 && p.sigmaMin > 0 && p.sigmaMax > p.sigmaMin && p.rho > 0 && p.sNoise >= 0)) {
    throw new Error(`${CM_CLASS}: need num_train_timesteps >= 2, sigma_data > 0, 0 < sigma_min < sigma_max, rho > 0, s_noise >= 0 (got ${JSON.stringify(p)})`);
  }
  return p;
}

/** The network's timestep at level s (sigma_to_t), in float64 as the scheduler's timesteps hold it. */
export function cmTimestep(s: number): number {
  return 1000 * 0.25 * Math.log(s + 1e-44);
}

/**
 * The grid for N steps (set_timesteps(N)): the training indices (0 .. N-1) * (T // N), descending, reversed into
 * a ramp index / (T - 1), Karras levels over it in float64 (timesteps from those), the levels rounded to float32
 * as the scheduler's sigmas hold them, then sigma_min. Custom sigmas: the given levels (the last where sampling
 * ends, normally sigma_min), each step's timestep from its level.
 */
export function cmSigmas(cfg: SchedulerConfig, steps: number, customSigmas?: readonly number[]): Sigmas {
  const p = cmParams(cfg);
  if (!p) throw new Error(`not a ${CM_CLASS} config`);
  if (customSigmas) {
    if (customSigmas.length < 2) throw new Error('custom sigmas: give at least two levels (the last is where sampling ends, e.g. sigma_min)');
    return { space: 'vp', sigmas: [...customSigmas], timesteps: customSigmas.slice(0, -1).map(cmTimestep), origin: CM_CLASS, initNoiseSigma: customSigmas[0] };
  }
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${steps}`);
  if (steps > p.trainSteps) throw new Error(`steps (${steps}) cannot exceed the consistency model's num_train_timesteps (${p.trainSteps})`);
  const ratio = Math.floor(p.trainSteps / steps);
  const indices = Array.from({ length: steps }, (_, i) => i * ratio); // ascending: the descending list reversed
  const minInv = p.sigmaMin ** (1 / p.rho);
  const maxInv = p.sigmaMax ** (1 / p.rho);
  const levels = indices.map((t) => (maxInv + (t / (p.trainSteps - 1)) * (minInv - maxInv)) ** p.rho);
  return {
    space: 'vp',
    sigmas: [...levels.map(f32), f32(p.sigmaMin)],
    timesteps: levels.map(cmTimestep),
    origin: CM_CLASS,
    // ConsistencyModelPipeline: latents = randn * init_noise_sigma (sigma_max).
    initNoiseSigma: p.sigmaMax,
  };
}

/** c_in: the network's input scale at level s. */
export function cmInputScale(p: CmParams, s: number): number {
  return 1 / Math.sqrt(s * s + p.sigmaData * p.sigmaData);
}

/** The consistency function's value from the network output F at level s for the VE sample x (clipped when clip_denoised). */
export function cmDenoised(p: CmParams, out: Tensor, x: Tensor, s: number): Tensor {
  const sd2 = p.sigmaData * p.sigmaData;
  const skip = sd2 / ((s - p.sigmaMin) ** 2 + sd2);
  const cOut = ((s - p.sigmaMin) * p.sigmaData) / Math.sqrt(s * s + sd2);
  const d = new Tensor(x.dims);
  for (let k = 0; k < d.size; k++) {
    const v = cOut * out.data[k] + skip * x.data[k];
    d.data[k] = p.clipDenoised ? Math.min(Math.max(v, -1), 1) : v;
  }
  return d;
}

/**
 * CMStochasticIterativeScheduler's step: x <- D + s_noise z sqrt(s_hat^2 - s_min^2), s_hat = the next level
 * clamped to [sigma_min, sigma_max]. Like diffusers, a run of more than one step draws noise on every step (on
 * the last too, where its weight is 0), a one-step run none.
 */
export function createCmStochastic(p: Pick<CmParams, 'sigmaMin' | 'sigmaMax' | 'sNoise'>): Solver {
  return {
    name: 'cm_stochastic',
    nfePerStep: 1,
    stochastic: true,
    init(ctx, x) {
      checkSigmas(ctx.sigmas);
      if (ctx.sigmas.space !== 'vp') throw new Error('cm_stochastic runs consistency models (VE levels), not flow grids');
      if (hasUpwardStep(ctx.sigmas)) throw new Error('cm_stochastic cannot walk a grid upwards');
      if (ctx.sigmas.timesteps.length > 1 && !ctx.noise) throw new Error('cm_stochastic needs a noise source');
      return { x };
    },
    async step(ctx, state, i, model) {
      const pred = await model(state.x, levelAt(ctx.sigmas, i));
      if (ctx.sigmas.timesteps.length === 1) return stateWithPrediction(pred.denoised, pred);
      const z = ctx.noise!(state.x.dims);
      const hat = Math.min(Math.max(ctx.sigmas.sigmas[i + 1], p.sigmaMin), p.sigmaMax);
      const w = p.sNoise * Math.sqrt(Math.max(hat * hat - p.sigmaMin * p.sigmaMin, 0));
      return stateWithPrediction(linearCombination([[1, pred.denoised], [w, z]]), pred);
    },
  };
}
