/**
 * Level grids, final levels, per-class config rules, overrides and the solver -> family map. Expected values
 * come from the closed forms in the comments or from numpy transcriptions of diffusers' set_timesteps.
 */
import { describe, expect, it } from 'vitest';
import { sigmaSpace } from '../nodes/sampling/model-time.ts';
import { buildSigmas, defaultSolverFor, gridFamily, initNoiseSigma, karrasSigmas, SOLVER_SCHEDULERS } from '../nodes/sampling/schedules.ts';
import { diffusersAbar } from './helpers/diffusers-table.ts';

const SD = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 };
const IDX = { _class_name: 'StableDiffusionPipeline' };
/** The SD table's ends as diffusers' float32 tensors hold them (torch: ((1 - abar) / abar) ** 0.5, abar float32). */
const SMAX = 14.614645004272461;
const SMIN = 0.029167532920837402;

function close(actual: readonly number[], expected: readonly number[], digits = 10): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i], digits));
}

describe('Karras, Lu-lambda and exponential grids (multistep rules: table ends, integer timesteps)', () => {
  it('Karras: (smax^(1/7) + i/(n-1) (smin^(1/7) - smax^(1/7)))^7, timesteps rounded from log-sigma interpolation', () => {
    const s = buildSigmas({ ...SD, use_karras_sigmas: true }, IDX, 5, 'dpmpp_2m');
    const a = SMAX ** (1 / 7);
    const b = SMIN ** (1 / 7);
    close(s.sigmas, [0, 1, 2, 3, 4].map((i) => (a + (i / 4) * (b - a)) ** 7).concat([0]), 9);
    // numpy _sigma_to_t(...).round().
    expect(s.timesteps).toEqual([999, 786, 427, 59, 0]);
    expect(karrasSigmas(0.002, 80, 1)).toEqual([80]);
  });

  it('Lu lambdas: uniform in lambda = -ln(sigma) between the table ends', () => {
    const s = buildSigmas({ ...SD, use_lu_lambdas: true }, IDX, 5, 'dpmpp_2m');
    const levels = s.sigmas.slice(0, 5);
    const lambdas = levels.map((v) => -Math.log(v));
    const h = lambdas[1] - lambdas[0];
    lambdas.forEach((l, i) => expect(l).toBeCloseTo(-Math.log(SMAX) + i * h, 10));
    expect(lambdas[4]).toBeCloseTo(-Math.log(SMIN), 10);
    expect(s.timesteps).toEqual([999, 681, 233, 20, 0]);
  });

  it('exponential: the same levels, timesteps truncated by the int64 cast (680.67 -> 680)', () => {
    const s = buildSigmas({ ...SD, use_exponential_sigmas: true }, IDX, 5, 'dpmpp_2m');
    expect(s.timesteps).toEqual([999, 680, 233, 20, 0]);
  });

  it('Euler family keeps Karras timesteps fractional and takes the bounds from the interpolated levels', () => {
    const s = buildSigmas({ ...SD, use_karras_sigmas: true }, IDX, 5, 'euler');
    // EulerDiscreteScheduler(use_karras_sigmas=True).set_timesteps(5).timesteps, printed by diffusers; to a float32
    // ulp (3e-5 at 427): numpy takes the log of the float32 table in float32, ours in float64.
    close(s.timesteps, [999, 785.9539794921875, 427.48980712890625, 58.8914909362793, 0], 4);
    // EulerDiscrete reads sigma_min / sigma_max.
    const bounded = buildSigmas({ ...SD, use_karras_sigmas: true, sigma_min: 0.1, sigma_max: 10 }, IDX, 5, 'euler');
    expect(bounded.sigmas[0]).toBeCloseTo(10, 12);
    expect(bounded.sigmas[4]).toBeCloseTo(0.1, 12);
  });

  it('only one of karras / exponential / beta may be set', () => {
    expect(() => buildSigmas({ ...SD, use_karras_sigmas: true, use_exponential_sigmas: true }, IDX, 5, 'euler')).toThrow(/only one/);
    expect(() => buildSigmas({ ...SD, use_beta_sigmas: true, use_karras_sigmas: true }, IDX, 5, 'dpmpp_2m')).toThrow(/only one/);
  });

  // diffusers 58eb52c set_timesteps(5) with use_beta_sigmas (scipy's beta.ppf at 1 - linspace(0, 1, 5), a = b = 0.6).
  const BETA_LEVELS = [14.614645004272461, 12.052263259887695, 7.321906089782715, 2.5915496349334717, 0.029167532920837402];

  it('beta: Beta(0.6, 0.6) quantiles between the table ends; multistep timesteps int64-truncated, Euler fractional', () => {
    const dpm = buildSigmas({ ...SD, use_beta_sigmas: true }, IDX, 5, 'dpmpp_2m');
    close(dpm.sigmas, [...BETA_LEVELS, 0], 5);
    expect(dpm.timesteps).toEqual([999, 966, 874, 634, 0]);
    const euler = buildSigmas({ ...SD, use_beta_sigmas: true }, IDX, 5, 'euler');
    close(euler.timesteps, [999, 966.4949951171875, 874.6619262695312, 634.552001953125, 0], 3);
    // UniPC's sigma_min repeats the last beta level.
    const unipc = buildSigmas({ ...SD, use_beta_sigmas: true, final_sigmas_type: 'sigma_min' }, IDX, 5, 'unipc');
    expect(unipc.sigmas[5]).toBe(unipc.sigmas[4]);
    // DDIM has no use_beta_sigmas key: ignored, as diffusers ignores it.
    expect(buildSigmas({ ...SD, use_beta_sigmas: true }, IDX, 5, 'ddim').timesteps).toEqual(buildSigmas(SD, IDX, 5, 'ddim').timesteps);
  });

  it('beta on a flow-matching grid: the shifted ends, then the quantiles', () => {
    const flow = buildSigmas({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3, num_train_timesteps: 1000, use_beta_sigmas: true }, { _class_name: 'StableDiffusion3Pipeline' }, 5, 'flow_euler');
    close(flow.sigmas, [1, 0.8258882164955139, 0.5044642686843872, 0.18304038047790527, 0.008928571827709675, 0], 6);
  });
});

