/**
 * Tiny random-free "twins" of real diffusers-ONNX model folders: the denoiser declares the real input and
 * output names, element types, ranks and symbolic dims of the exports, at small sizes, and computes
 *
 *   out[b, ...] = a * sample[b, ...] + sum_k w_k * mean_b(input_k)
 *
 * where mean_b is the mean of input k over its non-batch axes for sample b (inputs with a batch axis), or
 * over all of it (inputs without one: a rank-0 timestep, FLUX's img_ids / txt_ids). Every input therefore
 * moves the output by a known amount, so a test can tell from the output which values reached the model.
 *
 * Sources for the layouts (read, not copied):
 *  - optimum ONNX export configs (huggingface/optimum-onnx optimum/exporters/onnx/model_configs.py and
 *    huggingface/optimum optimum/utils/input_generators.py):
 *    UNetOnnxConfig: sample {0: batch_size, 2: height, 3: width}, timestep {} (rank 0: the dummy generator
 *    makes shape [] in float_dtype), encoder_hidden_states {0: batch_size, 1: sequence_length}; with
 *    addition_embed_type "text_time" (SDXL) also text_embeds [batch_size, projection dim] and time_ids
 *    [batch_size, 6] (float); output out_sample {0: batch_size, 2: height, 3: width}.
 *    SD3TransformerOnnxConfig: hidden_states {0: batch_size, 2: height, 3: width}, encoder_hidden_states
 *    {0: batch_size, 1: sequence_length}, pooled_projections {0: batch_size}, timestep {0: step} (float, 1-D);
 *    output out_hidden_states.
 *    FluxTransformerOnnxConfig: hidden_states {0: batch_size, 1: packed_height_width} ([B, L, 64]); for
 *    diffusers >= 0.31 txt_ids {0: sequence_length} and img_ids {0: packed_height_width} WITHOUT a batch axis
 *    ([S, 3], [L, 3]) and int64 (random_int_tensor with int_dtype); guidance {0: batch_size} float when
 *    guidance_embeds (FLUX.1-dev, not schnell); output out_hidden_states {0: batch_size, 1: packed_height_width}.
 *  - Olive's SanaTransformerOnnxConfig (microsoft/Olive olive/common/hf/io_config/model_configs.py):
 *    hidden_states {0: batch_size, 2: height, 3: width} (32 DC-AE channels), encoder_hidden_states
 *    {0: batch_size, 1: sequence_length}, encoder_attention_mask {0: batch_size, 1: sequence_length},
 *    timestep {0: batch_size}; output out_sample. Sana Sprint's transformer has guidance_embeds, which adds
 *    guidance {0: batch_size} (float), as FLUX.1-dev's config adds it.
 *  - diffusers scripts/convert_stable_diffusion_checkpoint_to_onnx.py (the legacy OnnxStableDiffusionPipeline
 *    layout): sample {0: batch, 1: channels, 2: height, 3: width}, timestep float [batch],
 *    encoder_hidden_states {0: batch, 1: sequence}; output out_sample.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { attr, GraphBuilder, type Dim, type ElementType } from '../../electron/engine/onnx/builder.ts';
import type { SchedulerConfig } from '../../nodes/core/values.ts';

export interface TwinInput {
  name: string;
  type: ElementType;
  dims: Dim[];
  /** Axis 0 is the batch (sample b sees row b); otherwise the input is shared by the whole batch. */
  batched: boolean;
  /** Weight w_k of mean_b(input) in the output (0: declared and required, but not read). */
  weight: number;
}

export interface TwinSpec {
  /** 'unet' or 'transformer': the folder the denoiser lives in. */
  denoiser: 'unet' | 'transformer';
  /** model_index.json as the real folder has it (at least _class_name and the denoiser entry). */
  modelIndex: Record<string, unknown>;
  /** scheduler/scheduler_config.json of the real model family. */
  scheduler: SchedulerConfig;
  /** The input the state is fed to ('sample' or 'hidden_states'). */
  sample: { name: string; dims: Dim[] };
  /** Everything else the network declares (timestep included). */
  inputs: TwinInput[];
  output: string;
  /** a: the weight of the sample itself. */
  a: number;
  /** The output doubles the channels, [prediction; variance], as PixArt's and DiT's learn_sigma transformers. */
  learnSigma?: boolean;
}

