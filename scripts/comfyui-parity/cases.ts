/**
 * The cases of the ComfyUI parity check (README.md beside this file):
 *  - grid cases: the levels a KSampler setting gives (scheduler, steps, denoise, dropped second-to-last
 *    level) on a model's table, VP or flow, FLUX's shifted table included; compared level by level;
 *  - run cases: a whole KSampler run on an embedded analytic model, from ComfyUI's seed (its prepare_noise,
 *    and for ancestral steps its CPU noise sampler) to the final latent, against our Schedule (ComfyUI) ->
 *    Sampler graph with noise_generator comfyui and the matching solver.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { COMFY_SAMPLERS, COMFY_SCHEDULERS, type ComfyScheduler } from '../../nodes/sampling/comfy-schedules.ts';
import type { ComfySigmaCurve } from '../../nodes/sampling/comfy-sigma-curves.ts';

export type AnalyticComfyModel = 'gaussian-vp' | 'gaussian-vp-continuous' | 'gaussian-rf';
export const COMFY_MODELS: readonly AnalyticComfyModel[] = ['gaussian-vp', 'gaussian-vp-continuous', 'gaussian-rf'];
/** Conditional twins (test/helpers/twins.ts), for runs guided by CFG: SD 1.5 (VP) and SD3 (flow). */
export type ComfyTwin = 'sd15' | 'sd3';
export const COMFY_TWINS: readonly ComfyTwin[] = ['sd15', 'sd3'];
export type ComfyModel = AnalyticComfyModel | ComfyTwin;

function isTwin(model: ComfyModel): model is ComfyTwin {
  return (COMFY_TWINS as readonly string[]).includes(model);
}

export interface GridCase {
  id: string;
  space: 'vp' | 'flow';
  /** The scheduler_config.json ComfyUI's model sampling is built from. */
  config: Record<string, unknown>;
  /** FLUX (use_dynamic_shifting): the image token count its shift comes from. */
  tokens?: number;
  scheduler: ComfyScheduler;
  steps: number;
  denoise: number;
  discardPenultimate: boolean;
}

export interface RunCase {
  id: string;
  model: ComfyModel;
  /** Keys merged over the model's scheduler_config.json. */
  config: Record<string, unknown>;
  scheduler: ComfyScheduler;
  steps: number;
  /** KSampler denoise; below 1 the run starts from the init latent noised to the first level (img2img). */
  denoise: number;
  /** ComfyUI sampler name (a key of COMFY_SAMPLERS). */
  sampler: string;
  seed: number;
  batch: number;
  /**
   * The KSampler's cfg on a twin, with its positive and negative conditioning: ComfyUI's sampling_function
   * and cfg_function (post-CFG hooks included, which its CFG++ samplers read) against our CFG node. A twin
   * run without it is the conditional model alone.
   */
  cfg?: number;
  /**
   * ComfyUI's APG node (comfy_extras/nodes_apg.py) on the model: its pre-CFG function rewrites the positive
   * prediction before cfg_function; ours is the CFG node with method apg, convention comfyui.
   */
  apg?: { eta: number; norm_threshold: number; momentum: number };
  /**
   * A sampler node's options in place of the KSampler's defaults (comfy_extras/nodes_custom_sampler.py), which
   * check.py runs the node itself for; ours sets the Sampler's matching params (SAMPLER_NODE_PARAMS).
   */
  samplerNode?: { name: SamplerNodeName; inputs: Record<string, number | string | boolean> };
  /**
   * SamplerCustom on edited sigmas: BasicScheduler's levels (no KSampler rule for the sampler), then these
   * sigma nodes in order (nodes_custom_sampler.py), from the init latent; ours: Schedule (ComfyUI) -> the
   * matching nodes -> Sampler (start img2img, or continue without noise).
   */
  sigmaOps?: SigmaOp[];
  /** SamplerCustom's add_noise (default true); false: ComfyUI's empty noise, our Sampler's start continue. */
  addNoise?: boolean;
  /**
   * A second SamplerCustom stage (add_noise off, the same seed) from the first one's latent, on the same
   * BasicScheduler levels through its own sigma nodes: a two-sampler chain (base and refiner, a split with
   * another sampler for the last steps). Ours: a second Sampler (start continue) fed the first one's latent.
   */
  then?: { sampler: string; sigmaOps: SigmaOp[] };
  /** A SamplerCustom case from an empty latent (EmptyLatentImage's zeros) instead of the init latent; ours starts from noise. */
  emptyLatent?: boolean;
  /**
   * SamplerCustom on a stand-alone scheduler node's levels (its ComfyUI inputs, as curveCases name them) instead
   * of BasicScheduler's; ours: Schedule (ComfyUI custom). `scheduler`, `steps` and `denoise` are then unused.
   */
  curve?: { name: ComfySigmaCurve; params: Record<string, number | string> };
  /**
   * KSamplerAdvanced instead of SamplerCustom: the levels KSampler computes for the (first) sampler, with its rule
   * for dpm_2 and uni_pc (one step more without the second-to-last level), before the split.
   */
  kSamplerGrid?: boolean;
}

/** A scheduler node's ComfyUI inputs as Schedule (ComfyUI custom)'s params. */
export function curveNodeParams(curve: ComfySigmaCurve, params: Record<string, number | string>): Record<string, number | string> {
  const { rho, beta, model_type, sigmas, ...rest } = params;
  const out: Record<string, number | string> = { ...rest, curve };
  if (model_type !== undefined) out[curve === 'optimal_steps' ? 'oss_model_type' : 'model_type'] = model_type;
  if (rho !== undefined) out[curve === 'polyexponential' ? 'poly_rho' : 'rho'] = rho;
  if (beta !== undefined) out[curve === 'laplace' ? 'laplace_beta' : 'beta'] = beta;
  if (sigmas !== undefined) out.sigma_list = sigmas;
  return out;
}

/** One of ComfyUI's sigma nodes with its inputs; `part`: which output of a split goes on. */
export type SigmaOp =
  | { op: 'split'; step: number; part: 'high' | 'low' }
  | { op: 'split_denoise'; denoise: number; part: 'high' | 'low' }
  | { op: 'flip' }
  | { op: 'set_first'; sigma: number }
  | { op: 'extend'; steps: number; start_at_sigma: number; end_at_sigma: number; spacing: 'linear' | 'cosine' | 'sine' };

function opTag(o: SigmaOp): string {
  switch (o.op) {
    case 'split':
      return `split${o.step}${o.part}`;
    case 'split_denoise':
      return `sd${o.denoise}${o.part}`;
    case 'flip':
      return 'flip';
    case 'set_first':
      return `first${o.sigma}`;
    case 'extend':
      return `ext${o.steps}_${o.start_at_sigma}_${o.end_at_sigma}_${o.spacing}`;
  }
}

/** Our node for a sigma op: its type, params, whether it reads the model, and the output port that goes on. */
function opNode(o: SigmaOp): { type: string; params: Record<string, unknown>; model: boolean; port: string } {
  switch (o.op) {
    case 'split':
      return { type: 'SplitSigmas', params: { mode: 'at_step', step: o.step }, model: false, port: o.part };
    case 'split_denoise':
      return { type: 'SplitSigmas', params: { mode: 'denoise', denoise: o.denoise }, model: false, port: o.part };
    case 'flip':
      return { type: 'FlipSigmas', params: {}, model: true, port: 'sigmas' };
    case 'set_first':
      return { type: 'SetFirstSigma', params: { sigma: o.sigma }, model: true, port: 'sigmas' };
    case 'extend':
      return { type: 'ExtendIntermediateSigmas', params: { steps: o.steps, start_at_sigma: o.start_at_sigma, end_at_sigma: o.end_at_sigma, spacing: o.spacing }, model: true, port: 'sigmas' };
  }
}

export type SamplerNodeName = 'SamplerSEEDS2' | 'SamplerER_SDE' | 'SamplerEulerAncestral' | 'SamplerDPMPP_2S_Ancestral' | 'SamplerDPMPP_3M_SDE' | 'SamplerDPMPP_2M_SDE' | 'SamplerDPMPP_SDE' | 'SamplerDPMAdaptative' | 'SamplerEulerAncestralCFGPP' | 'SamplerSASolver' | 'SamplerLMS';

