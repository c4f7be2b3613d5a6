/**
 * diffusers' SCMScheduler (Sana Sprint's continuous-time consistency sampler), on FlowStudio's flow grid.
 *
 * SCMScheduler works in TrigFlow time s in [0, pi/2]: x_s = sigma_data (cos s x0 + sin s z). SanaSprintPipeline
 * hands its transformer the flow sample x_s / (sigma_data (cos s + sin s)) at flow time
 * tau = sin s / (cos s + sin s), and turns the velocity v it returns into the TrigFlow output whose step
 * x0 = cos s x_s - sin s F is exactly the flow x0 = x - tau v. Its step then re-noises x0 to the next time:
 * cos s' x0 + sin s' z, which divided by sigma_data (cos s' + sin s') is (1 - tau') x0 + tau' z. So in flow
 * variables SCMScheduler is multistep consistency sampling (consistency.ts) on the levels tau(s_i), and
 * sigma_data cancels (it only rescales the state). The grid is all this file adds.
 */
import type { SchedulerConfig, Sigmas } from '../core/values.ts';
import type { TimestepUnits } from './model-time.ts';
import { cfgNumber, cfgString } from './schedule-config.ts';
import { checkCustomSigmas } from './schedule-vp.ts';
import { linspaceF32 } from './torch-linspace.ts';

const f32 = Math.fround;

/** SanaSprintPipeline's defaults for set_timesteps' max_timesteps and intermediate_timesteps. */
export const SCM_MAX_TIMESTEP = 1.5708;
export const SCM_INTERMEDIATE_TIMESTEP = 1.3;

export interface ScmGridOptions {
  /** TrigFlow time of the first level (default 1.5708, as the pipeline passes it). */
  maxTimestep?: number;
  /**
   * TrigFlow time of the middle level of a 2-step run (default 1.3; null: none, linspace as for other counts).
   * The pipeline passes 1.3 always, and diffusers refuses it for other step counts: FlowStudio uses it at 2
   * steps only and walks linspace(max, 0, N + 1) otherwise, what the pipeline does given intermediate None.
   */
  intermediateTimestep?: number | null;
  /** Flow levels tau (descending, ending where sampling ends), instead of the TrigFlow grid. */
  customSigmas?: readonly number[];
}

/** Flow time of TrigFlow time s, in float32 as the pipeline computes it: sin s / (cos s + sin s). */
export function trigToFlowTime(s: number): number {
  const t = f32(s);
  const sin = f32(Math.sin(t));
  const cos = f32(Math.cos(t));
  return f32(sin / f32(cos + sin));
}

/** set_timesteps' TrigFlow times: [max, intermediate, 0] for 2 steps, else linspace(max, 0, N + 1), float32. */
export function scmTrigTimesteps(steps: number, opts: ScmGridOptions = {}): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`SCMScheduler: steps must be a positive integer, got ${steps}`);
  const max = opts.maxTimestep ?? SCM_MAX_TIMESTEP;
  if (!(max > 0 && max <= 1.5708)) throw new Error(`SCMScheduler: max_timesteps must be in (0, 1.5708] (TrigFlow time, pi/2 is pure noise), got ${max}`);
  const mid = opts.intermediateTimestep === undefined ? SCM_INTERMEDIATE_TIMESTEP : opts.intermediateTimestep;
  if (steps === 2 && mid !== null) {
    if (!(mid > 0 && mid < max)) throw new Error(`SCMScheduler: intermediate_timesteps must lie between 0 and max_timesteps (${max}), got ${mid}`);
    return [f32(max), f32(mid), 0];
  }
  return linspaceF32(max, 0, steps + 1);
}

/**
 * The SCMScheduler grid in flow variables. Levels are tau(s_i); float32 1.5708 lies 3.7e-6 past pi/2, where
 * tau is 1.0000036, so a first level above 1 is walked as 1 (the run starts from the noise as drawn, where
 * diffusers scales it by 1/(cos s + sin s) = 1.0000036), while the model still gets diffusers' timestep
 * input. That one x0 differs from diffusers' by 3.6e-6 v, under float32 noise of the run.
 */
export function scmSigmas(cfg: SchedulerConfig, steps: number, units: TimestepUnits, opts: ScmGridOptions = {}): Sigmas {
  cfgString(cfg, 'prediction_type', ['trigflow'] as const, 'trigflow');
  const T = cfgNumber(cfg, 'num_train_timesteps', 1000);
  if (steps > T) throw new Error(`SCMScheduler: ${steps} steps is more than num_train_timesteps (${T})`);
  let taus: number[];
  if (opts.customSigmas) {
    taus = [...checkCustomSigmas(opts.customSigmas, 1)];
  } else {
    taus = scmTrigTimesteps(steps, opts).map(trigToFlowTime);
  }
  const timesteps = taus.slice(0, -1).map((tau) => (units === 'fraction' ? tau : f32(tau * T)));
  return {
    space: 'flow',
    sigmas: taus.map((tau) => Math.min(tau, 1)),
    timesteps,
    origin: 'SCMScheduler',
    initNoiseSigma: 1,
  };
}
