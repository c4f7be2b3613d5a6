/**
 * EDM-parameterized models (Karras et al. 2022), as diffusers' EDMEulerScheduler and
 * EDMDPMSolverMultistepScheduler run them (Playground v2.5, CosXL and other EDM-trained UNets). The sample is
 * in VE variables x = x0 + sigma n (the sampling variables of every VP solver here, so the solvers run as
 * they are), and the network is preconditioned around it:
 *   input  c_in(s) x,  c_in = 1 / sqrt(s^2 + sd^2);   timestep  c_noise(s) = 0.25 ln s;
 *   output D = c_skip x + c_out F,  c_skip = sd^2 / (s^2 + sd^2),  c_out = +-s sd / sqrt(s^2 + sd^2)
 *   (+ for prediction_type epsilon, - for v_prediction), sd = sigma_data.
 * Grids come from the config's sigma_min / sigma_max / rho, not from a training table: Karras (default) or
 * exponential, then 0 (final_sigmas_type zero) or sigma_min. The model's own variables are VE too, so a
 * Sampler's latents in and out are VE samples (x0 at sigma 0).
 */
import { Tensor } from '../core/tensor.ts';
import type { SchedulerConfig, SigmaSpace, Sigmas } from '../core/values.ts';
import { CM_CLASS } from './cm.ts';
import { modelInputScale } from './solver.ts';
import { cfgNumber } from './schedule-config.ts';
import { linspaceF32 } from './torch-linspace.ts';

export const EDM_CLASSES = ['EDMEulerScheduler', 'EDMDPMSolverMultistepScheduler'] as const;
export type EdmClass = (typeof EDM_CLASSES)[number];

const f32 = Math.fround;

export interface EdmParams {
  sigmaData: number;
  sigmaMin: number;
  sigmaMax: number;
  rho: number;
  schedule: 'karras' | 'exponential';
  finalSigmas: 'zero' | 'sigma_min';
  /** epsilon: D = c_skip x + c_out F; v_prediction: c_out negated. */
  prediction: 'epsilon' | 'v_prediction';
}

/** The EDM parameterization of a model whose scheduler config is an EDM class; undefined for any other. */
export function edmParams(cfg: SchedulerConfig): EdmParams | undefined {
  const cls = cfg._class_name;
  if (!(EDM_CLASSES as readonly unknown[]).includes(cls)) return undefined;
  const schedule = cfg.sigma_schedule ?? 'karras';
  if (schedule !== 'karras' && schedule !== 'exponential') throw new Error(`${cls}: sigma_schedule must be karras or exponential, got ${JSON.stringify(schedule)}`);
  const finalSigmas = cfg.final_sigmas_type ?? 'zero';
  if (finalSigmas !== 'zero' && finalSigmas !== 'sigma_min') throw new Error(`${cls}: final_sigmas_type must be zero or sigma_min, got ${JSON.stringify(finalSigmas)}`);
  const prediction = cfg.prediction_type ?? 'epsilon';
  if (prediction !== 'epsilon' && prediction !== 'v_prediction') {
    throw new Error(`${cls}: prediction_type ${JSON.stringify(prediction)} is not supported (EDM preconditioning takes epsilon or v_prediction)`);
  }
  const p: EdmParams = {
    sigmaData: cfgNumber(cfg, 'sigma_data', 0.5),
    sigmaMin: cfgNumber(cfg, 'sigma_min', 0.002),
    sigmaMax: cfgNumber(cfg, 'sigma_max', 80),
    rho: cfgNumber(cfg, 'rho', 7),
    schedule,
    finalSigmas,
    prediction,
  };
  if (!(p.sigmaData > 0 && p.sigmaMin > 0 && p.sigmaMax > p.sigmaMin && p.rho > 0)) {
    throw new Error(`${cls}: need sigma_data > 0 and 0 < sigma_min < sigma_max, rho > 0 (got ${JSON.stringify(p)})`);
  }
  return p;
}

/**
 * The scale from sampling variables to a model's own variables at level s (latents in and out of a
 * Sampler): the VP sample x_ve / sqrt(s^2 + 1) for VP models, the VE sample itself for EDM and consistency models, the
 * state itself for flow models.
 */
export function modelVariablesScale(scheduler: SchedulerConfig, space: SigmaSpace, s: number): number {
  return space === 'vp' && (edmParams(scheduler) || scheduler._class_name === CM_CLASS) ? 1 : modelInputScale(space, s);
}