/** A sampler node's inputs as the Sampler params of the solver its ComfyUI sampler maps to. */
const SAMPLER_NODE_PARAMS: Record<SamplerNodeName, (inputs: Record<string, number | string | boolean>) => Record<string, unknown>> = {
  SamplerSEEDS2: (i) => ({ seeds_solver_type: i.solver_type, ancestral_eta: i.eta, s_noise: i.s_noise, seeds_r: i.r }),
  SamplerEulerAncestral: (i) => ({ ancestral_eta: i.eta, s_noise: i.s_noise }),
  SamplerDPMPP_2S_Ancestral: (i) => ({ ancestral_eta: i.eta, s_noise: i.s_noise }),
  SamplerDPMPP_3M_SDE: (i) => ({ ancestral_eta: i.eta, s_noise: i.s_noise }),
  SamplerDPMPP_2M_SDE: (i) => ({ dpm_solver_type: i.solver_type, ancestral_eta: i.eta, s_noise: i.s_noise }),
  SamplerDPMPP_SDE: (i) => ({ ancestral_eta: i.eta, s_noise: i.s_noise, dpmpp_sde_r: i.r }),
  SamplerDPMAdaptative: (i) => ({
    adaptive_order: i.order,
    adaptive_rtol: i.rtol,
    adaptive_atol: i.atol,
    adaptive_h_init: i.h_init,
    adaptive_pcoeff: i.pcoeff,
    adaptive_icoeff: i.icoeff,
    adaptive_dcoeff: i.dcoeff,
    adaptive_accept_safety: i.accept_safety,
    adaptive_eta: i.eta,
    s_noise: i.s_noise,
  }),
  SamplerEulerAncestralCFGPP: (i) => ({ ancestral_eta: i.eta, s_noise: i.s_noise }),
  SamplerSASolver: (i) => {
    return {
    sa_eta: i.eta,
    sa_sde_start: i.sde_start_percent,
    sa_sde_end: i.sde_end_percent,
    s_noise: i.s_noise,
    sa_predictor_order: i.predictor_order,
    sa_corrector_order: i.corrector_order,
    sa_simple_order_2: i.simple_order_2,
    };
  },
  SamplerLMS: (i) => ({ lms_order: i.order }),
  SamplerER_SDE: (i) => ({
    er_sde_type: ({ 'ER-SDE': 'er-sde', 'Reverse-time SDE': 'reverse-time-sde', ODE: 'ode' } as Record<string, string>)[String(i.solver_type)],
    er_sde_max_stage: i.max_stage,
    er_sde_eta: i.eta,
    s_noise: i.s_noise,
  }),
};

const SD15 = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 };

export function gridCases(): GridCase[] {
  const out: GridCase[] = [];
  const add = (tag: string, space: 'vp' | 'flow', config: Record<string, unknown>, more: Partial<GridCase> & { tokens?: number } = {}) => {
    for (const scheduler of COMFY_SCHEDULERS) {
      for (const steps of [1, 4, 12, 30]) {
        // ComfyUI's kl_optimal divides by steps - 1: one step gives NaN there (ours: the top level).
        if (scheduler === 'kl_optimal' && steps === 1) continue;
        const c: GridCase = { id: '', space, config, scheduler, steps, denoise: 1, discardPenultimate: false, ...more };
        c.id = `grid-${tag}-${scheduler}-${steps}${c.denoise < 1 ? `-d${c.denoise}` : ''}${c.discardPenultimate ? '-discard' : ''}`;
        out.push(c);
      }
    }
  };
  add('sd15', 'vp', SD15);
  add('sd15', 'vp', SD15, { denoise: 0.6 });
  add('sd15', 'vp', SD15, { discardPenultimate: true });
  add('linear', 'vp', { beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02 });
  add('zsnr', 'vp', { ...SD15, rescale_betas_zero_snr: true });
  add('sd3', 'flow', { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3.0 });
  add('sd3', 'flow', { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3.0 }, { denoise: 0.75 });
  add('flux-1024', 'flow', { _class_name: 'FlowMatchEulerDiscreteScheduler', use_dynamic_shifting: true, base_shift: 0.5, max_shift: 1.15 }, { tokens: 4096 });
  add('flux-512', 'flow', { _class_name: 'FlowMatchEulerDiscreteScheduler', use_dynamic_shifting: true, base_shift: 0.5, max_shift: 1.15 }, { tokens: 1024 });
  return out;
}

/**
 * A stand-alone scheduler node's sigmas (AlignYourStepsScheduler, GITSScheduler, KarrasScheduler, ...), the
 * node's own inputs in `params` (ComfyUI's names), on SD 1.5's model sampling for the timesteps (and for SD
 * Turbo and beta sampling, the levels); Optimal Steps' flow levels on SD3's, compared level by level only
 * (the model sampling the references come from predates ComfyUI's flow classes; the flow grid cases check
 * flow timesteps).
 */
export interface CurveCase {
  id: string;
  /** flow: levels only (their timesteps are the flow grid cases' business). */
  space: 'vp' | 'flow';
  config: Record<string, unknown>;
  curve: ComfySigmaCurve;
  params: Record<string, number | string>;
}

const SD3_FLOW = { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3.0 };

export function curveCases(): CurveCase[] {
  const out: CurveCase[] = [];
  const add = (curve: ComfySigmaCurve, params: Record<string, number | string>, space: 'vp' | 'flow' = curve === 'optimal_steps' ? 'flow' : 'vp') => {
    const tag = Object.entries(params).map(([k, v]) => `${k}${String(v).replace(/[^A-Za-z0-9.+-]/g, '_')}`).join('-');
    if (space === 'flow') out.push({ id: `curve-sd3-${curve}-${tag}`, space: 'flow', config: SD3_FLOW, curve, params });
    else out.push({ id: `curve-sd15-${curve}-${tag}`, space: 'vp', config: SD15, curve, params });
  };
  for (const model_type of ['SD1', 'SDXL', 'SVD']) for (const steps of [4, 10, 16, 30]) add('align_your_steps', { model_type, steps, denoise: 1 });
  for (const denoise of [0.6, 0.45]) add('align_your_steps', { model_type: 'SD1', steps: 10, denoise });
  for (let k = 0; k < 15; k++) for (const steps of [2, 3, 7, 12, 20]) add('gits', { coeff: Number((0.8 + 0.05 * k).toFixed(2)), steps, denoise: 1 });
  add('gits', { coeff: 1.2, steps: 30, denoise: 1 });
  add('gits', { coeff: 1.2, steps: 7, denoise: 0.5 });
  for (const steps of [1, 7, 20]) add('karras', { steps, sigma_max: 14.614642, sigma_min: 0.0291675, rho: 7 });
  add('karras', { steps: 12, sigma_max: 80, sigma_min: 0.1, rho: 3 });
  for (const steps of [1, 7, 20]) add('exponential', { steps, sigma_max: 14.614642, sigma_min: 0.0291675 });
  for (const rho of [1, 0.5, 2, 3.3]) add('polyexponential', { steps: 12, sigma_max: 14.614642, sigma_min: 0.0291675, rho });
  for (const steps of [7, 20, 21]) add('laplace', { steps, sigma_max: 14.614642, sigma_min: 0.0291675, mu: 0, beta: 0.5 });
  add('laplace', { steps: 12, sigma_max: 14.614642, sigma_min: 0.0291675, mu: 0.5, beta: 1.2 });
  for (const steps of [7, 20]) add('vp', { steps, beta_d: 19.9, beta_min: 0.1, eps_s: 0.001 });
  add('vp', { steps: 12, beta_d: 10, beta_min: 0.2, eps_s: 0.01 });
  for (const [steps, denoise] of [[1, 1], [4, 1], [10, 1], [2, 0.5], [3, 0.3], [3, 0.7]]) add('sd_turbo', { steps, denoise });
  for (const [steps, alpha, beta] of [[20, 0.6, 0.6], [4, 1, 1], [12, 2, 0.5], [30, 0.3, 0.3]]) add('beta', { steps, alpha, beta });
  for (const model_type of ['FLUX', 'Wan', 'Chroma']) for (const steps of [3, 10, 20, 40]) add('optimal_steps', { model_type, steps, denoise: 1 });
  add('optimal_steps', { model_type: 'FLUX', steps: 12, denoise: 0.625 });
  // ManualSigmas: the levels as its pattern reads them (any separators, a leading point, ending above 0, ascending).
  add('manual', { sigmas: '14.6146, 7.0, 3.1, 1, 0.3, 0' });
  add('manual', { sigmas: '20;10 |5.55,, 2, .5 0.0292' });
  add('manual', { sigmas: '0.0292, 0.5, 3, 14.6146' });
  add('manual', { sigmas: '1, 0.75, 0.5, 0.25, 0' }, 'flow');
  return out;
}

