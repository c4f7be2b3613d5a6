/**
 * CFG: classifier-free guidance settings for a Sampler (GUIDANCE port), and how a Sampler applies them to
 * its model: the guided DenoiseFn (nodes/sampling/guidance.ts does the math).
 */
import { Tensor } from './core/tensor.ts';
import { defineNode } from './core/types.ts';
import type { Conditioning, Guidance, ModelHandle, SigmaSpace } from './core/values.ts';
import { APG_CONVENTIONS, batchedCfgDenoiseFn, CFG_NORMALIZATIONS, checkApgSettings, cfgDenoiseFn, concatBatch, conditionalOnly, type ApgConvention, type ApgSettings, type CfgNormalization, type CfgSettings } from './sampling/guidance.ts';
import { edmParams } from './sampling/edm.ts';
import { guiderSettings } from './sampling/guider-config.ts';
import { pipelineCfgNormalization } from './sampling/model-time.ts';
import { batchedInputs, bindDenoiser, conditioningForBatch, createDenoiseFn, limitPrediction, predictionType, type PredictionLimit } from './sampling/denoiser.ts';
import type { DenoiseFn } from './sampling/solver.ts';

export const CFG_MODES = ['auto', 'batched', 'separate'] as const;
export type CfgMode = (typeof CFG_MODES)[number];
export const CFG_METHODS = ['cfg', 'apg'] as const;
export type CfgMethod = (typeof CFG_METHODS)[number];
export const CFG_SETTINGS_SOURCES = ['node', 'model'] as const;
export type CfgSettingsSource = (typeof CFG_SETTINGS_SOURCES)[number];

/** The params a model's guider config replaces (settings_from model). */
const FROM_NODE = { param: 'settings_from', in: ['node'] };

