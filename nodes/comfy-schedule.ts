/**
 * Schedule (ComfyUI): the levels and model timesteps a ComfyUI KSampler walks for a scheduler name, step
 * count and denoise (comfy-schedules.ts), as SIGMAS for a Sampler. With ComfyUI's seed (Sampler
 * noise_generator comfyui) and the matching solver, a run starts from ComfyUI's noise and takes its steps.
 */
import { denoiseParam } from './core/denoise-param.ts';
import { defineNode, NodeInputError } from './core/types.ts';
import type { Tensor } from './core/tensor.ts';
import type { ModelHandle } from './core/values.ts';
import { COMFY_SAMPLER_NAMES, COMFY_SCHEDULERS, type ComfyModelSampling, comfyModelSampling, comfyNeedsImageSize, comfySigmas, samplerLevels } from './sampling/comfy-schedules.ts';
import { sigmaSpace, timestepUnits } from './sampling/model-time.ts';
import { imageSeqLenOfLatent } from './sampling/schedule-flow.ts';

/**
 * ComfyUI's model sampling (level table) for a model; FLUX-type models (use_dynamic_shifting) take their
 * shift from the latent's image size, as ComfyUI's ModelSamplingFlux node sets it.
 */
export function comfyModelSamplingFor(model: ModelHandle, latent: Tensor | undefined): ComfyModelSampling {
  const space = sigmaSpace(model.modelIndex, model.scheduler);
  const tokens = latent ? imageSeqLenOfLatent(latent.dims) : undefined;
  if (tokens === undefined && comfyNeedsImageSize(model.scheduler, space)) {
    const why = latent ? `latent shape ${latent.shapeString()} has no image size (expected [B, C, H, W] or packed [B, L, C])` : 'connect a latent';
    throw new NodeInputError(`this model's shift (use_dynamic_shifting, as ComfyUI's ModelSamplingFlux sets it) depends on the image size: ${why}`, 'latent');
  }
  return comfyModelSampling(model.scheduler, space, tokens);
}

/** The ComfyUI sampler a schedule is for (its grid rules), as both ComfyUI schedule nodes declare it. */
export function comfySamplerParam(help: string) {
  return { kind: 'enum', options: COMFY_SAMPLER_NAMES, default: 'euler', label: 'ComfyUI sampler', help } as const;
}

export const ComfySchedule = defineNode({
  type: 'ComfySchedule',
  version: 2,
  title: 'Schedule (ComfyUI)',
  category: 'sampling',
  description:
    'The noise levels a ComfyUI KSampler walks: its scheduler (normal, karras, simple, ...), steps and denoise, with its model timesteps (the nearest training step on VP models). Feed a Sampler set to the ComfyUI sampler\'s solver (see the sampler option) with noise_generator comfyui; start noise, or img2img with the Sampler\'s denoise at 1 (the cut is made here).',
  inputs: {
    model: { type: 'MODEL' },
    latent: { type: 'LATENT', optional: true, help: 'FLUX-type models (use_dynamic_shifting): the shift comes from this latent\'s size, as ComfyUI\'s ModelSamplingFlux node sets it' },
  },
  outputs: {
    sigmas: { type: 'SIGMAS', help: 'Levels (float32, as ComfyUI keeps them) and model timesteps, for a Sampler or SplitSigmas' },
  },
  params: {
    scheduler: { kind: 'enum', options: COMFY_SCHEDULERS, default: 'normal', label: 'Scheduler', help: 'ComfyUI\'s scheduler name' },
    steps: { kind: 'int', default: 20, min: 1, max: 1000, label: 'Steps' },
    denoise: denoiseParam('Below 1: the last steps of a longer schedule (int(steps / denoise) steps), as KSampler cuts it for img2img'),
    sampler: comfySamplerParam(
      'The KSampler\'s sampler_name, for its grid rule: dpm_2, dpm_2_ancestral, uni_pc and uni_pc_bh2 take one step more without the second-to-last level. The rules a ComfyUI sampler applies to any grid it is given (uni_pc stops at 0.001; dpm_fast and dpm_adaptive walk their own grids; on flow models the SDE samplers, er_sde, seeds and sa_solver move a first level at t = 1 to just below it) are the Sampler\'s, for its solver, as ComfyUI applies them when it samples. Set the Sampler to the solver COMFY_SAMPLERS names: mostly the same name; ddim -> euler; deis -> deis_tab; lms -> lms with LMS step onto 0 = denoise; lcm -> consistency; ddpm -> ddpm_posterior; dpmpp_2m_sde_heun -> dpmpp_2m_sde with solver type heun; dpmpp_2m -> dpmpp_2m with level formulas ve (ComfyUI reads flow grids in VE terms too); uni_pc / uni_pc_bh2 -> unipc, order 3, variant bh1 / bh2, form data, level formulas ve. On flow models res_multistep_ancestral, ddpm, dpm_fast, dpm_adaptive and the dpmpp_2m / dpmpp_2s_ancestral / res_multistep_ancestral CFG++ samplers run with ComfyUI\'s VE formulas, on a ComfyUI grid only',
    ),
  },
  async execute(_ctx, inputs, params) {
    const ms = comfyModelSamplingFor(inputs.model, inputs.latent);
    const levels = samplerLevels(ms, params.sampler, params.scheduler, params.steps, params.denoise);
    if (levels.length < 2) throw new NodeInputError('denoise 0 leaves no steps to take');
    try {
      return { sigmas: comfySigmas(ms, levels, timestepUnits(inputs.model.modelIndex), `ComfyUI ${params.scheduler}`) };
    } catch (e) {
      throw new NodeInputError((e as Error).message);
    }
  },
});

export default ComfySchedule;
