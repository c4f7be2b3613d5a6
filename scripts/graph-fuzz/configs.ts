/**
 * Model folders with random scheduler configs, for the graph fuzz's `--configs` mode: a copy of an embedded
 * analytic model whose `scheduler/scheduler_config.json` is drawn from the keys diffusers' schedulers read
 * (now and then with another pipeline class or flowstudio convention in `model_index.json`), with values
 * both plausible and broken (zero, negative, huge, of the wrong kind, conflicting switches). A run over
 * such a folder may fail, but it must say which setting is wrong and never finish with a non-finite tensor
 * (check.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NodeTypeDescription } from '../../electron/engine/graph/describe.ts';
import { ensureEmbeddedModel } from '../../electron/engine/models/embedded.ts';
import { randomGraph, type Doc, type Rng } from './generate.ts';

const BASES = ['gaussian-vp', 'gaussian-vp-continuous', 'gaussian-rf'] as const;

const VP_CLASSES = [
  'DDIMScheduler',
  'DDIMInverseScheduler',
  'DDPMScheduler',
  'PNDMScheduler',
  'EulerDiscreteScheduler',
  'EulerAncestralDiscreteScheduler',
  'HeunDiscreteScheduler',
  'LMSDiscreteScheduler',
  'KDPM2DiscreteScheduler',
  'KDPM2AncestralDiscreteScheduler',
  'DPMSolverMultistepScheduler',
  'DPMSolverMultistepInverseScheduler',
  'DPMSolverSinglestepScheduler',
  'DPMSolverSDEScheduler',
  'UniPCMultistepScheduler',
  'DEISMultistepScheduler',
  'SASolverScheduler',
  'LCMScheduler',
  'TCDScheduler',
  'EDMEulerScheduler',
  'EDMDPMSolverMultistepScheduler',
  'CMStochasticIterativeScheduler',
  'IRSDEScheduler',
];
const FLOW_CLASSES = ['FlowMatchEulerDiscreteScheduler', 'FlowMatchHeunDiscreteScheduler', 'FlowMatchLCMScheduler', 'SCMScheduler', 'UniPCMultistepScheduler', 'DPMSolverMultistepScheduler'];
const PIPELINES = [
  'StableDiffusionPipeline',
  'StableDiffusionXLPipeline',
  'StableDiffusion3Pipeline',
  'FluxPipeline',
  'Flux2Pipeline',
  'SanaPipeline',
  'SanaSprintPipeline',
  'Lumina2Pipeline',
  'ZImagePipeline',
  'HiDreamImagePipeline',
  'CogView4Pipeline',
  'HunyuanImagePipeline',
  'QwenImagePipeline',
  'DiTPipeline',
  'NotAPipeline',
  42,
];
/** model_index.json's flowstudio keys (model-time.ts): the network's time units and sign conventions. */
const FLOWSTUDIO_KEYS: Record<string, readonly unknown[]> = {
  timestep_units: ['fraction', 'scheduler', 'banana', 1000],
  reversed_time: [true, false, 'yes'],
  negated_output: [true, false, 0],
};

/** Candidate values per config key: the usual ones first, then edges and junk. */
const VALUES: Record<string, readonly unknown[]> = {
  num_train_timesteps: [1000, 1000, 1, 2, 10, 50, 0, -5, 1.5, 1e7, '1000'],
  beta_start: [0.00085, 0.0001, 0, -0.1, 0.5, 0.999, 1, 2, 'x'],
  beta_end: [0.012, 0.02, 0.5, 0.999, 1, 1.5, 0, 1e-9],
  beta_schedule: ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'exp', 'sigmoid', 'banana', 5],
  trained_betas: [null, [0.1, 0.2], [0.5], [], [0, 0, 0], [1, 1], [-0.1, 0.5], Array.from({ length: 1000 }, (_, i) => 0.0001 + (i * 0.02) / 1000), 'x'],
  prediction_type: ['epsilon', 'v_prediction', 'sample', 'flow_prediction', 'banana', null],
  timestep_spacing: ['linspace', 'leading', 'trailing', 'banana', 3],
  steps_offset: [0, 1, 5, 999, -1, 2000, 0.5],
  clip_sample: [true, false, 'yes'],
  clip_sample_range: [1, 0, -1, 1e-9, 1e9],
  thresholding: [true, false],
  dynamic_thresholding_ratio: [0.995, 0, 1, 1.5, -1],
  sample_max_value: [1, 0, -1, 1e9],
  set_alpha_to_one: [true, false],
  set_alpha_to_zero: [true, false],
  rescale_betas_zero_snr: [true, false, true],
  use_karras_sigmas: [true, false],
  use_exponential_sigmas: [true, false],
  use_beta_sigmas: [true, false],
  use_lu_lambdas: [true, false],
  sigma_min: [0.002, 0.0292, 0, -1, 100, null, 1e-30],
  sigma_max: [80, 14.6, 0, -1, 1e-3, 1e30, null],
  sigma_data: [0.5, 0, -1, 1e9],
  rho: [7, 1, 0, -7, 1e3],
  final_sigmas_type: ['zero', 'sigma_min', 'banana'],
  solver_order: [1, 2, 3, 4, 0, -1, 2.5],
  algorithm_type: ['dpmsolver++', 'dpmsolver', 'sde-dpmsolver++', 'sde-dpmsolver', 'data_prediction', 'noise_prediction', 'banana'],
  solver_type: ['midpoint', 'heun', 'logrho', 'bh1', 'bh2', 'banana'],
  predict_x0: [true, false],
  lower_order_final: [true, false],
  euler_at_final: [true, false],
  disable_corrector: [[], [0], [0, 1, 2], [99], [-1], 'x'],
  lambda_min_clipped: [-5.1, 0, 10, -1e9],
  variance_type: ['fixed_small', 'fixed_small_log', 'fixed_large', 'learned', 'learned_range', null, 'banana'],
  timestep_type: ['discrete', 'continuous', 'banana'],
  interpolation_type: ['linear', 'log_linear', 'banana'],
  shift: [1, 3, 0, -1, 1e6, 1e-9],
  use_dynamic_shifting: [true, false],
  base_shift: [0.5, 0, -1, 10],
  max_shift: [1.15, 0.5, 0, 10],
  base_image_seq_len: [256, 0, 1024, -1],
  max_image_seq_len: [4096, 256, 0],
  time_shift_type: ['exponential', 'linear', 'banana'],
  shift_terminal: [null, 0.02, 0, 1, 2, -1],
  invert_sigmas: [true, false],
  use_flow_sigmas: [true, false],
  flow_shift: [1, 3, 0, -2],
  stochastic_sampling: [true, false],
  original_inference_steps: [50, 1, 0, 2000],
  timestep_scaling: [10, 0, -1],
  tau: [0, 0.5, 1, -1],
  predictor_order: [1, 2, 3, 4, 0],
  corrector_order: [1, 2, 3, 4, 0],
  eta: [0, 0.5, 1, -1],
  noise_sampler_seed: [null, 0, 7, -1],
};

