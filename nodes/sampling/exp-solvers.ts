/**
 * The exponential-integrator solvers the Sampler offers, by name: how to build each from a model's
 * scheduler_config.json (diffusers from_config semantics: keys present win, absent keys take the defaults of
 * the diffusers class the solver follows) plus the node's overrides, and the params a node shows for them.
 *
 * Overrides are node param values keyed by the param names declared here ('config' = take the scheduler
 * config's value); keys a solver does not declare are ignored, so a node may pass all its params. Options a
 * graph cannot set (scheduleSteps for img2img tails) are set on the returned options object by the caller.
 * Param names are unique per meaning across the catalogue, and solvers that share a param share its spec.
 */
import type { EnumParam, ParamSpecs, StringParam } from '../core/types.ts';
import type { SchedulerConfig } from '../core/values.ts';
import { createDeis, type DeisOptions } from './deis.ts';
import { createDpmMultistep, type Dpm3Variant, type DpmForm, type DpmMultistepOptions, type DpmSolverType, type ExpCommonOptions } from './dpm-multistep.ts';
import { createDpmSde, type DpmSdeOptions } from './dpm-sde.ts';
import { createDpmSinglestep, type DpmSinglestepOptions, type SinglestepPlacement } from './dpm-singlestep.ts';
import type { Thresholding } from './lambda.ts';
import type { Solver } from './solver.ts';
import { createUniPC, type UniPCOptions, type UniPCVariant } from './unipc.ts';

export const EXP_SOLVER_NAMES = ['dpmpp_2m', 'dpmpp_3m', 'dpmpp_2m_sde', 'dpm_1s', 'dpm_2s', 'dpm_3s', 'dpm_2m', 'unipc', 'deis'] as const;
export type ExpSolverName = (typeof EXP_SOLVER_NAMES)[number];

/** Node param values by name; 'config' or absent = the scheduler config's value. */
export type ExpSolverOverrides = Readonly<Record<string, unknown>>;

export interface ExpSolverEntry<O extends object = object> {
  description: string;
  /** The params a node shows for this solver (names shared across solvers mean the same thing). */
  params?: ParamSpecs;
  optionsFromConfig(cfg: SchedulerConfig, overrides?: ExpSolverOverrides): O;
  create(opts?: O): Solver;
}

// ---------------------------------------------------------------------------------------------
// Params

type Tri = 'config' | 'on' | 'off';
const TRI = ['config', 'on', 'off'] as const;