/** Scheduler configs as the hub folders ship them (the keys that matter to sampling). */
export const SCHEDULERS = {
  /** runwayml/stable-diffusion-v1-5 scheduler/scheduler_config.json */
  sd15: {
    _class_name: 'PNDMScheduler',
    _diffusers_version: '0.6.0',
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    num_train_timesteps: 1000,
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
    trained_betas: null,
    clip_sample: false,
  },
  /** stabilityai/sd-turbo scheduler/scheduler_config.json */
  sdTurbo: {
    _class_name: 'EulerDiscreteScheduler',
    _diffusers_version: '0.24.0.dev0',
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    clip_sample: false,
    interpolation_type: 'linear',
    num_train_timesteps: 1000,
    prediction_type: 'epsilon',
    sample_max_value: 1.0,
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
    timestep_spacing: 'trailing',
    trained_betas: null,
    use_karras_sigmas: false,
  },
  /** stabilityai/stable-diffusion-xl-base-1.0 scheduler/scheduler_config.json */
  sdxl: {
    _class_name: 'EulerDiscreteScheduler',
    _diffusers_version: '0.19.0.dev0',
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    clip_sample: false,
    interpolation_type: 'linear',
    num_train_timesteps: 1000,
    prediction_type: 'epsilon',
    sample_max_value: 1.0,
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
    timestep_spacing: 'leading',
    trained_betas: null,
    use_karras_sigmas: false,
  },
  /** stabilityai/stable-diffusion-3-medium-diffusers scheduler/scheduler_config.json */
  sd3: {
    _class_name: 'FlowMatchEulerDiscreteScheduler',
    _diffusers_version: '0.29.0.dev0',
    num_train_timesteps: 1000,
    shift: 3.0,
  },
  /** black-forest-labs/FLUX.1-dev scheduler/scheduler_config.json */
  fluxDev: {
    _class_name: 'FlowMatchEulerDiscreteScheduler',
    _diffusers_version: '0.30.0.dev0',
    base_image_seq_len: 256,
    base_shift: 0.5,
    max_image_seq_len: 4096,
    max_shift: 1.15,
    num_train_timesteps: 1000,
    shift: 3.0,
    use_dynamic_shifting: true,
  },
  /** black-forest-labs/FLUX.1-schnell scheduler/scheduler_config.json */
  fluxSchnell: {
    _class_name: 'FlowMatchEulerDiscreteScheduler',
    _diffusers_version: '0.30.0.dev0',
    base_image_seq_len: 256,
    base_shift: 0.5,
    max_image_seq_len: 4096,
    max_shift: 1.15,
    num_train_timesteps: 1000,
    shift: 1.0,
    use_dynamic_shifting: false,
  },
  /** Alpha-VLLM/Lumina-Image-2.0: FlowMatch Euler with a static shift of 6 (the keys that matter). */
  lumina2: {
    _class_name: 'FlowMatchEulerDiscreteScheduler',
    _diffusers_version: '0.33.0.dev0',
    base_image_seq_len: 256,
    base_shift: 0.5,
    max_image_seq_len: 4096,
    max_shift: 1.15,
    num_train_timesteps: 1000,
    shift: 6.0,
    use_dynamic_shifting: false,
  },
  /** THUDM/CogView4-6B: FlowMatch Euler with linear dynamic shifting between shifts 0.25 and 0.75. */
  cogview4: {
    _class_name: 'FlowMatchEulerDiscreteScheduler',
    _diffusers_version: '0.33.0.dev0',
    base_image_seq_len: 256,
    base_shift: 0.25,
    max_image_seq_len: 4096,
    max_shift: 0.75,
    num_train_timesteps: 1000,
    shift: 1.0,
    time_shift_type: 'linear',
    use_dynamic_shifting: true,
  },
  /** PixArt-alpha/PixArt-Sigma-XL-2-1024-MS: DPM-Solver++ on SD's linear betas (the keys that matter). */
  pixartSigma: {
    _class_name: 'DPMSolverMultistepScheduler',
    _diffusers_version: '0.22.0.dev0',
    beta_end: 0.02,
    beta_schedule: 'linear',
    beta_start: 0.0001,
    num_train_timesteps: 1000,
    prediction_type: 'epsilon',
    solver_order: 2,
  },
  /** Tongyi-MAI/Z-Image-Turbo scheduler/scheduler_config.json */
  zImageTurbo: {
    _class_name: 'FlowMatchEulerDiscreteScheduler',
    _diffusers_version: '0.36.0.dev0',
    num_train_timesteps: 1000,
    shift: 3.0,
    use_dynamic_shifting: false,
  },
  /** HunyuanImage 2.1: FlowMatch Euler with a static shift (the keys that matter; 5, as Tencent's own pipeline runs it). */
  hunyuanImage: {
    _class_name: 'FlowMatchEulerDiscreteScheduler',
    _diffusers_version: '0.36.0.dev0',
    num_train_timesteps: 1000,
    shift: 5.0,
    use_dynamic_shifting: false,
  },
  /** facebook/DiT-XL-2-256: diffusers' convert_dit_to_diffusers.py writes DDIMScheduler(linear betas, clip_sample=False), the rest its defaults. */
  dit: {
    _class_name: 'DDIMScheduler',
    _diffusers_version: '0.12.0.dev0',
    beta_end: 0.02,
    beta_schedule: 'linear',
    beta_start: 0.0001,
    clip_sample: false,
    num_train_timesteps: 1000,
    prediction_type: 'epsilon',
    set_alpha_to_one: true,
    steps_offset: 0,
    trained_betas: null,
  },
  /** Efficient-Large-Model/Sana_Sprint_1.6B_1024px_diffusers scheduler/scheduler_config.json */
  sanaSprint: {
    _class_name: 'SCMScheduler',
    _diffusers_version: '0.33.0.dev0',
    num_train_timesteps: 1000,
    prediction_type: 'trigflow',
    sigma_data: 0.5,
  },
} satisfies Record<string, SchedulerConfig>;

