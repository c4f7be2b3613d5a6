/**
 * Sampler: runs any registered solver down a model's schedule (or a connected SIGMAS range), the way the
 * diffusers pipelines do. Three starts:
 *  - noise: pure noise scaled by init_noise_sigma (diffusers `latents = randn * init_noise_sigma`);
 *  - img2img: the latent noised to the start step chosen by `denoise` (diffusers `strength`, add_noise);
 *  - continue: the latent is a partly denoised sample at sigmas[0] (another Sampler's output over the
 *    preceding range of the same schedule): no noise is added. Chaining Samplers over SplitSigmas ranges
 *    gives a per-step solver schedule (USF).
 * 'auto' is noise when denoise = 1 and img2img otherwise.
 * A connected ascending grid (Schedule, direction invert) inverts: the latent is the clean image at the
 * grid's first level ('auto' = continue), and DDIM on a VP model is diffusers' DDIMInverseScheduler.
 *
 * NOISE layout: a tensor of the latent's shape is the initial noise; a tensor [K, ...latent dims] holds
 * the initial noise in slice 0 and, in slices 1..K-1, the noises stochastic steps draw, in the order they
 * draw them (one per noisy step: DDIM eta > 0, Euler churn, Euler ancestral, SDE solvers); a run that
 * draws more than it holds fails. Without it noise comes from the seed: the initial draws first, then the
 * step draws, from one Philox stream, or as torch draws them for diffusers or ComfyUI (noise_generator).
 *
 * Latents in and out are in the model's data variables at their level (the VP sample for VP models, x_t
 * for flow models); the solvers run in sampling variables (VE for VP models). One diffusers quirk kept for
 * parity: an Euler-family schedule that ends above sigma 0 returns the VE sample, as those schedulers do.
 */
import { guidedDenoiseFn } from './cfg.ts';
import { isGridOf } from './sampling/irsde.ts';
import { irsdeModelGrid, isMeanReverting, mrDenoiseFn, readIrsdeModel } from './sampling/mean-reverting.ts';
import { createMrs } from './sampling/mrs.ts';
import { NOISE_GENERATOR_HELP, NOISE_GENERATORS, seededDraws, type SeededDraws } from './core/seeded-draws.ts';
import { Tensor } from './core/tensor.ts';
import { defineNode, NodeInputError, type ExecContext, type ParamSpec } from './core/types.ts';
import type { Conditioning, ModelHandle, SchedulerConfig, SigmaSpace, Sigmas, Trajectory } from './core/values.ts';
import { img2imgSigmas, noisedStart, onnxImg2imgStart, onnxNoisedStart } from './sampling/add-noise.ts';
import { comfyModelSampling, comfyRunGrid, comfyStartScale } from './sampling/comfy-schedules.ts';
import { gridTimestepAt } from './sampling/level-timestep.ts';
import { edmParams, modelVariablesScale } from './sampling/edm.ts';
import { plmsImg2imgSigmas, skipsRungeKutta } from './sampling/pndm.ts';
import { cfgInt } from './sampling/schedule-config.ts';
import { autoSolverExtra, defaultSolverFor, isEulerFamilyOrigin } from './sampling/schedule-rules.ts';
import { sliceSigmas } from './sampling/sigmas-split.ts';
import { bindDenoiser, checkLatentShape, denoisedLimitFromConfig } from './sampling/denoiser.ts';
import { pipelineImageSeqLen, sigmaSpace, timestepUnits } from './sampling/model-time.ts';
import { imageSeqLenOfLatent } from './sampling/schedule-flow.ts';
import { scale, type NoiseSource } from './sampling/ops.ts';
import { runSampler } from './sampling/sampler-loop.ts';
import { buildSigmas, initNoiseSigma } from './sampling/schedules.ts';
import { createSolver, GRID_AS, mrsOptions, SOLVER_NAMES, SOLVERS, solverEntry, solverParamSpecs } from './sampling/solver-registry.ts';
import { checkSigmas } from './sampling/solver.ts';
import { createDdimInverse, ddimInverseOptionsFromConfig } from './sampling/ddim.ts';
import { defaultInversionSolver } from './sampling/inversion-sigmas.ts';

export const START_MODES = ['auto', 'noise', 'img2img', 'continue'] as const;
export const IMG2IMG_RULES = ['diffusers', 'diffusers-onnx'] as const;
export type StartMode = (typeof START_MODES)[number];