/** c_in: the network's input scale at level s. */
export function edmInputScale(p: EdmParams, s: number): number {
  return 1 / Math.sqrt(s * s + p.sigmaData * p.sigmaData);
}

/** c_noise: the network's timestep at level s, in float32 as torch computes it. */
export function edmTimestep(s: number): number {
  return f32(0.25 * f32(Math.log(f32(s))));
}

/** The x0 prediction from the network output F at level s for the VE sample x. */
export function edmDenoised(p: EdmParams, out: Tensor, x: Tensor, s: number): Tensor {
  const sd2 = p.sigmaData * p.sigmaData;
  const skip = sd2 / (s * s + sd2);
  const c = (s * p.sigmaData) / Math.sqrt(s * s + sd2);
  const cOut = p.prediction === 'epsilon' ? c : -c;
  const d = new Tensor(x.dims);
  for (let k = 0; k < d.size; k++) d.data[k] = skip * x.data[k] + cOut * out.data[k];
  return d;
}

/**
 * The levels of an EDM grid for N steps: EDMEulerScheduler's (ramp in float64, its last computed level as
 * sigma_min) or EDMDPMSolverMultistepScheduler's (ramp in float32, the config's sigma_min), each level
 * rounded to float32 as their sigmas tensors hold them.
 */
function edmLevels(p: EdmParams, steps: number, cls: EdmClass): number[] {
  const ramp = cls === 'EDMEulerScheduler' ? Array.from({ length: steps }, (_, i) => (steps === 1 ? 0 : i / (steps - 1))) : linspaceF32(0, 1, steps);
  if (p.schedule === 'karras') {
    const minInv = p.sigmaMin ** (1 / p.rho);
    const maxInv = p.sigmaMax ** (1 / p.rho);
    if (cls === 'EDMEulerScheduler') return ramp.map((r) => f32((maxInv + r * (minInv - maxInv)) ** p.rho));
    // float32 tensor arithmetic; each Python-float scalar (the difference taken in Python) rounded to float32.
    const span = f32(minInv - maxInv);
    return ramp.map((r) => f32(f32(f32(maxInv) + f32(r * span)) ** p.rho));
  }
  // exponential: torch.linspace(log sigma_min, log sigma_max, N) (float32) .exp().flip(0).
  const logs = linspaceF32(Math.log(p.sigmaMin), Math.log(p.sigmaMax), steps);
  return logs.map((l) => f32(Math.exp(l))).reverse();
}

/** Schedule node overrides an EDM grid takes: its level grid, its final level, or custom levels. */
export interface EdmOverrides {
  grid?: string;
  finalSigmasType?: 'zero' | 'sigma_min';
  customSigmas?: readonly number[];
}

/**
 * An EDM model's sampling grid for a solver family (multistep solvers follow EDMDPMSolverMultistepScheduler,
 * the others EDMEulerScheduler). Overrides: grid karras / exponential / custom and the final level; the
 * spacing and table-based grids have no meaning here.
 */
export function edmSigmas(cfg: SchedulerConfig, steps: number, cls: EdmClass, ov: EdmOverrides = {}): Sigmas {
  const p = { ...edmParams({ ...cfg, _class_name: cls })! };
  if (ov.grid !== undefined && ov.grid !== 'karras' && ov.grid !== 'exponential' && ov.grid !== 'custom') {
    throw new Error(`EDM models take a karras, exponential or custom grid (their levels come from sigma_min / sigma_max, not a training table); got "${ov.grid}"`);
  }
  if (ov.grid === 'karras' || ov.grid === 'exponential') p.schedule = ov.grid;
  if (ov.finalSigmasType) p.finalSigmas = ov.finalSigmasType;
  const init = Math.sqrt(p.sigmaMax * p.sigmaMax + 1);
  if (ov.grid === 'custom') {
    const custom = ov.customSigmas ?? [];
    if (custom.length < 2) throw new Error('custom sigmas: give at least two levels (the last is where sampling ends, e.g. 0)');
    const levels = custom.slice(0, -1);
    return { space: 'vp', sigmas: [...custom], timesteps: levels.map(edmTimestep), origin: cls, initNoiseSigma: Math.sqrt(levels[0] ** 2 + 1) };
  }
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${steps}`);
  const levels = edmLevels(p, steps, cls);
  const last = p.finalSigmas === 'zero' ? 0 : cls === 'EDMEulerScheduler' ? levels[levels.length - 1] : f32(p.sigmaMin);
  return {
    space: 'vp',
    sigmas: [...levels, last],
    timesteps: levels.map(edmTimestep),
    origin: cls,
    initNoiseSigma: init,
  };
}
