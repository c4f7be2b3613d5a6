/**
 * Which diffusers scheduler class each solver takes its grid rules from, and what each class reads from a
 * scheduler_config.json. A config is configuration, not a class: like diffusers' `from_config`, keys the
 * class has take the config's value (else the class default), and keys it lacks are ignored (e.g.
 * EulerAncestralDiscreteScheduler ignores use_karras_sigmas; DEIS ignores rescale_betas_zero_snr).
 */
import type { SchedulerConfig } from '../core/values.ts';
import { cfgBool } from './schedule-config.ts';
import { BOUNDED_GRIDS, type BoundedGrid, type TimestepSpacing } from './sigma-grids.ts';

export const SCHEDULER_CLASSES = [
  'DDIMScheduler',
  'PNDMScheduler',
  'DDPMScheduler',
  'EulerDiscreteScheduler',
  'EulerAncestralDiscreteScheduler',
  'HeunDiscreteScheduler',
  'KDPM2DiscreteScheduler',
  'KDPM2AncestralDiscreteScheduler',
  'LMSDiscreteScheduler',
  'DPMSolverSDEScheduler',
  'SASolverScheduler',
  'DPMSolverMultistepScheduler',
  'DPMSolverSinglestepScheduler',
  'UniPCMultistepScheduler',
  'DEISMultistepScheduler',
  'FlowMatchEulerDiscreteScheduler',
  'LCMScheduler',
  'TCDScheduler',
  'SCMScheduler',
] as const;
export type SchedulerClass = (typeof SCHEDULER_CLASSES)[number];

/**
 * Grid rules by family: DDIM (integer t, prev_t = t - T//N); Euler (fractional t, interpolated sigmas);
 * multistep (integer t from N + 1 spaced points, last dropped); flow (flow-matching sigmas in [0, 1]).
 */
export type GridFamily = 'ddim' | 'euler' | 'multistep' | 'flow' | 'lcm';

/** How the levels between sigma_max and the end are placed. 'spaced' = at the spaced timesteps. */
export const SIGMA_GRIDS = ['spaced', 'karras', 'exponential', 'lu_lambda', 'beta', 'custom'] as const;
export type SigmaGrid = (typeof SIGMA_GRIDS)[number];

export const FINAL_SIGMA_TYPES = ['zero', 'sigma_min'] as const;
export type FinalSigmasType = (typeof FINAL_SIGMA_TYPES)[number];

export interface SchedulerRules {
  family: GridFamily;
  /** Default timestep_spacing; undefined when the class has no such key (linspace, always). */
  spacing?: TimestepSpacing;
  /** The level-grid keys the class reads, in diffusers' precedence order. */
  grids: readonly Exclude<SigmaGrid, 'spaced' | 'custom'>[];
  /** Reads rescale_betas_zero_snr. */
  zeroSnr: boolean;
  /** How the last level is chosen: the final_sigmas_type key, always 0, always sigma_min, or set_alpha_to_one (DDIM). */
  final: 'key' | 'zero' | 'sigma_min' | 'alpha_to_one';
  /**
   * Grids whose bounds come from sigma_min / sigma_max config keys when the JSON has them: from_config keeps
   * keys a class does not declare as hidden config entries, and these converters read them through
   * hasattr(self.config, "sigma_min") (LMS's Karras and DPM's Lu grids do not).
   */
  boundKeys: readonly BoundedGrid[];
  /** Reads lambda_min_clipped. */
  lambdaClip: boolean;
  /** Reads use_flow_sigmas (multistep solvers run on flow models with alpha = 1 - t, sigma = t). */
  flowSigmas: boolean;
  /** sigma_min on a karras/exponential (or flow) grid repeats the last level instead of the table's (UniPC, DEIS). */
  sigmaMinIsLastLevel: boolean;
  /** Levels from diffusers' float32 training table to the bit (float32-table.ts), not the float64 one. */
  float32Table?: boolean;
}

const VP_DEFAULTS = { zeroSnr: false, boundKeys: BOUNDED_GRIDS, lambdaClip: false, flowSigmas: false, sigmaMinIsLastLevel: false };