export const EXP_SOLVER_PARAMS = {
  dpm_solver_type: {
    kind: 'enum',
    options: ['config', 'midpoint', 'heun'],
    default: 'config',
    label: 'Second-order type',
    help: 'diffusers solver_type: how the second-order term is formed (midpoint is diffusers\' default)',
  } satisfies EnumParam<'config' | DpmSolverType>,
  lower_order_final: {
    kind: 'enum',
    options: TRI,
    default: 'config',
    label: 'Lower order final',
    help: 'diffusers lower_order_final: lower orders in the last steps (multistep: below 15 steps)',
  } satisfies EnumParam<Tri>,
  euler_at_final: {
    kind: 'enum',
    options: TRI,
    default: 'config',
    label: 'Euler at final',
    help: 'diffusers euler_at_final: a first-order last step',
  } satisfies EnumParam<Tri>,
  dpm3m_variant: {
    kind: 'enum',
    options: ['reference', 'corrected'],
    default: 'reference',
    label: '3M variant',
    help: 'reference: diffusers\' update (measured order ~2 on exact Gaussian data); corrected: 2*phi3 on the D2 term (order 3)',
  } satisfies EnumParam<Dpm3Variant>,
  dpm_form: {
    kind: 'enum',
    options: ['config', 'data', 'noise'],
    default: 'config',
    label: 'Form',
    help: 'data prediction (DPM-Solver++, algorithm_type dpmsolver++) or noise prediction (DPM-Solver)',
  } satisfies EnumParam<'config' | DpmForm>,
  singlestep_placement: {
    kind: 'enum',
    options: ['diffusers', 'official'],
    default: 'diffusers',
    label: 'Stages',
    help: 'diffusers: stages at the previous grid levels, one model call per step; official: stages at r = 1/2 (1/3, 2/3) in lambda, order-many calls per step',
  } satisfies EnumParam<SinglestepPlacement>,
  unipc_order: {
    kind: 'enum',
    options: ['config', '1', '2', '3'],
    default: 'config',
    label: 'Order',
    help: 'UniPC solver_order (predictor order; the corrector adds one)',
  } satisfies EnumParam,
  unipc_variant: {
    kind: 'enum',
    options: ['config', 'bh1', 'bh2'],
    default: 'config',
    label: 'B(h)',
    help: 'UniPC solver_type: bh1 (B(h) = h) or bh2 (B(h) = e^h - 1, diffusers\' default)',
  } satisfies EnumParam<'config' | UniPCVariant>,
  unipc_corrector: {
    kind: 'enum',
    options: ['on', 'off'],
    default: 'on',
    label: 'Corrector',
    help: 'off: the predictor alone (UniP)',
  } satisfies EnumParam<'on' | 'off'>,
  unipc_disable_corrector: {
    kind: 'string',
    default: 'config',
    label: 'No correction after steps',
    help: 'diffusers disable_corrector: comma-separated step indices (e.g. "0, 1"), or "config"',
  } satisfies StringParam,
  unipc_form: {
    kind: 'enum',
    options: ['config', 'data', 'noise'],
    default: 'config',
    label: 'Form',
    help: 'diffusers predict_x0: data or noise prediction; config = the config\'s predict_x0, and where it has none data prediction when sampling and noise prediction when inverting (the data form is unstable walking upward)',
  } satisfies EnumParam<'config' | DpmForm>,
  exp_level_space: {
    kind: 'enum',
    options: ['grid', 've'],
    default: 'grid',
    label: 'Level formulas',
    help: 'grid: alpha, sigma and lambda of each level as the grid\'s space defines them (flow: alpha = 1 - t, sigma = t); ve: the levels read as VE sigmas (lambda = -ln sigma, alpha = 1 / sqrt(1 + sigma^2)) on any model, as ComfyUI\'s dpmpp_2m and uni_pc samplers take them on flow models too',
  } satisfies EnumParam<'grid' | 've'>,
  deis_order: {
    kind: 'enum',
    options: ['config', '1', '2', '3'],
    default: 'config',
    label: 'Order',
    help: 'DEIS solver_order',
  } satisfies EnumParam,
} as const;

function pickParams<K extends keyof typeof EXP_SOLVER_PARAMS>(...names: K[]): ParamSpecs {
  return Object.fromEntries(names.map((n) => [n, EXP_SOLVER_PARAMS[n]]));
}

// ---------------------------------------------------------------------------------------------
// Config reading (diffusers from_config: present keys win, absent keys take the class default)

function cfgValue<T>(cfg: SchedulerConfig, key: string, fallback: T, check: (v: unknown) => boolean, expected: string): T {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (!check(v)) throw new Error(`scheduler config: "${key}" must be ${expected}, got ${JSON.stringify(v)}`);
  return v as T;
}

const isBool = (v: unknown) => typeof v === 'boolean';
const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

function cfgBool(cfg: SchedulerConfig, key: string, fallback: boolean): boolean {
  return cfgValue(cfg, key, fallback, isBool, 'true or false');
}

function cfgOrder(cfg: SchedulerConfig, fallback: number): number {
  return cfgValue(cfg, 'solver_order', fallback, (v) => v === 1 || v === 2 || v === 3, '1, 2 or 3');
}

function thresholdingFromConfig(cfg: SchedulerConfig): Thresholding | undefined {
  if (!cfgBool(cfg, 'thresholding', false)) return undefined;
  return {
    ratio: cfgValue(cfg, 'dynamic_thresholding_ratio', 0.995, isNum, 'a number'),
    maxValue: cfgValue(cfg, 'sample_max_value', 1, isNum, 'a number'),
  };
}

