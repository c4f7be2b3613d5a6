/**
 * Random parity cases on the conditional twins, as users run their pipelines: the folder's own scheduler
 * (`auto`) or another one swapped in with `X.from_config(pipe.scheduler.config, ...)` (the folder's keys kept),
 * steps, img2img strength, guidance scale (1 and 0 included, where the pipelines turn CFG off), batch, latent
 * size (FLUX / CogView4 / dynamic-shift mu from the token count) and seed.
 *
 *   [WIDE=1] npx tsx scripts/diffusers-parity/fuzz-twins.ts <out.json> [count] [seed] [twin regex]
 *   PARITY_CASES_JSON=<out.json> npx tsx scripts/diffusers-parity/prepare.ts <dir>
 *   python3 scripts/diffusers-parity/check.py <dir>   (README.md: PYTHONPATH, DIFFUSERS_COMMIT, TORCHSDE_SRC)
 *
 * WIDE=1 adds from_config keyword overrides on VP twins (final_sigmas_type, Lu / exponential / beta levels,
 * zero-SNR, v / x0 prediction, orders, thresholding) and switches flow twins' dynamic shifting. Cases whose
 * guidance scale is at most 1 carry cfg.pipelineRule: check.py then turns guidance off, as the pipelines do,
 * where our CFG node applies the formula (README, fourth round).
 */
import fs from 'node:fs/promises';
import { SCHEDULERS } from '../../test/helpers/twins.ts';
import { makeCase, type ParityCase, type TwinModel } from './cases.ts';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VP_TWINS: TwinModel[] = ['sd15', 'sd15-legacy', 'sd-turbo', 'sdxl', 'pixart-sigma', 'dit'];
const FLOW_TWINS: TwinModel[] = ['sd3', 'flux-dev', 'flux-schnell', 'lumina2', 'z-image', 'cogview4', 'hunyuan-image', 'hunyuan-image-distilled', 'sana-sprint'];
const FOLDER_CONFIG: Record<TwinModel, Record<string, unknown>> = {
  sd15: SCHEDULERS.sd15,
  'sd15-legacy': SCHEDULERS.sd15,
  'sd-turbo': SCHEDULERS.sdTurbo,
  sdxl: SCHEDULERS.sdxl,
  'pixart-sigma': SCHEDULERS.pixartSigma,
  dit: SCHEDULERS.dit,
  sd3: SCHEDULERS.sd3,
  'flux-dev': SCHEDULERS.fluxDev,
  'flux-schnell': SCHEDULERS.fluxSchnell,
  lumina2: SCHEDULERS.lumina2,
  'z-image': SCHEDULERS.zImageTurbo,
  cogview4: SCHEDULERS.cogview4,
  'hunyuan-image': SCHEDULERS.hunyuanImage,
  'hunyuan-image-distilled': SCHEDULERS.hunyuanImage,
  'sana-sprint': SCHEDULERS.sanaSprint,
};

/** VP solvers with a diffusers class; stochastic ones draw per-step noise from the noise file. */
const VP_DET = ['ddim', 'pndm', 'euler', 'heun', 'dpm_2', 'lms', 'dpmpp_2m', 'dpmpp_3m', 'dpm_2m', 'dpm_1s', 'dpm_2s', 'dpm_3s', 'unipc', 'deis', 'auto'];
const VP_STOCH = ['euler_ancestral', 'dpm_2_ancestral', 'dpmpp_2m_sde', 'ddpm', 'lcm', 'tcd', 'sa_solver', 'ddim_eta', 'dpmpp_sde'];
const KARRAS_OK = new Set(['euler', 'heun', 'dpm_2', 'lms', 'dpmpp_2m', 'dpmpp_3m', 'dpm_2m', 'dpm_1s', 'dpm_2s', 'dpm_3s', 'unipc', 'deis', 'euler_ancestral', 'dpm_2_ancestral', 'dpmpp_2m_sde', 'dpmpp_sde', 'sa_solver']);
/** Pipelines whose set_timesteps call takes any scheduler (SD3: steps and mu); the others pass sigmas. */
const FLOW_SIGMA_SOLVERS = ['dpmpp_2m', 'dpmpp_3m', 'unipc', 'deis'];