export const SCHEDULER_RULES: Record<SchedulerClass, SchedulerRules> = {
  DDIMScheduler: { ...VP_DEFAULTS, family: 'ddim', spacing: 'leading', grids: [], zeroSnr: true, final: 'alpha_to_one' },
  // DDIM's grid keys, but set_alpha_to_one defaults to false and there is no rescale_betas_zero_snr.
  PNDMScheduler: { ...VP_DEFAULTS, family: 'ddim', spacing: 'leading', grids: [], zeroSnr: false, final: 'alpha_to_one' },
  // DDIM's spacing keys, but each step goes to the next timestep of the list and the last one to abar = 1.
  DDPMScheduler: { ...VP_DEFAULTS, family: 'ddim', spacing: 'leading', grids: [], zeroSnr: true, final: 'zero' },
  EulerDiscreteScheduler: { ...VP_DEFAULTS, family: 'euler', spacing: 'linspace', grids: ['karras', 'exponential', 'beta'], zeroSnr: true, final: 'key' },
  EulerAncestralDiscreteScheduler: { ...VP_DEFAULTS, family: 'euler', spacing: 'linspace', grids: [], zeroSnr: true, final: 'zero' },
  HeunDiscreteScheduler: { ...VP_DEFAULTS, family: 'euler', spacing: 'linspace', grids: ['karras', 'exponential', 'beta'], final: 'zero' },
  // Heun's keys; its Karras grid rounds the levels' timesteps to integers (eulerSigmas).
  KDPM2DiscreteScheduler: { ...VP_DEFAULTS, family: 'euler', spacing: 'linspace', grids: ['karras', 'exponential', 'beta'], final: 'zero' },
  KDPM2AncestralDiscreteScheduler: { ...VP_DEFAULTS, family: 'euler', spacing: 'linspace', grids: ['karras', 'exponential', 'beta'], final: 'zero' },
  LMSDiscreteScheduler: { ...VP_DEFAULTS, family: 'euler', spacing: 'linspace', grids: ['karras', 'exponential', 'beta'], final: 'zero', boundKeys: ['exponential', 'beta'] },
  // LMS's keys (its Karras grid ignores sigma_min / sigma_max keys too); no rescale_betas_zero_snr. Its
  // Brownian noise is queried at the levels, so they must be diffusers' float32 values exactly.
  DPMSolverSDEScheduler: {
    ...VP_DEFAULTS,
    family: 'euler',
    spacing: 'linspace',
    grids: ['karras', 'exponential', 'beta'],
    final: 'zero',
    boundKeys: ['exponential', 'beta'],
    float32Table: true,
  },
  DPMSolverMultistepScheduler: {
    ...VP_DEFAULTS,
    family: 'multistep',
    spacing: 'linspace',
    grids: ['karras', 'lu_lambda', 'exponential', 'beta'],
    zeroSnr: true,
    final: 'key',
    lambdaClip: true,
    flowSigmas: true,
  },
  // No timestep_spacing key: always linspace.
  DPMSolverSinglestepScheduler: { ...VP_DEFAULTS, family: 'multistep', grids: ['karras', 'exponential', 'beta'], final: 'key', lambdaClip: true, flowSigmas: true },
  UniPCMultistepScheduler: {
    ...VP_DEFAULTS,
    family: 'multistep',
    spacing: 'linspace',
    grids: ['karras', 'exponential', 'beta'],
    zeroSnr: true,
    final: 'key',
    flowSigmas: true,
    sigmaMinIsLastLevel: true,
  },
  DEISMultistepScheduler: { ...VP_DEFAULTS, family: 'multistep', spacing: 'linspace', grids: ['karras', 'exponential', 'beta'], final: 'sigma_min', flowSigmas: true, sigmaMinIsLastLevel: true },
  // DEIS's grid rules, with lambda_min_clipped (sa-solver.ts).
  SASolverScheduler: {
    ...VP_DEFAULTS,
    family: 'multistep',
    spacing: 'linspace',
    grids: ['karras', 'exponential', 'beta'],
    final: 'sigma_min',
    lambdaClip: true,
    flowSigmas: true,
    sigmaMinIsLastLevel: true,
  },
  FlowMatchEulerDiscreteScheduler: { ...VP_DEFAULTS, family: 'flow', grids: ['karras', 'exponential', 'beta'], final: 'zero' },
  // Its own distillation-schedule timesteps (lcm.ts); the last step returns the denoised sample.
  LCMScheduler: { ...VP_DEFAULTS, family: 'lcm', grids: [], zeroSnr: true, final: 'zero' },
  // LCM's timesteps; the last step goes to timestep 0, the table's first level (tcd.ts).
  TCDScheduler: { ...VP_DEFAULTS, family: 'lcm', grids: [], zeroSnr: true, final: 'sigma_min' },
  // Sana Sprint: TrigFlow times mapped to flow levels (scm.ts); the last step returns the x0 prediction.
  SCMScheduler: { ...VP_DEFAULTS, family: 'flow', grids: [], final: 'zero' },
};