export interface ConfigCase {
  base: (typeof BASES)[number];
  scheduler: Record<string, unknown>;
  /** The config replaces the model's own instead of being merged over it. */
  replace: boolean;
  /** Set when model_index.json's `_class_name` was replaced. */
  pipeline?: unknown;
  /** Keys set in model_index.json's flowstudio section. */
  flowstudio?: Record<string, unknown>;
}

/** A random scheduler config (and sometimes pipeline class) over one of the analytic models. */
export function randomConfigCase(rng: Rng, maxKeys = 6): ConfigCase {
  const base = rng.pick(BASES);
  const scheduler: Record<string, unknown> = {};
  // Usually a class of the model's own kind; now and then any class, an unknown one or none.
  const flow = base === 'gaussian-rf';
  const u = rng.next();
  if (u < 0.75) scheduler._class_name = rng.pick(flow ? FLOW_CLASSES : VP_CLASSES);
  else if (u < 0.92) scheduler._class_name = rng.pick([...VP_CLASSES, ...FLOW_CLASSES]);
  else if (u < 0.97) scheduler._class_name = rng.pick(['FooScheduler', '', 7]);
  const keys = Object.keys(VALUES);
  const count = 1 + Math.floor(rng.next() * maxKeys);
  for (let k = 0; k < count; k++) {
    const key = rng.pick(keys);
    const values = VALUES[key];
    // The usual values (the first few) half the time: broken configs fail at the first bad key, so
    // runs that get past it need mostly sane ones.
    scheduler[key] = rng.chance(0.5) ? values[Math.floor(rng.next() * Math.min(3, values.length))] : rng.pick(values);
  }
  const flowstudio: Record<string, unknown> = {};
  if (rng.chance(0.1)) {
    const key = rng.pick(Object.keys(FLOWSTUDIO_KEYS));
    flowstudio[key] = rng.pick(FLOWSTUDIO_KEYS[key]);
  }
  return {
    base,
    scheduler,
    replace: rng.chance(0.2),
    ...(rng.chance(0.1) ? { pipeline: rng.pick(PIPELINES) } : {}),
    ...(Object.keys(flowstudio).length ? { flowstudio } : {}),
  };
}

/**
 * Writes the case as a model folder at `folder`: the embedded model's files (from `cacheDir`, default the
 * app's) with the config merged over its own, or replacing it.
 */
export async function writeConfigCase(folder: string, c: ConfigCase, cacheDir?: string): Promise<void> {
  const source = await ensureEmbeddedModel(c.base, cacheDir);
  fs.cpSync(source, folder, { recursive: true });
  const configFile = path.join(folder, 'scheduler', 'scheduler_config.json');
  const own = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(configFile, JSON.stringify(c.replace ? c.scheduler : { ...own, ...c.scheduler }, null, 1));
  if (c.pipeline !== undefined || c.flowstudio) {
    const indexFile = path.join(folder, 'model_index.json');
    const index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as Record<string, unknown> & { flowstudio: Record<string, unknown> };
    if (c.pipeline !== undefined) index._class_name = c.pipeline;
    index.flowstudio = { ...index.flowstudio, ...c.flowstudio };
    fs.writeFileSync(indexFile, JSON.stringify(index, null, 1));
  }
}

/** A random graph (generate.ts) sampling the folder instead of an embedded model. */
export function configGraph(rng: Rng, types: readonly NodeTypeDescription[], folder: string): Doc {
  return randomGraph(rng, types, { model: folder, paramChance: 0.2 });
}
