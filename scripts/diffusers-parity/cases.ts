/**
 * The cases of the diffusers parity check (scripts/diffusers-parity/README.md): which model, which
 * scheduler_config.json changes, which Sampler settings, and the diffusers scheduler class and from_config
 * overrides that the same settings mean on the Python side.
 *
 * The models are the embedded analytic ones. Parity needs no meaningful model, only a deterministic one that
 * both sides call identically, so configs may reinterpret the output (v_prediction, sample) freely.
 */

export type AnalyticModel = 'gaussian-vp' | 'gaussian-vp-continuous' | 'gaussian-rf';
/** Tiny random-weight twins of real model folders (test/helpers/twins.ts): real input names, dtypes, configs. */
/**
 * diffusers' adaptive projected guidance: AdaptiveProjectedGuidance, or with `start` AdaptiveProjectedMixGuidance
 * (adaptive_projected_guidance_start_step = start - 1: plain CFG at start_scale for the first `start` steps).
 */
export interface ApgCase {
  eta: number;
  norm_threshold: number;
  momentum: number | null;
  start?: number;
  start_scale?: number;
}

export type TwinModel = 'sd15' | 'sd15-legacy' | 'sd-turbo' | 'sdxl' | 'sd3' | 'flux-dev' | 'flux-schnell' | 'sana-sprint' | 'lumina2' | 'z-image' | 'cogview4' | 'pixart-sigma' | 'hunyuan-image' | 'hunyuan-image-distilled' | 'dit';
export type ParityModel = AnalyticModel | TwinModel;
export const ANALYTIC_MODELS: readonly AnalyticModel[] = ['gaussian-vp', 'gaussian-vp-continuous', 'gaussian-rf'];

export interface DiffusersScheduler {
  /** diffusers class name, e.g. "DPMSolverMultistepScheduler". */
  cls: string;
  /** Keyword overrides for `cls.from_config(config, **overrides)`. */
  overrides: Record<string, unknown>;
  /** `eta` passed to DDIMScheduler.step and TCDScheduler.step. */
  eta?: number;
}

export interface ParityCase {
  id: string;
  model: ParityModel;
  /** Keys merged over the model's scheduler_config.json (null removes nothing: it is written as null). */
  config: Record<string, unknown>;
  solver: string;
  steps: number;
  /** Extra Sampler params (our names). */
  sampler: Record<string, string | number>;
  diffusers: DiffusersScheduler;
  /** Draws per-step noise: the noise file is [steps + 1, ...latent]. */
  stochastic: boolean;
  /** img2img strength (Sampler denoise); absent: from pure noise. With `invert`: the fraction of the inversion run. */
  strength?: number;
  /**
   * An inversion: a Schedule (direction invert) feeds the Sampler, which starts from the init latent; diffusers
   * runs its inverse scheduler's loop over the same latent (the first int(N * strength) timesteps with a
   * strength, as DiffEdit's get_inverse_timesteps takes them).
   */
  invert?: true;
  /**
   * Classifier-free guidance: a CFG node (with a negative Load Conditioning per prompt-embedding input) guides
   * the Sampler; diffusers' pipeline loop runs the model on [negative; positive], combines uncond + scale
   * (cond - uncond) and applies rescale_noise_cfg when rescale > 0.
   */
  cfg?: {
    scale: number;
    rescale: number;
    normalize?: 'off' | 'rows' | 'clamp';
    norm_limit?: number;
    truncate?: number;
    /**
     * diffusers' AdaptiveProjectedGuidance in the loop instead of the plain CFG rule (its normalized_guidance
     * with adaptive_projected_guidance_rescale = norm_threshold and _momentum = momentum, null for none).
     */
    apg?: ApgCase;
    /**
     * A diffusers guider config (with _class_name), written to the case's model folder as
     * guider/guider_config.json: the CFG node takes its settings from the model (settings_from model), and
     * check.py runs that guider class itself, from diffusers' source, per model call (scale and rescale unused).
     */
    guider?: Record<string, unknown>;
    /**
     * check.py applies the pipeline's do_classifier_free_guidance (guidance_scale > 1) instead of always guiding:
     * at scale <= 1 diffusers' side calls the conditional model alone.
     */
    pipelineRule?: true;
  };
  /**
   * A per-step solver schedule (USF): a Schedule for `solver` split after `at` steps (SplitSigmas), the first
   * range sampled with `solver`, the rest continued by a second Sampler with `then`. diffusers' side is
   * SDXL's base + refiner pattern: a fresh scheduler of `then`'s class over the remaining timesteps of the
   * same config, started at step `at` (set_begin_index) from the latent as it is.
   */
  chain?: { at: number; then: string };
  /**
   * img2img with the tail cut by a Schedule node (denoise = strength) instead of by the Sampler, which then
   * takes the connected SIGMAS whole (start img2img, denoise 1).
   */
  viaSchedule?: true;
  /**
   * Noise from a seed instead of a noise file: the Sampler draws it with noise_generator torch; diffusers'
   * side runs as a pipeline given torch.Generator('cpu').manual_seed(seed): randn_tensor for the initial
   * latents, and the same generator for every step that draws noise. Not with chains.
   */
  torchSeed?: number;
  /** Latent batch size (default 1); a twin at batch > 1 gets conditioning files of that batch (one prompt per sample). */
  batch?: number;
  /** A twin's latent height and width (default: latentParams'); FLUX and CogView4 derive their mu from it. */
  latent?: { height: number; width: number };
  /**
   * Where diffusers itself gives no result to compare with: it refuses the config, or its loop returns
   * non-finite values where ours stays finite (each documented as a deliberate deviation in our sources).
   * check.py verifies that diffusers still behaves so.
   */
  expect?: { diffusers: 'refuses' | 'nonfinite'; why: string };
  /**
   * A wider tolerance than the default 2e-4, for a case where a documented deliberate deviation alone moves
   * our result by more: `why` names it, and check.py has a diagnostic that removes it on diffusers' side.
   */
  tolerance?: { relL2: number; why: string };
  /**
   * Added after the committed references were generated: check.py runs it, and the test compares it once
   * refs.json has it (until then the test lists it as awaiting a reference instead of failing).
   */
  awaitingReference?: true;
}

/** Our solver name and options, as the diffusers class and from_config overrides that mean the same. */
export function diffusersSchedulerFor(solver: string, sampler: Record<string, string | number> = {}): DiffusersScheduler {
  const dpm = (o: Record<string, unknown>): DiffusersScheduler => ({ cls: 'DPMSolverMultistepScheduler', overrides: o });
  switch (solver) {
    case 'ddim':
      return { cls: 'DDIMScheduler', overrides: {}, eta: Number(sampler.eta ?? 0) };
    case 'pndm':
      return { cls: 'PNDMScheduler', overrides: {} };
    case 'euler':
      return { cls: 'EulerDiscreteScheduler', overrides: {} };
    case 'euler_ancestral':
      return { cls: 'EulerAncestralDiscreteScheduler', overrides: {} };
    case 'heun':
      return { cls: 'HeunDiscreteScheduler', overrides: {} };
    case 'dpm_2':
      return { cls: 'KDPM2DiscreteScheduler', overrides: {} };
    case 'dpm_2_ancestral':
      return { cls: 'KDPM2AncestralDiscreteScheduler', overrides: {} };
    case 'lms':
      return { cls: 'LMSDiscreteScheduler', overrides: {} };
    case 'dpmpp_sde':
      return { cls: 'DPMSolverSDEScheduler', overrides: {} };
    case 'sa_solver':
      return { cls: 'SASolverScheduler', overrides: {} };
    case 'dpmpp_2m':
      return dpm({ algorithm_type: 'dpmsolver++', solver_order: 2 });
    case 'dpmpp_3m':
      return dpm({ algorithm_type: 'dpmsolver++', solver_order: 3 });
    case 'dpm_2m':
      return dpm({ algorithm_type: 'dpmsolver', solver_order: 2 });
    case 'dpmpp_2m_sde':
      return dpm({ algorithm_type: 'sde-dpmsolver++', solver_order: 2 });
    case 'dpm_1s':
    case 'dpm_2s':
    case 'dpm_3s':
      return { cls: 'DPMSolverSinglestepScheduler', overrides: { solver_order: Number(solver[4]) } };
    case 'unipc':
      return { cls: 'UniPCMultistepScheduler', overrides: {} };
    case 'deis':
      return { cls: 'DEISMultistepScheduler', overrides: {} };
    case 'flow_euler':
      return { cls: 'FlowMatchEulerDiscreteScheduler', overrides: {} };
    case 'lcm':
      return { cls: 'LCMScheduler', overrides: {} };
    case 'tcd':
      // TCDScheduler.step's eta is our tcd_gamma (check.py passes it, as a pipeline's eta argument would).
      return { cls: 'TCDScheduler', overrides: {}, eta: Number(sampler.tcd_gamma ?? 0.3) };
    case 'ddpm':
      return { cls: 'DDPMScheduler', overrides: {} };
    case 'scm':
      return { cls: 'SCMScheduler', overrides: {} };
    case 'cm_stochastic':
      return { cls: 'CMStochasticIterativeScheduler', overrides: {} };
    case 'consistency':
      // On flow models: FlowMatchLCMScheduler (x0, then fresh noise to the next level on FlowMatch Euler's grid).
      return { cls: 'FlowMatchLCMScheduler', overrides: {} };
    default:
      throw new Error(`diffusers parity: no diffusers scheduler for solver "${solver}"`);
  }
}