describe('final_sigmas_type and per-class rules', () => {
  it('zero | sigma_min (table level at t = 0); DEIS always ends on sigma_min', () => {
    expect(buildSigmas(SD, IDX, 10, 'dpmpp_2m').sigmas[10]).toBe(0);
    expect(buildSigmas({ ...SD, final_sigmas_type: 'sigma_min' }, IDX, 10, 'dpmpp_2m').sigmas[10]).toBeCloseTo(SMIN, 12);
    expect(buildSigmas(SD, IDX, 10, 'deis').sigmas[10]).toBeCloseTo(SMIN, 12);
    expect(() => buildSigmas(SD, IDX, 10, 'deis', { finalSigmasType: 'zero' })).toThrow(/always ends on sigma_min/);
  });

  it('UniPC and DEIS repeat the last Karras level for sigma_min; DPM-Solver appends the table level', () => {
    const cfg = { ...SD, use_karras_sigmas: true, final_sigmas_type: 'sigma_min', sigma_min: 0.1 };
    const unipc = buildSigmas(cfg, IDX, 6, 'unipc');
    expect(unipc.sigmas[5]).toBeCloseTo(0.1, 12); // UniPC reads sigma_min
    expect(unipc.sigmas[6]).toBe(unipc.sigmas[5]);
    const dpm = buildSigmas(cfg, IDX, 6, 'dpmpp_2m');
    expect(dpm.sigmas[5]).toBeCloseTo(0.1, 12); // its Karras converter reads the key too (from_config keeps it)
    expect(dpm.sigmas[6]).toBeCloseTo(SMIN, 12); // but its final sigma_min is the table's
  });

  it('sigma_min / sigma_max keys bound the Karras and exponential grids of every class whose converter reads them', () => {
    const keys = { sigma_min: 0.1, sigma_max: 10 };
    for (const solver of ['euler', 'heun', 'dpmpp_2m', 'dpm_2s', 'unipc', 'deis']) {
      for (const grid of ['use_karras_sigmas', 'use_exponential_sigmas']) {
        const s = buildSigmas({ ...SD, [grid]: true, ...keys }, IDX, 6, solver).sigmas;
        expect(s[0], `${solver} ${grid}`).toBeCloseTo(10, 10);
        expect(s[5], `${solver} ${grid}`).toBeCloseTo(0.1, 10);
      }
    }
    // LMS's Karras converter takes the table's ends whatever the keys say; its exponential one reads them.
    const lmsKarras = buildSigmas({ ...SD, use_karras_sigmas: true, ...keys }, IDX, 6, 'lms').sigmas;
    expect(lmsKarras[0]).toBeCloseTo(buildSigmas({ ...SD, use_karras_sigmas: true }, IDX, 6, 'lms').sigmas[0], 12);
    expect(lmsKarras[0]).toBeGreaterThan(14);
    expect(buildSigmas({ ...SD, use_exponential_sigmas: true, ...keys }, IDX, 6, 'lms').sigmas[0]).toBeCloseTo(10, 10);
    // DPM-Solver's Lu grid ignores them (its converter works on the table's lambdas).
    const lu = buildSigmas({ ...SD, use_lu_lambdas: true, ...keys }, IDX, 6, 'dpmpp_2m').sigmas;
    expect(lu[0]).toBeCloseTo(buildSigmas({ ...SD, use_lu_lambdas: true }, IDX, 6, 'dpmpp_2m').sigmas[0], 12);
  });

  it('classes ignore keys they do not have (diffusers from_config): Euler ancestral has no Karras, Heun/LMS no final type', () => {
    const cfg = { ...SD, use_karras_sigmas: true, final_sigmas_type: 'sigma_min' };
    const plain = buildSigmas(SD, IDX, 8, 'euler_ancestral');
    expect(buildSigmas(cfg, IDX, 8, 'euler_ancestral').sigmas).toEqual(plain.sigmas);
    expect(buildSigmas(cfg, IDX, 8, 'heun').sigmas[8]).toBe(0);
    expect(buildSigmas(cfg, IDX, 8, 'lms').sigmas[8]).toBe(0);
    expect(buildSigmas(cfg, IDX, 8, 'euler').sigmas[8]).toBeCloseTo(SMIN, 12);
  });

  it('DPM-Solver singlestep has no timestep_spacing key: always linspace with N + 1 points', () => {
    const s = buildSigmas({ ...SD, timestep_spacing: 'leading', steps_offset: 1 }, IDX, 10, 'dpm_2s');
    expect(s.timesteps).toEqual([999, 899, 799, 699, 599, 500, 400, 300, 200, 100]);
    expect(s.origin).toBe('DPMSolverSinglestepScheduler');
  });

  it('lambda_min_clipped cuts the cosine table (numpy searchsorted: 4 levels below -5.1, last = 996)', () => {
    const s = buildSigmas({ beta_schedule: 'squaredcos_cap_v2', lambda_min_clipped: -5.1 }, IDX, 10, 'dpmpp_2m');
    // round(linspace(0, 995, 11)) reversed, last dropped.
    expect(s.timesteps).toEqual([995, 896, 796, 696, 597, 498, 398, 298, 199, 100]);
    // UniPC has no such key.
    expect(buildSigmas({ beta_schedule: 'squaredcos_cap_v2', lambda_min_clipped: -5.1 }, IDX, 10, 'unipc').timesteps[0]).toBe(999);
  });

  it('trailing spacing is shared: multistep trailing = DDIM trailing', () => {
    const cfg = { ...SD, timestep_spacing: 'trailing' };
    expect(buildSigmas(cfg, IDX, 16, 'dpmpp_2m').timesteps).toEqual(buildSigmas(cfg, IDX, 16, 'ddim').timesteps);
  });
});

