/**
 * The solvers the Sampler offers, by name: how to build each from a scheduler config plus the Sampler's
 * params, and which Sampler params (with their `when` conditions) each one reads. The exponential-
 * integrator family (DPM-Solver, UniPC, DEIS) is registered from exp-solvers.ts in the same shape.
 */
import type { ParamSpec } from '../core/types.ts';
import type { SchedulerConfig } from '../core/values.ts';
import { createConsistency } from './consistency.ts';
import { createDdim } from './ddim.ts';
import { createDdpmPosterior } from './ddpm-posterior.ts';
import { createErSde, ER_SDE_TYPES, type ErSdeOptions, type ErSdeType } from './er-sde.ts';
import { createSeeds, type SeedsOptions } from './seeds.ts';
import { createDpm2, createDpm2Ancestral } from './dpm2.ts';
import { createDpmAdaptive, type DpmAdaptiveOptions } from './dpm-adaptive.ts';
import { createDpmSinglestep } from './dpm-singlestep.ts';
import { createDpmpp2sAncestral } from './dpmpp-2s-ancestral.ts';
import { createDpmpp3mSde } from './dpmpp-3m-sde.ts';
import { createDpmppSde } from './dpmpp-sde.ts';
import { createIpndm } from './ipndm.ts';
import { createDeisTab } from './deis-tab.ts';
import { createDpmpp2mCfgPp, createDpmpp2sAncestralCfgPp, createEulerCfgPp } from './cfg-pp.ts';
import { createCfgppHistory, UD10_AB } from './cfgpp-history.ts';
import { createGradientEstimation } from './gradient-estimation.ts';
import { createResMultistep } from './res-multistep.ts';
import { createSaSolver, type DiffusersSaOptions, type SaSolverOptions } from './sa-solver.ts';
import { createEulerAncestral, type EulerAncestralOptions } from './euler-ancestral.ts';
import { createEuler } from './euler.ts';
import { EXP_INTEGRATOR_SOLVERS, EXP_SOLVER_NAMES } from './exp-solvers.ts';
import { createFlowEuler, type FlowEulerOptions } from './flow-euler.ts';
import { createHeun } from './heun.ts';
import { createHeunpp2 } from './heunpp2.ts';
import { createLms, LMS_FINAL_STEPS, LMS_MAX_ORDER, type LmsFinalStep } from './lms.ts';
import { createMrsOnVe, type MrsOptions } from './mrs.ts';
import { CM_CLASS, cmParams, createCmStochastic, type CmParams } from './cm.ts';
import { createDdpm, type DdpmOptions, type DdpmVariance } from './ddpm.ts';
import { createLcm, type LcmOptions } from './lcm.ts';
import { createTcd, type TcdOptions } from './tcd.ts';
import { createPndm, skipsRungeKutta, type PndmOptions } from './pndm.ts';
import { vpTable } from './sigma-grids.ts';
import { createRfSolver } from './rf-solver.ts';
import type { Solver } from './solver.ts';

/** Sampler param values by name (what a solver's optionsFromConfig reads its overrides from). */
export type SolverParams = Record<string, unknown>;

export interface SolverEntry<O = unknown> {
  description: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  create(opts: O): Solver<any>;
  /** The solver's options for a model's scheduler config, with the Sampler's params applied over it. */
  optionsFromConfig(schedulerConfig: SchedulerConfig, overrides: SolverParams): O;
  /** Sampler params this solver reads (names are shared across solvers; one spec per name). */
  params?: Record<string, ParamSpec>;
  /** Model spaces it runs on (default both). */
  spaces?: readonly ('vp' | 'flow')[];
  /**
   * A VP solver that also runs flow models on a Schedule (ComfyUI) grid (offGridTimesteps 'comfyui'): there it
   * repeats the VE formulas ComfyUI's sampler runs on flow models (the flow levels as VE sigmas).
   */
  comfyFlow?: boolean;
  /** Its steps can draw noise (ancestral / SDE / churn / DDIM eta). */
  stochastic?: boolean;
  /** It applies the config's x0 clipping/thresholding itself (the model wrapper must not apply it again). */
  limitsDenoised?: boolean;
  /** It walks only grids whose levels are the model's training levels (its own scheduler's grid): no custom or Karras levels. */
  tableGridOnly?: boolean;
  /** It cannot walk a grid upwards (inversion): it draws noise every step or only knows descending grids. Default: it can. */
  noInversion?: boolean;
  /** It reads the unconditional prediction of CFG (the CFG++ solvers): CFG runs both sides even at scale 1. */
  needsUncond?: boolean;
  /** It chooses its own steps inside a grid step (dpm_adaptive): its model calls follow its tolerance, not the grid. */
  adaptiveSteps?: boolean;
  /** It runs only models whose scheduler config is this class (cm_stochastic: consistency models). */
  modelClass?: string;
}

function num(p: SolverParams, name: string, fallback: number): number {
  const v = p[name];
  return typeof v === 'number' ? v : fallback;
}

const S_NOISE: ParamSpec = {
  kind: 'float',
  default: 1,
  min: 0,
  max: 2,
  label: 'Noise scale',
  help: 'Scale of the noise stochastic steps add (k-diffusion s_noise)',
};

const ANCESTRAL_ETA: ParamSpec = { kind: 'float', default: 1, min: 0, max: 1, label: 'Ancestral eta', help: 'Fraction of each step taken as fresh noise (1 = full ancestral)' };

/**
 * diffusers' SASolverScheduler settings for a config (used on grids of its rules): orders 2 and 2,
 * lower_order_final, and its default tau_func (1 for training timesteps 200 to 800) as levels of the table.
 */
