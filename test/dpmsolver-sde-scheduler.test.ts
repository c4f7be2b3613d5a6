/**
 * diffusers' DPMSolverSDEScheduler ("DPM++ SDE" in diffusers): its grid from the float32 training table and
 * float64 timesteps, and its Brownian noise. The literals were printed by diffusers 58eb52c with torch
 * 1.13 and torchsde 0.2.6 for SD 1.x's betas; the whole sampling loops are compared with diffusers in
 * test/diffusers-parity.test.ts (the vpc-torchseed-*-dpmpp_sde cases).
 */
import { describe, expect, it } from 'vitest';
import { seededDraws } from '../nodes/core/seeded-draws.ts';
import { noiseSamplerSeed } from '../nodes/sampler.ts';
import { diffusersFloat32Table } from '../nodes/sampling/float32-table.ts';
import { defaultSolverFor, schedulerClassFor } from '../nodes/sampling/schedule-rules.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';

const SD = { num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', prediction_type: 'epsilon', timestep_spacing: 'linspace', steps_offset: 1 };

describe('DPMSolverSDEScheduler grid', () => {
  it('takes its levels from the float32 table, bit for bit', () => {
    const table = diffusersFloat32Table(SD);
    expect(table.sigmas[999]).toBe(14.614645004272461);
    expect(table.sigmas[0]).toBe(0.029167532920837402);
  });

  it('spaces linspace timesteps in float64 and ends on 0, as set_timesteps(8) does', () => {
    expect(schedulerClassFor('dpmpp_sde')).toBe('DPMSolverSDEScheduler');
    const s = buildSigmas(SD, {}, 8, 'dpmpp_sde');
    expect(s.timesteps).toEqual([999, 856.2857142857143, 713.5714285714287, 570.8571428571429, 428.14285714285717, 285.42857142857144, 142.71428571428572, 0]);
    const diffusersLevels = [14.614645004272461, 6.678017616271973, 3.5220649242401123, 2.0606436729431152, 1.2768336534500122, 0.7912615537643433, 0.4396674931049347, 0.029167532920837402, 0];
    expect(s.sigmas.map(Math.fround)).toEqual(diffusersLevels);
    // linspace spacing: init_noise_sigma is sigma_max.
    expect(s.initNoiseSigma).toBeCloseTo(14.614645, 5);
  });

  it('leaves the Euler grid on its float32 timesteps', () => {
    expect(buildSigmas(SD, {}, 8, 'euler').timesteps[1]).toBe(Math.fround(856.2857142857143));
  });

  it('is the default solver of a DPMSolverSDEScheduler config', () => {
    expect(defaultSolverFor({ ...SD, _class_name: 'DPMSolverSDEScheduler' }, 'vp')).toBe('dpmpp_sde');
  });
});

describe('DPMSolverSDEScheduler noise', () => {
  it("draws from torchsde's tree seeded by noise_sampler_seed, at the float32 round trip of the levels", () => {
    const grid = [14.614645004272461, 7.8398847579956055, 0.029167532920837402, 0];
    const draws = seededDraws('torch', 5, 768, { treeSeed: 77 });
    // diffusers' first two queries of a 10-step run (its levels after exp(-(-ln sigma)) in float32).
    expect(draws.between!(14.614643096923828, 10.704070091247559, grid)[0]).toBeCloseTo(-0.5669041872024536, 5);
    expect(draws.between!(14.614643096923828, 7.8398847579956055, grid)[0]).toBeCloseTo(-0.32832255959510803, 5);
  });

  it('uses the config seed, else the Sampler seed, and rejects seeds JSON cannot hold', () => {
    expect(noiseSamplerSeed({ noise_sampler_seed: 77 }, 5)).toBe(77);
    expect(noiseSamplerSeed({ noise_sampler_seed: null }, 5)).toBe(5);
    expect(noiseSamplerSeed({}, 5)).toBe(5);
    expect(() => noiseSamplerSeed({ noise_sampler_seed: 2 ** 60 }, 5)).toThrow(/noise_sampler_seed/);
    expect(() => noiseSamplerSeed({ noise_sampler_seed: -1 }, 5)).toThrow(/noise_sampler_seed/);
  });

  it('without a tree seed, torch draws dpmpp_sde step noise from the generator as before', () => {
    expect(seededDraws('torch', 5, 8).between).toBeUndefined();
  });
});