/** Solvers with a diffusers scheduler of the same semantics on VP models. */
export const VP_SOLVERS = ['ddim', 'euler', 'heun', 'dpm_2', 'lms', 'dpmpp_2m', 'dpmpp_3m', 'dpm_2m', 'dpm_1s', 'dpm_2s', 'dpm_3s', 'unipc', 'deis'] as const;
/** The ones that walk a sigma grid (Karras / exponential options apply). DDIM has no sigma options. */
const SIGMA_GRID_SOLVERS = VP_SOLVERS.filter((s) => s !== 'ddim');
const MULTISTEP = ['dpmpp_2m', 'dpmpp_3m', 'dpm_2m', 'unipc', 'deis'];
const SINGLESTEP = ['dpm_1s', 'dpm_2s', 'dpm_3s'];

/** Named scheduler_config.json changes over the VP models' configs (SD 1.x betas, leading, offset 1). */
const VP_CONFIGS: Record<string, { config: Record<string, unknown>; solvers: readonly string[] }> = {
  sd15: { config: {}, solvers: VP_SOLVERS },
  linspace: { config: { timestep_spacing: 'linspace' }, solvers: VP_SOLVERS },
  'trailing-vpred-zsnr': {
    config: { timestep_spacing: 'trailing', prediction_type: 'v_prediction', rescale_betas_zero_snr: true },
    // Euler-type solvers need a finite sigma_max; diffusers patches the zero-SNR end for Euler only.
    solvers: ['ddim', 'euler', 'dpmpp_2m', 'unipc'],
  },
  'linear-vpred': { config: { beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02, prediction_type: 'v_prediction' }, solvers: VP_SOLVERS },
  'cos-sample': { config: { beta_schedule: 'squaredcos_cap_v2', prediction_type: 'sample' }, solvers: VP_SOLVERS },
  karras: { config: { use_karras_sigmas: true }, solvers: SIGMA_GRID_SOLVERS },
  exponential: { config: { use_exponential_sigmas: true }, solvers: ['euler', 'dpmpp_2m', 'unipc', 'deis'] },
  'lu-lambdas': { config: { use_lu_lambdas: true }, solvers: ['dpmpp_2m', 'dpm_2m'] },
  beta: { config: { use_beta_sigmas: true }, solvers: ['euler', 'heun', 'dpm_2', 'lms', 'dpmpp_2m', 'dpm_2s', 'unipc', 'deis'] },
  'final-sigma-min': { config: { final_sigmas_type: 'sigma_min' }, solvers: [...MULTISTEP, ...SINGLESTEP, 'euler'] },
  thresholding: {
    config: { thresholding: true, dynamic_thresholding_ratio: 0.9, sample_max_value: 1.5 },
    solvers: ['ddim', 'dpmpp_2m', 'dpm_2s', 'unipc', 'deis'],
  },
  'clip-sample': { config: { clip_sample: true, clip_sample_range: 1.0 }, solvers: ['ddim'] },
  'no-lower-order-final': { config: { lower_order_final: false }, solvers: MULTISTEP },
  'euler-at-final': { config: { euler_at_final: true }, solvers: ['dpmpp_2m', 'dpmpp_3m'] },
  'midpoint-heun': { config: { solver_type: 'heun' }, solvers: ['dpmpp_2m', 'dpm_2m', 'dpm_2s'] },
  'unipc-bh1-order3': { config: { solver_type: 'bh1', solver_order: 3 }, solvers: ['unipc'] },
  'unipc-noise-form': { config: { predict_x0: false }, solvers: ['unipc'] },
  'deis-order3': { config: { solver_order: 3 }, solvers: ['deis'] },
};

/**
 * Configs where diffusers gives no comparable result, with the reason (see the "Deliberate deviation" notes
 * in dpm-multistep.ts and unipc.ts).
 */
function expectedDeviation(c: ParityCase): ParityCase['expect'] {
  const endsAtZero = c.config.final_sigmas_type !== 'sigma_min';
  if (c.solver === 'dpm_2' && c.config.prediction_type === 'sample') {
    return { diffusers: 'refuses', why: 'KDPM2DiscreteScheduler raises NotImplementedError for prediction_type sample; ours converts x0 predictions as every solver does' };
  }
  if (c.solver === 'dpm_2m' && endsAtZero) {
    return { diffusers: 'refuses', why: 'DPMSolverMultistepScheduler raises for algorithm_type dpmsolver with final_sigmas_type zero; ours takes a first-order last step onto sigma 0' };
  }
  if (c.solver === 'dpmpp_3m' && c.config.use_karras_sigmas === true && !endsAtZero && c.steps >= 15) {
    return { diffusers: 'nonfinite', why: "Karras levels end on the table's first level, sigma_min repeats it, and at 15 steps or more the third-order update divides by that zero-length last step; ours stays finite and leaves the sample as it is (its float64 grid ends 1e-15 apart in lambda; an exact repeat is taken first order)" };
  }
  if (c.solver === 'unipc' && endsAtZero) {
    if (c.config.solver_type === 'bh1') return { diffusers: 'nonfinite', why: 'bh1 onto sigma 0: alpha_t * B(h) * pred_res = -inf * 0' };
    if (c.config.predict_x0 === false) return { diffusers: 'nonfinite', why: 'noise form onto sigma 0: sigma_t * (e^h - 1) = 0 * inf' };
    if (c.config.lower_order_final === false) return { diffusers: 'nonfinite', why: 'order 2 onto sigma 0 with lower_order_final off' };
  }
  return undefined;
}

function vpCases(): ParityCase[] {
  const out: ParityCase[] = [];
  for (const [name, { config, solvers }] of Object.entries(VP_CONFIGS)) {
    for (const solver of solvers) {
      for (const steps of [8, 25]) {
        // Euler-type solvers on fractional timesteps meet the integer model's truncation; run them on the
        // continuous model as well, which takes the fractional timestep as it is.
        const models: ParityModel[] = name === 'sd15' && solver !== 'ddim' ? ['gaussian-vp', 'gaussian-vp-continuous'] : ['gaussian-vp'];
        for (const model of models) {
          const c: ParityCase = {
            id: `${model === 'gaussian-vp' ? 'vp' : 'vpc'}-${name}-${solver}-${steps}`,
            model,
            config,
            solver,
            steps,
            sampler: {},
            diffusers: diffusersSchedulerFor(solver),
            stochastic: false,
          };
          const expect = expectedDeviation(c);
          out.push(expect ? { ...c, expect } : c);
        }
      }
    }
  }
  return out;
}

function stochasticCases(): ParityCase[] {
  const out: ParityCase[] = [];
  const add = (solver: string, sampler: Record<string, string | number>, steps: number, config: Record<string, unknown> = {}) =>
    out.push({
      id: `vp-stochastic-${solver}${Object.entries(sampler).map(([k, v]) => `-${k}${v}`).join('')}${config.use_karras_sigmas ? '-karras' : ''}-${steps}`,
      model: 'gaussian-vp-continuous',
      config,
      solver,
      steps,
      sampler,
      diffusers: diffusersSchedulerFor(solver, sampler),
      stochastic: true,
    });
  for (const steps of [8, 25]) {
    add('ddim', { eta: 1 }, steps);
    add('ddim', { eta: 0.5 }, steps);
    add('euler_ancestral', {}, steps);
    add('dpmpp_2m_sde', {}, steps);
    add('dpm_2_ancestral', {}, steps);
  }
  add('dpm_2_ancestral', {}, 12, { use_karras_sigmas: true });
  return out;
}

function img2imgCases(): ParityCase[] {
  const out: ParityCase[] = [];
  // The same runs with the tail cut by a Schedule node.
  for (const solver of ['euler', 'lms', 'dpmpp_2m', 'unipc', 'dpm_2s', 'deis', 'ddim', 'heun']) {
    out.push(makeCase(`vpc-img2img-schedule-${solver}-s0.6`, 'gaussian-vp-continuous', solver, 20, {}, { sampler: { start: 'img2img', denoise: 1 }, strength: 0.6, viaSchedule: true }));
  }
  for (const solver of ['ddim', 'euler', 'heun', 'lms', 'dpmpp_2m', 'dpm_2s', 'unipc', 'deis']) {
    for (const strength of [0.3, 0.75]) {
      out.push({
        id: `vpc-img2img-${solver}-s${strength}`,
        model: 'gaussian-vp-continuous',
        config: {},
        solver,
        steps: 20,
        sampler: { start: 'img2img', denoise: strength },
        diffusers: diffusersSchedulerFor(solver),
        stochastic: false,
        strength,
      });
    }
  }
  return out;
}