const ONNX_RUNTIME_MODEL = ['optimum', 'ORTModel'];

/**
 * SD 1.x unet as optimum exports it: sample [batch_size, 4, height, width], timestep float32 rank 0,
 * encoder_hidden_states [batch_size, sequence_length, D] (D = 768 for SD 1.x; `hidden` here).
 */
export function sd15Twin(hidden = 8): TwinSpec {
  return {
    denoiser: 'unet',
    modelIndex: { _class_name: 'StableDiffusionPipeline', _diffusers_version: '0.30.0', unet: ONNX_RUNTIME_MODEL, scheduler: ['diffusers', 'PNDMScheduler'] },
    scheduler: SCHEDULERS.sd15,
    sample: { name: 'sample', dims: ['batch_size', 4, 'height', 'width'] },
    inputs: [
      { name: 'timestep', type: 'float32', dims: [], batched: false, weight: 0.01 },
      { name: 'encoder_hidden_states', type: 'float32', dims: ['batch_size', 'sequence_length', hidden], batched: true, weight: 1 },
    ],
    output: 'out_sample',
    a: 0.25,
  };
}

/**
 * SD 1.x unet as diffusers' own convert script exports it (OnnxStableDiffusionPipeline): every sample dim
 * symbolic, timestep float32 [batch].
 */
export function sd15LegacyTwin(hidden = 8): TwinSpec {
  return {
    denoiser: 'unet',
    modelIndex: { _class_name: 'OnnxStableDiffusionPipeline', _diffusers_version: '0.6.0', unet: ['diffusers', 'OnnxRuntimeModel'], scheduler: ['diffusers', 'PNDMScheduler'] },
    scheduler: SCHEDULERS.sd15,
    sample: { name: 'sample', dims: ['batch', 'channels', 'height', 'width'] },
    inputs: [
      { name: 'timestep', type: 'float32', dims: ['batch'], batched: true, weight: 0.01 },
      { name: 'encoder_hidden_states', type: 'float32', dims: ['batch', 'sequence', hidden], batched: true, weight: 1 },
    ],
    output: 'out_sample',
    a: 0.25,
  };
}