const WIDE = process.env.WIDE === '1';

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function steps(r: () => number): number {
  const u = r();
  if (u < 0.4) return 1 + Math.floor(r() * 6);
  if (u < 0.75) return 7 + Math.floor(r() * 14);
  return 21 + Math.floor(r() * 30);
}

function oneCase(r: () => number, k: number, model: TwinModel): ParityCase | undefined {
  const vp = VP_TWINS.includes(model);
  let solver: string;
  let config: Record<string, unknown> = {};
  let sampler: Record<string, string | number> = {};
  let stochastic = false;
  let tag = '';
  const n = steps(r);
  const more: Partial<ParityCase> = {};
  if (vp) {
    solver = r() < 0.7 ? pick(r, VP_DET) : pick(r, VP_STOCH);
    if (solver === 'ddim_eta') {
      solver = 'ddim';
      sampler = { eta: pick(r, [0.5, 1]) };
    }
    stochastic = VP_STOCH.includes(solver) || sampler.eta !== undefined;
    if (solver === 'dpmpp_sde') config.noise_sampler_seed = 1000 + k;
    if (KARRAS_OK.has(solver) && r() < 0.3) {
      config.use_karras_sigmas = true;
      tag += '-karras';
    }
    if (solver !== 'auto' && solver !== 'pndm' && r() < 0.15) {
      config.timestep_spacing = pick(r, ['trailing', 'linspace', 'leading']);
      tag += `-${config.timestep_spacing}`;
    }
    // WIDE=1: from_config keyword overrides users pass with the swap.
    if (WIDE && solver !== 'auto' && r() < 0.5) {
      const opt = pick(r, ['final_sigmas_type', 'euler_at_final', 'lu', 'exp', 'beta', 'zsnr', 'vpred', 'lower_order_final', 'order3', 'thresholding', 'sample']);
      if (opt === 'final_sigmas_type') config.final_sigmas_type = 'sigma_min';
      if (opt === 'euler_at_final') config.euler_at_final = true;
      if (opt === 'lu') config.use_lu_lambdas = true;
      if (opt === 'exp') config.use_exponential_sigmas = true;
      if (opt === 'beta') config.use_beta_sigmas = true;
      if (opt === 'zsnr') Object.assign(config, { rescale_betas_zero_snr: true, timestep_spacing: 'trailing', prediction_type: 'v_prediction' });
      if (opt === 'vpred') config.prediction_type = 'v_prediction';
      if (opt === 'lower_order_final') config.lower_order_final = false;
      if (opt === 'order3') config.solver_order = 3;
      if (opt === 'thresholding') Object.assign(config, { thresholding: true, sample_max_value: 1.5 });
      if (opt === 'sample') config.prediction_type = 'sample';
      if (config.use_exponential_sigmas || config.use_beta_sigmas || config.use_lu_lambdas) delete config.use_karras_sigmas;
      tag += `-${opt}`;
    }
    if ((solver === 'lcm' || solver === 'tcd') && n > 50) return undefined;
    if (solver === 'tcd') sampler.tcd_gamma = pick(r, [0, 0.3, 1]);
    // img2img: StableDiffusion(XL)Img2ImgPipeline (no PixArt / DiT img2img pipeline).
    if (!['pixart-sigma', 'dit'].includes(model) && r() < 0.25 && !['lcm'].includes(solver)) {
      const strength = pick(r, [0.2, 0.3, 0.5, 0.6, 0.75, 0.9, 1]);
      if (Math.trunc(n * strength) >= 1) {
        more.strength = strength;
        sampler = { ...sampler, start: 'img2img', denoise: strength };
        tag += `-img2img${strength}`;
      }
    }
  } else if (model === 'sana-sprint') {
    solver = r() < 0.8 ? 'scm' : 'auto';
    stochastic = true;
    if (n > 8) return oneCase(r, k, model);
    if (r() < 0.25 && n > 1) {
      const strength = pick(r, [0.5, 0.6, 0.8]);
      more.strength = strength;
      sampler = { start: 'img2img', denoise: strength };
      tag += `-img2img${strength}`;
    }
  } else {
    const pipelineTakesAny = model === 'sd3' || model.startsWith('flux');
    const options = ['flow_euler', 'flow_euler', 'flow_euler', 'consistency', 'auto'];
    if (model === 'sd3') options.push('heun', 'heun', 'sa_solver');
    // FluxPipeline passes mu; DPMSolverMultistep and DEIS assert use_dynamic_shifting then (FLUX.1-schnell has none).
    if (pipelineTakesAny) options.push(...(model === 'flux-schnell' ? ['unipc'] : FLOW_SIGMA_SOLVERS));
    solver = pick(r, options);
    if (solver === 'heun') more.diffusers = { cls: 'FlowMatchHeunDiscreteScheduler', overrides: {} };
    if (solver === 'consistency') {
      config._class_name = 'FlowMatchLCMScheduler';
      stochastic = true;
    }
    if (solver === 'sa_solver') stochastic = true;
    if (FLOW_SIGMA_SOLVERS.includes(solver) || solver === 'sa_solver') {
      // Sana-style: DPMSolverMultistepScheduler.from_config(pipe.scheduler.config, use_flow_sigmas=True, ...)
      config = { ...config, use_flow_sigmas: true, prediction_type: 'flow_prediction', flow_shift: pick(r, [1, 3, 6]) };
      tag += `-flowsigmas${config.flow_shift}`;
    }
    if ((solver === 'flow_euler' || solver === 'consistency') && r() < 0.3) {
      const opt = pick(r, ['karras', 'exponential', 'beta', 'shift_terminal', 'stochastic', 'shift']);
      if (opt === 'karras') config.use_karras_sigmas = true;
      if (opt === 'exponential') config.use_exponential_sigmas = true;
      if (opt === 'beta') config.use_beta_sigmas = true;
      // One step: diffusers divides 0 by 0 (NaN), FlowStudio refuses (schedule-flow.ts stretchToTerminal).
      if (opt === 'shift_terminal' && n === 1) return undefined;
      if (opt === 'shift_terminal') config.shift_terminal = pick(r, [0.02, 0.1]);
      if (opt === 'shift') config.shift = pick(r, [1, 2, 4.5, 7]);
      if (opt === 'stochastic') {
        if (solver !== 'flow_euler') return undefined;
        config.stochastic_sampling = true;
        stochastic = true;
      }
      tag += `-${opt}`;
    }
    if (WIDE && r() < 0.25) {
      // The folder's dynamic shifting switched (a pipeline that passes no mu: diffusers raises for FlowMatch classes).
      config.use_dynamic_shifting = !(FOLDER_CONFIG[model].use_dynamic_shifting === true);
      tag += config.use_dynamic_shifting ? '-dyn' : '-static';
      if (r() < 0.5) {
        config.time_shift_type = pick(r, ['exponential', 'linear']);
        tag += `-${config.time_shift_type}`;
      }
    }
    if (model === 'sd3' && (solver === 'flow_euler' || FLOW_SIGMA_SOLVERS.includes(solver)) && r() < 0.15) {
      config = { ...config, use_dynamic_shifting: true, base_image_seq_len: pick(r, [4, 16, 256]), max_image_seq_len: pick(r, [64, 256, 4096]) };
      tag += '-dynamic';
    }
    // img2img: StableDiffusion3Img2ImgPipeline, FluxImg2ImgPipeline, ZImageImg2ImgPipeline (FlowMatch schedulers).
    if (['sd3', 'flux-dev', 'flux-schnell', 'z-image'].includes(model) && ['flow_euler', 'consistency', 'auto'].includes(solver) && r() < 0.3) {
      const strength = pick(r, [0.2, 0.3, 0.5, 0.6, 0.75, 0.9, 1]);
      more.strength = strength;
      sampler = { ...sampler, start: 'img2img', denoise: strength };
      tag += `-img2img${strength}`;
    }
  }
  // Guidance: the pipelines' CFG (scale <= 1: no CFG there; pipelineRule makes check.py do the same).
  const cfgModels = new Set<TwinModel>(['sd15', 'sd15-legacy', 'sd-turbo', 'sdxl', 'pixart-sigma', 'dit', 'sd3', 'flux-dev', 'flux-schnell', 'lumina2', 'z-image', 'cogview4', 'hunyuan-image']);
  if (cfgModels.has(model) && r() < 0.5) {
    const scale = pick(r, [0, 1, 1, 1.5, 3, 4, 5, 7.5, 12]);
    const rescale = ['sd15', 'sd15-legacy', 'sd-turbo', 'sdxl'].includes(model) && r() < 0.25 ? pick(r, [0.3, 0.7]) : 0;
    const cfg: NonNullable<ParityCase['cfg']> = { scale, rescale, pipelineRule: true };
    if (model === 'lumina2' && r() < 0.5) cfg.normalize = 'off';
    if (model === 'z-image' && r() < 0.4) {
      cfg.normalize = 'clamp';
      cfg.norm_limit = pick(r, [1, 1.05, 1.5]);
    }
    if (model === 'z-image' && r() < 0.3) cfg.truncate = pick(r, [0.3, 0.5, 0.9]);
    if (['sd15', 'sdxl', 'sd3'].includes(model) && r() < 0.15 && scale > 1) {
      cfg.apg = { eta: pick(r, [0, 0.5, 1]), norm_threshold: pick(r, [0, 2, 15]), momentum: pick(r, [null, -0.5, 0.3]) };
      tag += '-apg';
    }
    if (model === 'hunyuan-image' && scale > 1 && r() < 0.4) {
      cfg.apg = { eta: pick(r, [0, 0.5]), norm_threshold: pick(r, [0, 10]), momentum: pick(r, [null, -0.5]), start: 1 + Math.floor(r() * 5), start_scale: pick(r, [1, 3.5]) };
      tag += '-apgmix';
    } else if (['sd15', 'sd3', 'hunyuan-image'].includes(model) && !['heun', 'dpm_2', 'dpm_2_ancestral'].includes(solver) && r() < 0.2) {
      // A folder's guider/guider_config.json, read by the CFG node (settings_from model).
      const start = pick(r, [0, 0.2, 0.3]);
      const stop = pick(r, [1, 0.8, 0.5]);
      cfg.guider = model === 'hunyuan-image' && r() < 0.5 ? { _class_name: 'AdaptiveProjectedMixGuidance' } : { _class_name: 'ClassifierFreeGuidance', guidance_scale: scale, start, stop, ...(r() < 0.3 ? { use_original_formulation: true } : {}) };
      tag += '-guider';
    }
    more.cfg = cfg;
    tag += `-cfg${scale}${rescale ? `r${rescale}` : ''}`;
  }
  // Batch and latent size.
  if (r() < 0.3) {
    more.batch = 2;
    tag += '-b2';
  }
  if (r() < 0.35) {
    const sizes = model === 'lumina2' ? [[8, 8], [16, 12], [12, 16]] : [[8, 12], [16, 8], [16, 16], [24, 16], [32, 32]];
    const [height, width] = pick(r, sizes);
    more.latent = { height, width };
    tag += `-${height}x${width}`;
  }
  // DPM++ SDE's noise is its Brownian tree (noise_sampler_seed): the harness runs it with a torch seed only.
  if (solver === 'dpmpp_sde' || (r() < 0.15 && !stochastic ? true : r() < 0.1)) {
    more.torchSeed = Math.floor(r() * 100000);
    tag += '-torchseed';
  }
  const id = `fz-${model}-${k}${tag}-${solver}-${n}`;
  if (solver === 'auto') {
    const folder = { ...FOLDER_CONFIG[model], ...config };
    const cls = String(folder._class_name);
    return { id, model, config, solver, steps: n, sampler, diffusers: { cls, overrides: {} }, stochastic: stochastic || cls === 'SCMScheduler' || cls === 'FlowMatchLCMScheduler', ...more };
  }
  return makeCase(id, model, solver, n, config, { sampler, stochastic, ...more });
}

async function main(): Promise<void> {
  const out = process.argv[2];
  const count = Number(process.argv[3] ?? 300);
  const seed = Number(process.argv[4] ?? 1);
  const only = process.argv[5] ? new RegExp(process.argv[5]) : undefined;
  const r = rng(seed);
  const twins = [...VP_TWINS, ...FLOW_TWINS].filter((m) => !only || only.test(m));
  const cases: ParityCase[] = [];
  let k = 0;
  while (cases.length < count) {
    const model = twins[cases.length % twins.length];
    const c = oneCase(r, seed * 100000 + k++, model);
    if (c) cases.push(c);
  }
  await fs.writeFile(out, JSON.stringify(cases, null, 1));
  process.stderr.write(`${cases.length} cases -> ${out}\n`);
}

await main();
