/**
 * Which noise space a model lives in and which time units its denoiser expects. Pipelines, not only
 * scheduler configs, fix both (fact sheet section 2), so this keys on model_index.json's `_class_name`
 * (a table of pipeline conventions) and on FlowStudio's own `flowstudio.*` overrides in model_index.json.
 */
import type { SchedulerConfig, SigmaSpace } from '../core/values.ts';
import { imageSeqLenOfLatent } from './schedule-flow.ts';

/**
 * 'scheduler': the scheduler's own timestep units (VP: the index t in [0, T), possibly fractional;
 * flow: sigma * T as FlowMatchEulerDiscreteScheduler and the SD3 pipeline use).
 * 'fraction': t / T, i.e. sigma in [0, 1] for flow models (FluxPipeline passes timestep / 1000).
 */
export type TimestepUnits = 'scheduler' | 'fraction';

/** How a FLUX-kind pipeline makes its sigma list (schedule-flow.ts pipelineSigmaValues). */
export type PipelineSigmaList = 'numpy' | 'torch' | 'cogview4' | 'numpy-open';
/** How a pipeline computes mu from the token count: FLUX's calculate_shift, FLUX.2's empirical fit, CogView4's square root. */
export type MuRule = 'calculate_shift' | 'flux2_empirical' | 'cogview4';

/** calculate_shift's bounds, as a pipeline reads them from the scheduler config (with its own fallbacks). */
export interface ShiftBounds {
  base_image_seq_len: number;
  max_image_seq_len: number;
  base_shift: number;
  max_shift: number;
}

/** What a diffusers pipeline does around its flow transformer, beyond what the scheduler config says. */
export interface PipelineConvention {
  /** The transformer's timestep: the scheduler's (sigma * T) or t / T. */
  units: TimestepUnits;
  /** It takes the data fraction 1 - t/T instead of t (Lumina 2, Z-Image). */
  reversedTime?: boolean;
  /** Its output is x0 - noise, which the pipeline negates into the velocity (Lumina 2, Z-Image, HiDream, NucleusMoE). */
  negatedOutput?: boolean;
  /**
   * The pipeline passes its own sigma list: linspace(1, 1/N, N) (numpy's float64, or torch's float32; the FLUX
   * kind, with mu), numpy's linspace(1, 0, N + 1) without its last level (HunyuanImage), or CogView4's.
   */
  sigmaList?: PipelineSigmaList;
  /** How it computes that mu (default calculate_shift from the token count). */
  mu?: MuRule;
  /** calculate_shift fallbacks where the pipeline's differ from FLUX's 256 / 4096 / 0.5 / 1.15. */
  muDefaults?: Partial<ShiftBounds>;
  /** The token count: latents.shape[1] (Lumina 2's 4-D latents give the channel count), else the patch count. */
  tokens?: 'shape1';
  /** The pipeline's own CFG renormalization (guidance.ts): 'rows' for Lumina 2, QwenImage and NucleusMoE, 'rows-down' for LongCat-Image. */
  cfgNormalize?: 'rows' | 'rows-down';
  /** A fixed mu: always, or when a model_index.json key is true (Krea2's is_distilled: 1.15). */
  fixedMu?: { key?: string; mu: number };
}

const FLUX_KIND: PipelineConvention = { units: 'fraction', sigmaList: 'numpy' };

/**
 * Conventions by pipeline class-name prefix, first match wins (read in each pipeline's __call__ at diffusers
 * 58eb52c). A value of `string` is a pipeline FlowStudio refuses, with the reason: its loop does something no
 * convention here reproduces, and running it with another pipeline's rules would give a wrong picture quietly.
 */