/** SD-Turbo (SD 2.1 unet, D = 1024 there), optimum layout, EulerDiscrete trailing config. */
export function sdTurboTwin(hidden = 8): TwinSpec {
  return {
    ...sd15Twin(hidden),
    modelIndex: { _class_name: 'StableDiffusionPipeline', _diffusers_version: '0.24.0.dev0', unet: ONNX_RUNTIME_MODEL, scheduler: ['diffusers', 'EulerDiscreteScheduler'] },
    scheduler: SCHEDULERS.sdTurbo,
  };
}

/**
 * SDXL unet, optimum layout: sample [batch_size, 4, height, width], timestep float32 rank 0,
 * encoder_hidden_states [batch_size, sequence_length, D] (2048 there), text_embeds [batch_size, P] (1280),
 * time_ids [batch_size, 6].
 */
export function sdxlTwin(hidden = 8, pooled = 6): TwinSpec {
  return {
    denoiser: 'unet',
    modelIndex: { _class_name: 'StableDiffusionXLPipeline', _diffusers_version: '0.19.0.dev0', unet: ONNX_RUNTIME_MODEL, scheduler: ['diffusers', 'EulerDiscreteScheduler'] },
    scheduler: SCHEDULERS.sdxl,
    sample: { name: 'sample', dims: ['batch_size', 4, 'height', 'width'] },
    inputs: [
      { name: 'timestep', type: 'float32', dims: [], batched: false, weight: 0.01 },
      { name: 'encoder_hidden_states', type: 'float32', dims: ['batch_size', 'sequence_length', hidden], batched: true, weight: 1 },
      { name: 'text_embeds', type: 'float32', dims: ['batch_size', pooled], batched: true, weight: 0.5 },
      { name: 'time_ids', type: 'float32', dims: ['batch_size', 6], batched: true, weight: 0.001 },
    ],
    output: 'out_sample',
    a: 0.25,
  };
}

/** A transformer twin of a diffusers pipeline folder: model_index.json names the pipeline and its scheduler class. */
function transformerTwin(pipeline: string, version: string, scheduler: SchedulerConfig, sample: TwinSpec['sample'], inputs: TwinInput[], output = 'out_sample', more: Partial<TwinSpec> = {}): TwinSpec {
  return {
    denoiser: 'transformer',
    modelIndex: { _class_name: pipeline, _diffusers_version: version, transformer: ONNX_RUNTIME_MODEL, scheduler: ['diffusers', String(scheduler._class_name)] },
    scheduler,
    sample,
    inputs,
    output,
    a: 0.25,
    ...more,
  };
}

/** Prompt embeddings [batch_size, sequence_length, hidden], the input every text-conditioned twin reads with weight 1. */
const promptEmbeds = (hidden: number, name = 'encoder_hidden_states'): TwinInput => ({ name, type: 'float32', dims: ['batch_size', 'sequence_length', hidden], batched: true, weight: 1 });
/** An int64 attention mask [batch_size, sequence_length] (Sana, Lumina 2, PixArt). */
const attentionMask: TwinInput = { name: 'encoder_attention_mask', type: 'int64', dims: ['batch_size', 'sequence_length'], batched: true, weight: 0.05 };
/** A float32 [batch_size] input: the timestep (with its weight) or a distilled guidance value. */
const perSample = (name: string, weight: number): TwinInput => ({ name, type: 'float32', dims: ['batch_size'], batched: true, weight });

/**
 * SD3 transformer, optimum layout: hidden_states [batch_size, 16, height, width], encoder_hidden_states
 * [batch_size, sequence_length, D] (4096), pooled_projections [batch_size, P] (2048), timestep float32 [step].
 */
