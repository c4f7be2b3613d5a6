/**
 * Schedule (ComfyUI custom): the levels of ComfyUI's stand-alone scheduler nodes (Align Your Steps, GITS, Optimal Steps,
 * Karras / exponential / polyexponential / Laplace / VP curves over a sigma range, SD Turbo, beta with its
 * own alpha and beta), as SIGMAS for a Sampler: what SamplerCustom walks when one of them feeds it. The
 * model gives each level its timestep (ComfyUI's nearest training step on VP models).
 */
import { denoiseParam } from './core/denoise-param.ts';
import { comfyModelSamplingFor } from './comfy-schedule.ts';
import { defineNode, NodeInputError } from './core/types.ts';
import { AYS_MODEL_TYPES, COMFY_SIGMA_CURVES, OSS_MODEL_TYPES, alignYourSteps, optimalSteps, betaSamplingLevels, exponentialCurve, gitsLevels, karrasCurve, laplaceCurve, manualSigmas, polyexponentialCurve, sdTurboLevels, vpCurve, type ComfySigmaCurve } from './sampling/comfy-sigma-curves.ts';
import { comfyNeedsImageSize, comfySigmas, type ComfyModelSampling } from './sampling/comfy-schedules.ts';
import { timestepUnits } from './sampling/model-time.ts';
import { quoted } from './core/quote.ts';

const RANGE_CURVES = ['karras', 'exponential', 'polyexponential', 'laplace'] as const;
/** Published tables of SD-family VE sigmas. */
const TABLE_CURVES = ['align_your_steps', 'gits'] as const;

interface CurveParams {
  curve: ComfySigmaCurve;
  steps: number;
  denoise: number;
  model_type: string;
  oss_model_type: string;
  coeff: number;
  sigma_max: number;
  sigma_min: number;
  rho: number;
  poly_rho: number;
  mu: number;
  laplace_beta: number;
  beta_d: number;
  beta_min: number;
  eps_s: number;
  alpha: number;
  beta: number;
  sigma_list: string;
}

function curveLevels(ms: ComfyModelSampling, p: CurveParams): number[] {
  switch (p.curve) {
    case 'align_your_steps':
      return alignYourSteps(p.model_type as (typeof AYS_MODEL_TYPES)[number], p.steps, p.denoise);
    case 'gits':
      return gitsLevels(p.coeff, p.steps, p.denoise);
    case 'optimal_steps':
      return optimalSteps(p.oss_model_type as (typeof OSS_MODEL_TYPES)[number], p.steps, p.denoise);
    case 'karras':
      return karrasCurve(p.steps, p.sigma_min, p.sigma_max, p.rho);
    case 'exponential':
      return exponentialCurve(p.steps, p.sigma_min, p.sigma_max);
    case 'polyexponential':
      return polyexponentialCurve(p.steps, p.sigma_min, p.sigma_max, p.poly_rho);
    case 'laplace':
      return laplaceCurve(p.steps, p.sigma_min, p.sigma_max, p.mu, p.laplace_beta);
    case 'vp':
      return vpCurve(p.steps, p.beta_d, p.beta_min, p.eps_s);
    case 'sd_turbo':
      return sdTurboLevels(ms, p.steps, p.denoise);
    case 'beta':
      return betaSamplingLevels(ms, p.steps, p.alpha, p.beta);
    case 'manual':
      return manualSigmas(p.sigma_list);
  }
}