export function runCases(): RunCase[] {
  const out: RunCase[] = [];
  const add = (model: ComfyModel, sampler: string, scheduler: ComfyScheduler, steps: number, more: Partial<RunCase> = {}) => {
    const c: RunCase = { id: '', model, config: {}, scheduler, steps, denoise: 1, sampler, seed: 0, batch: 1, ...more };
    const tag = model === 'gaussian-vp' ? 'vp' : model === 'gaussian-vp-continuous' ? 'vpc' : model === 'gaussian-rf' ? 'rf' : `twin-${model}`;
    c.id = `run-${tag}-${sampler}-${scheduler}-${steps}${c.denoise < 1 ? `-d${c.denoise}` : ''}${c.batch > 1 ? `-b${c.batch}` : ''}${more.config ? '-' + Object.keys(more.config).join('-') : ''}${more.seed !== undefined ? `-seed${more.seed}` : ''}${c.cfg !== undefined ? `-cfg${c.cfg}` : ''}${c.apg ? `-apg${c.apg.eta}_${c.apg.norm_threshold}_${c.apg.momentum}` : ''}${c.samplerNode ? `-${c.samplerNode.name}-${Object.values(c.samplerNode.inputs).join('_').replace(/[^A-Za-z0-9._]/g, '')}` : ''}${c.sigmaOps ? `-ops-${c.sigmaOps.map(opTag).join('-')}` : ''}${c.addNoise === false ? '-nonoise' : ''}${c.then ? ['-then', c.then.sampler, ...c.then.sigmaOps.map(opTag)].join('-') : ''}${c.emptyLatent ? '-empty' : ''}${c.kSamplerGrid ? '-ksampler' : ''}`;
    if (c.curve) c.id = c.id.replace(`-${scheduler}-${steps}`, `-curve-${c.curve.name}-${Object.entries(c.curve.params).map(([k, v]) => `${k}${String(v).replace(/[^A-Za-z0-9.+-]/g, '_')}`).join('-')}`);
    if (c.apg && c.cfg === undefined) throw new Error(`comfyui parity case ${c.id}: APG needs a cfg`);
    if (c.cfg !== undefined && !isTwin(model)) throw new Error(`comfyui parity case ${c.id}: cfg needs a conditional twin`);
    if ((c.addNoise === false || c.then) && !c.sigmaOps) throw new Error(`comfyui parity case ${c.id}: a run without noise or a chain is a SamplerCustom run (give sigmaOps)`);
    c.seed = more.seed ?? parseInt(createHash('sha256').update(c.id).digest('hex').slice(0, 8), 16);
    out.push(c);
  };
  for (const scheduler of COMFY_SCHEDULERS) {
    add('gaussian-vp', 'euler', scheduler, 12);
    add('gaussian-vp', 'dpmpp_2m', scheduler, 12);
  }
  for (const scheduler of ['normal', 'karras'] as const) {
    for (const sampler of ['ddim', 'euler_ancestral', 'heun', 'lms']) add('gaussian-vp', sampler, scheduler, 10);
    add('gaussian-vp-continuous', 'dpmpp_2m', scheduler, 20);
  }
  // dpm_2: one step more without the second-to-last level; the midpoints at their nearest training step.
  for (const scheduler of ['normal', 'karras', 'exponential'] as const) add('gaussian-vp', 'dpm_2', scheduler, 10);
  add('gaussian-vp-continuous', 'dpm_2', 'karras', 15);
  add('gaussian-rf', 'dpm_2', 'simple', 8);
  for (const scheduler of ['normal', 'karras'] as const) add('gaussian-vp', 'dpm_2_ancestral', scheduler, 10);
  add('gaussian-vp-continuous', 'dpm_2_ancestral', 'karras', 12, { batch: 2 });
  for (const scheduler of ['normal', 'karras', 'exponential'] as const) add('gaussian-vp', 'dpmpp_2s_ancestral', scheduler, 10);
  add('gaussian-vp-continuous', 'dpmpp_2s_ancestral', 'karras', 15, { batch: 2 });
  // Rectified-flow forms (ComfyUI's *_RF samplers on flow models).
  for (const sampler of ['euler_ancestral', 'dpm_2_ancestral', 'dpmpp_2s_ancestral']) add('gaussian-rf', sampler, 'simple', 10);
  add('gaussian-rf', 'dpmpp_2s_ancestral', 'normal', 8, { batch: 2 });
  for (const sampler of ['ipndm', 'ipndm_v']) {
    for (const scheduler of ['normal', 'karras', 'exponential'] as const) add('gaussian-vp', sampler, scheduler, 12);
    add('gaussian-rf', sampler, 'simple', 10);
  }
  add('gaussian-vp', 'ipndm_v', 'karras', 10, { denoise: 0.6 });
  for (const scheduler of ['normal', 'karras', 'beta'] as const) add('gaussian-vp', 'res_multistep', scheduler, 12);
  add('gaussian-rf', 'res_multistep', 'simple', 10);
  add('gaussian-vp-continuous', 'res_multistep_ancestral', 'karras', 12, { batch: 2 });
  add('gaussian-vp', 'res_multistep_ancestral', 'normal', 10);
  for (const scheduler of ['normal', 'karras', 'simple'] as const) add('gaussian-vp', 'deis', scheduler, 12);
  add('gaussian-vp-continuous', 'deis', 'karras', 20);
  add('gaussian-rf', 'deis', 'simple', 10);
  for (const scheduler of ['normal', 'karras'] as const) add('gaussian-vp', 'gradient_estimation', scheduler, 12);
  add('gaussian-rf', 'gradient_estimation', 'simple', 10);
  for (const scheduler of ['normal', 'karras'] as const) add('gaussian-vp', 'heunpp2', scheduler, 10);
  add('gaussian-rf', 'heunpp2', 'simple', 8);
  for (const sampler of ['uni_pc', 'uni_pc_bh2']) {
    for (const scheduler of ['normal', 'karras', 'simple'] as const) add('gaussian-vp', sampler, scheduler, 12);
    add('gaussian-vp-continuous', sampler, 'karras', 20);
  }
  add('gaussian-vp', 'uni_pc_bh2', 'normal', 10, { denoise: 0.6 });
  // The SDE samplers: step noise from ComfyUI's Brownian tree (torchsde), so the same seed walks the same path.
  for (const sampler of ['dpmpp_sde', 'dpmpp_2m_sde', 'dpmpp_2m_sde_heun', 'dpmpp_3m_sde']) {
    for (const scheduler of ['normal', 'karras'] as const) add('gaussian-vp', sampler, scheduler, 10);
    add('gaussian-vp-continuous', sampler, 'karras', 15, { batch: 2 });
  }
  add('gaussian-vp', 'dpmpp_2m_sde', 'karras', 20, { seed: 42 });
  // On flow models these samplers move the first level off t = 1 (percent_to_sigma(1e-4)), their tree still
  // spanning the grid before the move.
  for (const scheduler of ['simple', 'beta'] as const) add('gaussian-rf', 'dpmpp_2m_sde', scheduler, 10);
  add('gaussian-rf', 'dpmpp_2m_sde', 'simple', 12, { config: { shift: 3.0 } });
  for (const sampler of ['dpmpp_sde', 'dpmpp_3m_sde', 'er_sde', 'seeds_2', 'seeds_3']) add('gaussian-rf', sampler, 'simple', 8);
  add('gaussian-rf', 'er_sde', 'simple', 10, { config: { shift: 3.0 } });
  add('gaussian-rf', 'dpmpp_sde', 'normal', 10, { config: { shift: 3.0 } });
  // The _gpu twins: the same tree when ComfyUI samples on the CPU, as here.
  for (const sampler of ['dpmpp_sde_gpu', 'dpmpp_2m_sde_gpu', 'dpmpp_2m_sde_heun_gpu', 'dpmpp_3m_sde_gpu']) add('gaussian-vp', sampler, 'karras', 8);
  add('gaussian-vp', 'dpmpp_sde', 'exponential', 12, { denoise: 0.6 });
  add('gaussian-vp', 'dpmpp_3m_sde', 'karras', 12, { config: { prediction_type: 'v_prediction' } });
  // lcm: the x0 prediction re-noised each step from ComfyUI's CPU noise sampler (VP and flow noise scaling).
  for (const scheduler of ['normal', 'sgm_uniform'] as const) add('gaussian-vp', 'lcm', scheduler, 8);
  add('gaussian-vp-continuous', 'lcm', 'karras', 6, { batch: 2 });
  add('gaussian-rf', 'lcm', 'simple', 8);
  // ddpm: the DDPM posterior step on any grid.
  for (const scheduler of ['normal', 'karras'] as const) add('gaussian-vp', 'ddpm', scheduler, 10);
  add('gaussian-vp-continuous', 'ddpm', 'karras', 12, { batch: 2 });
  // er_sde: three stages from ComfyUI's CPU noise sampler.
  for (const scheduler of ['normal', 'karras'] as const) add('gaussian-vp', 'er_sde', scheduler, 10);
  add('gaussian-vp-continuous', 'er_sde', 'karras', 12, { batch: 2 });
  add('gaussian-vp', 'er_sde', 'exponential', 10, { denoise: 0.6 });
  // SEEDS: stage noises carried through the stages, each stage's draw from ComfyUI's CPU noise sampler.
  for (const sampler of ['seeds_2', 'seeds_3']) {
    for (const scheduler of ['normal', 'karras'] as const) add('gaussian-vp', sampler, scheduler, 8);
    add('gaussian-vp-continuous', sampler, 'karras', 10, { batch: 2 });
  }
  // exp_heun_2_x0 and exp_heun_2_x0_sde (a later ComfyUI than a125cd8): SEEDS-2 with its stage at the step's end,
  // its end weighing both x0 predictions by phi_2; the SDE form draws two noises a step, the second weighted 0.
  for (const sampler of ['exp_heun_2_x0', 'exp_heun_2_x0_sde']) {
    for (const scheduler of ['normal', 'karras'] as const) add('gaussian-vp', sampler, scheduler, 8);
    add('gaussian-vp-continuous', sampler, 'karras', 10, { batch: 2 });
    add('gaussian-rf', sampler, 'simple', 8);
  }
  // The SamplerSEEDS2 and SamplerER_SDE nodes: their options through the node's own execute.
  const via = (name: SamplerNodeName, inputs: Record<string, number | string | boolean>) => ({ samplerNode: { name, inputs } });
  const seeds2 = (inputs: Record<string, number | string>) => via('SamplerSEEDS2', inputs);
  add('gaussian-vp', 'seeds_2', 'karras', 8, seeds2({ solver_type: 'phi_2', eta: 0.5, s_noise: 1, r: 0.3 }));
  add('gaussian-vp-continuous', 'seeds_2', 'normal', 8, seeds2({ solver_type: 'phi_1', eta: 0, s_noise: 1, r: 0.7 }));
  add('gaussian-rf', 'seeds_2', 'simple', 8, seeds2({ solver_type: 'phi_2', eta: 1, s_noise: 0.8, r: 0.5 }));
  const erSde = (inputs: Record<string, number | string>) => via('SamplerER_SDE', inputs);
  add('gaussian-vp', 'er_sde', 'karras', 10, erSde({ solver_type: 'Reverse-time SDE', max_stage: 2, eta: 0.5, s_noise: 1 }));
  add('gaussian-vp', 'er_sde', 'normal', 10, erSde({ solver_type: 'ODE', max_stage: 3, eta: 1, s_noise: 1 }));
  add('gaussian-vp-continuous', 'er_sde', 'karras', 10, erSde({ solver_type: 'ER-SDE', max_stage: 1, eta: 1, s_noise: 1.2 }));
  add('gaussian-rf', 'er_sde', 'simple', 8, erSde({ solver_type: 'Reverse-time SDE', max_stage: 3, eta: 1.5, s_noise: 1 }));
  // Sampler nodes whose options map to params the Sampler already had: eta, s_noise, the LMS order.
  add('gaussian-vp', 'euler_ancestral', 'karras', 10, via('SamplerEulerAncestral', { eta: 0.6, s_noise: 0.9 }));
  add('gaussian-rf', 'euler_ancestral', 'simple', 8, via('SamplerEulerAncestral', { eta: 0.5, s_noise: 1 }));
  add('gaussian-vp', 'dpmpp_2s_ancestral', 'normal', 8, via('SamplerDPMPP_2S_Ancestral', { eta: 0.4, s_noise: 1.1 }));
  add('gaussian-vp-continuous', 'dpmpp_3m_sde', 'karras', 12, via('SamplerDPMPP_3M_SDE', { eta: 0.7, s_noise: 0.8, noise_device: 'cpu' }));
  add('gaussian-vp', 'lms', 'karras', 10, via('SamplerLMS', { order: 2 }));
  // dpm_adaptive's controller and tolerances (eta 0: its ODE form).
  const adaptive = (more: Record<string, number>) => ({ order: 3, rtol: 0.05, atol: 0.0078, h_init: 0.05, pcoeff: 0, icoeff: 1, dcoeff: 0, accept_safety: 0.81, eta: 0, s_noise: 1, ...more });
  add('gaussian-vp', 'dpm_adaptive', 'karras', 10, via('SamplerDPMAdaptative', adaptive({ order: 2, rtol: 0.02, atol: 0.004 })));
  add('gaussian-vp-continuous', 'dpm_adaptive', 'normal', 10, via('SamplerDPMAdaptative', adaptive({ pcoeff: 0.2, icoeff: 0.6, dcoeff: 0.1 })));
  add('gaussian-vp', 'dpm_adaptive', 'normal', 10, via('SamplerDPMAdaptative', adaptive({ h_init: 0.2, accept_safety: 0.9 })));
  add('gaussian-vp', 'dpm_adaptive', 'karras', 10, via('SamplerDPMAdaptative', adaptive({ eta: 0.5, s_noise: 0.9 })));
  add('gaussian-vp-continuous', 'dpm_adaptive', 'normal', 10, via('SamplerDPMAdaptative', adaptive({ eta: 1, order: 2 })));
  // SA-Solver's tau, SDE interval, orders and simple order-2 coefficients (use_pece through sa_solver_pece).
  const sa = (more: Record<string, number | boolean>) => ({ eta: 1, sde_start_percent: 0.2, sde_end_percent: 0.8, s_noise: 1, predictor_order: 3, corrector_order: 4, use_pece: false, simple_order_2: false, ...more });
  add('gaussian-vp', 'sa_solver', 'karras', 10, via('SamplerSASolver', sa({ eta: 0.6, sde_start_percent: 0.1, sde_end_percent: 0.9, predictor_order: 2, corrector_order: 1 })));
  add('gaussian-vp-continuous', 'sa_solver', 'normal', 12, via('SamplerSASolver', sa({ eta: 0, corrector_order: 0 })));
  add('gaussian-rf', 'sa_solver', 'simple', 10, via('SamplerSASolver', sa({ eta: 1.5, predictor_order: 4, corrector_order: 3, s_noise: 0.8 })));
  add('gaussian-vp', 'sa_solver_pece', 'normal', 8, via('SamplerSASolver', sa({ use_pece: true, predictor_order: 2, corrector_order: 2 })));
  add('gaussian-vp', 'sa_solver', 'karras', 10, via('SamplerSASolver', sa({ predictor_order: 2, corrector_order: 2, simple_order_2: true })));
  add('gaussian-rf', 'sa_solver', 'simple', 8, via('SamplerSASolver', sa({ predictor_order: 2, corrector_order: 2, simple_order_2: true, eta: 0.7 })));
  // DPM++ SDE's stage fraction r away from 1/2, with eta and s_noise.
  add('gaussian-vp', 'dpmpp_sde', 'karras', 8, via('SamplerDPMPP_SDE', { eta: 1, s_noise: 1, r: 0.3, noise_device: 'cpu' }));
  add('gaussian-vp-continuous', 'dpmpp_sde', 'normal', 8, via('SamplerDPMPP_SDE', { eta: 0.5, s_noise: 0.9, r: 0.7, noise_device: 'cpu' }));
  add('gaussian-rf', 'dpmpp_sde', 'simple', 8, via('SamplerDPMPP_SDE', { eta: 1, s_noise: 1, r: 0.4, noise_device: 'cpu' }));
  // DPM++ 2M SDE's eta (0: the ODE) and s_noise, both solver types, VP and flow.
  add('gaussian-vp', 'dpmpp_2m_sde', 'karras', 10, via('SamplerDPMPP_2M_SDE', { solver_type: 'heun', eta: 0.5, s_noise: 1.1, noise_device: 'cpu' }));
  add('gaussian-vp-continuous', 'dpmpp_2m_sde', 'normal', 12, via('SamplerDPMPP_2M_SDE', { solver_type: 'midpoint', eta: 0, s_noise: 1, noise_device: 'cpu' }));
  add('gaussian-rf', 'dpmpp_2m_sde', 'simple', 10, via('SamplerDPMPP_2M_SDE', { solver_type: 'midpoint', eta: 0.7, s_noise: 1, noise_device: 'cpu' }));
  // dpm_fast: its own grid uniform in ln sigma between the KSampler grid's ends, orders 3, ..., 2, 1.
  for (const [scheduler, steps] of [['normal', 10], ['karras', 12], ['karras', 11], ['exponential', 13]] as const) add('gaussian-vp', 'dpm_fast', scheduler, steps);
  add('gaussian-vp-continuous', 'dpm_fast', 'karras', 20, { batch: 2 });
  add('gaussian-vp', 'dpm_fast', 'normal', 12, { denoise: 0.6 });
  // dpm_adaptive: ComfyUI's one step integrated with PID-controlled step sizes (its step count only sets the ends).
  for (const scheduler of ['normal', 'karras'] as const) add('gaussian-vp', 'dpm_adaptive', scheduler, 10);
  add('gaussian-vp-continuous', 'dpm_adaptive', 'karras', 20, { batch: 2 });
  add('gaussian-vp', 'dpm_adaptive', 'exponential', 10, { denoise: 0.6 });
  // SA-Solver: predictor-corrector in half-log-SNR, SDE noise between 20% and 80% of the schedule.
  for (const sampler of ['sa_solver', 'sa_solver_pece']) {
    for (const scheduler of ['normal', 'karras'] as const) add('gaussian-vp', sampler, scheduler, 12);
    add('gaussian-vp-continuous', sampler, 'karras', 20, { batch: 2 });
    add('gaussian-rf', sampler, 'simple', 10);
  }
  add('gaussian-rf', 'sa_solver', 'simple', 12, { config: { shift: 3.0 } });
  add('gaussian-vp', 'sa_solver', 'exponential', 10, { denoise: 0.6 });
  // examples/comfyui-dpmpp2m-karras.json's run.
  add('gaussian-vp', 'dpmpp_2m', 'karras', 20, { seed: 42 });
  add('gaussian-vp', 'euler', 'normal', 10, { denoise: 0.6 });
  add('gaussian-vp', 'dpmpp_2m', 'karras', 10, { denoise: 0.5 });
  add('gaussian-vp', 'euler_ancestral', 'normal', 8, { batch: 2 });
  add('gaussian-vp', 'dpmpp_2m', 'karras', 15, { config: { prediction_type: 'v_prediction' } });
  add('gaussian-vp', 'euler', 'normal', 10, { config: { prediction_type: 'v_prediction', rescale_betas_zero_snr: true } });
  for (const scheduler of ['simple', 'normal', 'beta', 'karras'] as const) add('gaussian-rf', 'euler', scheduler, 10);
  add('gaussian-rf', 'heun', 'simple', 8);
  add('gaussian-rf', 'euler', 'simple', 10, { denoise: 0.7 });
  // CFG on the twins: plain samplers guided as ComfyUI guides them, and the CFG++ samplers, which renoise
  // along the unconditional prediction (ComfyUI's post-CFG hook; computed even at cfg 1).
  add('sd15', 'euler', 'normal', 8, { cfg: 7.5 });
  add('sd15', 'dpmpp_2m', 'karras', 8, { cfg: 5 });
  for (const sampler of ['euler_cfg_pp', 'euler_ancestral_cfg_pp', 'dpmpp_2m_cfg_pp', 'dpmpp_2s_ancestral_cfg_pp', 'res_multistep_cfg_pp', 'res_multistep_ancestral_cfg_pp', 'gradient_estimation_cfg_pp']) {
    add('sd15', sampler, 'karras', 8, { cfg: 1.5 });
  }
  add('sd15', 'euler_cfg_pp', 'normal', 6, { cfg: 1 });
  add('sd15', 'dpmpp_2m_cfg_pp', 'normal', 10, { cfg: 2 });
  for (const sampler of ['euler', 'euler_cfg_pp', 'euler_ancestral_cfg_pp', 'res_multistep_cfg_pp', 'gradient_estimation_cfg_pp']) add('sd3', sampler, 'simple', 8, { cfg: 1.5 });
  // SamplerEulerAncestralCFGPP's eta and s_noise, guided on the SD 1.5 twin.
  add('sd15', 'euler_ancestral_cfg_pp', 'karras', 8, { cfg: 1.5, samplerNode: { name: 'SamplerEulerAncestralCFGPP', inputs: { eta: 0.5, s_noise: 0.9 } } });
  // cfgpp_ud10_ab (ComfyUI#15951, after a125cd8): AB2 history, unconditional-derivative history and the x0 history
  // extrapolated to 0 on the last step; VP and flow.
  add('sd15', 'cfgpp_ud10_ab', 'karras', 8, { cfg: 1.5 });
  add('sd15', 'cfgpp_ud10_ab', 'normal', 10, { cfg: 2 });
  add('sd3', 'cfgpp_ud10_ab', 'simple', 8, { cfg: 1.5 });
  add('sd3', 'cfgpp_ud10_ab', 'beta', 6, { cfg: 2 });
  // At cfg 1 ComfyUI's single-call optimization skips the unconditional side: the sampler reads the conditional x0.
  add('sd15', 'cfgpp_ud10_ab', 'normal', 6, { cfg: 1 });
  // ...and with ComfyUI's APG there, rewriting the conditional x0 against zeros: the hook still sees no unconditional side.
  add('sd15', 'cfgpp_ud10_ab', 'karras', 9, { cfg: 1, apg: { eta: 2, norm_threshold: 2.5, momentum: 0 } });
  // ComfyUI's APG node: its defaults (eta 1, norm_threshold 5), projected and momentum-averaged updates, on
  // both twins; Heun's two calls per step feed the momentum twice, an ancestral sampler adds its noise.
  add('sd15', 'euler', 'normal', 8, { cfg: 7.5, apg: { eta: 1, norm_threshold: 5, momentum: 0 } });
  add('sd15', 'dpmpp_2m', 'karras', 8, { cfg: 6, apg: { eta: 0, norm_threshold: 2.5, momentum: -0.5 } });
  add('sd15', 'heun', 'karras', 5, { cfg: 5, apg: { eta: 0.3, norm_threshold: 0, momentum: 0.4 } });
  add('sd15', 'euler_ancestral', 'normal', 8, { cfg: 4, apg: { eta: 0.5, norm_threshold: 3, momentum: -0.75 } });
  add('sd3', 'euler', 'simple', 8, { cfg: 4, apg: { eta: 0, norm_threshold: 1, momentum: -0.5 } });
  // At cfg 1 ComfyUI calls no unconditional model, and its APG rewrites the conditional x0 against zeros.
  add('sd15', 'euler', 'normal', 6, { cfg: 1, apg: { eta: 0.5, norm_threshold: 5, momentum: -0.25 } });
  // Fuzz round C (comfyui round 1): a denoise close enough to 1 that int(steps / denoise) == steps keeps the
  // table's top level, and KSampler's noise_scaling then takes max_denoise (noise * sqrt(1 + sigma^2)) for
  // img2img too.
  add('gaussian-vp', 'euler', 'normal', 8, { denoise: 0.95 });
  add('gaussian-vp-continuous', 'dpm_2', 'sgm_uniform', 8, { denoise: 0.97 });
  // ComfyUI's dpmpp_2m and uni_pc take lambda = -ln sigma on flow models too; uni_pc's 0.001 end, written into
  // the run's sigmas, makes CONST's inverse_noise_scaling divide the result by 0.999.
  add('gaussian-rf', 'dpmpp_2m', 'simple', 8);
  add('gaussian-rf', 'dpmpp_2m', 'beta', 8, { config: { shift: 3.0 } });
  add('gaussian-rf', 'uni_pc', 'simple', 8);
  add('gaussian-rf', 'uni_pc_bh2', 'karras', 9);
  add('sd3', 'uni_pc', 'normal', 8, { cfg: 1 });
  // get_ancestral_step in float32: s_down = sqrt(s_next^2 - s_up^2) cancels on a long step (14.6 -> 0.029 here),
  // and DPM++ 2S ancestral (and its CFG++ form) takes its stage at ln(s_down).
  add('gaussian-vp', 'dpmpp_2s_ancestral', 'karras', 2, { config: { prediction_type: 'v_prediction' } });
  add('sd15', 'dpmpp_2s_ancestral_cfg_pp', 'karras', 2, { cfg: 3 });
  // Samplers without a rectified-flow form, which ComfyUI runs on flow models (CONST) with their VE formulas:
  // the flow levels read as VE sigmas, the flow sample as the VE state.
  add('gaussian-rf', 'res_multistep_ancestral', 'simple', 10);
  add('gaussian-rf', 'res_multistep_ancestral', 'karras', 8, { config: { shift: 3.0 } });
  add('gaussian-rf', 'ddpm', 'simple', 10);
  add('gaussian-rf', 'ddpm', 'beta', 8, { batch: 2 });
  add('gaussian-rf', 'dpm_fast', 'simple', 10);
  add('gaussian-rf', 'dpm_fast', 'normal', 12, { config: { shift: 3.0 } });
  add('gaussian-rf', 'dpm_adaptive', 'simple', 10);
  add('gaussian-rf', 'dpm_adaptive', 'karras', 10, { batch: 2 });
  add('sd3', 'dpmpp_2m_cfg_pp', 'simple', 8, { cfg: 1.5 });
  add('sd3', 'dpmpp_2m_cfg_pp', 'beta', 10, { cfg: 1 });
  add('sd3', 'res_multistep_ancestral_cfg_pp', 'simple', 8, { cfg: 1.5 });
  add('sd3', 'res_multistep_ancestral_cfg_pp', 'normal', 6, { cfg: 2 });
  add('sd3', 'dpmpp_2s_ancestral_cfg_pp', 'simple', 6, { cfg: 1.5 });
  add('sd3', 'dpmpp_2s_ancestral_cfg_pp', 'karras', 4, { cfg: 2 });
  // SamplerCustom on sigmas edited by ComfyUI's sigma nodes, from the init latent. The sampler's own rules apply
  // to the sigmas it is handed: dpm_fast's grid per part, uni_pc's 0.001 end on the part that ends at 0, the
  // SDE samplers' first flow level on a part that starts at t = 1.
  const ops = (...sigmaOps: SigmaOp[]) => ({ sigmaOps });
  const split = (step: number, part: 'high' | 'low'): SigmaOp => ({ op: 'split', step, part });
  add('gaussian-vp', 'euler', 'karras', 10, ops(split(4, 'low')));
  // From an empty latent with noise (the Sampler's start noise): KSampler scales it by the part's first level.
  add('gaussian-vp', 'euler_ancestral', 'karras', 10, { ...ops(split(4, 'low')), emptyLatent: true });
  add('gaussian-rf', 'euler', 'simple', 8, { ...ops(split(3, 'low')), emptyLatent: true });
  add('gaussian-vp', 'dpmpp_2m', 'normal', 10, ops(split(6, 'high')));
  add('gaussian-vp', 'dpm_fast', 'normal', 12, ops(split(5, 'low')));
  add('gaussian-vp', 'dpm_fast', 'karras', 12, ops(split(6, 'high')));
  add('gaussian-vp', 'uni_pc', 'karras', 10, ops(split(4, 'low')));
  add('gaussian-vp', 'uni_pc_bh2', 'karras', 10, ops(split(4, 'high')));
  add('gaussian-vp', 'dpmpp_2m_sde', 'karras', 10, ops(split(3, 'low')));
  add('gaussian-rf', 'dpmpp_2m_sde', 'simple', 8, ops(split(3, 'high')));
  add('gaussian-rf', 'dpmpp_2m_sde', 'simple', 8, ops(split(3, 'low')));
  add('gaussian-rf', 'er_sde', 'simple', 8, ops(split(4, 'high')));
  add('gaussian-vp', 'euler', 'normal', 10, ops({ op: 'split_denoise', denoise: 0.45, part: 'low' }));
  add('gaussian-vp', 'dpmpp_2m', 'karras', 12, ops({ op: 'split_denoise', denoise: 0.5, part: 'high' }));
  add('gaussian-rf', 'euler', 'simple', 10, ops({ op: 'split_denoise', denoise: 0.35, part: 'low' }));
  // SetFirstSigma: above the table's top (max_denoise: noise * sqrt(1 + sigma^2), the top training step), below it.
  add('gaussian-vp', 'euler', 'karras', 10, ops({ op: 'set_first', sigma: 136 }));
  add('gaussian-vp', 'dpmpp_2m', 'normal', 10, ops({ op: 'set_first', sigma: 8 }));
  add('gaussian-vp', 'euler_ancestral', 'karras', 8, ops({ op: 'set_first', sigma: 20.5 }));
  add('gaussian-rf', 'euler', 'simple', 8, ops({ op: 'set_first', sigma: 0.85 }));
  add('gaussian-vp', 'dpmpp_2m', 'karras', 10, ops(split(4, 'low'), { op: 'set_first', sigma: 3 }));
  // ExtendIntermediateSigmas: every spacing, bounded and unbounded ranges; new levels at their own model timesteps.
  const extend = (steps: number, start_at_sigma: number, end_at_sigma: number, spacing: 'linear' | 'cosine' | 'sine'): SigmaOp => ({ op: 'extend', steps, start_at_sigma, end_at_sigma, spacing });
  add('gaussian-vp', 'euler', 'karras', 8, ops(extend(2, -1, 12, 'linear')));
  add('gaussian-vp', 'dpmpp_2m', 'normal', 8, ops(extend(3, 10, 1, 'cosine')));
  add('gaussian-vp', 'heun', 'karras', 6, ops(extend(2, -1, 0.5, 'sine')));
  add('gaussian-vp', 'dpm_2', 'exponential', 6, ops(extend(4, 5, 0.2, 'cosine')));
  add('gaussian-vp-continuous', 'dpmpp_2m', 'karras', 8, ops(extend(3, -1, 0, 'sine')));
  add('gaussian-rf', 'euler', 'simple', 8, ops(extend(2, -1, 0.3, 'sine')));
  add('gaussian-rf', 'dpmpp_2m_sde', 'simple', 6, ops(extend(3, 0.9, 0.1, 'linear')));
  add('gaussian-vp', 'uni_pc', 'karras', 8, ops(extend(2, 2, 0, 'linear'), split(7, 'low')));
  // Extending a head keeps it a head (its result in the model's variables, as an unextended head's).
  add('gaussian-vp', 'ipndm_v', 'simple', 15, ops(split(9, 'high'), extend(2, -1, 7.8, 'sine')));
  add('gaussian-vp', 'dpmpp_sde', 'normal', 8, ops(split(6, 'high'), extend(4, 2.83, 0.15, 'cosine')));
  add('gaussian-vp-continuous', 'dpm_fast', 'beta', 11, ops({ op: 'split_denoise', denoise: 0.39, part: 'high' }, extend(4, 0.7, 0.51, 'sine')));
  // FlipSigmas: unsampling the init latent (no noise) up the reversed schedule; ComfyUI returns the VE state
  // there, ours the model's (check.py scales). dpm_2's midpoints keep ComfyUI's nearest training steps.
  const unsample = (...more: SigmaOp[]) => ({ sigmaOps: [{ op: 'flip' } as SigmaOp, ...more], addNoise: false });
  add('gaussian-vp', 'euler', 'normal', 10, unsample());
  add('gaussian-vp', 'heun', 'karras', 8, unsample());
  add('gaussian-vp', 'dpm_2', 'karras', 8, unsample());
  add('gaussian-vp', 'dpmpp_2m', 'normal', 10, unsample());
  add('gaussian-vp-continuous', 'dpm_2', 'normal', 8, unsample(extend(2, 1, 0, 'linear')));
  // Two-sampler chains (KSamplerAdvanced-style base and refiner, another sampler for the last steps): the second
  // SamplerCustom continues from the first one's latent without noise, the same seed for its ancestral noise.
  const chain = (k: number, sampler: string, more: SigmaOp[] = []) => ({ sigmaOps: [split(k, 'high')], then: { sampler, sigmaOps: [split(k, 'low'), ...more] } });
  add('gaussian-vp', 'dpmpp_2m_sde', 'karras', 20, chain(12, 'euler_ancestral'));
  add('gaussian-vp', 'euler', 'normal', 10, chain(6, 'dpmpp_2m', [extend(2, -1, 0, 'linear')]));
  add('gaussian-vp', 'dpm_fast', 'karras', 12, chain(5, 'uni_pc'));
  add('gaussian-vp-continuous', 'heun', 'exponential', 8, chain(3, 'lms'));
  add('gaussian-rf', 'dpmpp_2m_sde', 'simple', 10, chain(4, 'euler'));
  add('gaussian-rf', 'euler', 'simple', 8, chain(3, 'heun'));
  // KSamplerAdvanced pairs (start/end steps, leftover noise returned, no noise added on the second): their levels
  // come from KSampler, which drops dpm_2's and uni_pc's second-to-last level before the split.
  add('gaussian-vp', 'dpm_2', 'karras', 10, { ...chain(6, 'dpm_2'), kSamplerGrid: true });
  add('gaussian-vp', 'uni_pc', 'normal', 12, { ...chain(8, 'uni_pc'), kSamplerGrid: true, emptyLatent: true });
  // examples/comfyui-two-samplers.json's run: from an empty latent, DPM++ 2M SDE for 14 of 20 Karras steps, then
  // DPM++ 2M on the last 6 with each split in two.
  add('gaussian-vp', 'dpmpp_2m_sde', 'karras', 20, { ...chain(14, 'dpmpp_2m', [extend(2, -1, 0, 'linear')]), emptyLatent: true, seed: 42 });
  // SamplerCustom on the stand-alone scheduler nodes' levels (Schedule (ComfyUI custom)), from an empty latent; the
  // Sampler applies the sampler's own rules there (uni_pc's 0.001 end, dpm_fast's grid) and k-diffusion's end rules.
  const curve = (name: ComfySigmaCurve, params: Record<string, number | string>, more: Partial<RunCase> = {}) => ({ curve: { name, params }, ...more });
  const SD_RANGE = { sigma_max: 14.614642, sigma_min: 0.0291675 };
  add('gaussian-vp', 'dpmpp_2m', 'normal', 10, curve('align_your_steps', { model_type: 'SD1', steps: 10, denoise: 1 }, { seed: 42 }));
  add('gaussian-vp', 'uni_pc', 'normal', 10, curve('align_your_steps', { model_type: 'SD1', steps: 10, denoise: 1 }));
  add('gaussian-vp', 'dpm_fast', 'normal', 8, curve('gits', { coeff: 1.2, steps: 8, denoise: 1 }));
  add('gaussian-vp', 'dpmpp_2m_sde', 'normal', 12, curve('karras', { steps: 12, ...SD_RANGE, rho: 7 }));
  add('gaussian-vp', 'dpmpp_2m', 'normal', 10, curve('laplace', { steps: 10, ...SD_RANGE, mu: 0, beta: 0.5 }));
  add('gaussian-vp', 'euler_ancestral', 'normal', 5, curve('manual', { sigmas: '14.6146, 7, 3, 1, 0.3, 0' }));
  add('gaussian-vp', 'euler_ancestral', 'normal', 4, curve('sd_turbo', { steps: 4, denoise: 1 }));
  add('gaussian-vp-continuous', 'heun', 'normal', 12, curve('beta', { steps: 12, alpha: 0.6, beta: 0.6 }));
  add('gaussian-vp', 'dpm_2', 'normal', 10, curve('polyexponential', { steps: 10, ...SD_RANGE, rho: 2 }));
  add('gaussian-vp', 'euler', 'normal', 10, curve('vp', { steps: 10, beta_d: 19.9, beta_min: 0.1, eps_s: 0.001 }));
  add('gaussian-rf', 'euler', 'normal', 8, curve('karras', { steps: 8, sigma_max: 1, sigma_min: 0.002, rho: 7 }));
  add('gaussian-rf', 'dpmpp_2m', 'normal', 10, curve('optimal_steps', { model_type: 'FLUX', steps: 10, denoise: 1 }));
  // Unsampling, then sampling back down the same levels (the round trip ComfyUI's FlipSigmas is for).
  add('gaussian-vp', 'euler', 'normal', 10, { sigmaOps: [{ op: 'flip' }], addNoise: false, then: { sampler: 'euler', sigmaOps: [] } });
  add('gaussian-vp', 'dpmpp_2m', 'karras', 12, { sigmaOps: [{ op: 'flip' }], addNoise: false, then: { sampler: 'dpmpp_2m', sigmaOps: [] } });
  return out;
}