/** SA-Solver's SDE interval: ComfyUI's percent_to_sigma(0.2) down to percent_to_sigma(0.8) of the model's table (none for EDM models). */
function saTauInterval(scheduler: SchedulerConfig, space: SigmaSpace, dims: readonly number[], from = 0.2, to = 0.8): { start: number; end: number } | undefined {
  if (space === 'vp' && edmParams(scheduler)) return undefined;
  const ms = comfyModelSampling(scheduler, space, imageSeqLenOfLatent(dims));
  return ms.percentToSigma ? { start: ms.percentToSigma(from), end: ms.percentToSigma(to) } : undefined;
}

/**
 * The seed of diffusers' DPMSolverSDEScheduler Brownian tree: the config's noise_sampler_seed. Without one
 * diffusers draws a seed from torch's global generator, which differs run to run; here the Sampler's seed
 * stands in, so a run repeats. Seeds above 2^53 do not survive JSON numbers.
 */
export function noiseSamplerSeed(scheduler: SchedulerConfig, seed: number): number {
  const v = scheduler.noise_sampler_seed;
  if (v === undefined || v === null) return seed;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new NodeInputError(`scheduler config noise_sampler_seed must be a whole number from 0 to 2^53 - 1, got ${JSON.stringify(v)}`, 'model');
  }
  return v;
}

/** 'auto': continue up an inversion grid, img2img below denoise 1, else pure noise. */
function resolveStart(start: StartMode, inverting: boolean, denoise: number): Exclude<StartMode, 'auto'> {
  if (start !== 'auto') return start;
  if (inverting) return 'continue';
  return denoise < 1 ? 'img2img' : 'noise';
}

/** Whether a grid walks upwards (inversion): its last level is above its first. */
function isInversionGrid(s: Sigmas): boolean {
  return s.sigmas.length > 1 && s.sigmas[s.sigmas.length - 1] > s.sigmas[0];
}

/** DDIM inversion with DDIMInverseScheduler's x0 clipping (class default on); deterministic only. */
function inverseDdim(scheduler: SchedulerConfig, eta: number) {
  if (eta !== 0) throw new Error(`DDIM inversion is deterministic: set eta to 0 (got ${eta})`);
  return createDdimInverse(ddimInverseOptionsFromConfig(scheduler));
}

/** Splits the NOISE input into the initial noise and the per-step noises (see the layout above). */
export function splitNoiseInput(noise: Tensor, latent: Tensor): { initial: Tensor; steps: Tensor[] } {
  if (noise.sameShape(latent)) return { initial: noise, steps: [] };
  const sameTail = noise.rank === latent.rank + 1 && latent.dims.every((d, k) => noise.dims[k + 1] === d);
  if (!sameTail || noise.dims[0] < 1) {
    throw new NodeInputError(
      `noise shape ${noise.shapeString()} fits neither the latent shape ${latent.shapeString()} nor [K, ${latent.dims.join(', ')}] (initial noise + per-step noises)`,
      'noise',
    );
  }
  const slices = Array.from({ length: noise.dims[0] }, (_, k) => new Tensor(latent.dims, noise.data.slice(k * latent.size, (k + 1) * latent.size)));
  return { initial: slices[0], steps: slices.slice(1) };
}

/**
 * A run's step noise: the connected noise's slices 1.. in order (refused once used up), else the seed's draws
 * after the initial ones; over a span (an SDE step's from/to levels) a Brownian generator answers from its path
 * on `brownianGrid`.
 */
function stepNoiseSource(given: { steps: Tensor[] } | undefined, draws: SeededDraws, latentSize: number, brownianGrid?: readonly number[]): NoiseSource {
  let used = 0;
  return (dims, span) => {
    if (given && given.steps.length > 0) {
      if (used >= given.steps.length) {
        throw new NodeInputError(`the solver draws more step noises than the ${given.steps.length} the noise input holds (slices 1..${given.steps.length})`, 'noise');
      }
      return given.steps[used++].reshape(dims);
    }
    const size = dims.reduce((a, b) => a * b, 1);
    if (span && draws.between && brownianGrid && size === latentSize) return new Tensor(dims, draws.between(span.from, span.to, brownianGrid));
    return new Tensor(dims, draws.next(size));
  };
}

