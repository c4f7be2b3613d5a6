/**
 * Schedule: the sampling grid (SIGMAS) of a model for N steps, by the rules of a diffusers scheduler
 * family (default: the model's own scheduler class), with overrides for spacing, level grid, final level
 * and flow shift, custom levels, and img2img strength (the tail a partial denoise walks). Direction
 * 'invert' gives the ascending grid inversion walks instead (inversion-sigmas.ts): a Sampler fed it turns
 * a clean latent into the noise that samples back to it.
 */
import { denoiseParam } from './core/denoise-param.ts';
import type { SchedulerConfig } from './core/values.ts';
import { irsdeModelGrid, isMeanReverting, readIrsdeModel } from './sampling/mean-reverting.ts';
import { FLOW_SHIFT_PARAM } from './core/flow-shift-param.ts';
import { defineNode, NodeInputError } from './core/types.ts';
import { img2imgSigmas } from './sampling/add-noise.ts';
import { pipelineImageSeqLen, pipelineTokensFromLatent, sigmaSpace } from './sampling/model-time.ts';
import { imageSeqLenOfPixels } from './sampling/schedule-flow.ts';
import { defaultSolverFor, SOLVER_SCHEDULERS, type FinalSigmasType, type SigmaGrid } from './sampling/schedule-rules.ts';
import type { ScheduleOverrides } from './sampling/schedule-vp.ts';
import { buildSigmas } from './sampling/schedules.ts';
import { DDIM_INVERSION_VARIANTS } from './sampling/ddim.ts';
import { SCM_INTERMEDIATE_TIMESTEP, SCM_MAX_TIMESTEP } from './sampling/scm.ts';
import { buildInversionSigmas, defaultInversionSolver } from './sampling/inversion-sigmas.ts';
import type { TimestepSpacing } from './sampling/sigma-grids.ts';
import { quoted } from './core/quote.ts';

const SOLVER_OPTIONS = ['auto', ...Object.keys(SOLVER_SCHEDULERS)];

/** Parses "14.6, 7.0 3.1; 0" into numbers; names the bad entry. */
export function parseSigmaList(text: string): number[] {
  const parts = text.split(/[\s,;]+/).filter((p) => p !== '');
  if (parts.length === 0) throw new Error('custom sigmas: the list is empty (write the levels, e.g. "14.6, 7.0, 3.1, 0")');
  return parts.map((p, i) => {
    const v = Number(p);
    if (!Number.isFinite(v)) throw new Error(`custom sigmas: entry ${i + 1} (${quoted(p)}) is not a number`);
    return v;
  });
}

/** A mean-reverting (IR-SDE) model's grid: MR Sampler's linspace over IR-SDE's schedule; the other options do not apply. */
function meanRevertingSchedule(cfg: SchedulerConfig, params: { steps: number; direction: string; denoise: number; solver: string }) {
  if (params.direction === 'invert') throw new NodeInputError('a mean-reverting (IR-SDE) model cannot be inverted: the MR Sampler walks only down');
  if (params.denoise < 1) throw new NodeInputError('denoise < 1 does not apply to a mean-reverting model, which starts from noise around mu');
  if (params.solver !== 'auto' && params.solver !== 'mrs') throw new NodeInputError(`a mean-reverting (IR-SDE) model's grid is the MR Sampler's: set solver to mrs or auto (got ${params.solver})`);
  try {
    return irsdeModelGrid(readIrsdeModel(cfg), params.steps);
  } catch (e) {
    throw new NodeInputError((e as Error).message, 'model');
  }
}