function flowCases(): ParityCase[] {
  const out: ParityCase[] = [];
  for (const shift of [1, 3]) {
    for (const steps of [8, 28]) {
      out.push({
        id: `rf-euler-shift${shift}-${steps}`,
        model: 'gaussian-rf',
        config: { shift },
        solver: 'flow_euler',
        steps,
        sampler: {},
        diffusers: diffusersSchedulerFor('flow_euler'),
        stochastic: false,
      });
    }
  }
  // img2img as StableDiffusion3Img2ImgPipeline runs it: ceil(N * strength) steps from scale_noise.
  for (const strength of [0.3, 0.6]) {
    out.push(makeCase(`rf-img2img-s${strength}-flow_euler-28`, 'gaussian-rf', 'flow_euler', 28, { shift: 3 }, { sampler: { start: 'img2img', denoise: strength }, strength }));
  }
  // FlowMatchEulerDiscreteScheduler's other grid options, and its stochastic sampling.
  const flowEuler = (tag: string, steps: number, config: Record<string, unknown>, stochastic = false) =>
    out.push(makeCase(`rf-${tag}-flow_euler-${steps}`, 'gaussian-rf', 'flow_euler', steps, config, { stochastic }));
  for (const steps of [8, 20]) flowEuler('shift-terminal', steps, { shift: 3, shift_terminal: 0.1 });
  flowEuler('karras', 8, { shift: 3, use_karras_sigmas: true });
  flowEuler('exponential', 8, { shift: 3, use_exponential_sigmas: true });
  flowEuler('beta', 8, { shift: 3, use_beta_sigmas: true });
  for (const steps of [8, 20]) flowEuler('stochastic', steps, { shift: 3, stochastic_sampling: true }, true);
  // Heun on a flow model is diffusers' FlowMatchHeunDiscreteScheduler (its static-shift grid, the second
  // evaluation at the next level).
  const flowHeun: DiffusersScheduler = { cls: 'FlowMatchHeunDiscreteScheduler', overrides: {} };
  for (const [shift, steps] of [[1, 8], [3, 8], [3, 20]]) out.push(makeCase(`rf-shift${shift}-heun-${steps}`, 'gaussian-rf', 'heun', steps, { shift }, { diffusers: flowHeun }));
  out.push(makeCase('twin-sd3-heun-8', 'sd3', 'heun', 8, {}, { diffusers: flowHeun }));
  // Shifts whose float32 table top (1.0000001) shifted again lands a float64 first level an ulp above 1
  // (found by fuzzing: 2.89 and 4.32 among them); diffusers' own float32 level is 1.
  out.push(makeCase('rf-shift2.89-flow_euler-2', 'gaussian-rf', 'flow_euler', 2, { shift: 2.89 }));
  out.push(makeCase('rf-shift4.32-heun-13', 'gaussian-rf', 'heun', 13, { shift: 4.32 }, { diffusers: flowHeun }));
  out.push(makeCase('rf-flowlcm-shift2.89-consistency-11', 'gaussian-rf', 'consistency', 11, { _class_name: 'FlowMatchLCMScheduler', shift: 2.89 }, { stochastic: true }));
  // Sana-style configs: DPM-Solver / UniPC on flow sigmas with a flow_prediction model.
  const sana = { use_flow_sigmas: true, prediction_type: 'flow_prediction', flow_shift: 3.0 };
  // SA-Solver there: the flow half-log-SNR ln((1 - t) / t), alpha_t = 1 - t in its second-order terms, and the
  // tau window over the flow timesteps.
  out.push(makeCase('rf-flowsigmas-sa_solver-10', 'gaussian-rf', 'sa_solver', 10, sana, { stochastic: true }));
  out.push(makeCase('twin-sd3-flowsigmas-sa_solver-10', 'sd3', 'sa_solver', 10, sana, { stochastic: true }));
  // StableDiffusion3Pipeline's mu with dynamic shifting: config.get(key, fallback), whose max_shift fallback
  // 1.16 reaches the multistep classes (they register no shift bounds), not FlowMatch Euler (it registers 1.15).
  const sd3Dynamic = { use_flow_sigmas: true, prediction_type: 'flow_prediction', use_dynamic_shifting: true, base_image_seq_len: 4, max_image_seq_len: 64 };
  for (const solver of ['unipc', 'dpmpp_2m']) out.push(makeCase(`twin-sd3-dynamic-flowsigmas-${solver}-8`, 'sd3', solver, 8, sd3Dynamic));
  out.push(makeCase('twin-sd3-dynamic-flow_euler-8', 'sd3', 'flow_euler', 8, { use_dynamic_shifting: true, base_image_seq_len: 4, max_image_seq_len: 64 }));
  // UniPC's Karras levels on flow sigmas: the VP table's Karras grid mapped to flow time s / (s + 1).
  out.push(makeCase('rf-flowsigmas-karras-unipc-10', 'gaussian-rf', 'unipc', 10, { ...sana, use_karras_sigmas: true }));
  out.push(makeCase('rf-flowsigmas-karras-sigma_min-unipc-7', 'gaussian-rf', 'unipc', 7, { ...sana, use_karras_sigmas: true, final_sigmas_type: 'sigma_min', sigma_max: 40 }));
  out.push(makeCase('twin-sd3-flowsigmas-karras-unipc-8', 'sd3', 'unipc', 8, { ...sana, use_karras_sigmas: true }));
  for (const solver of ['dpmpp_2m', 'unipc', 'deis']) {
    for (const steps of [8, 20]) {
      out.push({
        id: `rf-flowsigmas-${solver}-${steps}`,
        model: 'gaussian-rf',
        config: sana,
        solver,
        steps,
        sampler: {},
        diffusers: diffusersSchedulerFor(solver),
        stochastic: false,
      });
    }
  }
  return out;
}

function twinCases(): ParityCase[] {
  const out: ParityCase[] = [];
  const add = (model: TwinModel, solver: string, steps: number, config: Record<string, unknown> = {}, tag = '') =>
    out.push({ id: `twin-${model}${tag}-${solver}-${steps}`, model, config, solver, steps, sampler: {}, diffusers: diffusersSchedulerFor(solver), stochastic: false });
  for (const solver of ['ddim', 'euler', 'dpmpp_2m', 'unipc']) for (const steps of [8, 20]) add('sd15', solver, steps);
  for (const solver of ['ddim', 'dpmpp_2m']) add('sd15-legacy', solver, 10);
  for (const steps of [1, 4]) add('sd-turbo', 'euler', steps);
  add('sdxl', 'euler', 8);
  add('sdxl', 'dpmpp_2m', 8, { use_karras_sigmas: true }, '-karras');
  for (const steps of [8, 28]) add('sd3', 'flow_euler', steps);
  for (const steps of [4, 8]) add('flux-dev', 'flow_euler', steps);
  add('flux-schnell', 'flow_euler', 4);
  add('flux-dev', 'flow_euler', 8, { time_shift_type: 'linear' }, '-linear-shift');
  // img2img on the flow twins (StableDiffusion3Img2ImgPipeline, FluxImg2ImgPipeline).
  const img2img = (model: TwinModel, steps: number, strength: number) =>
    out.push(makeCase(`twin-${model}-img2img-s${strength}-flow_euler-${steps}`, model, 'flow_euler', steps, {}, { sampler: { start: 'img2img', denoise: strength }, strength }));
  img2img('sd3', 10, 0.6);
  img2img('flux-dev', 8, 0.75);
  // DiT (class-conditional, learn_sigma) unguided: its folder's DDIM; DPM++ 2M swapped in, as its docs show.
  add('dit', 'ddim', 10);
  add('dit', 'dpmpp_2m', 25);
  return out;
}

/** The id prefix of a model's cases: vp, vpc, rf or twin-<name>. */
function modelTag(model: ParityModel): string {
  if (model === 'gaussian-vp') return 'vp';
  if (model === 'gaussian-vp-continuous') return 'vpc';
  if (model === 'gaussian-rf') return 'rf';
  return `twin-${model}`;
}

/** A case run with its solver's diffusers class (options from `more.sampler`), with any expected deviation attached. */
export function makeCase(id: string, model: ParityModel, solver: string, steps: number, config: Record<string, unknown>, more: Partial<ParityCase> = {}): ParityCase {
  const sampler = more.sampler ?? {};
  const c: ParityCase = { id, model, config, solver, steps, sampler, diffusers: diffusersSchedulerFor(solver, sampler), stochastic: false, ...more };
  const expect = expectedDeviation(c);
  return expect ? { ...c, expect } : c;
}

