/**
 * Latent Consistency Model sampling (Luo et al. 2023) with diffusers LCMScheduler semantics, for LCM-distilled
 * models and LCM-LoRA. Timesteps come from the distillation schedule: original_inference_steps (50) evenly
 * spaced training steps t = (1..M) * (T // M) - 1, from which N are taken at evenly spaced indices (img2img:
 * the first floor(M * strength) of them only). Each step evaluates the consistency function
 *   denoised = c_out(t) x0-hat + c_skip(t) x_t,  c_skip = sd^2 / (s^2 + sd^2), c_out = s / sqrt(s^2 + sd^2),
 *   s = t * timestep_scaling, sd = 0.5 (boundary-condition scalings on the integer timestep),
 * then re-noises it to the next timestep with fresh noise; the last step returns `denoised` itself.
 * (LCM-distilled UNets also take a guidance embedding, `timestep_cond`: feed it with Load Conditioning.)
 *
 * Deliberate deviation (as DDIM's, schedule-vp.ts): with rescale_betas_zero_snr the last training level's
 * alphas_cumprod is floored at 2^-24 instead of 0, so the VE level stays finite.
 */
import type { Tensor } from '../core/tensor.ts';
import type { SchedulerConfig, Sigmas } from '../core/values.ts';
import { toModelTimestep, type TimestepUnits } from './model-time.ts';
import { linearCombination } from './ops.ts';
import { trainingTimestepLookup } from './table-timesteps.ts';
import { trainTimesteps } from './betas.ts';
import { cfgInt } from './schedule-config.ts';
import { vpTable } from './sigma-grids.ts';
import { checkSigmas, levelAt, type Solver, type SolverState } from './solver.ts';

const SIGMA_DATA = 0.5;

/** LCMScheduler.set_timesteps(N, strength): descending integer training timesteps. */
export function lcmTimesteps(cfg: SchedulerConfig, steps: number, strength = 1): number[] {
  const T = trainTimesteps(cfg);
  const original = cfgInt(cfg, 'original_inference_steps', 50);
  if (original < 1) throw new Error(`LCM: original_inference_steps must be at least 1, got ${original}`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`LCM: steps must be a positive integer, got ${steps}`);
  if (!(strength > 0 && strength <= 1)) throw new Error(`LCM: strength must be in (0, 1], got ${strength}`);
  if (original > T) throw new Error(`LCM: original_inference_steps ${original} cannot exceed num_train_timesteps ${T}`);
  if (steps > original) throw new Error(`LCM: ${steps} steps cannot exceed original_inference_steps (${original}): the schedule is a subset of that one`);
  const k = Math.floor(T / original);
  const count = Math.floor(original * strength);
  const origin = Array.from({ length: count }, (_, i) => (i + 1) * k - 1).reverse();
  if (Math.floor(origin.length / steps) < 1) {
    throw new Error(`LCM: original_inference_steps x strength (${original} x ${strength}) is smaller than ${steps} steps; use fewer steps or a higher strength`);
  }
  // np.floor(np.linspace(0, len, N, endpoint=False)): numpy computes i * (len / N).
  const step = origin.length / steps;
  return Array.from({ length: steps }, (_, i) => origin[Math.floor(i * step)]);
}

/**
 * The LCM grid: levels at the LCM timesteps, ending at 0 (the last step returns the denoised sample). TCD
 * (tcd.ts) walks the same timesteps and ends on the table's first level (timestep 0).
 */
export function lcmSigmas(cfg: SchedulerConfig, steps: number, units: TimestepUnits = 'scheduler', strength = 1, cls: 'LCMScheduler' | 'TCDScheduler' = 'LCMScheduler'): Sigmas {
  const table = vpTable(cfg, true);
  const T = table.trainSteps;
  const ts = lcmTimesteps(cfg, steps, strength);
  // The timesteps count num_train_timesteps, the table trained_betas when the config has them: diffusers
  // indexes alphas_cumprod past its end there (IndexError).
  const past = ts.find((t) => t >= T);
  if (past !== undefined) throw new Error(`${cls.replace('Scheduler', '')} grid: timestep ${past} is past the end of the training table (${T} level${T === 1 ? '' : 's'} from trained_betas, num_train_timesteps ${trainTimesteps(cfg)}): they must agree`);
  const sigmas = [...ts.map((t) => table.sigmas[t]), cls === 'TCDScheduler' ? table.sigmas[0] : 0];
  return {
    space: 'vp',
    sigmas,
    timesteps: ts.map((t) => toModelTimestep(t, T, units)),
    origin: cls,
    // init_noise_sigma = 1 in VP variables.
    initNoiseSigma: Math.sqrt(sigmas[0] ** 2 + 1),
  };
}

export interface LcmOptions {
  /** The model's training table: the VE level of each integer timestep (vpTable(cfg).sigmas). */
  tableSigmas: ArrayLike<number>;
  /** diffusers timestep_scaling (default 10). */
  timestepScaling?: number;
  /** diffusers original_inference_steps (default 50): the most steps a grid can have. */
  originalSteps?: number;
}

/** c_skip and c_out at integer timestep t. */
export function lcmScalings(t: number, timestepScaling: number): { skip: number; out: number } {
  const s = t * timestepScaling;
  return { skip: SIGMA_DATA ** 2 / (s * s + SIGMA_DATA ** 2), out: s / Math.sqrt(s * s + SIGMA_DATA ** 2) };
}

export function createLcm(opts: LcmOptions): Solver {
  const name = 'LCM';
  const table = opts.tableSigmas;
  const scaling = opts.timestepScaling ?? 10;
  if (!Number.isFinite(scaling)) throw new Error(`${name}: timestep_scaling must be a finite number, got ${scaling}`);
  const timestepOf = trainingTimestepLookup(table, name, 'LCM walks its own grid of training timesteps');
  return {
    name: 'lcm',
    nfePerStep: 1,
    stochastic: true,
    maxSteps: opts.originalSteps ?? 50,
    init(ctx, x) {
      checkSigmas(ctx.sigmas);
      if (ctx.sigmas.space !== 'vp') throw new Error(`${name} is defined for VP (diffusion) models only`);
      const n = ctx.sigmas.timesteps.length;
      for (let k = 0; k < n; k++) timestepOf(ctx.sigmas.sigmas[k]);
      if (n > 1 && !ctx.noise) throw new Error(`${name} needs a noise source (it re-noises after every step but the last)`);
      return { x };
    },
    async step(ctx, state, i, model): Promise<SolverState> {
      const { sigmas } = ctx;
      const s = sigmas.sigmas[i];
      const pred = await model(state.x, levelAt(sigmas, i));
      const c = lcmScalings(timestepOf(s), scaling);
      // denoised = c_out x0 + c_skip x_vp, with x_vp = x_ve / sqrt(s^2 + 1).
      const denoised: Tensor = linearCombination([
        [c.out, pred.denoised],
        [c.skip / Math.sqrt(s * s + 1), state.x],
      ]);
      // The last step (onto level 0) returns denoised; the others re-noise it to the next level:
      // VP sqrt(abar') d + sqrt(1 - abar') z is d + s' z in VE variables.
      const next = sigmas.sigmas[i + 1];
      if (next === 0) return { x: denoised, denoised };
      return {
        x: linearCombination([
          [1, denoised],
          [next, ctx.noise!(state.x.dims)],
        ]),
        denoised,
      };
    },
  };
}
