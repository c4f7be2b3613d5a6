/**
 * Which noise space a model lives in and which time units its denoiser expects. Pipelines, not only
 * scheduler configs, fix both (fact sheet section 2), so this keys on model_index.json's `_class_name`
 * and on FlowStudio's own `flowstudio.timestep_units` / `flowstudio.space` overrides.
 */
import type { SchedulerConfig, SigmaSpace } from '../core/values.ts';
import { imageSeqLenOfLatent } from './schedule-flow.ts';

/**
 * 'scheduler': the scheduler's own timestep units (VP: the index t in [0, T), possibly fractional;
 * flow: sigma * T as FlowMatchEulerDiscreteScheduler and the SD3 pipeline use).
 * 'fraction': t / T, i.e. sigma in [0, 1] for flow models (FluxPipeline passes timestep / 1000).
 */
export type TimestepUnits = 'scheduler' | 'fraction';

/**
 * diffusers pipelines of the FLUX kind: the transformer takes timestep / 1000, and the pipeline passes its own
 * sigmas linspace(1, 1/N, N) plus mu to the scheduler (checked in their sources: Flux*, Chroma*, QwenImage*,
 * Lumina2 (np.linspace), ZImage (torch.linspace, in float32)).
 */
const FLUX_KIND_PIPELINE = /^(Flux|Chroma|QwenImage|Lumina2|ZImage)/;
/** FLUX-kind pipelines whose sigma list is torch.linspace(1, 1/N, N) in float32, not np.linspace. */
const TORCH_SIGMAS_PIPELINE = /^ZImage/;
/**
 * Pipelines whose transformer takes timestep / 1000 on the scheduler's own grid (AuraFlow: torch.tensor([t / 1000])),
 * or the flow time itself (SanaSprint: sin s / (cos s + sin s) of its TrigFlow time s, scm.ts).
 */
const FRACTION_PIPELINE = /^(AuraFlow|SanaSprint)/;
/** FLUX.2 pipelines: mu = compute_empirical_mu(image_seq_len, N), not calculate_shift. */
const FLUX2_PIPELINE = /^Flux2/;
/**
 * Pipelines whose transformer runs the flow backwards: it takes the data fraction 1 - t/1000 (Lumina2:
 * 1 - t/1000; ZImage: (1000 - t)/1000) and predicts x0 - noise, which the pipeline negates.
 */
const REVERSED_TIME_PIPELINE = /^(Lumina2|ZImage)/;
/** Pipelines of rectified-flow models (the scheduler class alone may be missing or generic). */
const FLOW_PIPELINE = /^(Flux|Chroma|QwenImage|StableDiffusion3|SD3|Lumina2|ZImage|AuraFlow|SanaSprint)/;

/** Reads `flowstudio.<key>` from model_index.json, nested (`{"flowstudio": {...}}`) or flat (`"flowstudio.<key>"`). */
function flowstudioKey(modelIndex: Record<string, unknown>, key: string): unknown {
  const nested = modelIndex.flowstudio;
  if (nested && typeof nested === 'object' && key in nested) return (nested as Record<string, unknown>)[key];
  return modelIndex[`flowstudio.${key}`];
}

export function timestepUnits(modelIndex: Record<string, unknown>): TimestepUnits {
  const declared = flowstudioKey(modelIndex, 'timestep_units');
  if (declared !== undefined) {
    if (declared === 'fraction' || declared === 'scheduler') return declared;
    throw new Error(`model_index.json: flowstudio.timestep_units must be "fraction" or "scheduler", got ${JSON.stringify(declared)}`);
  }
  const cls = modelIndex._class_name;
  if (typeof cls === 'string' && FRACTION_PIPELINE.test(cls)) return 'fraction';
  return usesPipelineSigmas(modelIndex) ? 'fraction' : 'scheduler';
}

/**
 * True when the network takes the data fraction 1 - t (t the flow time in [0, 1]) and predicts x0 - noise:
 * Lumina2 and ZImage pipelines, or model_index.json's flowstudio.reversed_time. The denoiser feeds 1 - t
 * and negates the output (denoiser.ts); grids and solvers keep the usual flow time.
 */
export function reversedFlowTime(modelIndex: Record<string, unknown>): boolean {
  const declared = flowstudioKey(modelIndex, 'reversed_time');
  if (declared !== undefined) {
    if (typeof declared !== 'boolean') throw new Error(`model_index.json: flowstudio.reversed_time must be true or false, got ${JSON.stringify(declared)}`);
    return declared;
  }
  const cls = modelIndex._class_name;
  return typeof cls === 'string' && REVERSED_TIME_PIPELINE.test(cls);
}

/**
 * How a FLUX-kind pipeline computes the mu it passes with its sigmas: calculate_shift from the config's
 * base/max shift and sequence lengths (FLUX.1, Chroma, QwenImage), or FLUX.2's compute_empirical_mu, which
 * also depends on the step count.
 */
export function pipelineMuRule(modelIndex: Record<string, unknown>): 'calculate_shift' | 'flux2_empirical' {
  const cls = modelIndex._class_name;
  return typeof cls === 'string' && FLUX2_PIPELINE.test(cls) ? 'flux2_empirical' : 'calculate_shift';
}

/** True for FLUX-kind pipelines, which fix the flow grid as linspace(1, 1/N, N) shifted by mu. */
export function usesPipelineSigmas(modelIndex: Record<string, unknown>): boolean {
  return pipelineSigmaList(modelIndex) !== undefined;
}

/** How a FLUX-kind pipeline makes its linspace(1, 1/N, N): numpy in float64 (cast to float32 by the scheduler) or torch in float32. */
export function pipelineSigmaList(modelIndex: Record<string, unknown>): 'numpy' | 'torch' | undefined {
  const cls = modelIndex._class_name;
  if (typeof cls !== 'string' || !FLUX_KIND_PIPELINE.test(cls)) return undefined;
  return TORCH_SIGMAS_PIPELINE.test(cls) ? 'torch' : 'numpy';
}

/**
 * The image token count a pipeline's mu is computed from, for a latent of these dims: (H/2)(W/2) patches,
 * or L of a packed [B, L, C] latent. Lumina2Pipeline takes latents.shape[1], which for its [B, C, H, W]
 * latents is the channel count (a diffusers quirk, kept for parity; it matters only with use_dynamic_shifting).
 */
export function pipelineImageSeqLen(modelIndex: Record<string, unknown>, dims: readonly number[]): number | undefined {
  const cls = modelIndex._class_name;
  if (typeof cls === 'string' && /^Lumina2/.test(cls) && dims.length === 4) return dims[1];
  return imageSeqLenOfLatent(dims);
}

/**
 * 'flow' for rectified-flow models: FlowMatch schedulers and SCMScheduler, FLUX/SD3-kind pipelines, and multistep configs with
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
  return typeof cls === 'string' && FLOW_PIPELINE.test(cls) ? 'flow' : 'vp';
}

/** Converts a scheduler timestep (units of the T training steps) into what the model is called with. */
export function toModelTimestep(schedulerTimestep: number, trainSteps: number, units: TimestepUnits): number {
  return units === 'fraction' ? schedulerTimestep / trainSteps : schedulerTimestep;
}