/** Popular combinations the grids above miss: ancestral / SDE samplers on other configs, trailing grids, ... */
function moreVpCases(): ParityCase[] {
  const out: ParityCase[] = [];
  const add = (tag: string, model: ParityModel, solver: string, steps: number, config: Record<string, unknown>, more: Partial<ParityCase> = {}) =>
    out.push(makeCase(`${modelTag(model)}-${tag}-${solver}-${steps}`, model, solver, steps, config, more));
  const vpc = 'gaussian-vp-continuous';
  const vpred = { beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02, prediction_type: 'v_prediction' };
  const stochastic = { stochastic: true };
  // KDPM2 on fractional timesteps: Karras levels' timesteps are rounded, the midpoints' are not.
  add('karras', vpc, 'dpm_2', 12, { use_karras_sigmas: true });
  // Singlestep groups whose target repeats their last stage (exponential and beta grids end on sigma_min twice
  // with final_sigmas_type sigma_min): diffusers takes the higher-order step there (found by a fuzz run).
  add('exponential-sigma-min', 'gaussian-vp', 'dpm_2s', 2, { use_exponential_sigmas: true, final_sigmas_type: 'sigma_min' });
  add('beta-sigma-min', 'gaussian-vp', 'dpm_3s', 6, { use_beta_sigmas: true, final_sigmas_type: 'sigma_min' });
  add('exponential-sigma-min-sample', vpc, 'dpm_3s', 9, { use_exponential_sigmas: true, final_sigmas_type: 'sigma_min', prediction_type: 'sample' });
  // DPM++ 3M onto a repeated last level (Karras + sigma_min): NaN in diffusers at 15 steps or more (found by a fuzz run).
  add('karras-sigma-min', 'gaussian-vp', 'dpmpp_3m', 22, { use_karras_sigmas: true, final_sigmas_type: 'sigma_min' });
  // PNDM on v-prediction at the top of a cosine schedule (alpha ~ 5e-5), where v must not be rebuilt from the
  // VE sample's size (found by a fuzz run); with and without its Runge-Kutta warm-up.
  const cosineV = { beta_schedule: 'squaredcos_cap_v2', prediction_type: 'v_prediction', timestep_spacing: 'linspace' };
  add('cosine-vpred-plms', 'gaussian-vp', 'pndm', 5, { ...cosineV, skip_prk_steps: true });
  add('cosine-vpred-trailing', 'gaussian-vp', 'pndm', 8, { ...cosineV, timestep_spacing: 'trailing', skip_prk_steps: true });
  add('cosine-vpred-prk', 'gaussian-vp', 'pndm', 20, { ...cosineV, skip_prk_steps: false });
  for (const steps of [8, 25]) {
    add('vpred', vpc, 'euler_ancestral', steps, vpred, stochastic);
    add('linspace', vpc, 'euler_ancestral', steps, { timestep_spacing: 'linspace' }, stochastic);
    add('trailing-vpred-zsnr', vpc, 'euler_ancestral', steps, { timestep_spacing: 'trailing', prediction_type: 'v_prediction', rescale_betas_zero_snr: true }, stochastic);
    add('karras', vpc, 'dpmpp_2m_sde', steps, { use_karras_sigmas: true }, stochastic);
    add('vpred', vpc, 'dpmpp_2m_sde', steps, vpred, stochastic);
    for (const solver of ['ddim', 'euler', 'heun', 'lms', 'dpmpp_2m', 'dpm_2s', 'unipc', 'deis']) add('trailing', 'gaussian-vp', solver, steps, { timestep_spacing: 'trailing' });
    add('log-linear', vpc, 'euler', steps, { interpolation_type: 'log_linear' });
    add('continuous-vpred', vpc, 'euler', steps, { timestep_type: 'continuous', prediction_type: 'v_prediction' });
    add('karras-vpred', vpc, 'heun', steps, { use_karras_sigmas: true, prediction_type: 'v_prediction' });
    add('alpha-to-one', 'gaussian-vp', 'ddim', steps, { set_alpha_to_one: true });
    add('offset0', 'gaussian-vp', 'ddim', steps, { steps_offset: 0 });
    add('karras-lof', 'gaussian-vp', 'dpm_3s', steps, { use_karras_sigmas: true, lower_order_final: true });
    add('noise-form-sigma-min', 'gaussian-vp', 'dpm_2s', steps, { algorithm_type: 'dpmsolver', final_sigmas_type: 'sigma_min' });
  }
  for (const solver of ['euler', 'dpmpp_2m']) {
    add('img2img-karras', vpc, solver, 20, { use_karras_sigmas: true }, { sampler: { start: 'img2img', denoise: 0.6 }, strength: 0.6 });
  }
  // Strength 1 is not pure noise: add_noise at the first timestep keeps sqrt(abar) of the image.
  for (const solver of ['ddim', 'euler', 'dpmpp_2m']) add('img2img-full', vpc, solver, 12, {}, { sampler: { start: 'img2img', denoise: 1 }, strength: 1 });
  // UniPC's corrector switched off on some steps, low orders, and Karras / exponential grids bounded by
  // sigma_min / sigma_max keys (read by the classes that declare them: Euler, LMS and UniPC; DPM-Solver
  // ignores them).
  for (const steps of [8, 25]) add('disable-corrector', 'gaussian-vp', 'unipc', steps, { disable_corrector: [0, 1, 3] });
  add('order1', 'gaussian-vp', 'unipc', 10, { solver_order: 1 });
  add('order1', 'gaussian-vp', 'deis', 10, { solver_order: 1 });
  const bounds = { sigma_min: 0.1, sigma_max: 10 };
  for (const solver of ['euler', 'lms', 'unipc', 'dpmpp_2m']) add('karras-bounds', vpc, solver, 12, { use_karras_sigmas: true, ...bounds });
  for (const solver of ['euler', 'unipc']) add('exponential-bounds', vpc, solver, 12, { use_exponential_sigmas: true, ...bounds });
  for (const solver of ['euler', 'dpmpp_2m']) add('beta-bounds', vpc, solver, 12, { use_beta_sigmas: true, ...bounds });
  add('img2img', vpc, 'euler_ancestral', 20, {}, { sampler: { start: 'img2img', denoise: 0.6 }, strength: 0.6, stochastic: true });
  // PNDM (PLMS): SD 1.x's default scheduler, on DDIM-family grids.
  const plms = { skip_prk_steps: true };
  for (const steps of [1, 2, 3, 8, 25]) add('plms', 'gaussian-vp', 'pndm', steps, plms);
  for (const steps of [8, 25]) {
    add('plms-linspace', 'gaussian-vp', 'pndm', steps, { ...plms, timestep_spacing: 'linspace' });
    add('plms-trailing', 'gaussian-vp', 'pndm', steps, { ...plms, timestep_spacing: 'trailing' });
    add('plms-linear-vpred', vpc, 'pndm', steps, { ...plms, ...vpred });
    add('plms-alpha-to-one', 'gaussian-vp', 'pndm', steps, { ...plms, set_alpha_to_one: true });
    // The Runge-Kutta warm-up (skip_prk_steps false, PNDMScheduler's default).
    add('prk', 'gaussian-vp', 'pndm', steps, {});
    add('prk-linspace', 'gaussian-vp', 'pndm', steps, { timestep_spacing: 'linspace' });
    add('prk-linear-vpred', vpc, 'pndm', steps, vpred);
  }
  add('prk', 'gaussian-vp', 'pndm', 9, {});
  for (const strength of [0.3, 0.75, 0.9]) {
    add(`plms-img2img-s${strength}`, 'gaussian-vp', 'pndm', 20, plms, { sampler: { start: 'img2img', denoise: strength }, strength });
  }
  add('plain', 'sd15', 'pndm', 20, {});
  // `auto` on SD 1.5's own config (PNDMScheduler, skip_prk_steps) runs PNDM.
  out.push({ id: 'twin-sd15-auto-20', model: 'sd15', config: {}, solver: 'auto', steps: 20, sampler: {}, diffusers: { cls: 'PNDMScheduler', overrides: {} }, stochastic: false });
  // `auto` on a DPMSolverMultistepScheduler config runs its solver_order and algorithm_type.
  const dpmAuto = (tag: string, model: ParityModel, config: Record<string, unknown>) =>
    out.push({ id: `${modelTag(model)}-auto-dpm-${tag}-10`, model, config: { _class_name: 'DPMSolverMultistepScheduler', ...config }, solver: 'auto', steps: 10, sampler: {}, diffusers: { cls: 'DPMSolverMultistepScheduler', overrides: {} }, stochastic: false });
  dpmAuto('order1', 'gaussian-vp', { solver_order: 1 });
  dpmAuto('order3-dpmsolver', 'gaussian-vp', { solver_order: 3, algorithm_type: 'dpmsolver', final_sigmas_type: 'sigma_min' });
  dpmAuto('order1', 'pixart-sigma', { solver_order: 1 });
  // LCM (LCM-LoRA / LCM-distilled models): LCMScheduler keys over the SD config.
  const lcm = { original_inference_steps: 50, timestep_scaling: 10, set_alpha_to_one: true };
  for (const steps of [1, 2, 4, 8]) add('lcm', 'gaussian-vp', 'lcm', steps, lcm, { stochastic: true });
  add('lcm-small-scaling', 'gaussian-vp', 'lcm', 6, { ...lcm, timestep_scaling: 0.01 }, { stochastic: true });
  add('lcm-img2img', 'gaussian-vp', 'lcm', 4, lcm, { stochastic: true, sampler: { start: 'img2img', denoise: 0.5 }, strength: 0.5 });
  // TCD (TCD-LoRA / TCD-distilled models): LCM's timesteps, a DDIM step to floor((1 - gamma) t') and fresh
  // noise back up to t'.
  for (const steps of [1, 2, 4, 8]) add('tcd', 'gaussian-vp', 'tcd', steps, lcm, { stochastic: true });
  for (const gamma of [0, 1]) add(`tcd-gamma${gamma}`, 'gaussian-vp', 'tcd', 4, lcm, { stochastic: gamma > 0, sampler: { tcd_gamma: gamma } });
  add('tcd-vpred', vpc, 'tcd', 6, { ...lcm, ...vpred }, { stochastic: true, sampler: { tcd_gamma: 0.5 } });
  add('tcd-img2img', 'gaussian-vp', 'tcd', 8, lcm, { stochastic: true, sampler: { start: 'img2img', denoise: 0.6 }, strength: 0.6 });
  add('tcd', 'sdxl', 'tcd', 4, { original_inference_steps: 50 }, { stochastic: true });
  // SASolverScheduler: stochastic Adams predictor-corrector (orders 2 and 2), noise on timesteps 200..800.
  for (const steps of [10, 25]) add('sa', 'gaussian-vp', 'sa_solver', steps, {}, { stochastic: true });
  add('sa-linspace', vpc, 'sa_solver', 8, { timestep_spacing: 'linspace' }, { stochastic: true });
  add('sa-karras', vpc, 'sa_solver', 12, { use_karras_sigmas: true }, { stochastic: true });
  add('sa-vpred', vpc, 'sa_solver', 10, vpred, { stochastic: true });
  add('sa-order3-4', 'gaussian-vp', 'sa_solver', 15, { predictor_order: 3, corrector_order: 4 }, { stochastic: true });
  add('sa-no-lof', 'gaussian-vp', 'sa_solver', 12, { lower_order_final: false }, { stochastic: true });
  add('sa-order3-1', 'gaussian-vp', 'sa_solver', 10, { predictor_order: 3, corrector_order: 1 }, { stochastic: true });
  // img2img on sigma grids: SASolverScheduler's add_noise (DDPM's) noises at the first int64 timestep's training
  // level, not the grid's first level (found by a fuzz run).
  const img2img = (strength: number) => ({ stochastic: true, sampler: { start: 'img2img', denoise: strength }, strength });
  add('sa-exponential-img2img', vpc, 'sa_solver', 10, { use_exponential_sigmas: true }, img2img(0.5));
  add('sa-karras-img2img', vpc, 'sa_solver', 12, { use_karras_sigmas: true }, img2img(0.6));
  add('sa-beta-img2img', 'gaussian-vp', 'sa_solver', 9, { use_beta_sigmas: true }, img2img(0.7));
  add('sa', 'sd15', 'sa_solver', 10, {}, { stochastic: true });
  // DDPM (ancestral, fixed variances).
  for (const steps of [10, 25]) add('ddpm', 'gaussian-vp', 'ddpm', steps, { variance_type: 'fixed_small', clip_sample: true }, { stochastic: true });
  add('ddpm-large-linspace', 'gaussian-vp', 'ddpm', 12, { variance_type: 'fixed_large', timestep_spacing: 'linspace' }, { stochastic: true });
  add('karras', 'sdxl', 'dpmpp_2m_sde', 12, { use_karras_sigmas: true }, stochastic);
  add('plain', 'sdxl', 'euler_ancestral', 12, {}, stochastic);
  add('plain', 'sd-turbo', 'euler_ancestral', 4, {}, stochastic);
  return out;
}