/** diffusers DPM schedulers accept other families' solver_type values and map them to midpoint. */
function dpmSolverTypeFromConfig(cfg: SchedulerConfig): DpmSolverType {
  const v = cfgValue<string>(cfg, 'solver_type', 'midpoint', (x) => typeof x === 'string', 'a string');
  if (v === 'midpoint' || v === 'heun') return v;
  if (v === 'logrho' || v === 'bh1' || v === 'bh2') return 'midpoint';
  throw new Error(`scheduler config: solver_type ${JSON.stringify(v)} is not one of midpoint, heun`);
}

/** UniPC maps midpoint/heun/logrho to bh2, as diffusers does. */
function unipcVariantFromConfig(cfg: SchedulerConfig): UniPCVariant {
  const v = cfgValue<string>(cfg, 'solver_type', 'bh2', (x) => typeof x === 'string', 'a string');
  if (v === 'bh1' || v === 'bh2') return v;
  if (v === 'midpoint' || v === 'heun' || v === 'logrho') return 'bh2';
  throw new Error(`scheduler config: solver_type ${JSON.stringify(v)} is not one of bh1, bh2`);
}

/** DPM-Solver singlestep form from algorithm_type: "dpmsolver" is the noise form; "dpmsolver++" (and "deis", which diffusers maps to it) the data form. */
function dpmFormFromConfig(cfg: SchedulerConfig): DpmForm {
  const v = cfgValue<string>(cfg, 'algorithm_type', 'dpmsolver++', (x) => typeof x === 'string', 'a string');
  if (v === 'dpmsolver') return 'noise';
  if (v === 'dpmsolver++' || v === 'deis') return 'data';
  if (v === 'sde-dpmsolver++') throw new Error('scheduler config: algorithm_type "sde-dpmsolver++" is not offered for singlestep solvers here; use dpmpp_2m_sde');
  throw new Error(`scheduler config: algorithm_type ${JSON.stringify(v)} is not one of dpmsolver++, dpmsolver`);
}

function disableCorrectorFromConfig(cfg: SchedulerConfig): number[] {
  return cfgValue(cfg, 'disable_corrector', [] as number[], (v) => Array.isArray(v) && v.every((k) => Number.isInteger(k)), 'a list of step indices');
}

// ---------------------------------------------------------------------------------------------
// Overrides

