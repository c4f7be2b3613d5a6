/**
 * Which noise space a model lives in and which time units its denoiser expects. Pipelines, not only
 * scheduler configs, fix both (fact sheet section 2), so this keys on model_index.json's `_class_name`
 * and on FlowStudio's own `flowstudio.timestep_units` / `flowstudio.space` overrides.
 */
import type { SchedulerConfig, SigmaSpace } from '../core/values.ts';

/**
 * 'scheduler': the scheduler's own timestep units (VP: the index t in [0, T), possibly fractional;
 * flow: sigma * T as FlowMatchEulerDiscreteScheduler and the SD3 pipeline use).
 * 'fraction': t / T, i.e. sigma in [0, 1] for flow models (FluxPipeline passes timestep / 1000).
 */
export type TimestepUnits = 'scheduler' | 'fraction';

/**
 * diffusers pipelines of the FLUX kind: the transformer takes timestep / 1000, and the pipeline passes its own
 * sigmas linspace(1, 1/N, N) plus mu to the scheduler (checked in their sources: Flux*, Chroma*, QwenImage*).
 */
const FLUX_KIND_PIPELINE = /^(Flux|Chroma|QwenImage)/;
/**
 * Pipelines whose transformer takes timestep / 1000 on the scheduler's own grid (AuraFlow: torch.tensor([t / 1000])),
 * or the flow time itself (SanaSprint: sin s / (cos s + sin s) of its TrigFlow time s, scm.ts).
 */
const FRACTION_PIPELINE = /^(AuraFlow|SanaSprint)/;
/** FLUX.2 pipelines: mu = compute_empirical_mu(image_seq_len, N), not calculate_shift. */
const FLUX2_PIPELINE = /^Flux2/;
/** Pipelines of rectified-flow models (the scheduler class alone may be missing or generic). */
const FLOW_PIPELINE = /^(Flux|Chroma|QwenImage|StableDiffusion3|SD3|Lumina2|AuraFlow|SanaSprint)/;
/**
 * Flow pipelines whose model conventions no units setting reproduces: Lumina2 gives its transformer
 * 1 - t/1000 and negates its output. Refused unless model_index.json declares flowstudio.timestep_units
 * (the user then vouches for the model's convention).
 */
const UNSUPPORTED_PIPELINE: Readonly<Record<string, string>> = {
  Lumina2: 'its transformer takes 1 - t/1000 and the pipeline negates the prediction',
};

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
  if (typeof cls === 'string') {
    for (const [prefix, why] of Object.entries(UNSUPPORTED_PIPELINE)) {
      if (cls.startsWith(prefix)) throw new Error(`model_index.json: ${cls} is not supported: ${why}`);
    }
    if (FRACTION_PIPELINE.test(cls)) return 'fraction';
  }
  return usesPipelineSigmas(modelIndex) ? 'fraction' : 'scheduler';
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
  const cls = modelIndex._class_name;
  return typeof cls === 'string' && FLUX_KIND_PIPELINE.test(cls);
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