/**
 * EDM-preconditioned models (edm.ts): EDMEulerScheduler for Euler (and the k-diffusion solvers on its grid),
 * EDMDPMSolverMultistepScheduler for DPM-Solver++, as Playground v2.5 and CosXL ship them. The analytic model
 * is fed c_noise = 0.25 ln sigma as its timestep and c_in-scaled samples: any deterministic network will do.
 */
function edmCases(): ParityCase[] {
  const out: ParityCase[] = [];
  const vpc = 'gaussian-vp-continuous';
  const euler: DiffusersScheduler = { cls: 'EDMEulerScheduler', overrides: {} };
  const dpm = (o: Record<string, unknown> = {}): DiffusersScheduler => ({ cls: 'EDMDPMSolverMultistepScheduler', overrides: o });
  const EDM = { sigma_min: 0.002, sigma_max: 80, sigma_data: 0.5, prediction_type: 'epsilon' };
  const add = (tag: string, model: ParityModel, solver: string, steps: number, config: Record<string, unknown>, diffusers: DiffusersScheduler, more: Partial<ParityCase> = {}) =>
    out.push(makeCase(`${modelTag(model)}-edm-${tag}-${solver}-${steps}`, model, solver, steps, { ...EDM, _class_name: diffusers.cls, ...config }, { diffusers, ...more }));
  for (const steps of [8, 20]) add('karras', vpc, 'euler', steps, {}, euler);
  add('vpred', vpc, 'euler', 10, { prediction_type: 'v_prediction', sigma_max: 120 }, euler);
  add('exponential', vpc, 'euler', 8, { sigma_schedule: 'exponential' }, euler);
  add('sigma-min', vpc, 'euler', 8, { final_sigmas_type: 'sigma_min' }, euler);
  add('img2img', vpc, 'euler', 12, {}, euler, { sampler: { start: 'img2img', denoise: 0.6 }, strength: 0.6 });
  for (const steps of [8, 20]) add('karras', vpc, 'dpmpp_2m', steps, {}, dpm());
  add('order3', vpc, 'dpmpp_3m', 12, { solver_order: 3 }, dpm());
  add('heun', vpc, 'dpmpp_2m', 10, { solver_type: 'heun' }, dpm());
  add('exponential-sigma-min', vpc, 'dpmpp_2m', 10, { sigma_schedule: 'exponential', final_sigmas_type: 'sigma_min' }, dpm());
  add('vpred', vpc, 'dpmpp_2m', 10, { prediction_type: 'v_prediction' }, dpm());
  add('sde', vpc, 'dpmpp_2m_sde', 10, { algorithm_type: 'sde-dpmsolver++' }, dpm(), { stochastic: true });
  // Its grid ends on sigma_min twice, one float32 ulp upwards: a zero-length SDE step, no noise (a fuzz run).
  add('sde-sigma-min', vpc, 'dpmpp_2m_sde', 5, { algorithm_type: 'sde-dpmsolver++', final_sigmas_type: 'sigma_min' }, dpm(), { stochastic: true });
  add('sde-exponential-sigma-min', vpc, 'dpmpp_2m_sde', 8, { algorithm_type: 'sde-dpmsolver++', sigma_schedule: 'exponential', final_sigmas_type: 'sigma_min', solver_type: 'heun' }, dpm(), { stochastic: true });
  // Playground v2.5's setup: SDXL's UNet under EDMDPMSolverMultistepScheduler, guided.
  add('playground', 'sdxl', 'dpmpp_2m', 10, {}, dpm(), { cfg: { scale: 3, rescale: 0 } });
  add('plain', 'sdxl', 'euler', 8, {}, euler);
  return out;
}

/**
 * Inversions: DDIM (DDIMInverseScheduler) and the DPM-Solver multistep family (DPMSolverMultistepInverseScheduler)
 * up the grids Schedule's direction invert builds.
 */
function inversionCases(): ParityCase[] {
  const out: ParityCase[] = [];
  const ddimInverse: DiffusersScheduler = { cls: 'DDIMInverseScheduler', overrides: {} };
  const dpmInverse = (o: Record<string, unknown>): DiffusersScheduler => ({ cls: 'DPMSolverMultistepInverseScheduler', overrides: o });
  const add = (tag: string, model: ParityModel, solver: string, steps: number, config: Record<string, unknown>, diffusers: DiffusersScheduler, strength?: number) =>
    out.push({
      id: `${model === 'gaussian-vp' ? 'vp' : `twin-${model}`}-invert-${tag}-${solver}-${steps}${strength === undefined ? '' : `-s${strength}`}`,
      model,
      config,
      solver,
      steps,
      sampler: { start: 'continue' },
      diffusers,
      stochastic: false,
      invert: true,
      ...(strength === undefined ? {} : { strength }),
    });
  const vpred = { beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02, prediction_type: 'v_prediction' };
  for (const steps of [10, 25]) {
    add('sd15', 'gaussian-vp', 'ddim', steps, {}, ddimInverse);
    add('sd15', 'gaussian-vp', 'dpmpp_2m', steps, {}, dpmInverse({ algorithm_type: 'dpmsolver++', solver_order: 2 }));
  }
  add('trailing', 'gaussian-vp', 'ddim', 7, { timestep_spacing: 'trailing' }, ddimInverse);
  // 48 trailing steps: numpy's arange(1000, 0, -1000/48) gives 937.4999999999999 (its fill's recomputed step), not 937.5.
  add('trailing', 'gaussian-vp', 'ddim', 48, { timestep_spacing: 'trailing' }, ddimInverse);
  add('trailing', 'gaussian-vp', 'dpmpp_2m', 48, { timestep_spacing: 'trailing' }, dpmInverse({ algorithm_type: 'dpmsolver++', solver_order: 2 }));
  add('alpha-to-one-clip', 'gaussian-vp', 'ddim', 10, { set_alpha_to_one: true, clip_sample: true }, ddimInverse);
  add('vpred', 'gaussian-vp', 'ddim', 10, vpred, ddimInverse);
  add('trailing-vpred-zsnr', 'gaussian-vp', 'ddim', 10, { timestep_spacing: 'trailing', prediction_type: 'v_prediction', rescale_betas_zero_snr: true }, ddimInverse);
  // Inverting onto the zero-SNR level: ours lands at alphas_cumprod 2^-24 (schedule-vp.ts), diffusers at 0, which
  // adds 2^-12 x0 to the final latent (2.2e-4 relative here; 2.7e-7 with check.py --floor-zero-snr).
  out[out.length - 1].tolerance = {
    relL2: 3e-4,
    why: "zero-SNR: ours floors the terminal alphas_cumprod at 2^-24, diffusers' DDIMInverseScheduler inverts onto 0",
  };
  add('sd15', 'gaussian-vp', 'ddim', 20, {}, ddimInverse, 0.5);
  add('linspace', 'gaussian-vp', 'dpmpp_2m', 12, { timestep_spacing: 'linspace' }, dpmInverse({ algorithm_type: 'dpmsolver++', solver_order: 2 }));
  add('trailing', 'gaussian-vp', 'dpmpp_2m', 10, { timestep_spacing: 'trailing' }, dpmInverse({ algorithm_type: 'dpmsolver++', solver_order: 2 }));
  add('vpred', 'gaussian-vp', 'dpmpp_2m', 10, vpred, dpmInverse({ algorithm_type: 'dpmsolver++', solver_order: 2 }));
  add('sd15', 'gaussian-vp', 'dpmpp_3m', 20, {}, dpmInverse({ algorithm_type: 'dpmsolver++', solver_order: 3 }));
  add('sd15', 'gaussian-vp', 'dpm_2m', 12, {}, dpmInverse({ algorithm_type: 'dpmsolver', solver_order: 2 }));
  add('sd15', 'gaussian-vp', 'dpmpp_2m', 10, {}, dpmInverse({ algorithm_type: 'dpmsolver++', solver_order: 2 }), 0.5);
  add('plain', 'sd15', 'ddim', 10, {}, ddimInverse);
  // DPMSolverMultistepInverseScheduler on Karras, exponential and beta levels (the table's converted ends,
  // ascending, the top level repeated); it does not know use_lu_lambdas, so from_config drops it.
  const dpmpp2 = dpmInverse({ algorithm_type: 'dpmsolver++', solver_order: 2 });
  add('karras', 'gaussian-vp', 'dpmpp_2m', 8, { use_karras_sigmas: true }, dpmpp2);
  add('exponential', 'gaussian-vp', 'dpmpp_2m', 8, { use_exponential_sigmas: true }, dpmpp2);
  add('beta', 'gaussian-vp', 'dpmpp_2m', 8, { use_beta_sigmas: true }, dpmpp2);
  add('lu', 'gaussian-vp', 'dpmpp_2m', 8, { use_lu_lambdas: true }, dpmpp2);
  add('karras', 'gaussian-vp', 'dpmpp_2m', 12, { use_karras_sigmas: true }, dpmpp2, 0.5);
  return out;
}