function override<T extends string>(overrides: ExpSolverOverrides, name: keyof typeof EXP_SOLVER_PARAMS, allowed: readonly T[]): T | undefined {
  const v = overrides[name];
  if (v === undefined || v === 'config') return undefined;
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new Error(`solver option "${name}" must be one of ${['config', ...allowed].join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function triOverride(overrides: ExpSolverOverrides, name: keyof typeof EXP_SOLVER_PARAMS, fromConfig: boolean): boolean {
  const v = override(overrides, name, ['on', 'off'] as const);
  return v === undefined ? fromConfig : v === 'on';
}

function orderOverride(overrides: ExpSolverOverrides, name: 'unipc_order' | 'deis_order', fromConfig: number): number {
  const v = override(overrides, name, ['1', '2', '3'] as const);
  return v === undefined ? fromConfig : Number(v);
}

/** Parses "0, 2" into step indices; "config" or absent keeps the config's list. */
function disableCorrectorOverride(overrides: ExpSolverOverrides, fromConfig: number[]): number[] {
  const v = overrides.unipc_disable_corrector;
  if (v === undefined || v === 'config') return fromConfig;
  if (typeof v !== 'string') throw new Error(`solver option "unipc_disable_corrector" must be a list like "0, 1", got ${JSON.stringify(v)}`);
  if (v.trim() === '') return [];
  return v.split(',').map((part) => {
    const k = Number(part.trim());
    if (!Number.isInteger(k) || k < 0) throw new Error(`solver option "unipc_disable_corrector": "${part.trim()}" is not a step index`);
    return k;
  });
}

// ---------------------------------------------------------------------------------------------
// Entries

/** DPMSolverMultistepScheduler defaults: lower_order_final true, euler_at_final false, solver_type midpoint. */
function multistepOptions(cfg: SchedulerConfig, o: ExpSolverOverrides): Pick<DpmMultistepOptions, 'solverType' | 'lowerOrderFinal' | 'eulerAtFinal' | 'thresholding'> {
  return {
    solverType: override(o, 'dpm_solver_type', ['midpoint', 'heun'] as const) ?? dpmSolverTypeFromConfig(cfg),
    lowerOrderFinal: triOverride(o, 'lower_order_final', cfgBool(cfg, 'lower_order_final', true)),
    eulerAtFinal: triOverride(o, 'euler_at_final', cfgBool(cfg, 'euler_at_final', false)),
    thresholding: thresholdingFromConfig(cfg),
  };
}

function dpmMultistepEntry(form: DpmForm, order: number, description: string, params: ParamSpecs): ExpSolverEntry<DpmMultistepOptions> {
  return {
    description,
    params,
    optionsFromConfig(cfg, o = {}) {
      const opts: DpmMultistepOptions = { ...multistepOptions(cfg, o), form, order, ...levelSpaceOverride(o) };
      if (order === 3) opts.variant = override(o, 'dpm3m_variant', ['reference', 'corrected'] as const) ?? 'reference';
      return opts;
    },
    create: (opts = { form, order }) => createDpmMultistep(opts),
  };
}

/** DPMSolverSinglestepScheduler defaults: lower_order_final false, algorithm_type dpmsolver++. */
function dpmSinglestepEntry(order: number, description: string): ExpSolverEntry<DpmSinglestepOptions> {
  return {
    description,
    params: pickParams('dpm_form', 'dpm_solver_type', 'lower_order_final', 'singlestep_placement'),
    optionsFromConfig(cfg, o = {}): DpmSinglestepOptions {
      const placement = override(o, 'singlestep_placement', ['diffusers', 'official'] as const) ?? 'diffusers';
      // Off-grid stages (official placement) take their timesteps from the run's SolverContext.timestepAt.
      return {
        order,
        form: override(o, 'dpm_form', ['data', 'noise'] as const) ?? dpmFormFromConfig(cfg),
        solverType: override(o, 'dpm_solver_type', ['midpoint', 'heun'] as const) ?? dpmSolverTypeFromConfig(cfg),
        lowerOrderFinal: triOverride(o, 'lower_order_final', cfgBool(cfg, 'lower_order_final', false)),
        placement,
        thresholding: thresholdingFromConfig(cfg),
      };
    },
    create: (opts = { order }) => createDpmSinglestep(opts),
  };
}

const MULTISTEP_PARAMS = pickParams('dpm_solver_type', 'lower_order_final', 'euler_at_final');

/** exp_level_space ve: the solver reads the grid's levels as VE sigmas whatever the model (ComfyUI's dpmpp_2m, uni_pc). */
function levelSpaceOverride(o: ExpSolverOverrides): Pick<ExpCommonOptions, 'levelSpace'> {
  return override(o, 'exp_level_space', ['grid', 've'] as const) === 've' ? { levelSpace: 'vp' } : {};
}

/** UniPC's predict_x0: the node's form, else the config's; neither: undefined, and the solver picks by the grid's direction (unipc.ts). */
function unipcPredictX0(form: DpmForm | undefined, cfg: SchedulerConfig): boolean | undefined {
  if (form !== undefined) return form === 'data';
  if (cfg.predict_x0 === undefined || cfg.predict_x0 === null) return undefined;
  return cfgBool(cfg, 'predict_x0', true);
}

export const EXP_INTEGRATOR_SOLVERS: Record<ExpSolverName, ExpSolverEntry> = {
  dpmpp_2m: dpmMultistepEntry('data', 2, 'DPM-Solver++(2M): second-order multistep on the data prediction, one model call per step (diffusers DPMSolverMultistepScheduler)', {
    ...MULTISTEP_PARAMS,
    ...pickParams('exp_level_space'),
  }),
  dpmpp_3m: dpmMultistepEntry(
    'data',
    3,
    'DPM-Solver++(3M): third-order multistep on the data prediction. The reference update reaches order ~2; the corrected variant order 3',
    pickParams('dpm_solver_type', 'lower_order_final', 'euler_at_final', 'dpm3m_variant'),
  ),
  dpmpp_2m_sde: {
    description: 'DPM-Solver++(2M) SDE: stochastic second-order multistep, fresh seeded noise every step (diffusers algorithm_type sde-dpmsolver++)',
    params: MULTISTEP_PARAMS,
    optionsFromConfig: (cfg, o = {}): DpmSdeOptions => ({ ...multistepOptions(cfg, o), order: 2 }),
    create: (opts: DpmSdeOptions = {}) => createDpmSde(opts),
  },
  dpm_1s: dpmSinglestepEntry(1, 'DPM-Solver-1 (singlestep order 1, the DDIM step in exponential-integrator form)'),
  dpm_2s: dpmSinglestepEntry(2, 'DPM-Solver-2 singlestep: second order, stages at the previous grid levels as diffusers (or at r = 1/2 in lambda)'),
  dpm_3s: dpmSinglestepEntry(3, 'DPM-Solver-3 singlestep: third order, stages at the previous grid levels as diffusers (or at r = 1/3, 2/3 in lambda)'),
  dpm_2m: dpmMultistepEntry('noise', 2, 'DPM-Solver(2M): second-order multistep on the noise prediction (diffusers algorithm_type dpmsolver)', MULTISTEP_PARAMS),
  unipc: {
    description: 'UniPC: B(h) predictor with a free corrector (order p + 1 at one model call per step; diffusers UniPCMultistepScheduler)',
    params: pickParams('unipc_order', 'unipc_variant', 'unipc_corrector', 'unipc_disable_corrector', 'unipc_form', 'lower_order_final', 'exp_level_space'),
    optionsFromConfig(cfg, o = {}): UniPCOptions {
      const form = override(o, 'unipc_form', ['data', 'noise'] as const);
      return {
        order: orderOverride(o, 'unipc_order', cfgOrder(cfg, 2)),
        variant: override(o, 'unipc_variant', ['bh1', 'bh2'] as const) ?? unipcVariantFromConfig(cfg),
        predictX0: unipcPredictX0(form, cfg),
        lowerOrderFinal: triOverride(o, 'lower_order_final', cfgBool(cfg, 'lower_order_final', true)),
        disableCorrector: disableCorrectorOverride(o, disableCorrectorFromConfig(cfg)),
        corrector: override(o, 'unipc_corrector', ['on', 'off'] as const) !== 'off',
        thresholding: thresholdingFromConfig(cfg),
        ...levelSpaceOverride(o),
      };
    },
    create: (opts: UniPCOptions = {}) => createUniPC(opts),
  },
  deis: {
    description: 'DEIS (log-rho): multistep exponential integrator on the noise prediction with Lagrange weights in log rho, orders 1-3',
    params: pickParams('deis_order', 'lower_order_final'),
    optionsFromConfig: (cfg, o = {}): DeisOptions => ({
      order: orderOverride(o, 'deis_order', cfgOrder(cfg, 2)),
      lowerOrderFinal: triOverride(o, 'lower_order_final', cfgBool(cfg, 'lower_order_final', true)),
      thresholding: thresholdingFromConfig(cfg),
    }),
    create: (opts: DeisOptions = {}) => createDeis(opts),
  },
};

export function isExpSolverName(name: string): name is ExpSolverName {
  return (EXP_SOLVER_NAMES as readonly string[]).includes(name);
}