export const CFG = defineNode({
  type: 'CFG',
  version: 1,
  title: 'CFG Guidance',
  category: 'guidance',
  description:
    'Classifier-free guidance for a Sampler: out = uncond + scale * (cond - uncond) on the model output, with optional CFG rescale, renormalization and truncation, or adaptive projected guidance (APG), which keeps high scales from oversaturating. The Sampler\'s conditioning input is the positive side. (Z-Image writes pos + s (pos - neg): its guidance_scale s is scale s + 1 here.)',
  inputs: {
    negative: {
      type: 'CONDITIONING',
      optional: true,
      help: 'Unconditional / negative side. Unconnected: zeros for the prompt embeddings (not an empty prompt\'s embedding); time_ids, img_ids, txt_ids and guidance keep the positive\'s value (also when a connected negative lacks them)',
    },
  },
  outputs: { guidance: { type: 'GUIDANCE' } },
  params: {
    settings_from: {
      kind: 'enum',
      options: CFG_SETTINGS_SOURCES,
      default: 'node',
      label: 'Settings from',
      help: "node: this node's scale, method, APG settings, rescale and step range; model: the model folder's diffusers guider (guider/guider_config.json: ClassifierFreeGuidance, AdaptiveProjectedGuidance or AdaptiveProjectedMixGuidance, as HunyuanImage 2.1 ships; its ocr_guider when the positive encoder_hidden_states_2 is not all zeros, as HunyuanImagePipeline picks it), which replaces those; the negative input, model calls, renormalization and 'guide until' stay this node's",
    },
    scale: { kind: 'float', default: 7.5, min: 0, max: 50, label: 'Scale', help: "Guidance scale; 1 = the conditional model alone (one call per step). Below 1 the formula applies as written (0 = the unconditional model), as diffusers' guider classes and ComfyUI do; diffusers' classic pipelines (Stable Diffusion, SDXL, SD3, FLUX's true CFG, PixArt, DiT, CogView4, Lumina 2, Z-Image) switch guidance off at guidance_scale <= 1, so their guidance_scale 0 (SD-Turbo's) is no CFG node here, or scale 1", when: FROM_NODE },
    start: {
      kind: 'float',
      default: 0,
      min: 0,
      max: 1,
      step: 0.01,
      when: FROM_NODE,
      label: 'Guide from step',
      help: "diffusers guiders' start, as a fraction of the Sampler's steps N: steps i (from 0) with floor(start N) <= i < floor(stop N) are guided, the others run the conditional model alone",
    },
    stop: {
      kind: 'float',
      default: 1,
      min: 0,
      max: 1,
      step: 0.01,
      when: FROM_NODE,
      label: 'Guide to step',
      help: "diffusers guiders' stop (see Guide from step); 1 = to the end",
    },
    method: {
      kind: 'enum',
      options: CFG_METHODS,
      default: 'cfg',
      label: 'Method',
      help: 'cfg: the difference cond - uncond as it is; apg: adaptive projected guidance (Sadat et al. 2024): the difference, optionally averaged with momentum and capped in norm, with its part along the conditional prediction weighted by eta',
      when: FROM_NODE,
    },
    apg_convention: {
      kind: 'enum',
      options: APG_CONVENTIONS,
      default: 'diffusers',
      label: 'APG convention',
      help: "diffusers (AdaptiveProjectedGuidance): on the model output, out = uncond + scale * update, so eta 1 without cap or momentum is plain CFG; comfyui (its APG node): on the denoised x0, out = cond + scale * update, so eta 1 without cap or momentum is CFG at scale + 1; it resets the momentum when the noise level rises, and has no rescale or renormalization",
      when: { param: 'method', in: ['apg'] },
    },
    apg_eta: {
      kind: 'float',
      default: 1,
      min: -10,
      max: 10,
      step: 0.01,
      label: 'APG eta',
      help: 'Weight of the update along the conditional prediction (the part that oversaturates); 0 drops it, 1 keeps it',
      when: { param: 'method', in: ['apg'] },
    },
    apg_norm_threshold: {
      kind: 'float',
      default: 15,
      min: 0,
      max: 100,
      step: 0.1,
      label: 'APG norm cap',
      help: "Per sample, the update's L2 norm is capped at this (diffusers' adaptive_projected_guidance_rescale, default 15; ComfyUI's norm_threshold, default 5); 0 = no cap",
      when: { param: 'method', in: ['apg'] },
    },
    apg_momentum: {
      kind: 'float',
      default: 0,
      min: -5,
      max: 1,
      step: 0.01,
      label: 'APG momentum',
      help: 'Running average of the difference over the model calls, r = diff + momentum * r (negative values, e.g. -0.5, push away from past directions); 0 = off',
      when: { param: 'method', in: ['apg'] },
    },
    apg_start: {
      kind: 'int',
      default: 0,
      min: 0,
      max: 1000,
      label: 'Plain CFG first',
      help: "diffusers convention: the first this many model calls use plain CFG at the start scale (the momentum average still takes their differences), APG after, as AdaptiveProjectedMixGuidance does (HunyuanImage 2.1: its adaptive_projected_guidance_start_step + 1); 0 = APG from the first call",
      when: { param: 'method', in: ['apg'] },
    },
    apg_start_scale: {
      kind: 'float',
      default: 3.5,
      min: 0,
      max: 50,
      label: 'Start scale',
      help: "The CFG scale of those first calls (AdaptiveProjectedMixGuidance's guidance_scale; Scale above is its adaptive_projected_guidance_scale)",
      when: { param: 'method', in: ['apg'] },
    },
    rescale: { kind: 'float', default: 0, min: 0, max: 1, label: 'Rescale', help: 'CFG rescale (Lin et al.): 0 off, 0.7 typical for zero-SNR v-models', when: FROM_NODE },
    mode: {
      kind: 'enum',
      options: CFG_MODES,
      default: 'auto',
      label: 'Model calls',
      help: 'batched: one call on [uncond; cond]; separate: two calls; auto: batched when the model takes any batch size',
    },
    normalize: {
      kind: 'enum',
      options: ['auto', ...CFG_NORMALIZATIONS],
      default: 'auto',
      label: 'Renormalize',
      help: "rows: each row of the guided output (last axis) scaled to the conditional output's norm, as Lumina2Pipeline's cfg_normalization and QwenImage's and NucleusMoE's true CFG do; rows-down: the same, but rows only shrink (scale clamped to [min, 1]), as LongCat-Image's cfg_renorm; clamp: a sample's guided output scaled down to at most limit x the conditional output's norm, as ZImagePipeline's cfg_normalization; auto: what the model's pipeline does by default (rows for Lumina 2, QwenImage, NucleusMoE; rows-down for LongCat-Image; else off)",
    },
    norm_limit: {
      kind: 'float',
      default: 1,
      min: 0.01,
      max: 10,
      step: 0.01,
      label: 'Norm limit',
      help: "ZImagePipeline's cfg_normalization value: the most the guided output's norm may exceed the conditional output's, as a factor",
      when: { param: 'normalize', in: ['clamp'] },
    },
    renorm_min: {
      kind: 'float',
      default: 0,
      min: 0,
      max: 1,
      step: 0.01,
      label: 'Renorm floor',
      help: "LongCat-Image's cfg_renorm_min: the smallest scale rows-down may apply to a row (1 turns it off)",
      when: { param: 'normalize', in: ['rows-down'] },
    },
    truncate: {
      kind: 'float',
      default: 1,
      min: 0,
      max: 1,
      step: 0.01,
      label: 'Guide until',
      help: "Flow models: guide only while the denoised fraction 1 - t is at most this, the conditional model alone after it (ZImagePipeline's cfg_truncation); 1 = every step",
    },
  },
  async execute(_ctx, inputs, params) {
    const guidance: Guidance = {
      kind: 'cfg',
      params: {
        scale: params.scale,
        rescale: params.rescale,
        mode: params.mode,
        normalize: params.normalize,
        normLimit: params.norm_limit,
        renormMin: params.renorm_min,
        truncate: params.truncate,
        method: params.method,
        apgConvention: params.apg_convention,
        apgEta: params.apg_eta,
        apgNormThreshold: params.apg_norm_threshold,
        apgMomentum: params.apg_momentum,
        apgStart: params.apg_start,
        apgStartScale: params.apg_start_scale,
        settingsFrom: params.settings_from,
        start: params.start,
        stop: params.stop,
        negative: inputs.negative,
      },
    };
    // What holds whatever the model is checked here, so that the error names this node (the model-dependent
    // rules, such as truncation on flow models only, are the Sampler's, on its guidance input).
    const settings = readCfg(guidance);
    if (settings.apg) checkApgSettings(settings.apg);
    return { guidance };
  },
});