/** CFG on the conditional twins, as their pipelines guide (batched, guidance_rescale). */
function cfgCases(): ParityCase[] {
  const out: ParityCase[] = [];
  const add = (model: TwinModel, solver: string, steps: number, scale: number, rescale = 0, more: Partial<ParityCase> = {}, tag = '') => {
    const sampler = more.sampler ?? {};
    const head = more.cfg?.guider ? 'guider' : `cfg${scale}${rescale ? `-rescale${rescale}` : ''}`;
    out.push({
      id: `twin-${model}-${head}${tag}-${solver}-${steps}`,
      model,
      config: {},
      solver,
      steps,
      sampler,
      diffusers: solver === 'auto' ? { cls: 'PNDMScheduler', overrides: {} } : diffusersSchedulerFor(solver, sampler),
      stochastic: false,
      cfg: { scale, rescale },
      ...more,
    });
  };
  for (const solver of ['ddim', 'euler', 'dpmpp_2m', 'unipc']) add('sd15', solver, 10, 7.5);
  add('sd15', 'dpmpp_2m', 10, 7.5, 0.7);
  add('sd15-legacy', 'ddim', 10, 7.5);
  add('sdxl', 'euler', 8, 5);
  add('sd3', 'flow_euler', 8, 7);
  // diffusers' AdaptiveProjectedGuidance: its defaults (eta 1, rescale 15, no momentum), and projected,
  // capped, momentum-averaged updates, on the eps and flow twins.
  add('sd15', 'euler', 10, 7.5, 0, { cfg: { scale: 7.5, rescale: 0, apg: { eta: 1, norm_threshold: 15, momentum: null } } }, '-apg');
  add('sd15', 'dpmpp_2m', 10, 7.5, 0.5, { cfg: { scale: 7.5, rescale: 0.5, apg: { eta: 0, norm_threshold: 2, momentum: -0.5 } } }, '-apg0_2_-0.5');
  add('sd3', 'flow_euler', 8, 5, 0, { cfg: { scale: 5, rescale: 0, apg: { eta: 0.3, norm_threshold: 1, momentum: 0.4 } } }, '-apg0.3_1_0.4');
  // DiTPipeline: class-conditional, its null class 1000 on the unconditional side (the CFG node's own, no negative
  // connected), a learn_sigma transformer, DDIM from its converted folder; and with DPM++ 2M swapped in, as its docs do.
  add('dit', 'ddim', 10, 4);
  add('dit', 'dpmpp_2m', 12, 1.5);
  // diffusers guider classes run from a folder's guider/guider_config.json (the CFG node's settings from the model),
  // with start / stop as int(fraction * N) (0.75 * 10 -> 7); APG's momentum untouched before its start step.
  // (Not Heun: diffusers counts its 2N - 1 model calls against N, FlowStudio its steps; cfg.ts guidedStepsOf.)
  const guider = (g: Record<string, unknown>) => ({ cfg: { scale: 0, rescale: 0, guider: g } });
  add('sd15', 'euler', 10, 0, 0, guider({ _class_name: 'AdaptiveProjectedGuidance', guidance_scale: 6, adaptive_projected_guidance_momentum: -0.5, adaptive_projected_guidance_rescale: 5, eta: 0.5, guidance_rescale: 0.3, start: 0.2, stop: 0.7 }), '-apg');
  add('sd15', 'ddim', 10, 0, 0, guider({ _class_name: 'ClassifierFreeGuidance', guidance_scale: 7.5, start: 0.25, stop: 0.75 }), '-cfg-range');
  add('sd3', 'flow_euler', 8, 0, 0, guider({ _class_name: 'ClassifierFreeGuidance', guidance_scale: 3, use_original_formulation: true, start: 0.3 }), '-cfg-original');
  // StableDiffusionPipeline as SD 1.5 ships it: its folder's PNDM (PLMS), guided.
  add('sd15', 'auto', 20, 7.5);
  for (const solver of ['heun', 'lms', 'dpm_2s', 'deis']) add('sd15', solver, 10, 7.5);
  add('sd15', 'euler_ancestral', 10, 7.5, 0, { stochastic: true });
  add('sd15', 'dpmpp_2m', 20, 7.5, 0, { sampler: { start: 'img2img', denoise: 0.6 }, strength: 0.6 }, '-img2img');
  add('sdxl', 'dpmpp_2m', 10, 5, 0, { config: { use_karras_sigmas: true } }, '-karras');
  add('sdxl', 'euler', 8, 5, 0.7);
  return out;
}

/**
 * Batch 2: what works per sample (dynamic thresholding's quantile, CFG-free add_noise, x0 clipping) and the
 * noise a stochastic step draws for the whole batch at once, as diffusers' randn_tensor(latents.shape) does.
 */
function batchCases(): ParityCase[] {
  const out: ParityCase[] = [];
  const add = (tag: string, model: AnalyticModel, solver: string, steps: number, config: Record<string, unknown>, more: Partial<ParityCase> = {}) =>
    out.push(makeCase(`${modelTag(model)}-b2-${tag}-${solver}-${steps}`, model, solver, steps, config, { batch: 2, ...more }));
  // A bound high enough that each sample's quantile, not the clamp to [1, sample_max_value], sets its scale.
  const thresholding = { thresholding: true, dynamic_thresholding_ratio: 0.995, sample_max_value: 5 };
  for (const solver of ['ddim', 'dpmpp_2m', 'unipc']) add('thresholding', 'gaussian-vp', solver, 10, thresholding);
  for (const solver of ['euler', 'heun', 'lms', 'dpm_2s', 'deis']) add('plain', 'gaussian-vp-continuous', solver, 10, {});
  add('clip-sample', 'gaussian-vp', 'ddim', 10, { clip_sample: true, clip_sample_range: 1.0 });
  const stochastic = { stochastic: true };
  add('eta1', 'gaussian-vp-continuous', 'ddim', 10, {}, { ...stochastic, sampler: { eta: 1 } });
  add('plain', 'gaussian-vp-continuous', 'euler_ancestral', 10, {}, stochastic);
  add('plain', 'gaussian-vp-continuous', 'dpmpp_2m_sde', 10, {}, stochastic);
  add('plain', 'gaussian-vp', 'ddpm', 10, { variance_type: 'fixed_small', clip_sample: true }, stochastic);
  add('plain', 'gaussian-vp', 'lcm', 4, { original_inference_steps: 50, timestep_scaling: 10, set_alpha_to_one: true }, stochastic);
  const img2img = { sampler: { start: 'img2img', denoise: 0.6 }, strength: 0.6 };
  add('img2img', 'gaussian-vp-continuous', 'dpmpp_2m', 20, {}, img2img);
  add('img2img', 'gaussian-vp-continuous', 'euler_ancestral', 20, {}, { ...img2img, ...stochastic });
  add('invert', 'gaussian-vp', 'ddim', 10, {}, { sampler: { start: 'continue' }, diffusers: { cls: 'DDIMInverseScheduler', overrides: {} }, invert: true });
  add('plain', 'gaussian-rf', 'flow_euler', 8, {});
  add('flowsigmas', 'gaussian-rf', 'dpmpp_2m', 8, { use_flow_sigmas: true, prediction_type: 'flow_prediction', flow_shift: 3.0 });
  return out;
}

/**
 * Chained Samplers over one split schedule. Pairs whose classes build the same grid only: the Schedule
 * follows the first solver's rules, while diffusers' second scheduler builds its own (DEIS ends on
 * sigma_min, DPM-Solver on 0). And same-family pairs only: the refiner pattern hands the latent over as it
 * is, so both halves must keep it in the same variables (VE for the Euler family, VP for the multistep
 * one). Euler into Euler must equal an unsplit run; a multistep solver restarts its history, the
 * end-of-schedule rules (lower_order_final, the singlestep order list) count the whole schedule, and LMS
 * takes its first coefficients from the levels before the split.
 */
function chainCases(): ParityCase[] {
  const out: ParityCase[] = [];
  const pairs: [string, string, number, number][] = [
    ['euler', 'euler', 12, 5],
    ['dpmpp_2m', 'dpmpp_2m', 12, 5],
    ['dpmpp_2m', 'unipc', 12, 4],
    ['unipc', 'dpmpp_3m', 15, 9],
    ['deis', 'deis', 10, 3],
    ['dpm_2s', 'dpm_2s', 11, 4],
    ['dpm_3s', 'dpm_3s', 12, 7],
    ['ddim', 'ddim', 10, 6],
    ['lms', 'lms', 12, 5],
  ];
  for (const [solver, then, steps, at] of pairs) {
    out.push(makeCase(`vp-chain-${solver}-${then}-at${at}-${steps}`, 'gaussian-vp', solver, steps, {}, { chain: { at, then } }));
  }
  // Flow models: FlowMatch Euler, and DPM-Solver++ / UniPC on Sana-style flow sigmas.
  out.push(makeCase('rf-chain-flow_euler-flow_euler-at4-10', 'gaussian-rf', 'flow_euler', 10, { shift: 3 }, { chain: { at: 4, then: 'flow_euler' } }));
  const sana = { use_flow_sigmas: true, prediction_type: 'flow_prediction', flow_shift: 3.0 };
  out.push(makeCase('rf-chain-dpmpp_2m-dpmpp_2m-at3-8', 'gaussian-rf', 'dpmpp_2m', 8, sana, { chain: { at: 3, then: 'dpmpp_2m' } }));
  out.push(makeCase('rf-chain-unipc-unipc-at5-9', 'gaussian-rf', 'unipc', 9, sana, { chain: { at: 5, then: 'unipc' } }));
  return out;
}