/** What check.py needs about a run case. */
export interface RunEntry {
  id: string;
  model_file: string;
  config: Record<string, unknown>;
  space: 'vp' | 'flow';
  time_units: string;
  scheduler: string;
  steps: number;
  denoise: number;
  sampler: string;
  seed: number;
  latent_shape: number[];
  init: string | null;
  /** The twin's extra inputs (name -> .npy): the positive side, and the negative for CFG. */
  conditioning: Record<string, string>;
  negative: Record<string, string>;
  cfg: number | null;
  apg: { eta: number; norm_threshold: number; momentum: number } | null;
  sampler_node: { name: SamplerNodeName; inputs: Record<string, number | string | boolean> } | null;
  sigma_ops: SigmaOp[] | null;
  add_noise: boolean;
  then: { sampler: string; sigmaOps: SigmaOp[] } | null;
  curve: { name: ComfySigmaCurve; params: Record<string, number | string> } | null;
  ksampler_grid: boolean;
}

export function latentShape(c: RunCase): number[] {
  if (c.model === 'sd15') return [c.batch, 4, 8, 8];
  if (c.model === 'sd3') return [c.batch, 16, 8, 8];
  return [c.batch, 3, 16, 16];
}

/** The model folder a run case loads: the model's own, or a copy of it with the changed scheduler config. */
export async function caseModelFolder(dir: string, c: RunCase): Promise<string> {
  const base = path.join(dir, 'models', c.model);
  if (Object.keys(c.config).length === 0) return base;
  const config = { ...JSON.parse(await fs.readFile(path.join(base, 'scheduler/scheduler_config.json'), 'utf8')), ...c.config };
  const folder = path.join(dir, 'configs', createHash('sha256').update(c.model + JSON.stringify(config)).digest('hex').slice(0, 12));
  await fs.mkdir(path.join(folder, 'scheduler'), { recursive: true });
  await fs.copyFile(path.join(base, 'model_index.json'), path.join(folder, 'model_index.json'));
  const net = (await fs.stat(path.join(base, 'unet')).then(() => true, () => false)) ? 'unet' : 'transformer';
  // Written once per folder (its name is the config's hash): rewriting the network would give it a new
  // mtime, and the engine would reopen its session between two cases of one config.
  const copied = await fs.stat(path.join(folder, net, 'model.onnx')).then(() => true, () => false);
  if (!copied) await fs.cp(path.join(base, net), path.join(folder, net), { recursive: true });
  await fs.writeFile(path.join(folder, 'scheduler/scheduler_config.json'), JSON.stringify(config, null, 2));
  return folder;
}