/** Config keys of the level grids. */
const GRID_KEYS: Record<Exclude<SigmaGrid, 'spaced' | 'custom'>, string> = {
  karras: 'use_karras_sigmas',
  exponential: 'use_exponential_sigmas',
  lu_lambda: 'use_lu_lambdas',
  beta: 'use_beta_sigmas',
};

/** The level grid a class reads from a config (diffusers' if/elif order), 'spaced' when none is set. */
export function configGrid(cfg: SchedulerConfig, rules: SchedulerRules, cls: string): SigmaGrid {
  const set = rules.grids.filter((g) => cfgBool(cfg, GRID_KEYS[g], false));
  if (set.filter((g) => g !== 'lu_lambda').length > 1) {
    throw new Error(`scheduler config (${cls}): only one of use_beta_sigmas, use_exponential_sigmas, use_karras_sigmas can be set`);
  }
  return set[0] ?? 'spaced';
}

/** Solver name -> the diffusers scheduler whose grid rules it uses (VP models). Names are matched case-insensitively, '-' = '_'. */
export const SOLVER_SCHEDULERS: Record<string, SchedulerClass> = {
  ddim: 'DDIMScheduler',
  pndm: 'PNDMScheduler',
  ddpm: 'DDPMScheduler',
  euler: 'EulerDiscreteScheduler',
  euler_ancestral: 'EulerAncestralDiscreteScheduler',
  heun: 'HeunDiscreteScheduler',
  dpm_2: 'KDPM2DiscreteScheduler',
  dpm_2_ancestral: 'KDPM2AncestralDiscreteScheduler',
  // No diffusers class: Euler's grid keys (Karras, exponential, beta), as k-diffusion front ends pair them.
  dpmpp_2s_ancestral: 'EulerDiscreteScheduler',
  consistency: 'EulerDiscreteScheduler',
  // Consistency models' sampler: its grid is the model's own (cm.ts), which buildSigmas takes first.
  cm_stochastic: 'EulerDiscreteScheduler',
  ddpm_posterior: 'EulerDiscreteScheduler',
  er_sde: 'EulerDiscreteScheduler',
  seeds_2: 'EulerDiscreteScheduler',
  seeds_3: 'EulerDiscreteScheduler',
  exp_heun_2_x0: 'EulerDiscreteScheduler',
  exp_heun_2_x0_sde: 'EulerDiscreteScheduler',
  cfgpp_ud10_ab: 'EulerDiscreteScheduler',
  ipndm: 'EulerDiscreteScheduler',
  ipndm_v: 'EulerDiscreteScheduler',
  res_multistep: 'EulerDiscreteScheduler',
  res_multistep_ancestral: 'EulerDiscreteScheduler',
  deis_tab: 'EulerDiscreteScheduler',
  gradient_estimation: 'EulerDiscreteScheduler',
  heunpp2: 'EulerDiscreteScheduler',
  dpm_fast: 'EulerDiscreteScheduler',
  dpm_adaptive: 'EulerDiscreteScheduler',
  sa_solver: 'SASolverScheduler',
  sa_solver_pece: 'EulerDiscreteScheduler',
  euler_cfg_pp: 'EulerDiscreteScheduler',
  euler_ancestral_cfg_pp: 'EulerDiscreteScheduler',
  dpmpp_2m_cfg_pp: 'EulerDiscreteScheduler',
  dpmpp_2s_ancestral_cfg_pp: 'EulerDiscreteScheduler',
  res_multistep_cfg_pp: 'EulerDiscreteScheduler',
  res_multistep_ancestral_cfg_pp: 'EulerDiscreteScheduler',
  gradient_estimation_cfg_pp: 'EulerDiscreteScheduler',
  lms: 'LMSDiscreteScheduler',
  dpmpp_sde: 'DPMSolverSDEScheduler',
  dpmpp_2m: 'DPMSolverMultistepScheduler',
  dpmpp_3m: 'DPMSolverMultistepScheduler',
  dpmpp_2m_sde: 'DPMSolverMultistepScheduler',
  dpmpp_3m_sde: 'DPMSolverMultistepScheduler',
  dpm_1s: 'DPMSolverSinglestepScheduler',
  dpm_2s: 'DPMSolverSinglestepScheduler',
  dpm_3s: 'DPMSolverSinglestepScheduler',
  dpmpp_1s: 'DPMSolverSinglestepScheduler',
  dpmpp_2s: 'DPMSolverSinglestepScheduler',
  dpmpp_3s: 'DPMSolverSinglestepScheduler',
  unipc: 'UniPCMultistepScheduler',
  deis: 'DEISMultistepScheduler',
  flow_euler: 'FlowMatchEulerDiscreteScheduler',
  rf_solver: 'FlowMatchEulerDiscreteScheduler',
  lcm: 'LCMScheduler',
  tcd: 'TCDScheduler',
  scm: 'SCMScheduler',
};