export default CFG;

interface CfgParams extends Omit<CfgSettings, 'normalize'> {
  /** auto: the model's pipeline's own rule (model-time.ts pipelineCfgNormalization). */
  normalize: CfgNormalization | 'auto';
  mode: CfgMode;
  negative?: Conditioning;
  /** Flow models: CFG only while 1 - t <= truncate (1: always). */
  truncate: number;
  /** model: scale, rescale, APG and the step range come from the model folder's guider config. */
  settingsFrom: CfgSettingsSource;
  /** The guided fraction of the Sampler's steps (diffusers guiders' start / stop). */
  start: number;
  stop: number;
}

function finiteParam(value: unknown, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`CFG guidance: ${name} must be a finite number, got ${JSON.stringify(value)}`);
  return v;
}

/** The APG settings of a cfg GUIDANCE (undefined for method cfg). */
function readApg(params: Record<string, unknown>): ApgSettings | undefined {
  const method = params.method ?? 'cfg';
  if (!CFG_METHODS.includes(method as CfgMethod)) throw new Error(`CFG guidance: method must be one of ${CFG_METHODS.join(', ')}, got ${JSON.stringify(method)}`);
  if (method === 'cfg') return undefined;
  const convention = params.apgConvention ?? 'diffusers';
  if (!APG_CONVENTIONS.includes(convention as ApgConvention)) throw new Error(`CFG guidance: apg_convention must be one of ${APG_CONVENTIONS.join(', ')}, got ${JSON.stringify(convention)}`);
  // A hand-built GUIDANCE may leave settings out: the node's defaults, declared once above.
  const d = CFG.params;
  const normThreshold = finiteParam(params.apgNormThreshold, d.apg_norm_threshold.default, 'apg_norm_threshold');
  if (normThreshold < 0) throw new Error(`CFG guidance: apg_norm_threshold must be >= 0, got ${normThreshold}`);
  return {
    convention: convention as ApgConvention,
    eta: finiteParam(params.apgEta, d.apg_eta.default, 'apg_eta'),
    normThreshold,
    momentum: finiteParam(params.apgMomentum, d.apg_momentum.default, 'apg_momentum'),
    start: finiteParam(params.apgStart, d.apg_start.default, 'apg_start'),
    startScale: finiteParam(params.apgStartScale, d.apg_start_scale.default, 'apg_start_scale'),
  };
}

