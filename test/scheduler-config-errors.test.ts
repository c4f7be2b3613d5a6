/**
 * Scheduler configs that no grid can be built from are refused by the setting at fault, before any level is
 * NaN, infinite, negative or past the training table (found by the graph fuzz's --configs mode). Each case
 * is checked against the config one change away that builds a finite grid, so a test cannot pass by
 * refusing everything.
 */
import { describe, expect, it } from 'vitest';
import type { SchedulerConfig } from '../nodes/core/values.ts';
import { comfyLevels, comfyModelSampling } from '../nodes/sampling/comfy-schedules.ts';
import { dpmInverseSigmas } from '../nodes/sampling/inversion-sigmas.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';
import { createSolver } from '../nodes/sampling/solver-registry.ts';

const SD = { _class_name: 'EulerDiscreteScheduler', num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear' };
const FLOW = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3 };

function finiteGrid(cfg: SchedulerConfig, solver: string, steps = 8, opts = {}): number[] {
  const s = buildSigmas(cfg, {}, steps, solver, opts);
  for (const v of [...s.sigmas, ...s.timesteps]) expect(Number.isFinite(v)).toBe(true);
  return s.sigmas;
}

describe('scheduler configs no grid can be built from', () => {
  it('a flow shift of 0 or below, or one float32 rounds to nothing, on diffusers\' and ComfyUI\'s grids', () => {
    finiteGrid(FLOW, 'flow_euler');
    expect(comfyLevels(comfyModelSampling(FLOW, 'flow'), 'simple', 8).every(Number.isFinite)).toBe(true);
    // shift - 1 rounds to -1 in float32, so 1 + (shift - 1) t is 0 at t = 1 (diffusers divides by it too).
    expect(() => buildSigmas({ ...FLOW, shift: 1e-9 }, {}, 8, 'flow_euler')).toThrow(/flow shift 1e-9 takes level t = 1 to Infinity in float32 arithmetic/);
    for (const shift of [-1, 0]) expect(() => comfyModelSampling({ ...FLOW, shift }, 'flow')).toThrow(`flow shift must be a positive number, got ${shift}`);
    expect(() => comfyModelSampling({ ...FLOW, shift: 1e-9 }, 'flow')).toThrow(/flow shift 1e-9 takes ComfyUI's level 1000 of 1000 to Infinity/);
  });

  it('a dynamic shift whose factor is not a positive finite number', () => {
    const dynamic = { ...FLOW, use_dynamic_shifting: true, time_shift_type: 'linear' };
    finiteGrid(dynamic, 'flow_euler', 8, { mu: 0.7 });
    // Linear: k = mu; exponential: k = e^mu, past float range at mu 1000.
    expect(() => buildSigmas(dynamic, {}, 8, 'flow_euler', { mu: -0.5 })).toThrow(/dynamic shift \(time_shift_type linear\) needs a positive finite shift, got mu = -0.5/);
    expect(() => buildSigmas({ ...dynamic, time_shift_type: 'exponential' }, {}, 8, 'flow_euler', { mu: 1000 })).toThrow(/got e\^mu = Infinity/);
    // ComfyUI's FLUX table: mu from the token count and the config's bounds (max_shift 400 at 4096 tokens).
    const flux = { ...FLOW, use_dynamic_shifting: true, base_shift: 0.5, max_shift: 400 };
    expect(() => comfyModelSampling(flux, 'flow', 4096)).toThrow(/got e\^mu = Infinity \(mu 400\)/);
    expect(comfyLevels(comfyModelSampling({ ...flux, max_shift: 1.15 }, 'flow', 4096), 'simple', 8).every(Number.isFinite)).toBe(true);
  });

  it('Karras, exponential and Lu grids refuse bounds out of order, non-finite, or at 0 on a log scale', () => {
    const karras = { ...SD, use_karras_sigmas: true };
    expect(finiteGrid({ ...karras, sigma_min: 0.1, sigma_max: 10 }, 'euler')[0]).toBeCloseTo(10, 6);
    // sigma_max below sigma_min gave a rising grid, an exponential grid to 0 NaN levels.
    expect(() => buildSigmas({ ...karras, sigma_min: 0.4, sigma_max: 0 }, {}, 8, 'euler')).toThrow(/karras levels need finite bounds with 0 <= sigma_min <= sigma_max, got sigma_min 0.4 and sigma_max 0/);
    const exponential = { ...SD, use_exponential_sigmas: true };
    finiteGrid({ ...exponential, sigma_min: 0.1 }, 'euler');
    expect(() => buildSigmas({ ...exponential, sigma_min: 0 }, {}, 8, 'euler')).toThrow(/exponential levels need finite bounds with 0 < sigma_min <= sigma_max/);
    const flowKarras = { ...FLOW, _class_name: 'FlowMatchEulerDiscreteScheduler', use_exponential_sigmas: true };
    finiteGrid(flowKarras, 'flow_euler');
    expect(() => buildSigmas({ ...flowKarras, sigma_max: 0 }, {}, 8, 'flow_euler')).toThrow(/exponential levels need finite bounds/);
  });

  it('ComfyUI\'s kl_optimal past its float32 range: a top level of 5.6e11 gave a negative level', () => {
    // Linear betas to 0.104 leave abar ~ 3e-24 at the top: sigma_max ~ 5.6e11.
    const steep = comfyModelSampling({ ...SD, beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.104 }, 'vp');
    expect(steep.sigmaMax).toBeGreaterThan(1e11);
    expect(comfyLevels(steep, 'karras', 8).every((v) => v >= 0)).toBe(true);
    expect(() => comfyLevels(steep, 'kl_optimal', 20)).toThrow(/ComfyUI's kl_optimal schedule puts level 1 of 21 at -22877332 for this model's levels/);
    expect(comfyLevels(comfyModelSampling(SD, 'vp'), 'kl_optimal', 20).every((v) => v >= 0)).toBe(true);
  });

  it('a one-level training table cannot place a Karras level between training steps', () => {
    const karras = { ...SD, _class_name: 'DPMSolverMultistepScheduler', use_karras_sigmas: true };
    finiteGrid({ ...karras, num_train_timesteps: 2 }, 'dpmpp_2m', 1);
    expect(() => buildSigmas({ ...karras, num_train_timesteps: 1 }, {}, 1, 'dpmpp_2m')).toThrow(/needs a training table of 2 or more levels to interpolate in; this one has 1/);
  });

  it('a lambda_min_clipped above every training level, forward and inverted', () => {
    const dpm = { ...SD, _class_name: 'DPMSolverMultistepScheduler' };
    finiteGrid({ ...dpm, lambda_min_clipped: -5.1 }, 'dpmpp_2m');
    expect(() => buildSigmas({ ...dpm, lambda_min_clipped: 10 }, {}, 8, 'dpmpp_2m')).toThrow(/lambda_min_clipped 10 cuts every training step \(the least noisy one has lambda 3\.5\d*\): lower it/);
    expect(dpmInverseSigmas({ ...dpm, lambda_min_clipped: -5.1 }, 8).sigmas.every(Number.isFinite)).toBe(true);
    expect(() => dpmInverseSigmas({ ...dpm, lambda_min_clipped: 10 }, 8)).toThrow(/lambda_min_clipped 10 cuts every training step/);
  });

  it('a fractional steps_offset (numpy refuses to add it to int64 timesteps)', () => {
    const ddim = { ...SD, _class_name: 'DDIMScheduler', timestep_spacing: 'leading' };
    expect(finiteGrid({ ...ddim, steps_offset: 1 }, 'ddim')).toHaveLength(9);
    for (const solver of ['ddim', 'dpmpp_2m', 'sa_solver']) {
      expect(() => buildSigmas({ ...ddim, steps_offset: 0.5 }, {}, 8, solver)).toThrow('scheduler config: "steps_offset" must be a whole number, got 0.5');
    }
  });

  it('LCM: trained_betas shorter than num_train_timesteps, and original_inference_steps below 1', () => {
    const lcm = { ...SD, _class_name: 'LCMScheduler' };
    finiteGrid(lcm, 'lcm', 4);
    // The timesteps count num_train_timesteps; the table, trained_betas (diffusers: IndexError).
    expect(() => buildSigmas({ ...lcm, trained_betas: [0.5] }, {}, 4, 'lcm')).toThrow(/LCM grid: timestep 999 is past the end of the training table \(1 level from trained_betas, num_train_timesteps 1000\)/);
    expect(() => buildSigmas({ ...lcm, trained_betas: [0.5] }, {}, 4, 'tcd')).toThrow(/TCD grid: timestep 999 is past the end/);
    expect(() => buildSigmas({ ...lcm, original_inference_steps: 0 }, {}, 4, 'lcm')).toThrow(/original_inference_steps must be at least 1, got 0/);
    expect(() => buildSigmas({ ...lcm, original_inference_steps: 2.5 }, {}, 4, 'lcm')).toThrow(/"original_inference_steps" must be a whole number/);
  });

  it('cm_stochastic on a config with no class says so instead of "undefined"', () => {
    expect(() => createSolver('cm_stochastic', { num_train_timesteps: 40 })).toThrow(/this model's is not named \(no _class_name\)/);
  });
});