export function sd3Twin(hidden = 8, pooled = 6): TwinSpec {
  return transformerTwin('StableDiffusion3Pipeline', '0.29.0.dev0', SCHEDULERS.sd3, { name: 'hidden_states', dims: ['batch_size', 16, 'height', 'width'] }, [
    promptEmbeds(hidden),
    { name: 'pooled_projections', type: 'float32', dims: ['batch_size', pooled], batched: true, weight: 0.5 },
    { name: 'timestep', type: 'float32', dims: ['step'], batched: true, weight: 0.001 },
  ], 'out_hidden_states');
}

/**
 * FLUX transformer, optimum layout (diffusers >= 0.31): hidden_states [batch_size, packed_height_width, 64],
 * encoder_hidden_states [batch_size, sequence_length, D] (4096), pooled_projections [batch_size, P] (768),
 * timestep float32 [step], txt_ids int64 [sequence_length, 3], img_ids int64 [packed_height_width, 3], and
 * (dev only) guidance float32 [batch_size].
 */
export function fluxTwin(variant: 'dev' | 'schnell' = 'dev', hidden = 8, pooled = 6): TwinSpec {
  const inputs: TwinInput[] = [
    promptEmbeds(hidden),
    { name: 'pooled_projections', type: 'float32', dims: ['batch_size', pooled], batched: true, weight: 0.5 },
    { name: 'timestep', type: 'float32', dims: ['step'], batched: true, weight: 1 },
    { name: 'txt_ids', type: 'int64', dims: ['sequence_length', 3], batched: false, weight: 0.2 },
    { name: 'img_ids', type: 'int64', dims: ['packed_height_width', 3], batched: false, weight: 0.1 },
  ];
  if (variant === 'dev') inputs.push(perSample('guidance', 0.1));
  const scheduler = variant === 'dev' ? SCHEDULERS.fluxDev : SCHEDULERS.fluxSchnell;
  return transformerTwin('FluxPipeline', '0.30.0.dev0', scheduler, { name: 'hidden_states', dims: ['batch_size', 'packed_height_width', 64] }, inputs, 'out_hidden_states');
}

/**
 * Sana Sprint transformer (SanaSprintPipeline + SCMScheduler): hidden_states [batch_size, 32, height, width],
 * encoder_hidden_states [batch_size, sequence_length, D] (2304), encoder_attention_mask int64
 * [batch_size, sequence_length], timestep float32 [batch_size] (the flow time sin s / (cos s + sin s)) and
 * guidance float32 [batch_size] (guidance_scale x guidance_embeds_scale, 4.5 x 0.1 by default).
 */
export function sanaSprintTwin(hidden = 8): TwinSpec {
  return transformerTwin('SanaSprintPipeline', '0.33.0.dev0', SCHEDULERS.sanaSprint, { name: 'hidden_states', dims: ['batch_size', 32, 'height', 'width'] }, [
    promptEmbeds(hidden),
    attentionMask,
    perSample('timestep', 1),
    perSample('guidance', 0.1),
  ]);
}

/**
 * Lumina Image 2.0 transformer (Lumina2Pipeline): hidden_states [batch_size, 16, height, width], timestep float32
 * [batch_size] (the data fraction 1 - t/1000), encoder_hidden_states [batch_size, sequence_length, D] (2304,
 * Gemma 2), encoder_attention_mask int64 [batch_size, sequence_length], as Lumina2Transformer2DModel.forward
 * takes them. It predicts x0 - noise, which the pipeline negates.
 */
export function lumina2Twin(hidden = 8): TwinSpec {
  return transformerTwin('Lumina2Pipeline', '0.33.0.dev0', SCHEDULERS.lumina2, { name: 'hidden_states', dims: ['batch_size', 16, 'height', 'width'] }, [
    perSample('timestep', 1),
    promptEmbeds(hidden),
    attentionMask,
  ]);
}

/**
 * Z-Image transformer (ZImagePipeline): ZImageTransformer2DModel.forward(x, t, cap_feats) takes lists of
 * [C, 1, H, W] latents and [L, D] caption features; an export batches them: x [batch_size, 16, height, width],
 * t float32 [batch_size] ((1000 - t)/1000, the data fraction), cap_feats [batch_size, sequence_length, D]
 * (2560, Qwen3). It predicts x0 - noise, which the pipeline negates.
 */