/** The legacy ONNX img2img start for a VP grid (those pipelines are SD 1.x/2.x only). */
function legacyOnnxStart(full: Sigmas, scheduler: SchedulerConfig, strength: number, gridSolver: string): { start: number; noiseAt: number } {
  if (full.space !== 'vp') throw new NodeInputError('img2img_rule "diffusers-onnx" follows the legacy ONNX Stable Diffusion pipeline, which has no flow models');
  // That pipeline slices the timestep list without the solver order, which for Heun's doubled list starts mid-step.
  if (gridSolver === 'heun') throw new NodeInputError('img2img_rule "diffusers-onnx" is not offered for Heun (the legacy pipeline starts it between its two stages)');
  return onnxImg2imgStart(full.timesteps.length, strength, cfgInt(scheduler, 'steps_offset', 0));
}

const SOLVER_PARAMS: Record<string, ParamSpec> = solverParamSpecs();

function solverParam(name: string): ParamSpec {
  const spec = SOLVER_PARAMS[name];
  if (!spec) throw new Error(`Sampler: no registered solver reads the param "${name}"`);
  return spec;
}

/**
 * A mean-reverting (IR-SDE) model's run: MR Sampler's grid (or the connected one), from mu + sigma_inf z as its
 * reference starts (or the latent as it is, start continue), the MR Sampler on x itself.
 */
async function sampleMeanReverting(
  ctx: ExecContext,
  inputs: { model: ModelHandle; latent: Tensor; mean?: Tensor; noise?: Tensor; sigmas?: Sigmas; conditioning?: Conditioning; guidance?: unknown },
  params: { solver: string; steps: number; seed: number; noise_generator: string; start: string; record_trajectory: boolean } & Record<string, unknown>,
): Promise<{ latent: Tensor; denoised: Tensor; trajectory: Trajectory }> {
  const { model, latent, mean } = inputs;
  if (params.solver !== 'mrs' && params.solver !== 'auto') throw new NodeInputError(`a mean-reverting (IR-SDE) model runs with the MR Sampler: set solver to mrs or auto (got ${params.solver})`);
  if (inputs.guidance) throw new NodeInputError('guidance is not supported on mean-reverting models', 'guidance');
  if (!mean) throw new NodeInputError('a mean-reverting (IR-SDE) model needs the degraded image mu: connect it to mean', 'mean');
  if (!mean.sameShape(latent)) throw new NodeInputError(`mean has shape ${mean.shapeString()} but the latent has ${latent.shapeString()}`, 'mean');
  const start = params.start === 'auto' ? 'noise' : params.start;
  if (start !== 'noise' && start !== 'continue') throw new NodeInputError(`a mean-reverting model starts from noise around mu or continues a latent: set start to auto, noise or continue (got ${start})`);
  let irsde;
  try {
    irsde = readIrsdeModel(model.scheduler);
  } catch (e) {
    throw new NodeInputError((e as Error).message, 'model');
  }
  const { table } = irsde;
  const sigmas = inputs.sigmas ?? irsdeModelGrid(irsde, params.steps);
  if (sigmas.origin !== 'IRSDE' || !isGridOf(table, sigmas)) {
    throw new NodeInputError("the sigmas are not this model's IR-SDE grid: build them with a Schedule node on this model, or leave sigmas unconnected", 'sigmas');
  }
  let mrs;
  try {
    mrs = mrsOptions(params);
  } catch (e) {
    throw new NodeInputError((e as Error).message);
  }
  // The prior draw first, then (SDE) one step noise per step: the Sampler's seeded stream, or the noise input's slices.
  const given = inputs.noise ? splitNoiseInput(inputs.noise, latent) : undefined;
  const draws = seededDraws(params.noise_generator as (typeof NOISE_GENERATORS)[number], params.seed, latent.size);
  const stepNoise = stepNoiseSource(given, draws, latent.size);
  let x: Tensor;
  if (start === 'continue') x = latent;
  else {
    const z = given?.initial ?? new Tensor(latent.dims, draws.initial);
    x = new Tensor(latent.dims, Float32Array.from(z.data, (v, k) => mean.data[k] + table.sigmaInf * v));
  }
  let denoise;
  try {
    denoise = mrDenoiseFn(model, { mu: mean, sigmaInf: table.sigmaInf, muInput: irsde.muInput, conditioning: inputs.conditioning, signal: ctx.signal });
  } catch (e) {
    throw new NodeInputError((e as Error).message, 'model');
  }
  const trajectory: Trajectory = { sigmas: [...sigmas.sigmas], states: params.record_trajectory ? [x] : [], denoised: [] };
  const result = await runSampler({
    // A part of a split schedule counts its steps in the whole one (the short-run rule fires near its end only).
    solver: createMrs({ ...mrs, mu: mean, sigmaInf: table.sigmaInf, scheduleSteps: sigmas.segment?.total, scheduleStart: sigmas.segment?.start }),
    sigmas,
    x,
    noise: stepNoise,
    model: denoise,
    beforeModelCall: () => ctx.throwIfAborted(),
    onStep: (i, n, state) => {
      if (params.record_trajectory) {
        trajectory.states.push(state.x);
        if (state.denoised) trajectory.denoised.push(state.denoised);
      }
      ctx.progress(i + 1, n, () => state.denoised);
    },
  });
  if (!params.record_trajectory) {
    trajectory.sigmas = [sigmas.sigmas[sigmas.sigmas.length - 1]];
    trajectory.states.push(result.x);
    trajectory.denoised.push(result.denoised);
  }
  return { latent: result.x, denoised: result.denoised, trajectory };
}