describe('zero terminal SNR (rescale_betas_zero_snr)', () => {
  const ZSNR = { ...SD, rescale_betas_zero_snr: true, timestep_spacing: 'trailing' };

  it('keeps abar_0, reaches abar = 0 at the end, which is floored at 2^-24', () => {
    const raw = diffusersAbar(ZSNR);
    // diffusers' rescale_zero_terminal_snr on its float32 betas (torch): abar_0 unchanged, abar_500 as printed.
    expect(raw[0]).toBe(0.9991499781608582);
    expect(raw[500]).toBe(0.24101859331130981);
    expect(raw[999]).toBeCloseTo(0, 15);
    const s = buildSigmas(ZSNR, IDX, 4, 'euler');
    // sqrt((1 - 2^-24) / 2^-24) = sqrt(2^24 - 1) = 4095.99987793 in float64; diffusers' float32 sqrt rounds it
    // down to 4095.999755859375 (the float64 value lies just below the midpoint of its two float32 neighbours).
    expect(s.sigmas[0]).toBe(4095.999755859375);
    expect(s.timesteps).toEqual([999, 749, 499, 249]);
  });

  it('classes without the key (DEIS, Heun, singlestep) use the plain table', () => {
    expect(buildSigmas(ZSNR, IDX, 4, 'deis').sigmas[0]).toBeCloseTo(SMAX, 10);
    expect(buildSigmas(ZSNR, IDX, 4, 'heun').sigmas[0]).toBeCloseTo(SMAX, 10);
    expect(buildSigmas(ZSNR, IDX, 4, 'dpmpp_2m').sigmas[0]).toBe(4095.999755859375);
  });
});