export function zImageTwin(hidden = 8): TwinSpec {
  return transformerTwin('ZImagePipeline', '0.36.0.dev0', SCHEDULERS.zImageTurbo, { name: 'x', dims: ['batch_size', 16, 'height', 'width'] }, [perSample('t', 1), promptEmbeds(hidden, 'cap_feats')], 'out');
}

/**
 * CogView4 transformer (CogView4Pipeline): hidden_states [batch_size, 16, height, width], encoder_hidden_states
 * [batch_size, sequence_length, D] (4096, GLM-4), timestep float32 [batch_size] (sigma * 1000), original_size,
 * target_size and crop_coords float32 [batch_size, 2], as CogView4Transformer2DModel.forward takes them.
 */
export function cogView4Twin(hidden = 8): TwinSpec {
  const size = (name: string, weight: number): TwinInput => ({ name, type: 'float32', dims: ['batch_size', 2], batched: true, weight });
  return transformerTwin('CogView4Pipeline', '0.33.0.dev0', SCHEDULERS.cogview4, { name: 'hidden_states', dims: ['batch_size', 16, 'height', 'width'] }, [
    promptEmbeds(hidden),
    perSample('timestep', 0.001),
    size('original_size', 0.0001),
    size('target_size', 0.0002),
    size('crop_coords', 0.01),
  ]);
}

/**
 * PixArt-Sigma transformer (PixArtSigmaPipeline): hidden_states [batch_size, 4, height, width],
 * encoder_hidden_states [batch_size, sequence_length, D] (4096, T5), encoder_attention_mask int64
 * [batch_size, sequence_length], timestep float32 [batch_size]; it learns sigma: 8 output channels, of which
 * the pipeline keeps the first 4.
 */
export function pixartSigmaTwin(hidden = 8): TwinSpec {
  return transformerTwin(
    'PixArtSigmaPipeline',
    '0.28.0.dev0',
    SCHEDULERS.pixartSigma,
    { name: 'hidden_states', dims: ['batch_size', 4, 'height', 'width'] },
    [promptEmbeds(hidden), attentionMask, perSample('timestep', 0.001)],
    'out_sample',
    { learnSigma: true },
  );
}

/**
 * DiT transformer (DiTPipeline, class-conditional on ImageNet): hidden_states [batch_size, 4, height, width],
 * timestep int64 [batch_size] (the pipeline's int64 timesteps, expanded), class_labels int64 [batch_size] (its
 * null class 1000 on CFG's unconditional side); it learns sigma: 8 output channels, of which the pipeline keeps 4.
 */
export function ditTwin(): TwinSpec {
  return transformerTwin(
    'DiTPipeline',
    '0.12.0.dev0',
    SCHEDULERS.dit,
    { name: 'hidden_states', dims: ['batch_size', 4, 'height', 'width'] },
    [
      { name: 'timestep', type: 'int64', dims: ['batch_size'], batched: true, weight: 0.001 },
      { name: 'class_labels', type: 'int64', dims: ['batch_size'], batched: true, weight: 0.0005 },
    ],
    'out_sample',
    { learnSigma: true },
  );
}

/**
 * HunyuanImage 2.1 transformer (HunyuanImagePipeline): hidden_states [batch_size, 64, height, width], timestep
 * float32 [batch_size] (sigma * 1000), encoder_hidden_states [batch_size, sequence_length, D] (3584, Qwen2.5-VL)
 * with its int64 encoder_attention_mask, encoder_hidden_states_2 [batch_size, sequence_length, D2] (1472, ByT5)
 * with encoder_attention_mask_2, as HunyuanImageTransformer2DModel.forward takes them; the distilled model
 * (use_meanflow, guidance_embeds) also timestep_r float32 [batch_size] (the next timestep, 0 at the end) and
 * guidance float32 [batch_size] (distilled_guidance_scale * 1000).
 */
