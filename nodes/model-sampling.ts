/**
 * Model Sampling: overrides how a model is sampled, for every node downstream (Schedule, Sampler, CFG,
 * SolverCompare all read the MODEL's scheduler config): what the network predicts, the training betas
 * (schedule, start, end, zero terminal SNR), timestep spacing and offset, x0 clipping and thresholding, a static flow shift. For exports whose
 * scheduler_config.json is wrong or silent (a v-prediction model shipped with an epsilon config, a
 * zero-SNR finetune on stock betas), as ComfyUI's ModelSampling* nodes do. 'config' keeps the file's value.
 */
import { FLOW_SHIFT_PARAM } from './core/flow-shift-param.ts';
import { defineNode, NodeInputError } from './core/types.ts';
import type { ModelHandle, SchedulerConfig } from './core/values.ts';
import { BETA_SCHEDULES } from './sampling/betas.ts';
import { PREDICTION_TYPES, predictionType, type PredictionType } from './sampling/denoiser.ts';
import { sigmaSpace } from './sampling/model-time.ts';

const SWITCH = ['config', 'on', 'off'] as const;

export const ModelSampling = defineNode({
  type: 'ModelSampling',
  version: 1,
  title: 'Model Sampling',
  category: 'model',
  description:
    "Overrides the model's sampling settings for everything downstream: prediction type, training betas (schedule, start, end, zero terminal SNR), timestep spacing and offset, x0 clipping and thresholding, flow shift (static or dynamic). For models whose scheduler_config.json is wrong or incomplete.",
  inputs: { model: { type: 'MODEL' } },
  outputs: { model: { type: 'MODEL', help: 'The same network with the overridden settings' } },
  params: {
    prediction_type: {
      kind: 'enum',
      options: ['config', ...PREDICTION_TYPES],
      default: 'config',
      label: 'Prediction',
      help: 'What the network outputs: epsilon (noise), v_prediction, sample (x0), flow (velocity, flow models only)',
    },
    zero_snr: {
      kind: 'enum',
      options: SWITCH,
      default: 'config',
      label: 'Zero terminal SNR',
      help: 'rescale_betas_zero_snr: rescale the betas so the last training step is pure noise (zero-SNR finetunes; VP models)',
    },
    timestep_spacing: {
      kind: 'enum',
      options: ['config', 'linspace', 'leading', 'trailing'],
      default: 'config',
      label: 'Timestep spacing',
      help: 'How the steps pick training timesteps (trailing suits zero-SNR models; VP models)',
    },
    beta_schedule: {
      kind: 'enum',
      options: ['config', ...BETA_SCHEDULES],
      default: 'config',
      label: 'Beta schedule',
      help: "How the training betas run from beta_start to beta_end (SD 1.x/SDXL: scaled_linear; DDPM: linear; cosine models: squaredcos_cap_v2); replaces a config's trained_betas list; VP models",
    },
    beta_start: {
      kind: 'float',
      default: 0,
      min: 0,
      max: 0.5,
      step: 0.00005,
      label: 'Beta start',
      help: "The first training step's beta (SD 1.x: 0.00085); 0 = the config's; VP models",
    },
    beta_end: {
      kind: 'float',
      default: 0,
      min: 0,
      max: 0.999,
      step: 0.0005,
      label: 'Beta end',
      help: "The last training step's beta (SD 1.x: 0.012); 0 = the config's; VP models",
    },
    steps_offset: {
      kind: 'int',
      default: -1,
      min: -1,
      max: 100,
      label: 'Steps offset',
      help: 'Added to leading timesteps (Stable Diffusion 1.x uses 1); -1 = the config\'s',
    },
    clip_sample: { kind: 'enum', options: SWITCH, default: 'config', label: 'Clip x0', help: 'clip_sample: clamp each x0 prediction to [-1, 1] (solvers whose diffusers class does)' },
    thresholding: {
      kind: 'enum',
      options: SWITCH,
      default: 'config',
      label: 'Dynamic thresholding',
      help: 'Imagen dynamic thresholding of x0 (pixel-space models; solvers whose diffusers class supports it)',
    },
    shift: FLOW_SHIFT_PARAM,
    dynamic_shift: {
      kind: 'enum',
      options: SWITCH,
      default: 'config',
      label: 'Dynamic shift (flow)',
      help: "use_dynamic_shifting: shift the flow times by mu from the image token count (FLUX), with the config's base_shift / max_shift and sequence bounds (diffusers' defaults where absent); off keeps the static shift; flow models",
    },
  },
  async execute(_ctx, inputs, params) {
    const { model } = inputs;
    const space = sigmaSpace(model.modelIndex, model.scheduler);
    const scheduler: SchedulerConfig = { ...model.scheduler };
    const set = (key: string, value: unknown, vpOnly: boolean) => {
      if (vpOnly && space !== 'vp') throw new NodeInputError(`${key} applies to VP (diffusion) models; this is a flow model: leave it at config`);
      scheduler[key] = value;
    };
    if (params.zero_snr !== 'config') set('rescale_betas_zero_snr', params.zero_snr === 'on', true);
    if (params.timestep_spacing !== 'config') set('timestep_spacing', params.timestep_spacing, true);
    if (params.steps_offset >= 0) set('steps_offset', params.steps_offset, true);
    if (params.beta_schedule !== 'config') {
      set('beta_schedule', params.beta_schedule, true);
      // diffusers takes trained_betas over beta_schedule: an explicit schedule drops the list.
      scheduler.trained_betas = null;
    }
    if (params.beta_start > 0) set('beta_start', params.beta_start, true);
    if (params.beta_end > 0) set('beta_end', params.beta_end, true);
    if (params.clip_sample !== 'config') set('clip_sample', params.clip_sample === 'on', false);
    if (params.thresholding !== 'config') set('thresholding', params.thresholding === 'on', false);
    if (params.shift > 0) {
      if (space !== 'flow') throw new NodeInputError('shift applies to flow models; this is a VP (diffusion) model: set shift to 0');
      if (params.dynamic_shift === 'on') throw new NodeInputError('a static shift and dynamic shifting exclude each other: set shift to 0 or dynamic shift to config / off');
      scheduler.shift = params.shift;
      scheduler.use_dynamic_shifting = false;
    }
    if (params.dynamic_shift !== 'config') {
      if (space !== 'flow') throw new NodeInputError('dynamic shift applies to flow models; this is a VP (diffusion) model: leave it at config');
      scheduler.use_dynamic_shifting = params.dynamic_shift === 'on';
    }
    const b0 = Number(scheduler.beta_start ?? 0.0001);
    const b1 = Number(scheduler.beta_end ?? 0.02);
    if ((params.beta_start > 0 || params.beta_end > 0) && !(b0 < b1)) throw new NodeInputError(`beta start (${b0}) must be below beta end (${b1})`);
    const declared = params.prediction_type === 'config' ? undefined : (params.prediction_type as PredictionType);
    // VP schedulers read prediction_type from the config (PNDM, DDPM, LCM among them); flow configs may
    // carry diffusers' own spelling, which the handle's field overrides.
    if (declared && space === 'vp') scheduler.prediction_type = declared;
    const out: ModelHandle = { ...model, scheduler, key: `${model.key}|sampling:${JSON.stringify(params)}` };
    if (declared) out.predictionType = declared;
    try {
      predictionType(out, space);
    } catch (e) {
      throw new NodeInputError((e as Error).message);
    }
    return { model: out };
  },
});

export default ModelSampling;