function readCfg(g: Guidance): CfgParams {
  if (g.kind !== 'cfg') throw new Error(`guidance of kind "${g.kind}" is not supported by the Sampler (known: cfg)`);
  const { scale, rescale, mode, negative, normalize, normLimit, renormMin, truncate } = g.params;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new Error(`CFG guidance: scale must be a finite number, got ${JSON.stringify(scale)}`);
  const phi = rescale === undefined ? 0 : rescale;
  if (typeof phi !== 'number' || !(phi >= 0 && phi <= 1)) throw new Error(`CFG guidance: rescale must be in [0, 1], got ${JSON.stringify(rescale)}`);
  const m = mode ?? 'auto';
  if (!CFG_MODES.includes(m as CfgMode)) throw new Error(`CFG guidance: mode must be one of ${CFG_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  const n = normalize ?? 'auto';
  if (n !== 'auto' && !CFG_NORMALIZATIONS.includes(n as CfgNormalization)) throw new Error(`CFG guidance: normalize must be auto or one of ${CFG_NORMALIZATIONS.join(', ')}, got ${JSON.stringify(normalize)}`);
  const k = normLimit ?? 1;
  if (typeof k !== 'number' || !(k > 0)) throw new Error(`CFG guidance: norm_limit must be positive, got ${JSON.stringify(normLimit)}`);
  const tr = truncate ?? 1;
  if (typeof tr !== 'number' || !(tr >= 0 && tr <= 1)) throw new Error(`CFG guidance: truncate must be in [0, 1], got ${JSON.stringify(truncate)}`);
  const floor = renormMin ?? 0;
  if (typeof floor !== 'number' || !(floor >= 0 && floor <= 1)) throw new Error(`CFG guidance: renorm_min must be in [0, 1], got ${JSON.stringify(renormMin)}`);
  const apg = readApg(g.params);
  const from = g.params.settingsFrom ?? 'node';
  if (!CFG_SETTINGS_SOURCES.includes(from as CfgSettingsSource)) throw new Error(`CFG guidance: settings_from must be one of ${CFG_SETTINGS_SOURCES.join(', ')}, got ${JSON.stringify(from)}`);
  const start = finiteParam(g.params.start, CFG.params.start.default, 'start');
  const stop = finiteParam(g.params.stop, CFG.params.stop.default, 'stop');
  if (!(start >= 0 && start <= stop && stop <= 1)) throw new Error(`CFG guidance: the step range needs 0 <= start <= stop <= 1, got start ${start}, stop ${stop}`);
  return {
    scale,
    rescale: phi,
    mode: m as CfgMode,
    negative: negative as Conditioning | undefined,
    normalize: n as CfgNormalization | 'auto',
    normLimit: k,
    renormMin: floor,
    truncate: tr,
    apg,
    settingsFrom: from as CfgSettingsSource,
    start,
    stop,
  };
}

/**
 * The diffusers guider config a model folder ships for these positive inputs: HunyuanImagePipeline's rule, its
 * ocr_guider when the ByT5 embeddings (encoder_hidden_states_2) are not all zeros, else its guider.
 */
export function modelGuider(model: ModelHandle, positive: Record<string, Tensor>): { config: Record<string, unknown>; where: string } {
  const guiders = model.guiders ?? {};
  const ocr = positive.encoder_hidden_states_2;
  if (guiders.ocr_guider && ocr && ocr.data.some((v) => v !== 0)) return { config: guiders.ocr_guider, where: `${model.name}: ocr_guider/guider_config.json` };
  if (guiders.guider) return { config: guiders.guider, where: `${model.name}: guider/guider_config.json` };
  throw new Error(`CFG guidance: settings from the model, but model ${model.name} has no guider/guider_config.json; set "Settings from" to node`);
}

/** The node's CFG settings with the model's guider config in place of its own, when the node says so. */
function withModelGuider(cfg: CfgParams, model: ModelHandle, positive: Record<string, Tensor>): CfgParams {
  if (cfg.settingsFrom === 'node') return cfg;
  const { config, where } = modelGuider(model, positive);
  const g = guiderSettings(config, where);
  // A guider that never guides: the conditional model alone (scale 1).
  if (!g.enabled) return { ...cfg, scale: 1, rescale: 0, apg: undefined, start: 0, stop: 1 };
  return { ...cfg, scale: g.scale, rescale: g.rescale, apg: g.apg, start: g.start, stop: g.stop };
}

/**
 * Extra inputs that describe the image rather than the prompt (SDXL's size/crop time_ids, CogView4's
 * original_size / target_size / crop_coords, PixArt-alpha's resolution / aspect_ratio, FLUX's position ids and distilled guidance): the pipelines feed the unconditional side the same values. Every other
 * extra input (prompt embeddings, pooled embeddings) defaults to zeros there, but DiT's class label.
 */
const SHARED_INPUTS = /^(time_ids|add_time_ids|img_ids|txt_ids|guidance|timestep_cond|original_size|target_size|crop_coords|resolution|aspect_ratio)$/;

/** DiTPipeline's unconditional class label: 1000, the null class (the class embedding's extra row, ImageNet's 1000 classes). */
export const DIT_NULL_CLASS = 1000;

/**
 * What CFG's unconditional side gets for an input the negative conditioning does not set: zeros (prompt
 * embeddings, as diffusers' empty-prompt zeros), the positive's own value (image descriptions), or a constant
 * (DiTPipeline's class_labels: its null class).
 */
export function unconditionalFill(modelIndex: Record<string, unknown>, name: string): 'zeros' | 'positive' | number {
  if (name === 'class_labels' && modelIndex._class_name === 'DiTPipeline') return DIT_NULL_CLASS;
  return SHARED_INPUTS.test(name) ? 'positive' : 'zeros';
}

function sameValues(a: Tensor, b: Tensor): boolean {
  if (a === b) return true;
  if (!a.sameShape(b)) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

/** True when a declared dimension accepts any size (symbolic or -1). */
function dynamicDim(d: number | string | undefined): boolean {
  return typeof d !== 'number' || d <= 0;
}

export interface GuidedModelOptions {
  space: SigmaSpace;
  conditioning?: Conditioning;
  guidance?: Guidance;
  /** x0 limit of the solver's scheduler class, applied once to the guided prediction. */
  limit?: PredictionLimit;
  signal?: AbortSignal;
  /** Run the unconditional side even at scale 1 (the CFG++ solvers read its prediction). */
  keepUncond?: boolean;
  /** The run's step count N and the step in progress (from 0), for a guided step range (floor(start N) <= step < floor(stop N)). */
  steps?: { total: number; current: () => number };
  /** The latent's batch size: one-sample conditioning (either side) is repeated to it (conditioningForBatch). */
  batch?: number;
}

/**
 * The solver steps a step range guides, as diffusers' guiders count them: from int(start N) up to, not
 * including, int(stop N), N the run's steps. Undefined when the range is the whole run. diffusers counts its
 * loop's model calls, one per scheduler timestep: for Heun and KDPM2, whose 2N - 1 timesteps it counts
 * against N (PNDM: N + 1, its first PLMS step calls twice), its guiders guide only the first calls; here a
 * step's calls are guided together.
 */
function guidedStepsOf(cfg: { start: number; stop: number }, steps: GuidedModelOptions['steps']): CfgSettings['guidedSteps'] {
  if (cfg.start === 0 && cfg.stop === 1) return undefined;
  if (steps === undefined) throw new Error('CFG guidance: a step range (guide from / to) needs the run\'s steps');
  return { from: Math.trunc(cfg.start * steps.total), to: Math.trunc(cfg.stop * steps.total), step: steps.current };
}

/** The DenoiseFn a Sampler runs: the model with its conditioning, under CFG when guidance is given. */
export function guidedDenoiseFn(model: ModelHandle, opts: GuidedModelOptions): DenoiseFn {
  const { space, signal, limit } = opts;
  const conditioning = conditioningForBatch(model, opts.conditioning, opts.batch ?? 1);
  if (!opts.guidance) return createDenoiseFn(model, { space, conditioning, limit, signal });
  const settings0 = withModelGuider(readCfg(opts.guidance), model, conditioning?.feeds ?? {});
  const cfg = { ...settings0, negative: conditioningForBatch(model, settings0.negative, opts.batch ?? 1, 'negative conditioning') };
  const keepUncond = opts.keepUncond === true;
  const range = guidedStepsOf(cfg, opts.steps);
  const unguided = conditionalOnly({ scale: cfg.scale, rescale: cfg.rescale, apg: cfg.apg }) || (range !== undefined && range.from >= range.to);
  if (unguided && !keepUncond) return createDenoiseFn(model, { space, conditioning, limit, signal });

  const binding = bindDenoiser(model);
  const extraInputs = model.denoiser.inputs.filter((i) => i.name !== binding.sample.name && i.name !== binding.timestep.name);
  if (extraInputs.length === 0) {
    throw new Error('CFG guidance needs a conditional model; this model takes only a sample and a timestep (disconnect the guidance)');
  }
  const positive = conditioning?.feeds ?? {};
  if (Object.keys(positive).length === 0) throw new Error('CFG guidance needs the positive conditioning: connect the Sampler\'s conditioning input');
  const negative: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(positive)) {
    const n = cfg.negative?.feeds[name];
    if (n) {
      negative[name] = n;
      continue;
    }
    // Unconnected or missing on the negative side, as the pipelines fill it (unconditionalFill).
    const fill = unconditionalFill(model.modelIndex, name);
    if (fill === 'positive') negative[name] = t;
    else if (typeof fill === 'number') negative[name] = Tensor.full(t.dims, fill);
    else if (cfg.negative) throw new Error(`CFG guidance: the negative conditioning has no "${name}" (it has ${Object.keys(cfg.negative.feeds).join(', ') || 'nothing'})`);
    else negative[name] = new Tensor(t.dims);
  }
  // The rescale recovers the raw output from a Prediction by the standard parameterizations, not EDM's.
  if ((cfg.rescale ?? 0) > 0 && space === 'vp' && edmParams(model.scheduler)) throw new Error('CFG rescale is not available for EDM-preconditioned models; set rescale to 0');
  // ComfyUI's APG has no renormalization: auto resolves to off there (an explicit one is refused in guidance.ts).
  const normalize = cfg.normalize === 'auto' ? (cfg.apg?.convention === 'comfyui' ? 'off' : pipelineCfgNormalization(model.modelIndex)) : cfg.normalize;
  if (normalize !== 'off' && space === 'vp' && edmParams(model.scheduler)) throw new Error('CFG renormalization is not available for EDM-preconditioned models; set normalize to off');
  if (cfg.apg?.convention === 'diffusers' && space === 'vp' && edmParams(model.scheduler)) throw new Error('APG with the diffusers convention (on the model output) is not available for EDM-preconditioned models; use the comfyui convention (on x0)');
  if (cfg.truncate < 1 && space !== 'flow') throw new Error('CFG truncation (guide until) applies to flow models only; set it to 1');
  if (cfg.truncate < 1 && keepUncond) throw new Error('CFG truncation cannot be combined with a CFG++ solver, which reads the unconditional prediction on every step');
  const kind = { space, type: predictionType(model, space) };
  if (range && keepUncond) throw new Error('CFG guidance: a step range (guide from / to) cannot be combined with a CFG++ solver, which reads the unconditional prediction on every step');
  const settings: CfgSettings = { scale: cfg.scale, rescale: cfg.rescale, normalize, normLimit: cfg.normLimit, renormMin: cfg.renormMin, apg: cfg.apg, guidedSteps: range };
  // Feeds whose first axis is the sample's batch axis are stacked [negative; positive]; the others (FLUX's
  // img_ids / txt_ids) are fed once, which needs both sides to agree on them.
  const isBatched = batchedInputs(model);
  const batchable =
    dynamicDim(binding.sample.shape[0]) &&
    Object.entries(positive).every(([name, t]) =>
      isBatched(name) ? t.dims.length > 0 && negative[name].sameShape(t) : sameValues(negative[name], t),
    );
  if (cfg.mode === 'batched' && !batchable) {
    throw new Error(
      'CFG guidance: mode "batched" needs a model with a free batch size, negative/positive conditioning of equal shapes, and the same values for inputs without a batch axis (use auto or separate)',
    );
  }
  let guided: DenoiseFn;
  // ComfyUI's APG at cfg 1 makes the conditional call alone (cfgDenoiseFn): no batch with the unconditional side.
  const condCallOnly = cfg.apg?.convention === 'comfyui' && cfg.scale === 1 && !keepUncond;
  if (cfg.mode !== 'separate' && batchable && !condCallOnly) {
    const stacked: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(positive)) stacked[name] = isBatched(name) ? concatBatch([negative[name], t]) : t;
    const cond = range ? createDenoiseFn(model, { space, conditioning: { feeds: positive }, signal }) : undefined;
    guided = batchedCfgDenoiseFn(createDenoiseFn(model, { space, conditioning: { feeds: stacked }, signal }), settings, kind, cond);
  } else {
    const cond = createDenoiseFn(model, { space, conditioning: { feeds: positive }, signal });
    const uncond = createDenoiseFn(model, { space, conditioning: { feeds: negative }, signal });
    guided = cfgDenoiseFn(cond, uncond, settings, kind, keepUncond);
  }
  if (cfg.truncate < 1) {
    // ZImagePipeline: guidance scale 0 (the positive output alone) once (1000 - t)/1000 exceeds cfg_truncation.
    const full = guided;
    const cond = createDenoiseFn(model, { space, conditioning: { feeds: positive }, signal });
    guided = (x, level) => (1 - level.sigma > cfg.truncate ? cond(x, level) : full(x, level));
  }
  if (!limit) return guided;
  return async (x, level) => limitPrediction(await guided(x, level), x, level.sigma, space, limit);
}