const PIPELINES: ReadonlyArray<readonly [RegExp, PipelineConvention | string]> = [
  [/^Flux2/, { ...FLUX_KIND, mu: 'flux2_empirical' }],
  // QwenImage and NucleusMoE rescale their true-CFG output row by row to the conditional norm.
  [/^QwenImageLayered/, 'it walks linspace(1, 0, N + 1) without its last level, with mu from the square root of the image tokens'],
  [/^QwenImage/, { ...FLUX_KIND, cfgNormalize: 'rows' }],
  // LongCat-Image: enable_cfg_renorm (on by default) shrinks rows towards the conditional norm.
  [/^LongCatImage/, { ...FLUX_KIND, cfgNormalize: 'rows-down' }],
  [/^(Flux|Chroma|OvisImage)/, FLUX_KIND],
  [/^NucleusMoEImage/, { ...FLUX_KIND, negatedOutput: true, cfgNormalize: 'rows' }],
  [/^Krea2/, { ...FLUX_KIND, muDefaults: { max_image_seq_len: 6400 }, fixedMu: { key: 'is_distilled', mu: 1.15 } }],
  [/^DreamLite/, 'it feeds the transformer the latent joined side by side with a condition image and crops the output'],
  // 1 - t/1000 (Lumina 2), (1000 - t)/1000 (Z-Image); Lumina2Pipeline's mu reads latents.shape[1].
  [/^Lumina2/, { ...FLUX_KIND, reversedTime: true, negatedOutput: true, tokens: 'shape1', cfgNormalize: 'rows' }],
  [/^ZImage/, { units: 'fraction', sigmaList: 'torch', reversedTime: true, negatedOutput: true }],
  // torch.tensor([t / 1000]) on the scheduler's own grid; Sana Sprint: the flow time itself (scm.ts).
  [/^(AuraFlow|SanaSprint)/, { units: 'fraction' }],
  // calculate_shift with config.get('max_shift', 1.16): the fallback only reaches classes that lack the key (schedule-flow.ts requireMu).
  [/^(StableDiffusion3|SD3)/, { units: 'scheduler', muDefaults: { max_shift: 1.16 } }],
  // HiDream-I1: the scheduler's timestep, the output negated; mu = calculate_shift(transformer.max_seq) with
  // calculate_shift's own bounds, 1.15 at the default max_resolution 128 x 128 (4096 tokens).
  [/^HiDreamImage/, { units: 'scheduler', negatedOutput: true, fixedMu: { mu: 1.15 } }],
  // CogView4: sigmas int(linspace(1000, 1, N)) / 1000, mu from the square root of the token count; t = sigma * 1000.
  [/^CogView4/, { units: 'scheduler', sigmaList: 'cogview4', mu: 'cogview4' }],
  [/^GlmImage/, 'it feeds the transformer t - 1 and conditions on prior image tokens'],
  [/^HunyuanImageRefiner/, 'it feeds the transformer the latent joined with the noised input image'],
  // HunyuanImage 2.1: sigmas linspace(1, 0, N + 1)[:-1] (static shift), t = sigma * 1000; the distilled model
  // also takes timestep_r (the next level; denoiser.ts) and its guidance * 1000 as an input. Its guider
  // (AdaptiveProjectedMixGuidance) is the CFG node's APG with a plain-CFG start.
  [/^HunyuanImage/, { units: 'scheduler', sigmaList: 'numpy-open' }],
  [/^OmniGen/, 'it walks linspace(1, 0, N + 1)[:N] with image-conditioned inputs'],
  [/^Ideogram4/, 'it draws logit-normal sigmas with a resolution-aware mu'],
  [/^ErnieImage/, 'it runs its own loop over linspace(1, 0, N + 1)'],
  [/^(PRX|BriaFibo|Bria)/, 'its loop feeds the transformer its own continuous time or sigma list'],
  [/^Lumina/, 'Lumina-Next scales its time and sigmas its own way'],
];

/** Reads `flowstudio.<key>` from model_index.json, nested (`{"flowstudio": {...}}`) or flat (`"flowstudio.<key>"`). */
function flowstudioKey(modelIndex: Record<string, unknown>, key: string): unknown {
  const nested = modelIndex.flowstudio;
  if (nested && typeof nested === 'object' && key in nested) return (nested as Record<string, unknown>)[key];
  return modelIndex[`flowstudio.${key}`];
}