export function hunyuanImageTwin(variant: 'base' | 'distilled' = 'base', hidden = 8): TwinSpec {
  const inputs: TwinInput[] = [
    promptEmbeds(hidden),
    attentionMask,
    promptEmbeds(hidden - 2, 'encoder_hidden_states_2'),
    { ...attentionMask, name: 'encoder_attention_mask_2', weight: 0.03 },
    perSample('timestep', 0.001),
  ];
  if (variant === 'distilled') inputs.push(perSample('timestep_r', 0.002), perSample('guidance', 0.0001));
  return transformerTwin('HunyuanImagePipeline', '0.36.0.dev0', SCHEDULERS.hunyuanImage, { name: 'hidden_states', dims: ['batch_size', 64, 'height', 'width'] }, inputs);
}

/** The twin's network as .onnx bytes. */
export function twinOnnx(spec: TwinSpec): Uint8Array {
  const g = new GraphBuilder('twin');
  const outRank = spec.sample.dims.length;
  const sample = g.input(spec.sample.name, 'float32', spec.sample.dims);
  let acc = g.op('Mul', [sample, g.constFloat([spec.a], [])]);
  for (const input of spec.inputs) {
    let v = g.input(input.name, input.type, input.dims);
    if (input.type !== 'float32') v = g.op('Cast', [v], { to: attr.int(1) });
    const rank = input.dims.length;
    let term: string;
    if (input.batched) {
      // Per-sample mean over the non-batch axes, shaped [B, 1, ..., 1] to broadcast over the output.
      const mean = rank > 1 ? g.op('ReduceMean', [v], { axes: attr.ints(Array.from({ length: rank - 1 }, (_, k) => k + 1)), keepdims: attr.int(0) }) : v;
      term = g.op('Reshape', [mean, g.constInt64([-1, ...Array(outRank - 1).fill(1)])]);
    } else {
      term = rank === 0 ? v : g.op('ReduceMean', [v], { keepdims: attr.int(0) });
    }
    if (input.weight !== 0) acc = g.op('Add', [acc, g.op('Mul', [term, g.constFloat([input.weight], [])])]);
  }
  if (spec.learnSigma) {
    // [prediction; variance] along channels, the variance half 3x the prediction (any junk the pipeline drops).
    g.op('Concat', [acc, g.op('Mul', [acc, g.constFloat([3], [])])], { axis: attr.int(1) }, spec.output);
    const [b, c, ...rest] = spec.sample.dims;
    g.output(spec.output, 'float32', [b, typeof c === 'number' ? 2 * c : c, ...rest]);
    return g.toBytes();
  }
  g.op('Identity', [acc], {}, spec.output);
  g.output(spec.output, 'float32', spec.sample.dims);
  return g.toBytes();
}

/** Writes model_index.json, <unet|transformer>/model.onnx and scheduler/scheduler_config.json; returns the folder. */
export async function writeTwin(folder: string, spec: TwinSpec): Promise<string> {
  await fs.mkdir(path.join(folder, spec.denoiser), { recursive: true });
  await fs.mkdir(path.join(folder, 'scheduler'), { recursive: true });
  await fs.writeFile(path.join(folder, spec.denoiser, 'model.onnx'), twinOnnx(spec));
  await fs.writeFile(path.join(folder, 'model_index.json'), JSON.stringify(spec.modelIndex, null, 2));
  await fs.writeFile(path.join(folder, 'scheduler', 'scheduler_config.json'), JSON.stringify(spec.scheduler, null, 2));
  return folder;
}

/** A plain array with its dims (a test's view of one model input). */
export interface Arr {
  dims: number[];
  data: ArrayLike<number>;
}

/** mean_b(input) as the twin computes it: per sample b for batched inputs, else over the whole array. */
export function twinMean(input: TwinInput, value: Arr, b: number): number {
  if (!input.batched) {
    let s = 0;
    for (let i = 0; i < value.data.length; i++) s += value.data[i];
    return value.data.length === 0 ? 0 : s / value.data.length;
  }
  const per = value.data.length / value.dims[0];
  let s = 0;
  for (let i = 0; i < per; i++) s += value.data[b * per + i];
  return s / per;
}