export const ComfyCustomSchedule = defineNode({
  type: 'ComfyCustomSchedule',
  version: 2,
  title: 'Schedule (ComfyUI custom)',
  category: 'sampling',
  description:
    'The levels of ComfyUI\'s scheduler nodes for SamplerCustom: Align Your Steps and GITS (tuned step tables for SD-family models), Optimal Steps (for FLUX, Wan and Chroma), Karras, exponential, polyexponential and Laplace curves over a sigma range, the continuous VP curve, SD Turbo\'s timesteps, beta sampling with its own alpha and beta, and a list of levels you type (ManualSigmas). Feed a Sampler set to the ComfyUI sampler\'s solver with noise_generator comfyui, as for Schedule (ComfyUI).',
  inputs: {
    model: { type: 'MODEL', help: 'Gives each level its model timestep, and the level table for sd_turbo and beta' },
    latent: { type: 'LATENT', optional: true, help: 'FLUX-type models (use_dynamic_shifting): the shift comes from this latent\'s size' },
  },
  outputs: {
    sigmas: { type: 'SIGMAS', help: 'Levels (float32, as ComfyUI keeps them) and model timesteps, for a Sampler or SplitSigmas' },
  },
  params: {
    curve: {
      kind: 'enum',
      options: COMFY_SIGMA_CURVES,
      default: 'align_your_steps',
      label: 'Scheduler',
      help: 'align_your_steps: AlignYourStepsScheduler; gits: GITSScheduler; optimal_steps: OptimalStepsScheduler (flow models); karras, exponential, polyexponential, laplace, vp: the k-diffusion curves of those nodes; sd_turbo: SDTurboScheduler; beta: BetaSamplingScheduler; manual: ManualSigmas, the levels you type',
    },
    steps: {
      kind: 'int',
      default: 10,
      min: 1,
      max: 10000,
      label: 'Steps',
      help: 'gits: at least 2; optimal_steps: at least 3; sd_turbo: at most 10',
      when: { param: 'curve', in: COMFY_SIGMA_CURVES.filter((c) => c !== 'manual') },
    },
    sigma_list: {
      kind: 'string',
      default: '1, 0.5',
      label: 'Sigmas',
      help: 'The levels, in the order walked (ManualSigmas; its default is ComfyUI\'s): VE sigmas on VP models (SD 1.x: 14.61 down to 0.0292, then 0), t in [0, 1] on flow models. Read as ComfyUI reads them: every number of digits and points, so no exponents (1e-3 reads as 1 and -3)',
      when: { param: 'curve', in: ['manual'] },
    },
    denoise: denoiseParam('Below 1: align_your_steps, gits and optimal_steps keep the last round(steps * denoise) steps; sd_turbo starts at step 10 - int(10 * denoise)', {
      param: 'curve',
      in: [...TABLE_CURVES, 'optimal_steps', 'sd_turbo'],
    }),
    model_type: { kind: 'enum', options: AYS_MODEL_TYPES, default: 'SD1', label: 'Model type', help: 'Whose tuned levels: SD 1.x, SDXL or Stable Video Diffusion', when: { param: 'curve', in: ['align_your_steps'] } },
    oss_model_type: { kind: 'enum', options: OSS_MODEL_TYPES, default: 'FLUX', label: 'Model type', help: 'Whose searched levels: FLUX, Wan or Chroma', when: { param: 'curve', in: ['optimal_steps'] } },
    coeff: { kind: 'float', default: 1.2, min: 0.8, max: 1.5, step: 0.05, label: 'Coefficient', help: 'GITS\' search coefficient (tables for 0.80 to 1.50 in steps of 0.05)', when: { param: 'curve', in: ['gits'] } },
    sigma_max: { kind: 'float', default: 14.614642, min: 0, max: 5000, step: 0.01, label: 'Sigma max', help: 'VP models: VE sigma; flow models: t in (0, 1]', when: { param: 'curve', in: RANGE_CURVES } },
    sigma_min: { kind: 'float', default: 0.0291675, min: 0, max: 5000, step: 0.01, label: 'Sigma min', when: { param: 'curve', in: RANGE_CURVES } },
    rho: { kind: 'float', default: 7, min: 0, max: 100, step: 0.01, label: 'Rho', when: { param: 'curve', in: ['karras'] } },
    poly_rho: { kind: 'float', default: 1, min: 0, max: 100, step: 0.01, label: 'Rho', help: 'The power of the ramp in log sigma (1: exponential)', when: { param: 'curve', in: ['polyexponential'] } },
    mu: { kind: 'float', default: 0, min: -10, max: 10, step: 0.1, label: 'Mu', help: 'Centre of the Laplace density in log sigma', when: { param: 'curve', in: ['laplace'] } },
    laplace_beta: { kind: 'float', default: 0.5, min: 0, max: 10, step: 0.1, label: 'Beta', help: 'Scale of the Laplace density in log sigma', when: { param: 'curve', in: ['laplace'] } },
    beta_d: { kind: 'float', default: 19.9, min: 0, max: 5000, step: 0.01, label: 'beta_d', when: { param: 'curve', in: ['vp'] } },
    beta_min: { kind: 'float', default: 0.1, min: 0, max: 5000, step: 0.01, label: 'beta_min', when: { param: 'curve', in: ['vp'] } },
    eps_s: { kind: 'float', default: 0.001, min: 0, max: 1, step: 0.0001, label: 'eps_s', help: 'The continuous time the curve ends at', when: { param: 'curve', in: ['vp'] } },
    alpha: { kind: 'float', default: 0.6, min: 0, max: 50, step: 0.01, label: 'Alpha', help: 'With alpha = beta and an even step count, the middle level is a tie between two training steps: the exact quantile takes the even one, where ComfyUI (scipy) sometimes takes the other', when: { param: 'curve', in: ['beta'] } },
    beta: { kind: 'float', default: 0.6, min: 0, max: 50, step: 0.01, label: 'Beta', when: { param: 'curve', in: ['beta'] } },
  },
  retiredParams: {
    sampler: 'the rules a ComfyUI sampler applies to the grid it is given (uni_pc\'s 0.001 end, dpm_fast\'s and dpm_adaptive\'s own grids, the SDE samplers\' first flow level) are now the Sampler\'s, for its solver',
  },
  async execute(_ctx, inputs, params) {
    const ms = comfyModelSamplingFor(inputs.model, inputs.latent);
    const { curve } = params;
    if (ms.space === 'vp' && curve === 'optimal_steps') throw new NodeInputError('optimal_steps\' levels are flow times t of FLUX, Wan and Chroma; this is a VP model, whose levels are VE sigmas');
    if (ms.space === 'flow') {
      // ComfyUI rescales a flow run that ends above 0 (CONST.inverse_noise_scaling: latent / (1 - sigma)).
      if (curve === 'laplace') throw new NodeInputError('laplace ends at sigma_min, not 0, where ComfyUI rescales a flow model\'s result by 1 / (1 - sigma_min); it is offered on VP models only');
      // ComfyUI would read these VE sigmas as flow times and feed the model nonsense.
      if ((TABLE_CURVES as readonly string[]).includes(curve) || curve === 'vp') throw new NodeInputError(`${curve}'s levels are VE sigmas of SD-family (VP) models; this is a flow model, whose levels are t in [0, 1]`);
      if ((RANGE_CURVES as readonly string[]).includes(curve) && params.sigma_max > 1) throw new NodeInputError(`a flow model's levels are t in [0, 1]: set sigma_max to at most 1 (got ${params.sigma_max})`);
      if (curve === 'sd_turbo' && comfyNeedsImageSize(inputs.model.scheduler, ms.space)) throw new NodeInputError('sd_turbo takes levels at training timesteps 999 ... 99, which this FLUX-type table does not have');
    }
    if (curve === 'laplace' && params.steps < 2) throw new NodeInputError('laplace returns its levels without a final 0, so it needs at least 2 steps');
    let levels: number[];
    try {
      levels = curveLevels(ms, params);
    } catch (e) {
      throw new NodeInputError((e as Error).message);
    }
    if (curve === 'manual') {
      if (levels.length < 2) throw new NodeInputError(`the sigma list ${quoted(params.sigma_list)} has ${levels.length} level${levels.length === 1 ? '' : 's'}: a schedule needs at least 2`);
      const bad = levels.find((v) => !(v >= 0) || (ms.space === 'flow' && v > 1));
      if (bad !== undefined) throw new NodeInputError(`the sigma list has level ${bad}: ${ms.space === 'flow' ? "a flow model's levels are t in [0, 1]" : 'levels are VE sigmas, 0 or more'}`);
    }
    if (levels.length < 2) throw new NodeInputError(`${curve} with steps ${params.steps} and denoise ${params.denoise} leaves no steps to take`);
    try {
      return { sigmas: comfySigmas(ms, levels, timestepUnits(inputs.model.modelIndex), `ComfyUI ${curve}`) };
    } catch (e) {
      throw new NodeInputError((e as Error).message);
    }
  },
});

export default ComfyCustomSchedule;