function diffusersSaOptions(cfg: SchedulerConfig): DiffusersSaOptions {
  if (cfg.algorithm_type === 'noise_prediction') throw new Error("SA-Solver: SASolverScheduler's algorithm_type noise_prediction is not offered (data_prediction is its default)");
  if (cfg.variance_type === 'learned' || cfg.variance_type === 'learned_range') throw new Error('SA-Solver: models with a learned variance are not offered');
  const base = { predictorOrder: num(cfg, 'predictor_order', 2), correctorOrder: num(cfg, 'corrector_order', 2), lowerOrderFinal: cfg.lower_order_final !== false };
  if (cfg.use_flow_sigmas === true) {
    // Flow sigmas: tau_func sees the int64 timesteps trunc(t * T), 1 for 200..800, i.e. levels t in [200 / T, 801 / T).
    const T = num(cfg, 'num_train_timesteps', 1000);
    return { ...base, tauLevels: { start: 801 / T - 1e-12, end: 200 / T } };
  }
  let table: Float64Array | undefined;
  try {
    table = vpTable(cfg, false).sigmas;
  } catch {
    table = undefined; // no VP table (a flow config without flow sigmas): no SDE interval there
  }
  const at = (t: number) => (table ? table[Math.min(t, table.length - 1)] : 0);
  return { ...base, tauLevels: { start: at(800), end: at(200) } };
}

/**
 * SA-Solver (sa-solver.ts); the Sampler passes the SDE interval of the model's schedule (tauInterval). On a
 * grid of SASolverScheduler's rules (a plain Sampler, a Schedule node) it runs diffusers' arrangement.
 */
function saSolverEntry(pece: boolean): SolverEntry<SaSolverOptions> {
  return {
    noInversion: true,
    stochastic: true,
    description: pece
      ? 'SA-Solver PECE (ComfyUI sa_solver_pece): sa_solver with the model evaluated again at each corrected state; about two model calls per step. No diffusers class.'
      : "SA-Solver (Xue et al. 2023): a stochastic Adams predictor and corrector on the x0 predictions in half-log-SNR, one model call per step. On Schedule (ComfyUI) grids ComfyUI's sa_solver (orders 3 and 4, SDE noise between 20% and 80% of the model's schedule); on diffusers grids diffusers' SASolverScheduler (its predictor_order and corrector_order, 2 and 2, noise on timesteps 200 to 800, a draw every step).",
    create: (o) => createSaSolver({ ...o, pece }),
    // ComfyUI SamplerSASolver's options for its arrangement (the diffusers one takes its orders from the config);
    // the Sampler turns sa_sde_start / sa_sde_end into the SDE interval (tauInterval).
    optionsFromConfig: (cfg, p) => ({
      sNoise: num(p, 's_noise', 1),
      tau: num(p, 'sa_eta', 1),
      predictorOrder: num(p, 'sa_predictor_order', 3),
      correctorOrder: num(p, 'sa_corrector_order', 4),
      simpleOrder2: p.sa_simple_order_2 === true,
      diffusers: pece ? undefined : diffusersSaOptions(cfg),
    }),
    params: {
      s_noise: S_NOISE,
      sa_eta: { kind: 'float', default: 1, min: 0, max: 10, label: 'SA-Solver eta', help: 'The SDE\'s tau inside its interval (0: the ODE), as ComfyUI SamplerSASolver\'s eta' },
      sa_sde_start: { kind: 'float', default: 0.2, min: 0, max: 1, label: 'SDE from', help: 'Where the SDE interval starts, as a fraction of the model\'s schedule (ComfyUI sde_start_percent)' },
      sa_sde_end: { kind: 'float', default: 0.8, min: 0, max: 1, label: 'SDE to', help: 'Where the SDE interval ends, as a fraction of the model\'s schedule (ComfyUI sde_end_percent)' },
      sa_predictor_order: { kind: 'int', default: 3, min: 1, max: 6, label: 'Predictor order', help: 'Past x0 predictions the stochastic Adams predictor uses' },
      sa_corrector_order: { kind: 'int', default: 4, min: 0, max: 6, label: 'Corrector order', help: 'Past x0 predictions the corrector uses (0: no corrector)' },
      sa_simple_order_2: { kind: 'boolean', default: false, label: 'Simple order 2', help: "Order-2 steps with the SA-Solver paper's simple coefficients (ComfyUI simple_order_2)" },
    },
  };
}

/** A CFG++ solver's description: what it does, then how to use it. */
function cfgPpDescription(what: string, plainWithoutCfg = true): string {
  const alone = plainWithoutCfg ? 'without CFG it is its plain counterpart' : 'without CFG each call counts as its own unconditional side';
  return `${what} Use with a CFG node at a low scale (about 1 to 2); ${alone}. No diffusers class.`;
}

/** An ancestral solver: eta and s_noise from the Sampler, fresh noise every step, no inversion (VP models unless said). */
function ancestralEntry(description: string, create: (o: EulerAncestralOptions) => Solver, spaces: readonly ('vp' | 'flow')[] = ['vp']): SolverEntry<EulerAncestralOptions> {
  return {
    noInversion: true,
    description,
    create,
    optionsFromConfig: (_cfg, p) => ({ eta: num(p, 'ancestral_eta', 1), sNoise: num(p, 's_noise', 1) }),
    params: { ancestral_eta: ANCESTRAL_ETA, s_noise: S_NOISE },
    stochastic: true,
    spaces,
  };
}

/** `entry` with more Sampler params: `read` turns them into options merged over the entry's own. */
function withParams<O>(entry: SolverEntry<O>, params: Record<string, ParamSpec>, read: (p: SolverParams) => object): SolverEntry {
  return {
    ...(entry as SolverEntry),
    params: { ...entry.params, ...params },
    optionsFromConfig: (cfg, p) => ({ ...(entry.optionsFromConfig(cfg, p) as object), ...read(p) }),
  };
}