/** Solvers that exist only for flow models. */
const FLOW_ONLY = new Set(['flow_euler', 'rf_solver', 'scm']);

export function normalizeSolverName(solver: string): string {
  return solver.trim().toLowerCase().replace(/-/g, '_');
}

/** The scheduler class whose rules `solver` follows; throws naming the known solvers. */
export function schedulerClassFor(solver: string): SchedulerClass {
  const cls = SOLVER_SCHEDULERS[normalizeSolverName(solver)];
  if (!cls) throw new Error(`No schedule rules for solver "${solver}" (known: ${Object.keys(SOLVER_SCHEDULERS).join(', ')})`);
  return cls;
}

export function isFlowOnlySolver(solver: string): boolean {
  return FLOW_ONLY.has(normalizeSolverName(solver));
}

/** DDPM variance types the ddpm solver runs (fixed_large_log gives NaN in diffusers; learned ones need the model's variance). */
export const DDPM_FIXED_VARIANCES: ReadonlySet<string> = new Set(['fixed_small', 'fixed_small_log', 'fixed_large']);

/** diffusers scheduler class name -> the solver FlowStudio runs for it by default. */
const CLASS_DEFAULT_SOLVER: Record<string, string> = {
  DDIMScheduler: 'ddim',
  PNDMScheduler: 'pndm',
  LCMScheduler: 'lcm',
  TCDScheduler: 'tcd',
  SCMScheduler: 'scm',
  EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler_ancestral',
  HeunDiscreteScheduler: 'heun',
  KDPM2DiscreteScheduler: 'dpm_2',
  KDPM2AncestralDiscreteScheduler: 'dpm_2_ancestral',
  LMSDiscreteScheduler: 'lms',
  DPMSolverSDEScheduler: 'dpmpp_sde',
  DPMSolverMultistepScheduler: 'dpmpp_2m',
  DPMSolverSinglestepScheduler: 'dpm_2s',
  UniPCMultistepScheduler: 'unipc',
  DEISMultistepScheduler: 'deis',
  SASolverScheduler: 'sa_solver',
  // EDM-preconditioned models (edm.ts): Euler, or DPM-Solver by solver_order and algorithm_type.
  EDMEulerScheduler: 'euler',
  EDMDPMSolverMultistepScheduler: 'dpmpp_2m',
  // Consistency models (cm.ts): multistep consistency sampling with the boundary-condition noise.
  CMStochasticIterativeScheduler: 'cm_stochastic',
};

/**
 * The solver a model's scheduler config asks for: its class, and for DPM-Solver its solver_order and
 * algorithm_type. DDPM with a learned variance falls back to DDIM, whose grid keys it shares; flow models default to flow-matching Euler.
 */