describe('overrides (Schedule node)', () => {
  it('spacing, grid and final level replace the config keys', () => {
    const s = buildSigmas(SD, IDX, 4, 'euler', { spacing: 'trailing' });
    expect(s.timesteps).toEqual([999, 749, 499, 249]);
    const k = buildSigmas(SD, IDX, 5, 'dpmpp_2m', { grid: 'karras', finalSigmasType: 'sigma_min' });
    expect(k.timesteps).toEqual([999, 786, 427, 59, 0]);
    expect(k.sigmas[5]).toBeCloseTo(SMIN, 12);
    // 'spaced' turns a config's Karras grid off.
    expect(buildSigmas({ ...SD, use_karras_sigmas: true }, IDX, 10, 'dpmpp_2m', { grid: 'spaced' }).timesteps[1]).toBe(899);
  });

  it('Karras on DDIM: table-end Karras levels with rounded integer timesteps, no DDIM targets', () => {
    const s = buildSigmas(SD, IDX, 5, 'ddim', { grid: 'karras' });
    expect(s.timesteps).toEqual([999, 786, 427, 59, 0]);
    expect(s.targets).toBeUndefined();
    expect(s.sigmas[5]).toBe(0); // set_alpha_to_one default true
  });

  it('DDIM final level: zero = set_alpha_to_one, sigma_min = first training level', () => {
    const cfg = { ...SD, timestep_spacing: 'leading', steps_offset: 1, set_alpha_to_one: false };
    expect(buildSigmas(cfg, IDX, 10, 'ddim').sigmas[10]).toBeCloseTo(SMIN, 12);
    expect(buildSigmas(cfg, IDX, 10, 'ddim', { finalSigmasType: 'zero' }).sigmas[10]).toBe(0);
  });

  it('custom sigmas: exact levels; VP timesteps by log-sigma interpolation (integer for DDIM/multistep)', () => {
    const levels = [SMAX, 1.0, 0.1, 0];
    const e = buildSigmas(SD, IDX, 99, 'euler', { grid: 'custom', customSigmas: levels });
    expect(e.sigmas).toEqual(levels);
    expect(e.timesteps[0]).toBe(999);
    const d = buildSigmas(SD, IDX, 99, 'dpmpp_2m', { grid: 'custom', customSigmas: levels });
    expect(d.timesteps.every(Number.isInteger)).toBe(true);
    expect(() => buildSigmas(SD, IDX, 5, 'euler', { grid: 'custom', customSigmas: [1, 2, 0] })).toThrow(/must decrease/);
    expect(() => buildSigmas(SD, IDX, 5, 'euler', { grid: 'custom', customSigmas: [1] })).toThrow(/at least two/);
  });

  it('flow: a shift override replaces static and dynamic shifting; custom levels are taken as given', () => {
    const flux = { _class_name: 'FlowMatchEulerDiscreteScheduler', use_dynamic_shifting: true };
    const s = buildSigmas(flux, { _class_name: 'FluxPipeline' }, 4, 'euler', { shift: 3 });
    close(s.sigmas, [1, 0.75, 0.5, 0.25].map((t) => (3 * t) / (1 + 2 * t)).concat([0]), 6);
    const c = buildSigmas(flux, { _class_name: 'FluxPipeline' }, 4, 'euler', { grid: 'custom', customSigmas: [1, 0.5, 0] });
    expect(c.sigmas).toEqual([1, 0.5, 0]);
    expect(() => buildSigmas(flux, { _class_name: 'FluxPipeline' }, 4, 'euler', { grid: 'custom', customSigmas: [2, 0] })).toThrow(/\[0, 1\]/);
    expect(() => buildSigmas(flux, { _class_name: 'FluxPipeline' }, 4, 'euler', { grid: 'lu_lambda' })).toThrow(/lu_lambda/);
  });
});