export const Sampler = defineNode({
  type: 'Sampler',
  version: 2,
  title: 'Sampler',
  category: 'sampling',
  description:
    'Runs a solver down the model\'s schedule (or the connected sigmas): from seeded noise, from the latent noised to the start step (img2img), or continuing a partly denoised latent.',
  inputs: {
    model: { type: 'MODEL' },
    latent: {
      type: 'LATENT',
      help: 'Shape of the result; img2img: the start image; continue: the partly denoised latent at the first sigma',
    },
    noise: {
      type: 'NOISE',
      optional: true,
      help: 'Initial noise (latent shape), or [K, ...latent] = initial noise then the noises stochastic steps draw, in order. Seeded when absent',
    },
    sigmas: { type: 'SIGMAS', optional: true, help: 'Sampling grid or a range of one (Schedule, SplitSigmas); built from the model\'s scheduler config when absent' },
    conditioning: { type: 'CONDITIONING', optional: true, help: 'Extra model inputs (text embeddings, ...); leave empty for unconditional models' },
    guidance: { type: 'GUIDANCE', optional: true, help: 'CFG node: classifier-free guidance around each model call' },
    mean: {
      type: 'LATENT',
      optional: true,
      help: 'Mean-reverting models (IR-SDE, scheduler IRSDEScheduler): the degraded image mu the process reverts to, fed to the network and to the MR Sampler; the run starts from mu + sigma_inf noise',
    },
  },
  outputs: {
    latent: { type: 'LATENT', help: 'The final sample at the last level, in the model\'s data variables' },
    denoised: { type: 'LATENT', help: 'The last x0 prediction' },
    trajectory: { type: 'TRAJECTORY', help: 'Levels, states (model variables, start included) and x0 predictions per step' },
  },
  params: {
    solver: {
      kind: 'enum',
      options: ['auto', ...SOLVER_NAMES],
      default: 'ddim',
      label: 'Solver',
      help: 'auto: the solver the model\'s scheduler_config.json names (its class; for DPM-Solver also solver_order and algorithm_type), with that config\'s options',
    },
    steps: { kind: 'int', default: 20, min: 1, max: 1000, label: 'Steps', help: 'Used when no sigmas are connected' },
    seed: { kind: 'seed', default: 0, label: 'Seed' },
    noise_generator: { kind: 'enum', options: NOISE_GENERATORS, default: 'flowstudio', label: 'Noise generator', help: NOISE_GENERATOR_HELP },
    start: {
      kind: 'enum',
      options: START_MODES,
      default: 'auto',
      label: 'Start',
      help: 'noise: from pure noise; img2img: the latent noised by denoise; continue: the latent is already at the first sigma; auto: noise when denoise is 1, else img2img (continue when the sigmas ascend: inversion)',
    },
    denoise: {
      kind: 'float',
      default: 1,
      min: 0,
      max: 1,
      label: 'Denoise',
      help: 'Fraction of the schedule to run (img2img strength)',
      when: { param: 'start', in: ['auto', 'img2img'] },
    },
    img2img_rule: {
      kind: 'enum',
      options: IMG2IMG_RULES,
      default: 'diffusers',
      label: 'img2img start',
      help: 'diffusers: as its torch pipelines (noise at the first step run); diffusers-onnx: as the legacy ONNX img2img pipeline (steps_offset added to the strength steps, noise one level above the first step run)',
      when: { param: 'start', in: ['auto', 'img2img'] },
    },
    // Off by default: every state and x0 kept is two latents per step held by the cache and recent runs
    // (100 MB for a 50-step FLUX 1024² run) and a copy per step; turned on for the debug views.
    record_trajectory: {
      kind: 'boolean',
      default: false,
      label: 'Record trajectory',
      help: 'Keep every state and x0 prediction for the debug views (trajectory scrubber, per-step error); off keeps only the end point',
    },
    // Solver options: the specs (and the solvers each applies to) come from the registry; every name a
    // registered solver declares must be listed here (test/sampler-chain.test.ts checks it).
    eta: solverParam('eta'),
    s_churn: solverParam('s_churn'),
    s_tmin: solverParam('s_tmin'),
    s_tmax: solverParam('s_tmax'),
    s_noise: solverParam('s_noise'),
    ancestral_eta: solverParam('ancestral_eta'),
    lms_order: solverParam('lms_order'),
    lms_final_step: solverParam('lms_final_step'),
    ge_gamma: solverParam('ge_gamma'),
    tcd_gamma: solverParam('tcd_gamma'),
    dpmpp_sde_r: solverParam('dpmpp_sde_r'),
    sa_eta: solverParam('sa_eta'),
    sa_sde_start: solverParam('sa_sde_start'),
    sa_sde_end: solverParam('sa_sde_end'),
    sa_predictor_order: solverParam('sa_predictor_order'),
    sa_corrector_order: solverParam('sa_corrector_order'),
    sa_simple_order_2: solverParam('sa_simple_order_2'),
    adaptive_order: solverParam('adaptive_order'),
    adaptive_rtol: solverParam('adaptive_rtol'),
    adaptive_atol: solverParam('adaptive_atol'),
    adaptive_h_init: solverParam('adaptive_h_init'),
    adaptive_pcoeff: solverParam('adaptive_pcoeff'),
    adaptive_icoeff: solverParam('adaptive_icoeff'),
    adaptive_dcoeff: solverParam('adaptive_dcoeff'),
    adaptive_accept_safety: solverParam('adaptive_accept_safety'),
    adaptive_eta: solverParam('adaptive_eta'),
    er_sde_type: solverParam('er_sde_type'),
    er_sde_eta: solverParam('er_sde_eta'),
    er_sde_max_stage: solverParam('er_sde_max_stage'),
    seeds_r: solverParam('seeds_r'),
    seeds_solver_type: solverParam('seeds_solver_type'),
    mrs_order: solverParam('mrs_order'),
    mrs_solver_type: solverParam('mrs_solver_type'),
    mrs_parameterization: solverParam('mrs_parameterization'),
    dpm_solver_type: solverParam('dpm_solver_type'),
    dpm_form: solverParam('dpm_form'),
    dpm3m_variant: solverParam('dpm3m_variant'),
    singlestep_placement: solverParam('singlestep_placement'),
    lower_order_final: solverParam('lower_order_final'),
    euler_at_final: solverParam('euler_at_final'),
    unipc_order: solverParam('unipc_order'),
    unipc_variant: solverParam('unipc_variant'),
    unipc_corrector: solverParam('unipc_corrector'),
    unipc_disable_corrector: solverParam('unipc_disable_corrector'),
    unipc_form: solverParam('unipc_form'),
    deis_order: solverParam('deis_order'),
    exp_level_space: solverParam('exp_level_space'),
  },
  async execute(ctx, inputs, params) {
    const { model, latent } = inputs;
    const binding = bindDenoiser(model);
    try {
      checkLatentShape(binding, latent.dims);
    } catch (e) {
      throw new NodeInputError((e as Error).message, 'latent');
    }
    if (isMeanReverting(model.scheduler)) return sampleMeanReverting(ctx, inputs, params);
    if (inputs.mean) throw new NodeInputError('the mean input is for mean-reverting (IR-SDE) models; this model\'s scheduler is not IRSDEScheduler', 'mean');
    const space = sigmaSpace(model.modelIndex, model.scheduler);
    // An ascending grid (Schedule direction invert) inverts: the latent is the clean image at its first level.
    const inverting = inputs.sigmas !== undefined && isInversionGrid(inputs.sigmas);
    let solverName = params.solver;
    if (solverName === 'auto') solverName = inverting ? defaultInversionSolver(model.scheduler, space) : defaultSolverFor(model.scheduler, space);
    const entry = solverEntry(solverName);
    // A comfyFlow solver runs flow models on a ComfyUI schedule's grid, with the VE formulas ComfyUI's sampler runs there.
    const comfyFlow = entry.comfyFlow === true && space === 'flow' && inputs.sigmas?.offGridTimesteps === 'comfyui';
    if (entry.spaces && !entry.spaces.includes(space) && !comfyFlow) {
      const also = entry.comfyFlow ? ', and flow models on a Schedule (ComfyUI) grid (ComfyUI\'s VE formulas)' : '';
      throw new NodeInputError(`solver "${solverName}" runs on ${entry.spaces.join('/')} models only${also}; this model is "${space}"`);
    }
    if (inverting && entry.noInversion) {
      const able = SOLVER_NAMES.filter((n) => !SOLVERS[n].noInversion && (!SOLVERS[n].spaces || SOLVERS[n].spaces.includes(space)));
      throw new NodeInputError(`solver "${solverName}" cannot invert (it draws noise every step or walks only downwards); the sigmas ascend: use one of ${able.join(', ')}`, 'sigmas');
    }
    const gridSolver = GRID_AS[solverName] ?? solverName;
    const start = resolveStart(params.start, inverting, params.denoise);
    if (inverting && start !== 'continue') {
      throw new NodeInputError(`the sigmas ascend (an inversion grid), which starts from the image latent itself: set start to auto or continue, not ${start}`, 'sigmas');
    }
    // LCM's img2img pipeline passes the strength to set_timesteps: all N steps, drawn from the first part of
    // the distillation schedule, instead of the tail of a full grid.
    const lcmImg2img = start === 'img2img' && solverName === 'lcm' && params.img2img_rule === 'diffusers' && !inputs.sigmas;
    const full =
      inputs.sigmas ??
      buildSigmas(model.scheduler, model.modelIndex, params.steps, gridSolver, { imageSeqLen: pipelineImageSeqLen(model.modelIndex, latent.dims), ...(lcmImg2img ? { lcmStrength: params.denoise } : {}) });
    try {
      checkSigmas(full);
    } catch (e) {
      throw new NodeInputError((e as Error).message, 'sigmas');
    }
    if (full.space !== space) throw new NodeInputError(`the sigmas are for a "${full.space}" model but this model is "${space}"`, 'sigmas');

    // img2img (diffusers strength): the last min(floor(N * denoise), N) steps (ceil on flow grids), from the latent noised by add_noise;
    // or the legacy ONNX pipeline's start (see onnxImg2imgStart).
    const legacy = start === 'img2img' && params.img2img_rule === 'diffusers-onnx' ? legacyOnnxStart(full, model.scheduler, params.denoise, gridSolver) : undefined;
    // PNDM's PLMS: diffusers cuts its list with the doubled entry (pndm.ts), not the grid.
    const plmsImg2img = start === 'img2img' && !legacy && solverName === 'pndm' && skipsRungeKutta(model.scheduler);
    // The PLMS walk of an img2img run is not a tail of the grid (pndm.ts): it needs the whole schedule.
    if (plmsImg2img && full.segment) {
      throw new NodeInputError('PNDM (PLMS) img2img cuts its own step list, which a schedule already cut (by denoise or SplitSigmas) cannot give: connect the full schedule and set the Sampler\'s denoise', 'sigmas');
    }
    const plms = plmsImg2img ? plmsImg2imgSigmas(full, params.denoise) : undefined;
    const cut =
      start !== 'img2img' || lcmImg2img ? full : legacy ? sliceSigmas(full, legacy.start, full.timesteps.length) : (plms?.sigmas ?? img2imgSigmas(full, params.denoise));
    // A ComfyUI grid: the rules ComfyUI's sampler applies to the levels it is handed, when it samples.
    let sigmas = cut;
    // KSampler's start noise scale for the level a ComfyUI grid starts at (a part records none of its own).
    let comfyStart: number | undefined;
    if (cut.offGridTimesteps === 'comfyui' && !inverting) {
      try {
        const ms = comfyModelSampling(model.scheduler, space, imageSeqLenOfLatent(latent.dims));
        sigmas = comfyRunGrid(ms, solverName, cut, timestepUnits(model.modelIndex));
        comfyStart = cut.initNoiseSigma ?? comfyStartScale(ms, cut.sigmas[0]);
      } catch (e) {
        throw new NodeInputError((e as Error).message, 'sigmas');
      }
    }
    // The input was checked above; a cut or a ComfyUI grid rule that breaks it is this node's bug, said so.
    if (sigmas !== full) {
      try {
        checkSigmas(sigmas);
      } catch (e) {
        throw new Error(`internal: the grid this run walks (cut from the schedule) is malformed: ${(e as Error).message}`);
      }
    }
    const steps = sigmas.timesteps.length;

    // The seed's draws (seeded-draws.ts): the initial noise (the draws RandomNoise makes for this seed and
    // generator), then the per-step noise. The initial draws are consumed even when noise is connected, so
    // step noise never repeats a connected RandomNoise with the same seed.
    // diffusers' DPMSolverSDEScheduler takes its step noise from a Brownian tree seeded by noise_sampler_seed,
    // spanning the whole schedule (an img2img tail's too); ComfyUI's SDE samplers from one seeded by the
    // KSampler seed, spanning the run's levels (before a flow grid's first level is moved).
    const diffusersTree = params.noise_generator === 'torch' && solverName === 'dpmpp_sde' && space === 'vp';
    const draws = seededDraws(params.noise_generator, params.seed, latent.size, diffusersTree ? { treeSeed: noiseSamplerSeed(model.scheduler, params.seed) } : {});
    const brownianRange = diffusersTree ? [...(full.segment?.preceding ?? []), ...full.sigmas] : (sigmas.comfyNoiseRange ?? sigmas.sigmas);
    const given = inputs.noise ? splitNoiseInput(inputs.noise, latent) : undefined;
    // Seeded initial draws may be shared with earlier runs of this seed and size: read-only, only read below.
    const initial = given?.initial ?? new Tensor(latent.dims, draws.initial);
    const stepNoise = stepNoiseSource(given, draws, latent.size, brownianRange);

    const trajectory: Trajectory = { sigmas: [...sigmas.sigmas], states: [], denoised: [] };
    if (steps === 0) return { latent: latent.clone(), denoised: latent.clone(), trajectory: { ...trajectory, states: [latent.clone()] } };

    const s0 = sigmas.sigmas[0];
    let x: Tensor;
    const modelScale = (level: number) => modelVariablesScale(model.scheduler, space, level);
    if (start === 'continue') x = scale(latent, 1 / modelScale(s0));
    else if (legacy) x = onnxNoisedStart(latent, initial, full.sigmas[legacy.noiseAt], s0, full.origin);
    // ComfyUI scales the noise at the level it was handed, before its sampler moves a first flow level.
    else if (start === 'img2img') x = noisedStart(latent, initial, cut, model.scheduler);
    else x = scale(initial, comfyStart ?? initNoiseSigma(sigmas, model.scheduler));

    // diffusers' end-of-schedule rules (lower_order_final, the singlestep order list, disable_corrector) count
    // the whole schedule: tell the solver where this range sits in it. A tail is an img2img run or the refiner
    // half of SDXL's base + refiner; a head is the base half, or an inversion stopped part-way (DiffEdit):
    // no end-of-schedule rule fires inside a head. A ComfyUI sampler sees only the sigmas it is handed, so on a
    // ComfyUI grid a part is a schedule of its own to the solver (its result is still in the model's
    // variables unless it ends the schedule, for the next part to continue from).
    const seg = sigmas.segment;
    const endsSchedule = !seg || seg.start + cut.timesteps.length === seg.total;
    const solverSeg = sigmas.offGridTimesteps === 'comfyui' ? undefined : seg;
    const extra: Record<string, unknown> = solverSeg ? { scheduleSteps: solverSeg.total, scheduleStart: solverSeg.start } : {};
    // A range that starts at step k of its schedule (img2img, a refiner half, a Schedule node's denoise tail):
    // LMS takes its first coefficients from the levels before k, as diffusers' step_index does (other solvers
    // ignore them).
    if (solverSeg) extra.precedingLevels = solverSeg.preceding;
    if (plms) extra.warmup = plms.warmup;
    if (diffusersTree) extra.noiseAt = 'diffusers';
    // SA-Solver adds SDE noise between 20% and 80% of the model's schedule, as ComfyUI's default does.
    if (solverName === 'sa_solver' || solverName === 'sa_solver_pece') {
      extra.tauInterval = saTauInterval(model.scheduler, space, latent.dims, Number(params.sa_sde_start ?? 0.2), Number(params.sa_sde_end ?? 0.8));
    }
    // DDIM up a VP grid is diffusers' DDIMInverseScheduler, which limits x0 by its own rules (inverseDdim).
    const ddimInverse = inverting && solverName === 'ddim' && space === 'vp';
    let solver;
    try {
      // 'auto' on a DPM-Solver multistep config: the config's solver_order (the solver names fix theirs).
      if (params.solver === 'auto') Object.assign(extra, autoSolverExtra(model.scheduler, solverName));
      solver = ddimInverse ? inverseDdim(model.scheduler, Number(params.eta)) : createSolver(solverName, model.scheduler, params as Record<string, unknown>, extra);
    } catch (e) {
      throw new NodeInputError((e as Error).message);
    }
    const limit = entry.limitsDenoised || ddimInverse ? undefined : denoisedLimitFromConfig(model.scheduler, gridSolver);
    // The step in progress, for guidance over a range of steps: every step before it has called onStep.
    let stepsDone = 0;
    const progress = samplerProgress(ctx);
    let denoiseFn;
    try {
      denoiseFn = guidedDenoiseFn(model, { space, conditioning: inputs.conditioning, guidance: inputs.guidance, limit, signal: ctx.signal, keepUncond: entry.needsUncond, steps: { total: sigmas.timesteps.length, current: () => stepsDone }, batch: x.dims[0] });
    } catch (e) {
      // A CFG setting this model or solver cannot take: mark the guidance input, which leads to the CFG node.
      if (inputs.guidance && !(e instanceof NodeInputError) && /^(CFG|APG)/.test((e as Error).message)) throw new NodeInputError((e as Error).message, 'guidance');
      throw e;
    }
    const toModel = (t: Tensor, level: number) => scale(t, modelScale(level));
    if (params.record_trajectory) trajectory.states.push(toModel(x, s0));
    const result = await runSampler({
      solver,
      sigmas,
      x,
      model: denoiseFn,
      noise: stepNoise,
      timestepAt: gridTimestepAt(model.scheduler, model.modelIndex, sigmas, imageSeqLenOfLatent(latent.dims)),
      beforeModelCall: () => ctx.throwIfAborted(),
      onStepProgress: progress.inStep,
      onStep: (i, n, state) => {
        stepsDone = i + 1;
        if (params.record_trajectory) {
          trajectory.states.push(toModel(state.x, sigmas.sigmas[i + 1]));
          if (state.denoised) trajectory.denoised.push(state.denoised);
        }
        progress.stepDone(i, n, () => state.denoised);
      },
    });
    const last = sigmas.sigmas[sigmas.sigmas.length - 1];
    // diffusers' Euler-family schedulers hold and return the VE sample; a schedule that ends above sigma 0
    // (final_sigmas_type sigma_min) therefore hands the pipeline x0 + sigma eps, not the VP sample.
    // ComfyUI returns its VE sample too (a run ending above 0: dpm_fast, uni_pc's 0.001).
    const veOut = !inverting && endsSchedule && last > 0 && space === 'vp' && (isEulerFamilyOrigin(full.origin) || full.offGridTimesteps === 'comfyui');
    // ComfyUI's flow models (CONST) end every run with inverse_noise_scaling: the sample over (1 - last sigma), which
    // a run ending at 0 leaves as it is; UniPC's 0.001 end (which it writes into the run's sigmas) divides by 0.999.
    // dpm_fast and dpm_adaptive stop at the grid's last positive level, but ComfyUI rescales by the KSampler grid's 0 there.
    const flowOut = !inverting && endsSchedule && last > 0 && last < 1 && space === 'flow' && full.offGridTimesteps === 'comfyui' && !sigmas.comfyUnscaledEnd;
    const out = veOut
      ? result.x
      : flowOut
        ? scale(toModel(result.x, last), 1 / (1 - last))
        : params.record_trajectory
          ? trajectory.states[trajectory.states.length - 1]
          : toModel(result.x, last);
    if (!params.record_trajectory) {
      // Only the end point: the last level, the final state and its x0 prediction.
      trajectory.sigmas = [last];
      trajectory.states.push(veOut || flowOut ? toModel(result.x, last) : out);
      trajectory.denoised.push(result.denoised);
    }
    return { latent: out, denoised: result.denoised, trajectory };
  },
});

export default Sampler;

/**
 * The Sampler's progress: steps of its grid, or percent of the whole walk once a solver reports progress inside
 * its steps (dpm_adaptive walks its whole range in one grid step, however many model calls that takes).
 */
function samplerProgress(ctx: ExecContext) {
  let percent = false;
  const share = (i: number, n: number, fraction: number) => Math.floor((100 * (i + fraction)) / n);
  return {
    inStep(i: number, n: number, fraction: number) {
      percent = true;
      ctx.progress(share(i, n, fraction), 100, undefined, 'percent');
    },
    stepDone(i: number, n: number, preview: () => Tensor | undefined) {
      if (percent) ctx.progress(share(i, n, 1), 100, preview, 'percent');
      else ctx.progress(i + 1, n, preview);
    },
  };
}