/**
 * The same seed on both sides: our Sampler with noise_generator torch against diffusers given a CPU
 * torch.Generator with that seed, so the noise itself is part of the comparison (no noise file). The
 * stochastic ones draw every step's noise from the same generator after the initial latents.
 */
function torchSeedCases(): ParityCase[] {
  const out: ParityCase[] = [];
  const add = (tag: string, model: ParityModel, solver: string, steps: number, config: Record<string, unknown>, seed: number, more: Partial<ParityCase> = {}) =>
    out.push(makeCase(`${modelTag(model)}-torchseed-${tag}-${solver}-${steps}`, model, solver, steps, config, { torchSeed: seed, ...more }));
  const vpc = 'gaussian-vp-continuous';
  const stochastic = { stochastic: true };
  add('plain', 'gaussian-vp', 'ddim', 10, {}, 42);
  add('plain', vpc, 'dpmpp_2m', 12, { use_karras_sigmas: true }, 0);
  add('eta1', vpc, 'ddim', 10, {}, 1234, { ...stochastic, sampler: { eta: 1 } });
  add('plain', vpc, 'euler_ancestral', 10, {}, 4294967295, stochastic);
  add('b2', vpc, 'euler_ancestral', 8, {}, 7, { ...stochastic, batch: 2 });
  add('plain', vpc, 'dpmpp_2m_sde', 10, {}, 99, stochastic);
  add('plain', vpc, 'dpm_2_ancestral', 10, {}, 21, stochastic);
  add('plain', 'gaussian-vp', 'ddpm', 10, { variance_type: 'fixed_small', clip_sample: true }, 3, stochastic);
  add('plain', 'gaussian-vp', 'lcm', 4, { original_inference_steps: 50, timestep_scaling: 10, set_alpha_to_one: true }, 5, stochastic);
  add('plain', 'gaussian-vp', 'tcd', 4, { original_inference_steps: 50 }, 16, stochastic);
  add('plain', vpc, 'sa_solver', 12, {}, 17, stochastic);
  add('img2img', vpc, 'euler_ancestral', 20, {}, 11, { ...stochastic, sampler: { start: 'img2img', denoise: 0.6 }, strength: 0.6 });
  add('plain', 'gaussian-rf', 'flow_euler', 8, { shift: 3 }, 8);
  add('stochastic', 'gaussian-rf', 'flow_euler', 8, { shift: 3, stochastic_sampling: true }, 9, stochastic);
  add('plain', 'sd-turbo', 'euler_ancestral', 4, {}, 2024, stochastic);
  // DPMSolverSDEScheduler: the initial latents from the generator, the step noise from its Brownian tree
  // seeded by the config's noise_sampler_seed (over the whole schedule, an img2img tail's too).
  add('plain', vpc, 'dpmpp_sde', 10, { noise_sampler_seed: 77 }, 5, stochastic);
  add('karras', vpc, 'dpmpp_sde', 12, { use_karras_sigmas: true, noise_sampler_seed: 123456789 }, 6, stochastic);
  add('linspace-vpred', vpc, 'dpmpp_sde', 8, { timestep_spacing: 'linspace', beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02, prediction_type: 'v_prediction', noise_sampler_seed: 3 }, 7, stochastic);
  add('exponential', vpc, 'dpmpp_sde', 9, { use_exponential_sigmas: true, noise_sampler_seed: 2 ** 40 + 1 }, 8, stochastic);
  add('b2', vpc, 'dpmpp_sde', 8, { noise_sampler_seed: 4242 }, 9, { ...stochastic, batch: 2 });
  add('leading', vpc, 'dpmpp_sde', 10, { timestep_spacing: 'leading', noise_sampler_seed: 5 }, 13, stochastic);
  add('trailing', vpc, 'dpmpp_sde', 7, { timestep_spacing: 'trailing', noise_sampler_seed: 6 }, 14, stochastic);
  add('cos', vpc, 'dpmpp_sde', 9, { beta_schedule: 'squaredcos_cap_v2', noise_sampler_seed: 7 }, 15, stochastic);
  add('img2img', vpc, 'dpmpp_sde', 20, { use_karras_sigmas: true, noise_sampler_seed: 31 }, 10, { ...stochastic, sampler: { start: 'img2img', denoise: 0.6 }, strength: 0.6 });
  add('karras', 'sdxl', 'dpmpp_sde', 8, { use_karras_sigmas: true, noise_sampler_seed: 1 }, 12, stochastic);
  return out;
}

/**
 * Lumina2Pipeline and ZImagePipeline (check.py runs their loops): the transformer fed the data fraction and
 * its output negated, their sigma lists (np.linspace / torch.linspace), and their CFG rules: Lumina 2's
 * cfg_normalization (on by default there), Z-Image's pos + s (pos - neg) (scale s + 1 here), norm clamp and
 * truncation.
 */
function reversedTimeCases(): ParityCase[] {
  const out: ParityCase[] = [];
  const add = (tag: string, model: TwinModel, solver: string, steps: number, more: Partial<ParityCase> = {}) =>
    out.push(makeCase(`twin-${model}-${tag}-${solver}-${steps}`, model, solver, steps, more.config ?? {}, more));
  for (const steps of [8, 25]) add('plain', 'lumina2', 'flow_euler', steps);
  // use_dynamic_shifting: mu from latents.shape[1], the channel count for these latents (a diffusers quirk).
  // Sequence bounds 16..32 make mu steep enough that 16 and 24 tokens give clearly different grids.
  add('dynamic', 'lumina2', 'flow_euler', 10, { config: { use_dynamic_shifting: true, base_image_seq_len: 16, max_image_seq_len: 32 } });
  // Normalize auto: Lumina2Pipeline's cfg_normalization (on by default); off: plain CFG.
  add('cfg4-norm', 'lumina2', 'flow_euler', 10, { cfg: { scale: 4, rescale: 0 } });
  add('cfg4', 'lumina2', 'flow_euler', 10, { cfg: { scale: 4, rescale: 0, normalize: 'off' } });
  for (const steps of [8, 9]) add('plain', 'z-image', 'flow_euler', steps);
  add('cfg4', 'z-image', 'flow_euler', 12, { cfg: { scale: 4, rescale: 0 } });
  add('cfg4-clamp-trunc', 'z-image', 'flow_euler', 12, { cfg: { scale: 4, rescale: 0, normalize: 'clamp', norm_limit: 1.05, truncate: 0.5 } });
  add('img2img-s0.6', 'z-image', 'flow_euler', 9, { sampler: { start: 'img2img', denoise: 0.6 }, strength: 0.6 });
  // CogView4Pipeline: sigmas int(linspace(1000, 1, N)) / 1000, linear time shift by its square-root mu, two-call CFG
  // with the size inputs shared.
  for (const steps of [10, 50]) add('plain', 'cogview4', 'flow_euler', steps);
  // PixArt-Sigma: a learn_sigma transformer (8 output channels, the pipeline keeps 4) under DPM-Solver++ and CFG.
  add('plain', 'pixart-sigma', 'dpmpp_2m', 14);
  add('cfg4.5', 'pixart-sigma', 'dpmpp_2m', 20, { cfg: { scale: 4.5, rescale: 0 } });
  add('cfg5', 'cogview4', 'flow_euler', 12, { cfg: { scale: 5, rescale: 0 } });
  // HunyuanImagePipeline: sigmas linspace(1, 0, N + 1)[:-1] with the config's static shift, t = sigma * 1000;
  // its AdaptiveProjectedMixGuidance (plain CFG for the first start_step + 1 steps, APG after, one momentum
  // average throughout); the distilled model also fed timestep_r (the next timestep, 0 at the end).
  for (const steps of [8, 50]) add('plain', 'hunyuan-image', 'flow_euler', steps);
  add('mix-apg', 'hunyuan-image', 'flow_euler', 12, { cfg: { scale: 10, rescale: 0, apg: { eta: 0, norm_threshold: 10, momentum: -0.5, start: 6, start_scale: 3.5 } } });
  for (const steps of [4, 8]) add('meanflow', 'hunyuan-image-distilled', 'flow_euler', steps);
  // A split schedule on the mean-flow model: the first part's last step is fed the whole grid's next timestep
  // as timestep_r (0 only at the schedule's end), so the chained run equals one unsplit pipeline loop.
  add('meanflow-chain', 'hunyuan-image-distilled', 'flow_euler', 8, { chain: { at: 3, then: 'flow_euler' } });
  // The guider a HunyuanImage folder ships (guider/guider_config.json), read by the CFG node (settings from the
  // model): AdaptiveProjectedMixGuidance with its class defaults, and ClassifierFreeGuidance over a step range.
  add('guider-mix', 'hunyuan-image', 'flow_euler', 12, { cfg: { scale: 0, rescale: 0, guider: { _class_name: 'AdaptiveProjectedMixGuidance' } } });
  add('guider-cfg-range', 'hunyuan-image', 'flow_euler', 10, { cfg: { scale: 0, rescale: 0, guider: { _class_name: 'ClassifierFreeGuidance', guidance_scale: 4, start: 0.2, stop: 0.8 } } });
  return out;
}