export const Schedule = defineNode({
  type: 'Schedule',
  version: 1,
  title: 'Schedule',
  category: 'sampling',
  description:
    'The noise levels (sigmas) and model timesteps a sampler walks, as the diffusers scheduler for the chosen solver builds them from the model\'s scheduler config. With denoise < 1, only the tail an img2img run takes. Direction invert: the ascending grid that inverts a clean latent to noise (DDIM inversion, DPM-Solver inversion, RF inversion).',
  inputs: {
    model: { type: 'MODEL' },
    latent: {
      type: 'LATENT',
      optional: true,
      help: 'For resolution-dependent shift (FLUX): the image token count is taken from this latent\'s size',
    },
  },
  outputs: {
    sigmas: { type: 'SIGMAS', help: 'Levels and timesteps, for a Sampler or SplitSigmas' },
  },
  params: {
    steps: { kind: 'int', default: 20, min: 1, max: 1000, label: 'Steps', help: 'Steps of the full schedule (custom sigmas set their own count)' },
    direction: {
      kind: 'enum',
      options: ['sample', 'invert'],
      default: 'sample',
      label: 'Direction',
      help: 'sample: from noise down to the image; invert: from the image latent up to noise (feed a Sampler, start auto or continue, with the image latent). VP models invert with diffusers\' DDIMInverseScheduler (ddim, auto) or DPMSolverMultistepInverseScheduler (DPM-Solver multistep) grid, other ODE solvers on their own grid reversed; flow models on the flow grid reversed',
    },
    inversion_grid: {
      kind: 'enum',
      options: DDIM_INVERSION_VARIANTS,
      default: 'diffusers',
      label: 'DDIM inversion grid',
      help: 'diffusers: DDIMInverseScheduler (each step calls the model at the level it moves to); current-level: each step calls the model at the level the latent is at (CODE), one step fewer',
      when: { param: 'direction', in: ['invert'] },
    },
    solver: {
      kind: 'enum',
      options: SOLVER_OPTIONS,
      default: 'auto',
      label: 'Scheduler rules',
      help: 'Whose grid rules to use: the solver you sample with. auto = the model\'s scheduler class (DDIM for classes without a solver here)',
    },
    spacing: {
      kind: 'enum',
      options: ['config', 'linspace', 'leading', 'trailing'],
      default: 'config',
      label: 'Timestep spacing',
      help: 'config = the scheduler config\'s timestep_spacing',
    },
    grid: {
      kind: 'enum',
      options: ['config', 'spaced', 'karras', 'exponential', 'lu_lambda', 'beta', 'custom'],
      default: 'config',
      label: 'Sigma grid',
      help: 'config = the config\'s use_karras_sigmas / use_exponential_sigmas / use_lu_lambdas / use_beta_sigmas; spaced = levels at the spaced timesteps; beta = Beta(0.6, 0.6) quantiles, dense at both ends',
    },
    final_sigmas: {
      kind: 'enum',
      options: ['config', 'zero', 'sigma_min'],
      default: 'config',
      label: 'Final sigma',
      help: 'Where the last step lands: 0, or the smallest training level (config = final_sigmas_type; DDIM: set_alpha_to_one)',
    },
    shift: FLOW_SHIFT_PARAM,
    denoise: denoiseParam(
      'img2img strength: keep the last floor(steps * denoise) steps; when inverting, the first floor(steps * denoise) (invert up to where an img2img run of that strength starts)',
    ),
    custom_sigmas: {
      kind: 'string',
      default: '',
      label: 'Custom sigmas',
      help: 'Descending levels, comma or space separated; the last is where sampling ends (e.g. 0). Flow models: t in [0, 1]',
      when: { param: 'grid', in: ['custom'] },
    },
    scm_max_time: {
      kind: 'float',
      default: SCM_MAX_TIMESTEP,
      min: 0.01,
      max: SCM_MAX_TIMESTEP,
      step: 0.0001,
      label: 'TrigFlow start time',
      help: 'SCMScheduler (Sana Sprint): the TrigFlow time s of the first level (pi/2 is pure noise); its flow level is sin s / (cos s + sin s). The pipeline\'s max_timesteps',
      when: { param: 'solver', in: ['scm'] },
    },
    scm_mid_time: {
      kind: 'float',
      default: SCM_INTERMEDIATE_TIMESTEP,
      min: 0,
      max: SCM_MAX_TIMESTEP,
      step: 0.0001,
      label: 'TrigFlow middle time',
      help: 'SCMScheduler, 2 steps only: the TrigFlow time of the middle level (the pipeline\'s intermediate_timesteps); 0 = none, evenly spaced as for other step counts',
      when: { param: 'solver', in: ['scm'] },
    },
    image_width: {
      kind: 'int',
      default: 1024,
      min: 16,
      max: 16384,
      label: 'Image width (px)',
      help: 'Resolution-dependent shift (FLUX) when no latent is connected: tokens = (width/16) x (height/16)',
    },
    image_height: { kind: 'int', default: 1024, min: 16, max: 16384, label: 'Image height (px)' },
  },
  async execute(_ctx, inputs, params) {
    const { model } = inputs;
    if (isMeanReverting(model.scheduler)) return { sigmas: meanRevertingSchedule(model.scheduler, params) };
    const space = sigmaSpace(model.modelIndex, model.scheduler);
    const invert = params.direction === 'invert';
    let solver = params.solver;
    if (solver === 'auto') solver = invert ? defaultInversionSolver(model.scheduler, space) : defaultSolverFor(model.scheduler, space);
    const overrides: ScheduleOverrides = {};
    if (params.spacing !== 'config') overrides.spacing = params.spacing as TimestepSpacing;
    if (params.grid !== 'config') overrides.grid = params.grid as SigmaGrid;
    if (params.final_sigmas !== 'config') overrides.finalSigmasType = params.final_sigmas as FinalSigmasType;
    if (params.shift > 0) {
      if (space !== 'flow') throw new NodeInputError('shift applies to flow models only; this model is a VP (diffusion) model: set shift to 0');
      overrides.shift = params.shift;
    }
    if (params.grid === 'custom') {
      try {
        overrides.customSigmas = parseSigmaList(params.custom_sigmas);
      } catch (e) {
        throw new NodeInputError((e as Error).message);
      }
    }
    const fromLatent = inputs.latent ? pipelineImageSeqLen(model.modelIndex, inputs.latent.dims) : undefined;
    if (inputs.latent && fromLatent === undefined) {
      throw new NodeInputError(`latent shape ${inputs.latent.shapeString()} has no image size (expected [B, C, H, W] or packed [B, L, C])`, 'latent');
    }
    // Lumina 2 counts its latent's channels: without a latent there is no count to derive (dynamic shifting then asks for one).
    const imageSeqLen = fromLatent ?? (pipelineTokensFromLatent(model.modelIndex) ? undefined : imageSeqLenOfPixels(params.image_width, params.image_height));
    if (invert) {
      try {
        return { sigmas: buildInversionSigmas(model.scheduler, model.modelIndex, params.steps, solver, { ...overrides, imageSeqLen, ddimVariant: params.inversion_grid, denoise: params.denoise }) };
      } catch (e) {
        throw new NodeInputError((e as Error).message);
      }
    }
    if (solver === 'lcm' || solver === 'tcd') {
      if (Object.keys(overrides).length > 0) {
        throw new NodeInputError(`${solver.toUpperCase()} takes its timesteps from its distillation schedule: spacing, grid and final sigma do not apply (set them to config)`);
      }
      // LCM draws its timesteps from the distillation schedule; img2img feeds the strength into that draw
      // (diffusers' LCM img2img pipeline), so every step of the result runs. TCD's img2img takes the tail.
      if (solver === 'lcm') return { sigmas: buildSigmas(model.scheduler, model.modelIndex, params.steps, solver, params.denoise < 1 ? { lcmStrength: params.denoise } : {}) };
    }
    const scm = solver === 'scm' ? { scm: { maxTimestep: params.scm_max_time, intermediateTimestep: params.scm_mid_time > 0 ? params.scm_mid_time : null } } : {};
    const full = buildSigmas(model.scheduler, model.modelIndex, params.steps, solver, { ...overrides, imageSeqLen, ...scm });
    return { sigmas: img2imgSigmas(full, params.denoise) };
  },
});

export default Schedule;