export function defaultSolverFor(scheduler: SchedulerConfig, space: 'vp' | 'flow'): string {
  const cls = scheduler._class_name;
  // DDPM with a learned variance (e.g. DeepFloyd IF) needs the variance channels, which no solver here reads.
  const ddpm = cls === 'DDPMScheduler' ? (DDPM_FIXED_VARIANCES.has(String(scheduler.variance_type ?? 'fixed_small')) ? 'ddpm' : 'ddim') : undefined;
  const solver = ddpm || (typeof cls === 'string' && refineDpm(cls, scheduler)) || (typeof cls === 'string' ? CLASS_DEFAULT_SOLVER[cls] : undefined);
  if (space === 'flow') {
    // FlowMatchHeunDiscreteScheduler is Heun on the flow grid.
    if (cls === 'FlowMatchHeunDiscreteScheduler') return 'heun';
    // SCMScheduler (Sana Sprint) is consistency sampling on its TrigFlow grid; FlowMatchLCMScheduler (DMD2- and
    // consistency-distilled SD3.5 / FLUX) is consistency sampling on FlowMatch Euler's grid.
    if (cls === 'SCMScheduler') return 'scm';
    if (cls === 'FlowMatchLCMScheduler') return 'consistency';
    // A DPM/UniPC/DEIS config with flow sigmas (e.g. Sana) keeps its own solver.
    return solver && scheduler.use_flow_sigmas === true ? solver : 'flow_euler';
  }
  return solver || 'ddim';
}

/** DPM-Solver classes: the registered solver for solver_order x algorithm_type (undefined: the class default). */
function refineDpm(cls: string, cfg: SchedulerConfig): string | undefined {
  const order = cfg.solver_order ?? 2;
  const algorithm = cfg.algorithm_type ?? 'dpmsolver++';
  if (cls === 'DPMSolverSinglestepScheduler') return order === 1 || order === 2 || order === 3 ? `dpm_${order}s` : undefined;
  if (cls !== 'DPMSolverMultistepScheduler' && cls !== 'EDMDPMSolverMultistepScheduler') return undefined;
  if (algorithm === 'sde-dpmsolver++') return 'dpmpp_2m_sde';
  if (algorithm === 'dpmsolver') return 'dpm_2m';
  return order === 3 ? 'dpmpp_3m' : undefined;
}

/**
 * What solver 'auto' adds to the options of the solver defaultSolverFor named, for a DPM-Solver multistep
 * config: its solver_order, which the registered names fix (dpmpp_2m and dpm_2m at 2, dpmpp_3m at 3), so that
 * orders 1 and 3 run as diffusers runs them. The SDE form runs orders 1 and 2 (order 3 stays 2, dpm-sde.ts).
 * Refuses algorithm_type "sde-dpmsolver" (the noise-prediction SDE, not offered: dpm-sde.ts), which
 * defaultSolverFor would otherwise run as the deterministic DPM-Solver++.
 */
export function autoSolverExtra(scheduler: SchedulerConfig, solver: string): Record<string, unknown> {
  const cls = scheduler._class_name;
  if (cls !== 'DPMSolverMultistepScheduler' && cls !== 'EDMDPMSolverMultistepScheduler') return {};
  if (scheduler.algorithm_type === 'sde-dpmsolver') {
    throw new Error('scheduler config: algorithm_type "sde-dpmsolver" (the noise-prediction SDE) is not offered; choose a solver (dpmpp_2m_sde is the data-prediction SDE, algorithm_type "sde-dpmsolver++")');
  }
  const order = scheduler.solver_order ?? 2;
  if (order !== 1 && order !== 2 && order !== 3) return {};
  if (solver === 'dpmpp_2m_sde') return { order: Math.min(order, 2) };
  if (solver === 'dpmpp_2m' || solver === 'dpmpp_3m' || solver === 'dpm_2m') return { order };
  return {};
}

/** Whether a grid made by this scheduler class (a Sigmas origin) belongs to the Euler family, whose state is the VE sample. */
export function isEulerFamilyOrigin(origin: string | undefined): boolean {
  return origin !== undefined && origin in SCHEDULER_RULES && SCHEDULER_RULES[origin as SchedulerClass].family === 'euler';
}

/** The grid family of a solver on a model of the given space; every solver runs flow grids on flow models. */
export function gridFamily(space: 'vp' | 'flow', solver: string): GridFamily {
  const cls = schedulerClassFor(solver);
  if (space === 'flow') return 'flow';
  if (isFlowOnlySolver(solver)) throw new Error(`solver "${solver}" runs on flow models only; this model is a VP (diffusion) model`);
  return SCHEDULER_RULES[cls].family;
}