/**
 * SCMScheduler as SanaSprintPipeline runs it (check.py: TrigFlow state, the flow sample and flow time handed to
 * the model, its velocity turned into the TrigFlow output): on the Sana Sprint twin and, with SCM's config
 * over it, on the analytic flow model; img2img as SanaSprintImg2ImgPipeline.
 */
function scmCases(): ParityCase[] {
  const out: ParityCase[] = [];
  const scm = { _class_name: 'SCMScheduler', prediction_type: 'trigflow', sigma_data: 0.5 };
  const add = (tag: string, model: ParityModel, steps: number, more: Partial<ParityCase> = {}) =>
    out.push(makeCase(`${modelTag(model)}-${tag}-scm-${steps}`, model, 'scm', steps, model === 'gaussian-rf' ? scm : {}, { stochastic: true, ...more }));
  for (const steps of [1, 2, 4]) add('plain', 'sana-sprint', steps);
  for (const steps of [1, 2, 3, 8]) add('plain', 'gaussian-rf', steps);
  // FlowMatchLCMScheduler: the same consistency step on FlowMatch Euler's grid (its config keys: shift, Karras).
  const lcmFlow = (tag: string, model: ParityModel, steps: number, config: Record<string, unknown>, more: Partial<ParityCase> = {}) =>
    out.push(makeCase(`${modelTag(model)}-flowlcm-${tag}-consistency-${steps}`, model, 'consistency', steps, { _class_name: 'FlowMatchLCMScheduler', ...config }, { stochastic: true, ...more }));
  for (const steps of [1, 2, 4, 8]) lcmFlow('shift3', 'gaussian-rf', steps, { shift: 3 });
  lcmFlow('karras', 'gaussian-rf', 6, { shift: 1, use_karras_sigmas: true });
  lcmFlow('img2img-s0.5', 'gaussian-rf', 8, { shift: 3 }, { sampler: { start: 'img2img', denoise: 0.5 }, strength: 0.5 });
  lcmFlow('plain', 'sd3', 4, {});
  lcmFlow('torchseed', 'gaussian-rf', 4, { shift: 3 }, { torchSeed: 31 });
  // CogView4Pipeline hands set_timesteps its timesteps list with its sigmas: FlowMatchLCMScheduler keeps that list
  // (FlowMatch Euler recomputes it from the shifted levels), so the model is fed the unshifted int(linspace(1000, 1, N)).
  lcmFlow('plain', 'cogview4', 10, {});
  lcmFlow('karras', 'cogview4', 8, { use_karras_sigmas: true });
  add('auto', 'sana-sprint', 2, { solver: 'auto' });
  for (const [steps, strength] of [[4, 0.6], [8, 0.5], [2, 0.6]] as const) {
    add(`img2img-s${strength}`, 'gaussian-rf', steps, { sampler: { start: 'img2img', denoise: strength }, strength });
  }
  add('img2img-s0.6', 'sana-sprint', 4, { sampler: { start: 'img2img', denoise: 0.6 }, strength: 0.6 });
  // The same seed on both sides: the initial latents, then one draw per step, from one torch generator.
  add('torchseed', 'sana-sprint', 2, { torchSeed: 2025 });
  add('torchseed', 'gaussian-rf', 4, { torchSeed: 7 });
  return out;
}

/**
 * Consistency models: CMStochasticIterativeScheduler (ConsistencyModelPipeline's loop) on the continuous VP
 * model read as a consistency network; its step noise from the case's noise file.
 */
function cmCases(): ParityCase[] {
  const vpc = 'gaussian-vp-continuous';
  const CM = { _class_name: 'CMStochasticIterativeScheduler', num_train_timesteps: 40, sigma_min: 0.002, sigma_max: 80, sigma_data: 0.5, s_noise: 1, rho: 7, clip_denoised: true };
  const add = (tag: string, steps: number, config: Record<string, unknown> = {}) =>
    makeCase(`${modelTag(vpc)}-cm-${tag}-cm_stochastic-${steps}`, vpc, 'cm_stochastic', steps, { ...CM, ...config }, { stochastic: true });
  return [
    ...[1, 2, 4, 8].map((steps) => add('default', steps)),
    add('noclip', 4, { clip_denoised: false }),
    add('snoise', 5, { s_noise: 1.011 }),
    add('range', 6, { sigma_max: 120, sigma_min: 0.01, rho: 5, sigma_data: 0.7, num_train_timesteps: 18 }),
    add('train40', 40),
  ];
}

/**
 * Twins at batch 2 (one prompt per sample, as a list of prompts runs) and at other latent sizes: FLUX's and CogView4's
 * mu from the token count, CFG's per-sample rescale and norms, and DiT's class labels per sample.
 */
function twinBatchSizeCases(): ParityCase[] {
  const out: ParityCase[] = [];
  const add = (tag: string, model: TwinModel, solver: string, steps: number, more: Partial<ParityCase> = {}) =>
    out.push(makeCase(`twin-${model}-${tag}-${solver}-${steps}`, model, solver, steps, more.config ?? {}, more));
  add('b2-16x24', 'flux-dev', 'flow_euler', 8, { batch: 2, latent: { height: 16, width: 24 } });
  add('cfg4-b2-32x32', 'flux-schnell', 'flow_euler', 4, { batch: 2, latent: { height: 32, width: 32 }, cfg: { scale: 4, rescale: 0 } });
  add('cfg5-b2-16x24', 'cogview4', 'flow_euler', 10, { batch: 2, latent: { height: 16, width: 24 }, cfg: { scale: 5, rescale: 0 } });
  add('cfg7.5-rescale0.7-b2', 'sd15', 'dpmpp_2m', 10, { batch: 2, cfg: { scale: 7.5, rescale: 0.7 } });
  add('cfg5-b2-16x12', 'sdxl', 'euler_ancestral', 8, { batch: 2, latent: { height: 16, width: 12 }, cfg: { scale: 5, rescale: 0 }, stochastic: true });
  add('cfg4-clamp-b2', 'z-image', 'flow_euler', 9, { batch: 2, cfg: { scale: 4, rescale: 0, normalize: 'clamp', norm_limit: 1.05 } });
  add('cfg4-norm-b2-16x16', 'lumina2', 'flow_euler', 10, { batch: 2, latent: { height: 16, width: 16 }, cfg: { scale: 4, rescale: 0 } });
  add('cfg4-b2', 'dit', 'ddim', 10, { batch: 2, cfg: { scale: 4, rescale: 0 } });
  // Trailing spacing at 48 steps (SD-Turbo's config): numpy's float arange rounds four timesteps one lower than
  // i * T/N does (sigma-grids.ts arangeDown); stochastic solvers show it most.
  add('arange48', 'sd-turbo', 'euler_ancestral', 48, { stochastic: true });
  add('arange48-cfg3', 'sd-turbo', 'ddim', 48, { sampler: { eta: 1 }, stochastic: true, cfg: { scale: 3, rescale: 0 } });
  return out;
}

const ZSNR_VPRED = { rescale_betas_zero_snr: true, timestep_spacing: 'linspace', prediction_type: 'v_prediction' };

export function parityCases(): ParityCase[] {
  return [
    ...vpCases(),
    ...stochasticCases(),
    ...img2imgCases(),
    ...flowCases(),
    ...twinCases(),
    ...moreVpCases(),
    ...inversionCases(),
    ...cfgCases(),
    ...batchCases(),
    ...chainCases(),
    ...torchSeedCases(),
    ...edmCases(),
    ...scmCases(),
    ...cmCases(),
    ...reversedTimeCases(),
    ...twinBatchSizeCases(),
    makeCase('vpc-trailing-arange48-sa_solver-48', 'gaussian-vp-continuous', 'sa_solver', 48, { timestep_spacing: 'trailing' }, { stochastic: true }),
    makeCase('vpc-trailing-arange48-dpmpp_2m_sde-48', 'gaussian-vp-continuous', 'dpmpp_2m_sde', 48, { timestep_spacing: 'trailing' }, { stochastic: true }),
    makeCase('vpc-trailing-arange48-unipc-48', 'gaussian-vp-continuous', 'unipc', 48, { timestep_spacing: 'trailing' }),
    // KDPM2 (both classes) and DPMSolverSDEScheduler have no rescale_betas_zero_snr: the key a swapped-in config keeps
    // leaves their table alone, the midpoints' timesteps included.
    ...[
      makeCase('vpc-zsnr-ignored-dpm_2-10', 'gaussian-vp-continuous', 'dpm_2', 10, ZSNR_VPRED),
      makeCase('vpc-zsnr-ignored-dpm_2_ancestral-10', 'gaussian-vp-continuous', 'dpm_2_ancestral', 10, ZSNR_VPRED, { stochastic: true }),
      makeCase('vpc-zsnr-ignored-dpmpp_sde-10', 'gaussian-vp-continuous', 'dpmpp_sde', 10, { ...ZSNR_VPRED, noise_sampler_seed: 9 }, { torchSeed: 4, stochastic: true }),
      makeCase('twin-pixart-sigma-zsnr-ignored-dpm_2-5', 'pixart-sigma', 'dpm_2', 5, ZSNR_VPRED),
    ],
  ];
}