describe('flow models with multistep configs (use_flow_sigmas, e.g. Sana)', () => {
  const SANA = { _class_name: 'DPMSolverMultistepScheduler', use_flow_sigmas: true, flow_shift: 3.0, prediction_type: 'flow_prediction' };

  it('is a flow model; DPM-Solver: shift(1 - linspace(1, 1/T, N+1)) reversed, last dropped; int timesteps', () => {
    expect(sigmaSpace({ _class_name: 'SanaPipeline' }, SANA)).toBe('flow');
    const s = buildSigmas(SANA, { _class_name: 'SanaPipeline' }, 4, 'dpmpp_2m');
    const sh = (x: number) => (3 * x) / (1 + 2 * x);
    // 1 - linspace(1, 0.001, 5) = 0, 0.24975, 0.4995, 0.74925, 0.999.
    close(s.sigmas, [sh(0.999), sh(0.74925), sh(0.4995), sh(0.24975), 0], 12);
    expect(s.timesteps).toEqual([999, 899, 749, 499]);
    expect(initNoiseSigma(s, SANA)).toBe(1);
  });

  it('UniPC: shift(linspace(1, 1/T, N+1)[:-1]) with the first level nudged to 1 - 1e-6', () => {
    const s = buildSigmas({ ...SANA, _class_name: 'UniPCMultistepScheduler' }, { _class_name: 'SanaPipeline' }, 4, 'unipc');
    close(s.sigmas, [0.999999, 0.9001199760047992, 0.7503748125937031, 0.5009990009990011, 0], 12);
    expect(s.timesteps).toEqual([999, 900, 750, 500]);
  });

  it('Euler on such a config follows FlowMatch rules (its shift key, default 1)', () => {
    const s = buildSigmas(SANA, { _class_name: 'SanaPipeline' }, 4, 'euler');
    expect(s.origin).toBe('FlowMatchEulerDiscreteScheduler');
  });
});

describe('solver -> family', () => {
  it('maps every issue-4 solver to its diffusers family', () => {
    const expected: Record<string, string> = {
      ddim: 'ddim',
      euler: 'euler',
      euler_ancestral: 'euler',
      heun: 'euler',
      lms: 'euler',
      dpmpp_2m: 'multistep',
      dpmpp_3m: 'multistep',
      dpmpp_2m_sde: 'multistep',
      dpm_1s: 'multistep',
      dpm_2s: 'multistep',
      dpm_3s: 'multistep',
      unipc: 'multistep',
      deis: 'multistep',
    };
    for (const [solver, family] of Object.entries(expected)) expect(gridFamily('vp', solver)).toBe(family);
    for (const solver of Object.keys(SOLVER_SCHEDULERS)) expect(gridFamily('flow', solver)).toBe('flow');
    expect(gridFamily('flow', 'flow-euler')).toBe('flow');
    expect(() => gridFamily('vp', 'rf_solver')).toThrow(/flow models only/);
    expect(() => gridFamily('vp', 'dpm++')).toThrow(/solver "dpm\+\+"/);
  });

  it('defaults from the scheduler class', () => {
    expect(defaultSolverFor({ _class_name: 'EulerAncestralDiscreteScheduler' }, 'vp')).toBe('euler_ancestral');
    expect(defaultSolverFor({ _class_name: 'PNDMScheduler' }, 'vp')).toBe('pndm');
    expect(defaultSolverFor({ _class_name: 'FlowMatchEulerDiscreteScheduler' }, 'flow')).toBe('flow_euler');
    expect(defaultSolverFor({ _class_name: 'FlowMatchHeunDiscreteScheduler' }, 'flow')).toBe('heun');
    expect(defaultSolverFor({ _class_name: 'DPMSolverMultistepScheduler', use_flow_sigmas: true }, 'flow')).toBe('dpmpp_2m');
  });
});