/**
 * The twin's offset for sample b (the output minus a * sample) given every input but the sample, the
 * timestep as a number (broadcast as the pipeline broadcasts it).
 */
export function twinOffset(spec: TwinSpec, feeds: Record<string, Arr | number>, b: number): number {
  let r = 0;
  for (const input of spec.inputs) {
    const v = feeds[input.name];
    if (v === undefined) throw new Error(`twinOffset: no value for ${input.name}`);
    const m = typeof v === 'number' ? v : twinMean(input, v, b);
    r += input.weight * m;
  }
  return r;
}

/** The twin's full output (float64) for a sample [B, ...] and the other inputs. */
export function twinOutput(spec: TwinSpec, sample: Arr, feeds: Record<string, Arr | number>): Float64Array {
  const out = new Float64Array(sample.data.length);
  const B = sample.dims[0];
  const per = sample.data.length / B;
  for (let b = 0; b < B; b++) {
    const r = twinOffset(spec, feeds, b);
    for (let i = 0; i < per; i++) out[b * per + i] = spec.a * sample.data[b * per + i] + r;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Independent references of the diffusers pieces these twins exercise (written from diffusers' code:
// the scheduler tables and the step rules, in float64 except where diffusers' float32 matters).

const f32 = Math.fround;

/** alphas_cumprod of a scaled_linear config: float32 linspace of sqrt(beta), squared, cumprod in float32. */
export function scaledLinearAlphasCumprod(betaStart = 0.00085, betaEnd = 0.012, T = 1000): Float64Array {
  const a = Math.sqrt(betaStart);
  const b = Math.sqrt(betaEnd);
  const out = new Float64Array(T);
  let prod = 1;
  for (let i = 0; i < T; i++) {
    const root = f32(a + ((b - a) * i) / (T - 1));
    const beta = f32(root * root);
    prod = f32(prod * f32(1 - beta));
    out[i] = prod;
  }
  return out;
}

/** diffusers EulerDiscreteScheduler sigma at an integer training timestep. */
export function vpSigma(abar: Float64Array, t: number): number {
  if (!Number.isInteger(t)) throw new Error('vpSigma: integer timesteps only in these references');
  return Math.sqrt((1 - abar[t]) / abar[t]);
}

/** FlowMatchEulerDiscreteScheduler with a static shift (SD3): the sigmas set_timesteps builds (0 appended). */
export function flowMatchStaticSigmas(steps: number, shift: number, T = 1000): number[] {
  const sh = (s: number) => (shift * s) / (1 + (shift - 1) * s);
  // __init__: the training sigmas (T..1)/T shifted; sigma_max = 1, sigma_min = shift(1/T).
  const sigmaMin = f32(sh(f32(1 / T)));
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = steps === 1 ? T : T + ((sigmaMin * T - T) * i) / (steps - 1);
    out.push(f32(sh(t / T)));
  }
  return [...out, 0];
}

/** FluxPipeline + FlowMatchEulerDiscreteScheduler(use_dynamic_shifting): linspace(1, 1/N, N) time-shifted by mu. */
export function fluxSigmas(steps: number, imageSeqLen: number, cfg: { base_image_seq_len: number; max_image_seq_len: number; base_shift: number; max_shift: number }): { mu: number; sigmas: number[] } {
  const m = (cfg.max_shift - cfg.base_shift) / (cfg.max_image_seq_len - cfg.base_image_seq_len);
  const mu = imageSeqLen * m + (cfg.base_shift - m * cfg.base_image_seq_len);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const s = f32(steps === 1 ? 1 : 1 + ((1 / steps - 1) * i) / (steps - 1));
    out.push(f32(Math.exp(mu) / (Math.exp(mu) + (1 / s - 1))));
  }
  return { mu, sigmas: [...out, 0] };
}

/** Flow timesteps as the pipelines give them to the transformer: t = sigma*T (SD3), t/T (FLUX), in float32. */
export function flowModelTimestep(sigma: number, units: 'scheduler' | 'fraction', T = 1000): number {
  const t = f32(f32(sigma) * T);
  return units === 'fraction' ? f32(t / T) : t;
}