/** The solvers implemented next to this file (the exponential integrators come from exp-solvers.ts). */
const BASE_SOLVERS: Record<string, SolverEntry> = {
  pndm: {
    noInversion: true,
    description:
      "PNDM (diffusers PNDMScheduler): linear multistep steps after a warm-up; with the config's skip_prk_steps (Stable Diffusion 1.x's default scheduler) PLMS, N + 1 model calls, else three Runge-Kutta steps first, N + 9 calls.",
    create: (o) => createPndm(o as PndmOptions),
    optionsFromConfig: (cfg): PndmOptions => {
      const type = cfg.prediction_type ?? 'epsilon';
      if (type !== 'epsilon' && type !== 'v_prediction') throw new Error(`PNDM: prediction_type ${JSON.stringify(type)} is not supported (diffusers PNDMScheduler takes epsilon or v_prediction)`);
      return { tableSigmas: vpTable(cfg, false).sigmas, predictionType: type, rungeKutta: !skipsRungeKutta(cfg) };
    },
    spaces: ['vp'],
    // PNDMScheduler neither clips nor thresholds x0 (the wrapper would clip PNDM-family configs).
    limitsDenoised: true,
    tableGridOnly: true,
  },
  ddpm: {
    noInversion: true,
    description: 'DDPM ancestral sampling (diffusers DDPMScheduler): the posterior mean of the next timestep plus fresh noise (fixed_small or fixed_large variance).',
    create: (o) => createDdpm(o as DdpmOptions),
    optionsFromConfig: (cfg): DdpmOptions => ({ tableSigmas: vpTable(cfg, true).sigmas, variance: (cfg.variance_type ?? 'fixed_small') as DdpmVariance }),
    spaces: ['vp'],
    stochastic: true,
    tableGridOnly: true,
  },
  lcm: {
    noInversion: true,
    description:
      'Latent Consistency Model sampling (diffusers LCMScheduler) for LCM-distilled models and LCM-LoRA: a consistency step and fresh noise per step, 1-8 steps.',
    create: (o) => createLcm(o as LcmOptions),
    optionsFromConfig: (cfg): LcmOptions => ({
      tableSigmas: vpTable(cfg, true).sigmas,
      timestepScaling: num(cfg, 'timestep_scaling', 10),
      originalSteps: num(cfg, 'original_inference_steps', 50),
    }),
    spaces: ['vp'],
    stochastic: true,
    tableGridOnly: true,
  },
  tcd: {
    noInversion: true,
    description:
      'Trajectory Consistency Distillation sampling (diffusers TCDScheduler) for TCD-distilled models and TCD-LoRA: a DDIM step to the intermediate timestep floor((1 - gamma) t\'), then fresh noise up to t\'; 1-8 steps on LCM\'s timesteps. gamma 0 is deterministic.',
    create: (o) => createTcd(o as TcdOptions),
    optionsFromConfig: (cfg, p): TcdOptions => ({
      tableSigmas: vpTable(cfg, true).sigmas,
      gamma: num(p, 'tcd_gamma', 0.3),
      originalSteps: num(cfg, 'original_inference_steps', 50),
    }),
    params: {
      tcd_gamma: {
        kind: 'float',
        default: 0.3,
        min: 0,
        max: 1,
        label: 'TCD gamma',
        help: "Stochasticity of each step (TCDScheduler.step's eta): 0 deterministic, 1 all fresh noise; TCD's default 0.3. A diffusers pipeline passes its own eta, 0 unless set",
      },
    },
    spaces: ['vp'],
    stochastic: true,
    tableGridOnly: true,
  },
  ddim: {
    description: 'DDIM (Song et al. 2021), diffusers DDIMScheduler semantics; eta > 0 adds DDPM-like noise. On flow models: flow Euler.',
    create: (o) => createDdim(o as { eta: number }),
    // x0 clipping/thresholding is applied by the model wrapper (denoisedLimitFromConfig), not here.
    optionsFromConfig: (_cfg, p) => ({ eta: num(p, 'eta', 0) }),
    params: {
      eta: { kind: 'float', default: 0, min: 0, max: 1, label: 'Eta', help: 'DDIM noise: 0 deterministic, 1 DDPM-like' },
    },
    stochastic: true,
  },
  euler: {
    description: 'Euler on the probability-flow ODE (diffusers EulerDiscreteScheduler / k-diffusion), optional churn.',
    create: (o) => createEuler(o as object),
    optionsFromConfig: (_cfg, p) => ({
      sChurn: num(p, 's_churn', 0),
      sTmin: num(p, 's_tmin', 0),
      sTmax: num(p, 's_tmax', Infinity),
      sNoise: num(p, 's_noise', 1),
    }),
    params: {
      s_churn: { kind: 'float', default: 0, min: 0, max: 100, label: 'Churn', help: 'Noise re-injected per step (0 = deterministic ODE); VP models only' },
      s_tmin: { kind: 'float', default: 0, min: 0, label: 'Churn from sigma', help: 'Churn applies to levels >= this' },
      s_tmax: { kind: 'float', default: 1e6, min: 0, label: 'Churn up to sigma', help: 'Churn applies to levels <= this' },
      s_noise: S_NOISE,
    },
    stochastic: true,
  },
  euler_ancestral: {
    noInversion: true,
    description: 'Euler ancestral (k-diffusion; diffusers EulerAncestralDiscreteScheduler at eta 1): each step adds fresh noise.',
    create: (o) => createEulerAncestral(o as object),
    optionsFromConfig: (_cfg, p) => ({ eta: num(p, 'ancestral_eta', 1), sNoise: num(p, 's_noise', 1) }),
    params: {
      ancestral_eta: ANCESTRAL_ETA,
      s_noise: S_NOISE,
    },
    stochastic: true,
  },
  heun: {
    description: "Heun's second-order method (diffusers HeunDiscreteScheduler, k-diffusion; on flow models FlowMatchHeunDiscreteScheduler): 2 model calls per step, Euler on the last step to 0.",
    create: () => createHeun(),
    optionsFromConfig: () => ({}),
  },
  dpm_2: {
    description:
      "DPM-Solver-2 in Karras' form (diffusers KDPM2DiscreteScheduler, k-diffusion and ComfyUI dpm_2): an Euler half-step to the geometric midpoint, the model there, the whole step with its derivative; 2 model calls per step, Euler on the last step to 0.",
    create: () => createDpm2(),
    optionsFromConfig: () => ({}),
  },
  dpm_2_ancestral: ancestralEntry(
    'DPM-Solver-2 ancestral (diffusers KDPM2AncestralDiscreteScheduler, k-diffusion and ComfyUI dpm_2_ancestral): the dpm_2 step down to s_down, then fresh noise (on flow models ComfyUI\'s rectified-flow form).',
    createDpm2Ancestral,
    ['vp', 'flow'],
  ),
  dpmpp_2s_ancestral: ancestralEntry(
    'DPM-Solver++(2S) ancestral (k-diffusion, ComfyUI and A1111 "DPM++ 2S a"): a second-order singlestep exponential-integrator step down to s_down with its stage at the midpoint in lambda, then fresh noise (on flow models ComfyUI\'s rectified-flow form). No diffusers class.',
    createDpmpp2sAncestral,
    ['vp', 'flow'],
  ),
  dpmpp_sde: withParams(
    ancestralEntry(
      'DPM++ SDE (k-diffusion sample_dpmpp_sde; ComfyUI dpmpp_sde, A1111 "DPM++ SDE"): a stochastic second-order singlestep exponential-integrator step, its stage halfway in lambda (ComfyUI SamplerDPMPP_SDE\'s r moves it), two model calls per step; diffusers\' DPMSolverSDEScheduler (its grid keys; eta and s_noise 1). Its noise comes from a Brownian tree with noise_generator comfyui (seeded by the seed, as ComfyUI) and torch (seeded by the config\'s noise_sampler_seed, else the seed, as diffusers).',
      createDpmppSde,
      ['vp', 'flow'],
    ),
    {
      dpmpp_sde_r: { kind: 'float', default: 0.5, min: 0.01, max: 10, label: 'DPM++ SDE stage', help: "Where the stage sits, as a fraction of the step in lambda (k-diffusion's r, ComfyUI SamplerDPMPP_SDE's; 1/2 as diffusers)" },
    },
    (p) => ({ r: num(p, 'dpmpp_sde_r', 0.5) }),
  ),
  dpmpp_3m_sde: ancestralEntry(
    'DPM++ 3M SDE (k-diffusion sample_dpmpp_3m_sde; ComfyUI dpmpp_3m_sde): a stochastic third-order multistep exponential integrator on the x0 predictions, one model call per step; with noise_generator comfyui its noise comes from ComfyUI\'s Brownian tree. Not diffusers\' dpmpp_3m (an ODE solver).',
    createDpmpp3mSde,
    ['vp', 'flow'],
  ),
  er_sde: {
    noInversion: true,
    stochastic: true,
    description:
      "ER-SDE-Solver-3 (ComfyUI er_sde, and its SamplerER_SDE node's options): a stochastic multistep solver of the extended reverse-time SDE, up to three stages, one model call per step; the reverse-time SDE's noise scaler and the ODE as options. No diffusers class.",
    create: (o) => createErSde(o as ErSdeOptions),
    optionsFromConfig: (_cfg, p): ErSdeOptions => ({
      sNoise: num(p, 's_noise', 1),
      type: (p.er_sde_type ?? 'er-sde') as ErSdeType,
      eta: num(p, 'er_sde_eta', 1),
      maxStage: num(p, 'er_sde_max_stage', 3),
    }),
    params: {
      s_noise: S_NOISE,
      er_sde_type: {
        kind: 'enum',
        options: ER_SDE_TYPES,
        default: 'er-sde',
        label: 'ER-SDE type',
        help: "The noise scaler (ComfyUI SamplerER_SDE's solver_type): er-sde (the paper's), reverse-time-sde (of strength eta), ode (no noise)",
      },
      er_sde_eta: { kind: 'float', default: 1, min: 0, max: 100, label: 'ER-SDE eta', help: 'Strength of the reverse-time SDE (type reverse-time-sde; 0 is the ODE)' },
      er_sde_max_stage: { kind: 'int', default: 3, min: 1, max: 3, label: 'ER-SDE stages', help: 'Stages used at most (1: first order; 3: the full ER-SDE-Solver-3)' },
    },
  },
  seeds_2: withParams(
    ancestralEntry(
      "SEEDS-2 (ComfyUI seeds_2, and its SamplerSEEDS2 node's options): a stochastic second-order singlestep exponential integrator, its stage a fraction r of the step in lambda (default halfway), two model calls per step; eta 0 is deterministic; r 1 with the phi_2 rule is exp_heun_2_x0. No diffusers class.",
      (o) => createSeeds({ ...(o as SeedsOptions), stages: 2 }),
      ['vp', 'flow'],
    ),
    {
      seeds_r: { kind: 'float', default: 0.5, min: 0.01, max: 1, label: 'SEEDS-2 stage', help: "Where the intermediate stage sits, as a fraction of the step in lambda (ComfyUI SamplerSEEDS2's r)" },
      seeds_solver_type: {
        kind: 'enum',
        options: ['phi_1', 'phi_2'],
        default: 'phi_1',
        label: 'SEEDS-2 end rule',
        help: 'How the step combines its two x0 predictions: phi_1 (SEEDS-2) or phi_2 (the exponential Heun rule of exp_heun_2_x0)',
      },
    },
    (p) => ({ r: num(p, 'seeds_r', 0.5), solverType: p.seeds_solver_type ?? 'phi_1' }),
  ),
  exp_heun_2_x0: {
    noInversion: true,
    description:
      "Exponential Heun in x0 and log-SNR (ComfyUI exp_heun_2_x0): a first-order step to the next level, the model called there, then the second-order exponential step from both x0 predictions; two model calls per step. SEEDS-2 with its stage at the step's end, deterministic. No diffusers class.",
    create: () => createSeeds({ stages: 2, r: 1, solverType: 'phi_2', eta: 0, sNoise: 0, name: 'exp_heun_2_x0' }),
    optionsFromConfig: () => ({}),
    spaces: ['vp', 'flow'],
  },
  exp_heun_2_x0_sde: ancestralEntry(
    'Stochastic exponential Heun in x0 and log-SNR (ComfyUI exp_heun_2_x0_sde): exp_heun_2_x0 with SDE noise of strength eta carried through its stage, two model calls per step; eta 0 is exp_heun_2_x0. No diffusers class.',
    (o) => createSeeds({ ...o, stages: 2, r: 1, solverType: 'phi_2', name: 'exp_heun_2_x0_sde' }),
    ['vp', 'flow'],
  ),
  seeds_3: ancestralEntry(
    'SEEDS-3 (ComfyUI seeds_3): a stochastic third-order singlestep exponential integrator, stages at 1/3 and 2/3 in lambda, three model calls per step; eta 0 is deterministic. No diffusers class.',
    (o) => createSeeds({ ...o, stages: 3 }),
    ['vp', 'flow'],
  ),
  ddpm_posterior: {
    noInversion: true,
    stochastic: true,
    spaces: ['vp'],
    comfyFlow: true,
    description:
      "DDPM ancestral sampling on any grid (ComfyUI's ddpm sampler): a draw from the DDPM posterior between two levels, one model call per step; DDIM at eta 1 without DDIMScheduler's x0 clipping. diffusers' DDPMScheduler, on its training levels, is `ddpm`. VP models, and flow models on a Schedule (ComfyUI) grid, where it repeats ComfyUI's VE formulas (the flow levels as VE sigmas).",
    create: () => createDdpmPosterior(),
    optionsFromConfig: () => ({}),
  },
  consistency: {
    noInversion: true,
    stochastic: true,
    description:
      "Multistep consistency sampling (ComfyUI's lcm sampler; diffusers' FlowMatchLCMScheduler on flow models): the x0 prediction, noised afresh to the next level, one model call per step; for LCM, DMD2 and other consistency-distilled models on any grid. diffusers' LCMScheduler for VP models is `lcm`.",
    create: () => createConsistency(),
    optionsFromConfig: () => ({}),
  },
  cm_stochastic: {
    noInversion: true,
    stochastic: true,
    modelClass: CM_CLASS,
    description:
      "Consistency models' multistep sampling (diffusers CMStochasticIterativeScheduler, ConsistencyModelPipeline): the consistency function's x0, noised afresh by sqrt(s_next^2 - sigma_min^2) z, one model call per step, on the model's own Karras levels (at most num_train_timesteps steps, 40 for openai's checkpoints). Models whose scheduler config is CMStochasticIterativeScheduler only.",
    create: (o) => createCmStochastic(o as CmParams),
    optionsFromConfig: (cfg) => {
      const p = cmParams(cfg);
      if (!p) throw new Error(`cm_stochastic samples consistency models, whose scheduler config is ${CM_CLASS}; this model's is ${typeof cfg._class_name === 'string' ? cfg._class_name : 'not named (no _class_name)'}`);
      return p;
    },
    spaces: ['vp'],
  },
  ipndm: {
    description: 'iPNDM (ComfyUI ipndm): Adams-Bashforth in sigma up to order 4 with fixed-step coefficients, one model call per step; the step onto 0 returns the x0 prediction. No diffusers class.',
    create: () => createIpndm(),
    optionsFromConfig: () => ({}),
  },
  ipndm_v: {
    description: 'iPNDM with variable-step coefficients (ComfyUI ipndm_v): as ipndm, the coefficients built from the last step sizes. No diffusers class.',
    create: () => createIpndm({ variable: true }),
    optionsFromConfig: () => ({}),
  },
  res_multistep: {
    description: 'RES multistep (ComfyUI res_multistep): a second-order multistep exponential integrator in -ln sigma on the x0 predictions, one model call per step. No diffusers class.',
    create: () => createResMultistep(),
    optionsFromConfig: () => ({}),
  },
  res_multistep_ancestral: {
    ...ancestralEntry(
      'RES multistep ancestral (ComfyUI res_multistep_ancestral): the res_multistep step down to s_down, then fresh noise; VP models, and flow models on a Schedule (ComfyUI) grid, where it repeats ComfyUI\'s VE formulas. No diffusers class.',
      createResMultistep,
    ),
    comfyFlow: true,
  },
  deis_tab: {
    noInversion: true,
    description:
      "ComfyUI's deis sampler (diff-sampler's DEIS, 'tab' mode): multistep up to order 3 on the EDM derivative with coefficients integrated in a VP-SDE time fitted to EDM's sigma range. Not diffusers' DEISMultistepScheduler (that is `deis`).",
    create: () => createDeisTab(),
    optionsFromConfig: () => ({}),
  },
  gradient_estimation: {
    description:
      'Gradient estimation (ComfyUI gradient_estimation): Euler with the step taken along gamma d + (1 - gamma) d_prev from the second step on; one model call per step. No diffusers class.',
    create: (o) => createGradientEstimation((o as { gamma: number }).gamma),
    optionsFromConfig: (_cfg, p) => ({ gamma: num(p, 'ge_gamma', 2) }),
    params: {
      ge_gamma: { kind: 'float', default: 2, min: 0, max: 10, label: 'Gradient estimation gamma', help: 'Weight of this step\'s derivative against the last one (1 = Euler; ComfyUI\'s default 2)' },
    },
  },
  dpm_fast: {
    noInversion: true,
    description:
      "DPM-Solver-fast (ComfyUI dpm_fast; Lu et al. 2022): singlestep DPM-Solver in its noise form with the stages at r = 1/2 or 1/3, 2/3 in lambda, orders 3, ..., 3 then 2, 1 or the remainder; on a ComfyUI grid (Schedule (ComfyUI) or ComfyUI custom, split or edited) the Sampler walks its own grid (uniform in ln sigma between that grid's ends, as many model calls as its steps), which ends above 0 as ComfyUI's run does. VP models, and flow models on a Schedule (ComfyUI) grid, where it repeats ComfyUI's VE formulas (the flow levels as VE sigmas).",
    create: () => createDpmSinglestep({ form: 'noise', placement: 'official', order: 3, solverType: 'midpoint', gridOrders: true, comfyFlowVe: true }),
    optionsFromConfig: () => ({}),
    spaces: ['vp'],
    comfyFlow: true,
  },
  dpm_adaptive: {
    noInversion: true,
    adaptiveSteps: true,
    description:
      "DPM-Solver-23 with adaptive step size (ComfyUI dpm_adaptive): each grid step integrated in steps a PID controller sizes from the gap between a second- and a third-order result (rtol 0.05, atol 0.0078), three model calls per attempt; on a ComfyUI grid the Sampler gives it ComfyUI's one step, from the grid's top level to its last positive one. VP models, and flow models on a Schedule (ComfyUI) grid (ComfyUI's VE formulas).",
    create: (o) => createDpmAdaptive(o as DpmAdaptiveOptions),
    // ComfyUI SamplerDPMAdaptative's options.
    optionsFromConfig: (_cfg, p): DpmAdaptiveOptions => ({
      order: num(p, 'adaptive_order', 3) as 2 | 3,
      rtol: num(p, 'adaptive_rtol', 0.05),
      atol: num(p, 'adaptive_atol', 0.0078),
      hInit: num(p, 'adaptive_h_init', 0.05),
      pcoeff: num(p, 'adaptive_pcoeff', 0),
      icoeff: num(p, 'adaptive_icoeff', 1),
      dcoeff: num(p, 'adaptive_dcoeff', 0),
      acceptSafety: num(p, 'adaptive_accept_safety', 0.81),
      eta: num(p, 'adaptive_eta', 0),
      sNoise: num(p, 's_noise', 1),
    }),
    params: {
      adaptive_order: { kind: 'int', default: 3, min: 2, max: 3, label: 'Adaptive order', help: 'The higher of the two orders whose difference sizes the steps (k-diffusion order)' },
      adaptive_rtol: { kind: 'float', default: 0.05, min: 1e-6, max: 100, label: 'Adaptive rtol', help: 'Relative error tolerance per attempted step' },
      adaptive_atol: { kind: 'float', default: 0.0078, min: 1e-6, max: 100, label: 'Adaptive atol', help: 'Absolute error tolerance per attempted step' },
      adaptive_h_init: { kind: 'float', default: 0.05, min: 1e-6, max: 100, label: 'Adaptive first step', help: 'The first attempted step, in -ln sigma' },
      adaptive_pcoeff: { kind: 'float', default: 0, min: 0, max: 100, label: 'PID p', help: "Proportional weight of the step-size controller (k-diffusion's pcoeff)" },
      adaptive_icoeff: { kind: 'float', default: 1, min: 0, max: 100, label: 'PID i', help: "Integral weight of the step-size controller (k-diffusion's icoeff)" },
      adaptive_dcoeff: { kind: 'float', default: 0, min: 0, max: 100, label: 'PID d', help: "Derivative weight of the step-size controller (k-diffusion's dcoeff)" },
      adaptive_accept_safety: { kind: 'float', default: 0.81, min: 0, max: 2.5, label: 'Accept safety', help: "A step is accepted when the controller's factor is at least this (factors lie between 0.21 and 1 + pi/2)" },
      adaptive_eta: { kind: 'float', default: 0, min: 0, max: 100, label: 'Adaptive eta', help: 'Fresh noise on each accepted step (k-diffusion eta; 0: the ODE, as ComfyUI\'s dpm_adaptive sampler). Far above 1 every attempt aims at a level far below its step while an accepted step moves only by the controller\'s step, so a run crawls (k-diffusion and ComfyUI do the same)' },
      s_noise: S_NOISE,
    },
    spaces: ['vp'],
    comfyFlow: true,
  },
  sa_solver: saSolverEntry(false),
  sa_solver_pece: saSolverEntry(true),
  // CFG++ (cfg-pp.ts): ComfyUI's *_cfg_pp samplers.
  euler_cfg_pp: {
    noInversion: true,
    needsUncond: true,
    description: cfgPpDescription('Euler CFG++ (ComfyUI euler_cfg_pp): an Euler step that denoises with the guided x0 and renoises along the unconditional one; one model call per step.'),
    create: () => createEulerCfgPp({ eta: 0 }),
    optionsFromConfig: () => ({}),
  },
  euler_ancestral_cfg_pp: {
    ...ancestralEntry(
      cfgPpDescription('Euler ancestral CFG++ (ComfyUI euler_ancestral_cfg_pp): euler_cfg_pp down to s_down, then fresh noise (on flow models in the rectified-flow split of s / (1 - s)).'),
      createEulerCfgPp,
      ['vp', 'flow'],
    ),
    needsUncond: true,
  },
  dpmpp_2m_cfg_pp: {
    noInversion: true,
    needsUncond: true,
    description: cfgPpDescription('DPM++ 2M CFG++ (ComfyUI dpmpp_2m_cfg_pp): DPM-Solver++(2M) renoising along the unconditional x0, its history the unconditional predictions; one model call per step; VP models, and flow models on a Schedule (ComfyUI) grid (ComfyUI\'s VE formulas, lambda = -ln sigma).'),
    create: () => createDpmpp2mCfgPp(),
    optionsFromConfig: () => ({}),
    spaces: ['vp'],
    comfyFlow: true,
  },
  dpmpp_2s_ancestral_cfg_pp: {
    ...ancestralEntry(
      cfgPpDescription('DPM++ 2S ancestral CFG++ (ComfyUI dpmpp_2s_ancestral_cfg_pp): DPM-Solver++(2S) to s_down with the state moved by the guided minus the unconditional x0 (for the whole step the stage call\'s, as ComfyUI reads it), then fresh noise; two model calls per step; VP models, and flow models on a Schedule (ComfyUI) grid (ComfyUI\'s VE formulas).', false),
      createDpmpp2sAncestralCfgPp,
    ),
    needsUncond: true,
    comfyFlow: true,
  },
  res_multistep_cfg_pp: {
    noInversion: true,
    needsUncond: true,
    description: cfgPpDescription('RES multistep CFG++ (ComfyUI res_multistep_cfg_pp): res_multistep renoising along the unconditional x0.'),
    create: () => createResMultistep({ cfgPp: true }),
    optionsFromConfig: () => ({}),
  },
  res_multistep_ancestral_cfg_pp: {
    ...ancestralEntry(
      cfgPpDescription('RES multistep ancestral CFG++ (ComfyUI res_multistep_ancestral_cfg_pp): res_multistep_cfg_pp down to s_down, then fresh noise; VP models, and flow models on a Schedule (ComfyUI) grid (ComfyUI\'s VE formulas).'),
      (o) => createResMultistep({ ...o, cfgPp: true }),
    ),
    needsUncond: true,
    comfyFlow: true,
  },
  // Not needsUncond: at CFG scale 1 ComfyUI's cfgpp_ud10_ab lets the single-call optimization skip the
  // unconditional side and reads the conditional x0 in its place, which the CFG node's scale-1 shortcut gives.
  cfgpp_ud10_ab: {
    noInversion: true,
    description: cfgPpDescription("CFG++ UD10 AB (ComfyUI cfgpp_ud10_ab): Euler CFG++ with the unconditional derivative extrapolated from the last step, blended (1/4) with a two-step Adams-Bashforth step, and the last step onto 0 replaced by the x0 history extrapolated to 0; one model call per step; VP and flow models. At scale 1 it makes the conditional call alone, as ComfyUI does.", false),
    create: () => createCfgppHistory('cfgpp_ud10_ab', UD10_AB),
    optionsFromConfig: () => ({}),
    spaces: ['vp', 'flow'],
  },
  gradient_estimation_cfg_pp: {
    noInversion: true,
    needsUncond: true,
    description: cfgPpDescription('Gradient estimation CFG++ (ComfyUI gradient_estimation_cfg_pp): gradient_estimation with the derivative towards the unconditional x0.'),
    create: (o) => createGradientEstimation((o as { gamma: number }).gamma, true),
    optionsFromConfig: (_cfg, p) => ({ gamma: num(p, 'ge_gamma', 2) }),
    params: {
      ge_gamma: { kind: 'float', default: 2, min: 0, max: 10, label: 'Gradient estimation gamma', help: 'Weight of this step\'s derivative against the last one (1 = Euler; ComfyUI\'s default 2)' },
    },
  },
  heunpp2: {
    noInversion: true,
    description:
      'Heun++ (ComfyUI heunpp2): Euler predictors to the next two levels and a step along their weighted derivatives, three model calls per step. No diffusers class.',
    create: () => createHeunpp2(),
    optionsFromConfig: () => ({}),
  },
  lms: {
    description: 'Linear multistep in sigma (diffusers LMSDiscreteScheduler): Adams-Bashforth over the last `order` derivatives.',
    create: (o) => createLms(o as object),
    optionsFromConfig: (_cfg, p) => ({ order: num(p, 'lms_order', LMS_MAX_ORDER), finalStep: (p.lms_final_step ?? 'multistep') as LmsFinalStep }),
    params: {
      lms_order: { kind: 'int', default: LMS_MAX_ORDER, min: 1, max: LMS_MAX_ORDER, label: 'LMS order', help: 'Past derivatives used per step (diffusers default 4)' },
      lms_final_step: {
        kind: 'enum',
        options: LMS_FINAL_STEPS,
        default: 'multistep',
        label: 'LMS step onto 0',
        help: 'multistep: as diffusers and k-diffusion; denoise: the x0 prediction, as ComfyUI\'s lms sampler does',
      },
    },
  },
  flow_euler: {
    description: 'Flow-matching Euler (diffusers FlowMatchEulerDiscreteScheduler): x += (t_next - t) v.',
    create: (o) => createFlowEuler(o as FlowEulerOptions),
    // FlowMatchEulerDiscreteScheduler stochastic_sampling: re-noise x0 to the next level each step.
    optionsFromConfig: (cfg): FlowEulerOptions => ({ stochastic: cfg.stochastic_sampling === true }),
    spaces: ['flow'],
    stochastic: true,
  },
  rf_solver: {
    description: 'RF-Solver (Wang et al. 2024): second-order midpoint step on the flow ODE, 2 model calls per step.',
    create: () => createRfSolver(),
    optionsFromConfig: () => ({}),
    spaces: ['flow'],
  },
  scm: {
    noInversion: true,
    stochastic: true,
    description:
      "Sana Sprint's sampler (diffusers SCMScheduler): consistency steps (the x0 prediction, noised afresh to the next level) on TrigFlow times mapped to flow levels tau = sin s / (cos s + sin s), from s = 1.5708 to 0 (1.5708, 1.3, 0 at 2 steps); 1-4 steps. Flow models only.",
    create: () => createConsistency('scm'),
    optionsFromConfig: () => ({}),
    spaces: ['flow'],
  },
  mrs: {
    noInversion: true,
    description:
      "MR Sampler (Li et al. 2025) for mean-reverting diffusion: DPM-Solver++ on x - mu, order 1, 2 or 3, as an ODE or (orders 1, 2) an SDE, on data or noise predictions. On an IR-SDE model (scheduler IRSDEScheduler) it walks MR Sampler's grid from mu + sigma_inf noise, mu from the Sampler's mean input; on an ordinary VP model mu = 0 and it equals DPM-Solver++ 1 / 2M (heun form).",
    create: (o) => createMrsOnVe(o as MrsOptions),
    optionsFromConfig: (_cfg, p): MrsOptions => mrsOptions(p),
    params: {
      mrs_order: { kind: 'int', default: 2, min: 1, max: 3, label: 'MRS order', help: '1, 2 or 3 (3: the reference\'s third-order form; ODE only)' },
      mrs_solver_type: { kind: 'enum', options: ['ode', 'sde'], default: 'ode', label: 'MRS solver', help: 'ode: the probability-flow ODE; sde: the reverse SDE, fresh seeded noise every step (orders 1, 2)' },
      mrs_parameterization: { kind: 'enum', options: ['data', 'noise'], default: 'data', label: 'MRS parameterization', help: 'What the multistep history holds: data (x0) or noise (eps) predictions, as MR Sampler\'s parameterization option' },
    },
    spaces: ['vp'],
  },
};