/** The CFG node's APG params for a case run with ComfyUI's APG node. */
function apgParams(c: RunCase): Record<string, unknown> {
  if (!c.apg) return {};
  return { method: 'apg', apg_convention: 'comfyui', apg_eta: c.apg.eta, apg_norm_threshold: c.apg.norm_threshold, apg_momentum: c.apg.momentum };
}

/**
 * Our graph for a run case: Schedule (ComfyUI) -> Sampler (ComfyUI's noise) -> Save Latent "<id>.npy"; on a
 * twin, a Load Conditioning per extra input into the Sampler, and with cfg a CFG node fed the negatives.
 */
export function runGraph(
  c: RunCase,
  modelFolder: string,
  initFile: string | null,
  conditioning: Record<string, string> = {},
  negative: Record<string, string> = {},
): Record<string, unknown> {
  const node = (id: string, type: string, params: Record<string, unknown>, x: number, y: number) => ({ id, type, position: { x, y }, params });
  const edge = (id: string, source: string, sourcePort: string, target: string, targetPort: string) => ({ id, source, sourcePort, target, targetPort });
  const mapped = COMFY_SAMPLERS[c.sampler];
  if (!mapped) throw new Error(`comfyui parity case ${c.id}: no solver for ComfyUI sampler "${c.sampler}"`);
  const img2img = c.denoise < 1;
  /** One Load Conditioning per input, chained through `base`, the last one into `target`.`port`. */
  const loaders = (prefix: string, files: Record<string, string>, y: number, target: string, port: string) => {
    const nodes = Object.entries(files).map(([input, file], k) => node(`${prefix}${k}`, 'LoadConditioning', { input, path: file }, -320, y + 160 * k));
    const edges = nodes.map((n, k) =>
      k + 1 < nodes.length ? edge(`${prefix}-e${k}`, n.id, 'conditioning', nodes[k + 1].id, 'base') : edge(`${prefix}-e${k}`, n.id, 'conditioning', target, port),
    );
    return { nodes, edges };
  };
  const cond = loaders('cond', conditioning, 0, 'sampler', 'conditioning');
  const neg = loaders('neg', c.cfg !== undefined ? negative : {}, 640, 'cfg', 'negative');
  const guidance =
    c.cfg !== undefined
      ? { nodes: [node('cfg', 'CFG', { scale: c.cfg, mode: 'separate', ...apgParams(c) }, 0, 640), ...neg.nodes], edges: [edge('g1', 'cfg', 'guidance', 'sampler', 'guidance'), ...neg.edges] }
      : { nodes: [], edges: [] };
  const [, channels, height, width] = latentShape(c);
  // The sigma nodes between the schedule and a Sampler, each fed the previous one's output.
  const sigmaChain = (prefix: string, list: readonly SigmaOp[], sampler: string) => {
    const ops = list.map((o, k) => ({ id: `${prefix}${k}`, ...opNode(o) }));
    const edges = ops.flatMap((o, k) => [
      k === 0 ? edge(`${prefix}-e${k}`, 'schedule', 'sigmas', o.id, 'sigmas') : edge(`${prefix}-e${k}`, ops[k - 1].id, ops[k - 1].port, o.id, 'sigmas'),
      ...(o.model ? [edge(`${prefix}-m${k}`, 'model', 'model', o.id, 'model')] : []),
    ]);
    const last = ops.length ? { node: ops[ops.length - 1].id, port: ops[ops.length - 1].port } : { node: 'schedule', port: 'sigmas' };
    return { nodes: ops.map((o, k) => node(o.id, o.type, o.params, 160 * k, prefix === 'op' ? 480 : 640)), edges: [...edges, edge(`${prefix}-s`, last.node, last.port, sampler, 'sigmas')] };
  };
  const ops = sigmaChain('op', c.sigmaOps ?? [], 'sampler');
  // A second stage: its own sigma nodes, a Sampler continuing from the first one's latent (ComfyUI: no noise added).
  const second = c.then ? COMFY_SAMPLERS[c.then.sampler] : undefined;
  if (c.then && !second) throw new Error(`comfyui parity case ${c.id}: no solver for ComfyUI sampler "${c.then.sampler}"`);
  const thenOps = c.then ? sigmaChain('then', c.then.sigmaOps, 'sampler2') : undefined;
  const then =
    thenOps && second
      ? {
          nodes: [...thenOps.nodes, node('sampler2', 'Sampler', { solver: second.solver, ...second.params, seed: c.seed, noise_generator: 'comfyui', start: 'continue', denoise: 1 }, 480, 40)],
          edges: [...thenOps.edges, edge('t1', 'model', 'model', 'sampler2', 'model'), edge('t2', 'sampler', 'latent', 'sampler2', 'latent')],
        }
      : { nodes: [], edges: [] };
  const finalSampler = c.then ? 'sampler2' : 'sampler';
  const start = c.addNoise === false ? 'continue' : img2img || (c.sigmaOps && !c.emptyLatent) ? 'img2img' : 'noise';
  return {
    format: 'flowstudio-graph',
    schemaVersion: 1,
    metadata: { name: `comfyui parity ${c.id}`, description: '', author: 'FlowStudio', tags: ['parity'], created: '2026-11-28T00:00:00Z', modified: '2026-11-28T00:00:00Z', appVersion: '0.1.0' },
    nodes: [
      node('model', 'LoadModel', { model: modelFolder }, 0, 0),
      initFile ? node('latent', 'LoadLatent', { path: initFile }, 0, 160) : node('latent', 'EmptyLatent', { batch: c.batch, channels, height, width }, 0, 160),
      // SamplerCustom's sigmas come from BasicScheduler, which has no KSampler rule for the sampler.
      c.curve
        ? node('schedule', 'ComfyCustomSchedule', curveNodeParams(c.curve.name, c.curve.params), 0, 320)
        : node('schedule', 'ComfySchedule', { scheduler: c.scheduler, steps: c.steps, denoise: c.denoise, sampler: c.sigmaOps && !c.kSamplerGrid ? 'euler' : c.sampler }, 0, 320),
      ...ops.nodes,
      ...then.nodes,
      node('sampler', 'Sampler', { solver: mapped.solver, ...mapped.params, ...(c.samplerNode ? SAMPLER_NODE_PARAMS[c.samplerNode.name](c.samplerNode.inputs) : {}), seed: c.seed, noise_generator: 'comfyui', start, denoise: 1 }, 320, 40),
      node('save', 'SaveLatent', { filename: `${c.id}.npy` }, 640, 40),
      ...cond.nodes,
      ...guidance.nodes,
    ],
    edges: [
      edge('e1', 'model', 'model', 'sampler', 'model'),
      edge('e2', 'latent', 'latent', 'sampler', 'latent'),
      edge('e3', 'model', 'model', 'schedule', 'model'),
      ...ops.edges,
      ...then.edges,
      edge('e5', finalSampler, 'latent', 'save', 'latent'),
      ...cond.edges,
      ...guidance.edges,
    ],
    groups: [],
    viewport: { x: 0, y: 0, zoom: 1 },
    subgraphs: {},
  };
}