function declaredBoolean(modelIndex: Record<string, unknown>, key: string): boolean | undefined {
  const v = flowstudioKey(modelIndex, key);
  if (v !== undefined && typeof v !== 'boolean') throw new Error(`model_index.json: flowstudio.${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * The convention of the folder's pipeline (undefined: none known, the scheduler's own rules), with
 * model_index.json's flowstudio.timestep_units / reversed_time / negated_output applied over it. A refused
 * pipeline throws, unless flowstudio.timestep_units is declared: the user then vouches for the model.
 */
export function pipelineConvention(modelIndex: Record<string, unknown>): PipelineConvention | undefined {
  // Every model call setup asks: remember the answer per model_index object (a model handle keeps its own).
  if (conventions.has(modelIndex)) return conventions.get(modelIndex);
  const c = readConvention(modelIndex);
  conventions.set(modelIndex, c);
  return c;
}

const conventions = new WeakMap<Record<string, unknown>, PipelineConvention | undefined>();

function readConvention(modelIndex: Record<string, unknown>): PipelineConvention | undefined {
  const cls = modelIndex._class_name;
  const units = flowstudioKey(modelIndex, 'timestep_units');
  if (units !== undefined && units !== 'fraction' && units !== 'scheduler') {
    throw new Error(`model_index.json: flowstudio.timestep_units must be "fraction" or "scheduler", got ${JSON.stringify(units)}`);
  }
  const found = typeof cls === 'string' ? PIPELINES.find(([re]) => re.test(cls))?.[1] : undefined;
  if (typeof found === 'string' && units === undefined) throw new Error(`model_index.json: ${String(cls)} is not supported: ${found}`);
  const known = typeof found === 'string' ? undefined : found;
  const reversed = declaredBoolean(modelIndex, 'reversed_time');
  const negated = declaredBoolean(modelIndex, 'negated_output');
  if (units === undefined && reversed === undefined && negated === undefined) return known;
  const base: PipelineConvention = known ?? { units: 'scheduler' };
  return {
    ...base,
    ...(units !== undefined ? { units } : {}),
    // Declaring reversed time alone implies the negated output that goes with it (Lumina 2's convention),
    // unless the pipeline has its own sign (HiDream negates without reversing).
    ...(reversed !== undefined ? { reversedTime: reversed, negatedOutput: base.negatedOutput ?? reversed } : {}),
    ...(negated !== undefined ? { negatedOutput: negated } : {}),
  };
}

export function timestepUnits(modelIndex: Record<string, unknown>): TimestepUnits {
  return pipelineConvention(modelIndex)?.units ?? 'scheduler';
}

/**
 * True when the network takes the data fraction 1 - t (t the flow time in [0, 1]) instead of t: Lumina2 and
 * ZImage pipelines, or flowstudio.reversed_time. The denoiser feeds 1 - t (denoiser.ts); grids and solvers
 * keep the usual flow time.
 */
export function reversedFlowTime(modelIndex: Record<string, unknown>): boolean {
  return pipelineConvention(modelIndex)?.reversedTime === true;
}

/** The CFG renormalization the folder's pipeline applies by default ('off' when it has none). */
export function pipelineCfgNormalization(modelIndex: Record<string, unknown>): 'rows' | 'rows-down' | 'off' {
  return pipelineConvention(modelIndex)?.cfgNormalize ?? 'off';
}

/** True when the network predicts x0 - noise, which the denoiser negates into the velocity (flowstudio.negated_output). */
export function negatedFlowOutput(modelIndex: Record<string, unknown>): boolean {
  return pipelineConvention(modelIndex)?.negatedOutput === true;
}

/**
 * How a FLUX-kind pipeline computes the mu it passes with its sigmas: calculate_shift from the config's
 * base/max shift and sequence lengths (with the pipeline's own fallbacks), FLUX.2's compute_empirical_mu,
 * which also depends on the step count, or a fixed value (Krea2's distilled models).
 */
export function pipelineMuOptions(modelIndex: Record<string, unknown>): { muRule: MuRule; muDefaults?: Partial<ShiftBounds>; fixedMu?: number } {
  const c = pipelineConvention(modelIndex);
  const fixed = c?.fixedMu && (c.fixedMu.key === undefined || modelIndex[c.fixedMu.key] === true) ? { fixedMu: c.fixedMu.mu } : {};
  return { muRule: c?.mu ?? 'calculate_shift', ...(c?.muDefaults ? { muDefaults: c.muDefaults } : {}), ...fixed };
}

/** How a FLUX-kind pipeline makes its linspace(1, 1/N, N): numpy in float64 (cast to float32 by the scheduler) or torch in float32. */
export function pipelineSigmaList(modelIndex: Record<string, unknown>): PipelineSigmaList | undefined {
  return pipelineConvention(modelIndex)?.sigmaList;
}

/** True when the pipeline's token count comes from the latent itself (Lumina 2's latents.shape[1]), not from the image size. */
export function pipelineTokensFromLatent(modelIndex: Record<string, unknown>): boolean {
  return pipelineConvention(modelIndex)?.tokens === 'shape1';
}

/**
 * The image token count a pipeline's mu is computed from, for a latent of these dims: (H/2)(W/2) patches,
 * or L of a packed [B, L, C] latent. Lumina2Pipeline takes latents.shape[1], which for its [B, C, H, W]
 * latents is the channel count (a diffusers quirk, kept for parity; it matters only with use_dynamic_shifting).
 */
export function pipelineImageSeqLen(modelIndex: Record<string, unknown>, dims: readonly number[]): number | undefined {
  if (pipelineConvention(modelIndex)?.tokens === 'shape1' && dims.length >= 2) return dims[1];
  return imageSeqLenOfLatent(dims);
}

/**
 * 'flow' for rectified-flow models: FlowMatch schedulers and SCMScheduler, the pipelines of the conventions table, and multistep configs with
 * use_flow_sigmas or prediction_type "flow_prediction" (e.g. Sana); else 'vp'.
 */
export function sigmaSpace(modelIndex: Record<string, unknown>, scheduler: SchedulerConfig): SigmaSpace {
  const declared = flowstudioKey(modelIndex, 'space');
  if (declared !== undefined) {
    if (declared === 'flow' || declared === 'vp') return declared;
    throw new Error(`model_index.json: flowstudio.space must be "flow" or "vp", got ${JSON.stringify(declared)}`);
  }
  const sched = scheduler._class_name;
  // SCMScheduler (Sana Sprint) runs in flow variables (scm.ts).
  if (typeof sched === 'string' && (sched.startsWith('FlowMatch') || sched === 'SCMScheduler')) return 'flow';
  if (scheduler.use_flow_sigmas === true || scheduler.prediction_type === 'flow_prediction') return 'flow';
  const cls = modelIndex._class_name;
  // Every pipeline in the conventions table, supported or refused, is a rectified-flow pipeline.
  return typeof cls === 'string' && PIPELINES.some(([re]) => re.test(cls)) ? 'flow' : 'vp';
}

/** Converts a scheduler timestep (units of the T training steps) into what the model is called with. */
export function toModelTimestep(schedulerTimestep: number, trainSteps: number, units: TimestepUnits): number {
  return units === 'fraction' ? schedulerTimestep / trainSteps : schedulerTimestep;
}