/** The exponential integrators (exp-solvers.ts), which threshold x0 themselves from the config. */
const EXP_SOLVERS: Record<string, SolverEntry> = Object.fromEntries(
  EXP_SOLVER_NAMES.map((name) => {
    const e = EXP_INTEGRATOR_SOLVERS[name];
    const entry: SolverEntry = {
      description: e.description,
      params: e.params,
      create: (o) => e.create(o as object),
      optionsFromConfig: (cfg, p) => e.optionsFromConfig(cfg, p),
      limitsDenoised: true,
      stochastic: name === 'dpmpp_2m_sde',
      noInversion: name === 'dpmpp_2m_sde',
    };
    return [name, entry];
  }),
);

/** The MR Sampler's options from a Sampler's params (mrs_order, mrs_solver_type, mrs_parameterization). */
export function mrsOptions(p: SolverParams): MrsOptions {
  const pick = <T extends string>(name: string, allowed: readonly T[]): T => {
    const v = p[name] ?? allowed[0];
    if (typeof v !== 'string' || !allowed.includes(v as T)) throw new Error(`solver option "${name}" must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  };
  return { order: num(p, 'mrs_order', 2), solverType: pick('mrs_solver_type', ['ode', 'sde'] as const), parameterization: pick('mrs_parameterization', ['data', 'noise'] as const) };
}

/**
 * DPM++ 2M SDE with k-diffusion's eta and s_noise (ComfyUI's SamplerDPMPP_2M_SDE node), over the exponential
 * integrators' entry; their defaults (1, 1) are diffusers' sde-dpmsolver++.
 */
const dpmpp_2m_sde = withParams(EXP_SOLVERS.dpmpp_2m_sde, { ancestral_eta: ANCESTRAL_ETA, s_noise: S_NOISE }, (p) => ({ eta: num(p, 'ancestral_eta', 1), sNoise: num(p, 's_noise', 1) }));

const { cm_stochastic, ddim, pndm, ddpm, euler, euler_ancestral, heun, dpm_2, dpm_2_ancestral, dpmpp_2s_ancestral, dpmpp_sde, dpmpp_3m_sde, er_sde, seeds_2, exp_heun_2_x0, exp_heun_2_x0_sde, seeds_3, ddpm_posterior, consistency, ipndm, ipndm_v, res_multistep, res_multistep_ancestral, deis_tab, gradient_estimation, heunpp2, lms, euler_cfg_pp, euler_ancestral_cfg_pp, dpmpp_2m_cfg_pp, dpmpp_2s_ancestral_cfg_pp, res_multistep_cfg_pp, res_multistep_ancestral_cfg_pp, gradient_estimation_cfg_pp, cfgpp_ud10_ab, dpm_fast, dpm_adaptive, sa_solver, sa_solver_pece, flow_euler, rf_solver, scm, mrs, lcm, tcd } = BASE_SOLVERS;

/** Every registered solver, in the order the Sampler lists them. */
export const SOLVERS: Readonly<Record<string, SolverEntry>> = {
  ddim,
  pndm,
  ddpm,
  euler,
  euler_ancestral,
  heun,
  dpm_2,
  dpm_2_ancestral,
  dpmpp_2s_ancestral,
  dpmpp_sde,
  ipndm,
  ipndm_v,
  res_multistep,
  res_multistep_ancestral,
  deis_tab,
  gradient_estimation,
  heunpp2,
  lms,
  ...EXP_SOLVERS,
  dpmpp_2m_sde,
  dpmpp_3m_sde,
  er_sde,
  seeds_2,
  seeds_3,
  exp_heun_2_x0,
  exp_heun_2_x0_sde,
  flow_euler,
  rf_solver,
  mrs,
  lcm,
  tcd,
  scm,
  consistency,
  cm_stochastic,
  ddpm_posterior,
  dpm_fast,
  dpm_adaptive,
  sa_solver,
  sa_solver_pece,
  euler_cfg_pp,
  euler_ancestral_cfg_pp,
  dpmpp_2m_cfg_pp,
  dpmpp_2s_ancestral_cfg_pp,
  res_multistep_cfg_pp,
  res_multistep_ancestral_cfg_pp,
  gradient_estimation_cfg_pp,
  cfgpp_ud10_ab,
};

/** Registered solver names (the Sampler's `solver` enum). */
export const SOLVER_NAMES: readonly string[] = Object.keys(SOLVERS);

/** The grid rules a solver follows on VP models, when they are another solver's (schedule-rules.ts knows those). */
export const GRID_AS: Readonly<Record<string, string>> = { mrs: 'dpmpp_2m', dpm_2m: 'dpmpp_2m' };

export function solverEntry(name: string): SolverEntry {
  const entry = SOLVERS[name];
  if (!entry) throw new Error(`unknown solver "${name}" (known: ${SOLVER_NAMES.join(', ')})`);
  return entry;
}

/**
 * Builds a solver for a model's scheduler config with the Sampler's params (defaults for absent ones).
 * `extra` is merged into the options: what a graph cannot set, e.g. { scheduleSteps } for the exponential
 * integrators when the grid is the tail of a longer schedule (solvers ignore keys they do not know).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function createSolver(name: string, schedulerConfig: SchedulerConfig = {}, params: SolverParams = {}, extra: SolverParams = {}): Solver<any> {
  const entry = solverEntry(name);
  const opts = entry.optionsFromConfig(schedulerConfig, params);
  return entry.create(typeof opts === 'object' && opts !== null ? { ...opts, ...extra } : opts);
}

/**
 * The Sampler params of all solvers, each shown only for the solvers that read it (`when`). A name read by
 * several solvers keeps the first declaration's spec.
 */
export function solverParamSpecs(): Record<string, ParamSpec> {
  const users = new Map<string, { spec: ParamSpec; solvers: string[] }>();
  for (const [name, entry] of Object.entries(SOLVERS)) {
    for (const [param, spec] of Object.entries(entry.params ?? {})) {
      const u = users.get(param);
      if (u) u.solvers.push(name);
      else users.set(param, { spec, solvers: [name] });
    }
  }
  const out: Record<string, ParamSpec> = {};
  for (const [param, { spec, solvers }] of users) out[param] = { ...spec, when: { param: 'solver', in: solvers } };
  return out;
}
