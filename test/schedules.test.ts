import { describe, expect, it } from 'vitest';
import { sigmaSpace, timestepUnits } from '../nodes/sampling/model-time.ts';
import {
  buildSigmas,
  ddimSigmas,
  eulerSigmas,
  flowMatchSigmas,
  initNoiseSigma,
  roundHalfEven,
  sigmaToTimestep,
  vpTable,
} from '../nodes/sampling/schedules.ts';
import { comfyModelSampling } from '../nodes/sampling/comfy-schedules.ts';
import { diffusersAbar, veLevel } from './helpers/diffusers-table.ts';

const SD = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 };
const SD_DDIM = { ...SD, _class_name: 'DDIMScheduler', timestep_spacing: 'leading', steps_offset: 1, set_alpha_to_one: false };
const SD_INDEX = { _class_name: 'StableDiffusionPipeline' };

/** VE level of training step t, computed here from the (separately tested) cumulative product. */
const abar = diffusersAbar(SD);
const ve = (t: number) => veLevel(abar[t]);

describe('DDIM grid (DDIMScheduler rules)', () => {
  it('pin: 50 steps, leading, steps_offset 1 -> 981, 961, ..., 21, 1', () => {
    const s = buildSigmas(SD_DDIM, SD_INDEX, 50, 'ddim');
    expect(s.timesteps).toEqual(Array.from({ length: 50 }, (_, i) => 981 - 20 * i));
    expect(s.space).toBe('vp');
    expect(s.origin).toBe('DDIMScheduler');
    // Leading steps land on the next grid level, so no separate targets; the last goes to abar[0] (set_alpha_to_one false).
    expect(s.targets).toBeUndefined();
    expect(s.sigmas[0]).toBeCloseTo(ve(981), 12);
    expect(s.sigmas[50]).toBeCloseTo(ve(0), 12);
    expect(s.sigmas[50]).toBeCloseTo(0.02917, 5);
  });

  it('linspace rounds half to even and steps to prev_t = t - T//N, not to the next grid level', () => {
    // linspace(0, 999, 3) = 0, 499.5, 999 -> numpy round: 0, 500, 999.
    const s = ddimSigmas({ ...SD, timestep_spacing: 'linspace' }, 3);
    expect(s.timesteps).toEqual([999, 500, 0]);
    // T//N = 333; prev_t of 0 is negative -> final_alpha_cumprod = 1 (set_alpha_to_one defaults to true).
    expect(s.targets).toEqual([ve(666), ve(167), 0]);
    expect(s.sigmas).toEqual([ve(999), ve(500), ve(0), 0]);
  });

  it('trailing: round(arange(T, 0, -T/N)) - 1', () => {
    // 1000 - 62.5 i, numpy-rounded (937.5 -> 938, 812.5 -> 812), minus 1.
    const s = ddimSigmas({ ...SD, timestep_spacing: 'trailing' }, 16);
    expect(s.timesteps).toEqual([999, 937, 874, 811, 749, 687, 624, 561, 499, 437, 374, 311, 249, 187, 124, 61]);
    // prev_t = t - 62: 937, 875, ... differs from the grid.
    expect(s.targets?.[0]).toBeCloseTo(ve(937), 12);
    expect(s.targets?.[1]).toBeCloseTo(ve(875), 12);
  });

  it('trailing at N = 48: numpy arange fills entry i as T + i ((T - T/N) - T), so 937.4999999999999 rounds down', () => {
    // numpy: np.round(np.arange(1000, 0, -1000/48)) - 1 (i * T/N would give 937.5 -> 938, one above at i = 3).
    const s = ddimSigmas({ ...SD, timestep_spacing: 'trailing' }, 48);
    expect(s.timesteps).toEqual([
      999, 978, 957, 936, 916, 895, 874, 853, 832, 811, 791, 770, 749, 728, 707, 686, 666, 645, 624, 603, 582, 561, 541, 520, 499, 478, 457, 436, 416, 395,
      374, 353, 332, 311, 291, 270, 249, 228, 207, 186, 166, 145, 124, 103, 82, 61, 41, 20,
    ]);
  });

  it('trailing spacing always gives N steps (numpy arange gives N + 1 for N = 61)', () => {
    const s = ddimSigmas({ ...SD, timestep_spacing: 'trailing' }, 61);
    expect(s.timesteps.length).toBe(61);
    expect(Math.min(...s.timesteps)).toBeGreaterThanOrEqual(0);
  });

  it('rejects bad step counts and spacings', () => {
    expect(() => ddimSigmas(SD, 1001)).toThrow(/cannot exceed/);
    expect(() => ddimSigmas(SD, 0)).toThrow(/positive integer/);
    expect(() => ddimSigmas({ ...SD, timestep_spacing: 'middle' }, 10)).toThrow(/timestep_spacing/);
  });
});

describe('Euler grid (EulerDiscreteScheduler rules)', () => {
  it('linspace keeps fractional timesteps and interpolates sigma linearly, then appends 0', () => {
    const s = eulerSigmas(SD, 3);
    expect(s.timesteps).toEqual([999, 499.5, 0]);
    expect(s.sigmas[0]).toBeCloseTo(ve(999), 12);
    expect(s.sigmas[1]).toBeCloseTo((ve(499) + ve(500)) / 2, 12);
    expect(s.sigmas[2]).toBeCloseTo(ve(0), 12);
    expect(s.sigmas[3]).toBe(0);
    // SD 1.5 pins on the table ends.
    expect(s.sigmas[0]).toBeCloseTo(14.6146, 4);
    expect(initNoiseSigma(s, SD)).toBe(s.sigmas[0]);
  });

  it('leading: T//N multiples plus steps_offset; init noise sigma sqrt(sigma_max^2 + 1)', () => {
    const cfg = { ...SD, timestep_spacing: 'leading', steps_offset: 1 };
    const s = eulerSigmas(cfg, 4);
    expect(s.timesteps).toEqual([751, 501, 251, 1]);
    expect(s.sigmas.slice(0, 4)).toEqual([ve(751), ve(501), ve(251), ve(1)]);
    expect(initNoiseSigma(s, cfg)).toBeCloseTo(Math.sqrt(ve(751) ** 2 + 1), 12);
  });

  it('final_sigmas_type sigma_min ends on the first training level', () => {
    const s = eulerSigmas({ ...SD, final_sigmas_type: 'sigma_min' }, 5);
    expect(s.sigmas[5]).toBeCloseTo(ve(0), 12);
  });

  it('log_linear: geometric levels from sigma_max that end on sigma_min (diffusers never reaches its appended 0)', () => {
    const s = eulerSigmas({ ...SD, interpolation_type: 'log_linear' }, 4);
    expect(s.sigmas.length).toBe(5);
    const ratio = Math.pow(ve(0) / ve(999), 1 / 4);
    s.sigmas.forEach((v, i) => expect(v).toBeCloseTo(ve(999) * ratio ** i, 10));
    expect(s.timesteps).toEqual([999, 666, 333, 0]);
  });

  it('zero terminal SNR floors the last abar at 2^-24 (finite sigma_max ~ 4096)', () => {
    const s = eulerSigmas({ ...SD, rescale_betas_zero_snr: true, timestep_spacing: 'trailing' }, 10);
    expect(s.sigmas[0]).toBe(4095.999755859375);
  });

  it('karras levels span the table and map back to t by log-sigma interpolation', () => {
    const s = eulerSigmas({ ...SD, use_karras_sigmas: true }, 10);
    expect(s.sigmas[0]).toBeCloseTo(ve(999), 10);
    expect(s.sigmas[9]).toBeCloseTo(ve(0), 10);
    // rho = 7: the middle of the ramp in sigma^(1/7).
    const mid = ((ve(999) ** (1 / 7) + ve(0) ** (1 / 7)) / 2) ** 7;
    const s2 = eulerSigmas({ ...SD, use_karras_sigmas: true }, 3);
    expect(s2.sigmas[1]).toBeCloseTo(mid, 10);
    expect(s.timesteps[0]).toBeCloseTo(999, 3);
    expect(s.timesteps[9]).toBeCloseTo(0, 3);
  });

  it('sigmaToTimestep inverts the table and interpolates in log sigma', () => {
    const table = vpTable(SD);
    expect(sigmaToTimestep(table, ve(400))).toBeCloseTo(400, 9);
    expect(sigmaToTimestep(table, Math.sqrt(ve(400) * ve(401)))).toBeCloseTo(400.5, 9);
    expect(sigmaToTimestep(table, 1e-6)).toBe(0);
    expect(sigmaToTimestep(table, 1e6)).toBe(999);
  });
});

describe('flow-matching grid (FlowMatchEulerDiscreteScheduler rules)', () => {
  const shift = (s: number, k: number) => (k * s) / (1 + (k - 1) * s);

  it('shift 3: the table is shifted in __init__ and again in set_timesteps (last sigma ~0.00893)', () => {
    const s = flowMatchSigmas({ shift: 3, num_train_timesteps: 1000 }, 3);
    // __init__ computes the shifted table in float32.
    const f = Math.fround;
    const smin = f(f(3 * f(0.001)) / f(1 + f(2 * f(0.001))));
    const raw = [1, (1 + smin) / 2, smin];
    expect(s.space).toBe('flow');
    raw.forEach((r, i) => expect(s.sigmas[i]).toBeCloseTo(shift(r, 3), 12));
    expect(s.sigmas[3]).toBe(0);
    expect(s.sigmas[2]).toBeCloseTo(0.00893, 5);
    expect(s.timesteps[0]).toBe(1000);
    // torch: timesteps = float32 sigmas * 1000, in float32.
    expect(s.timesteps[1]).toBe(f(f(shift(raw[1], 3)) * 1000));
  });

  it('fraction units give t = sigma; SD3-style units give sigma * 1000', () => {
    const cfg = { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3 };
    const frac = buildSigmas(cfg, { _class_name: 'X', flowstudio: { timestep_units: 'fraction' } }, 8, 'ddim');
    frac.timesteps.forEach((t, i) => expect(t).toBeCloseTo(frac.sigmas[i], 6));
    const sd3 = buildSigmas(cfg, { _class_name: 'StableDiffusion3Pipeline' }, 8, 'euler');
    sd3.timesteps.forEach((t, i) => expect(t).toBeCloseTo(sd3.sigmas[i] * 1000, 3));
    expect(initNoiseSigma(sd3, cfg)).toBe(1);
  });

  it('FluxPipeline: linspace(1, 1/N, N) with the exponential time shift mu from the token count', () => {
    const cfg = { _class_name: 'FlowMatchEulerDiscreteScheduler', use_dynamic_shifting: true, shift: 3 };
    const s = buildSigmas(cfg, { _class_name: 'FluxPipeline' }, 4, 'euler', { imageSeqLen: 4096 });
    const mu = 1.15; // 4096 tokens: the max_shift end of the line
    const expected = [1, 0.75, 0.5, 0.25].map((t) => Math.exp(mu) / (Math.exp(mu) + (1 / t - 1)));
    expected.forEach((e, i) => expect(s.sigmas[i]).toBeCloseTo(e, 6));
    // FLUX transformers take t / 1000 of float32 timesteps: numpy reference (float32 throughout).
    expect(s.timesteps).toEqual([1.0, 0.9045307636260986, 0.7595109343528748, 0.5128441452980042]);
    expect(() => buildSigmas(cfg, { _class_name: 'FluxPipeline' }, 4, 'euler')).toThrow(/mu/);
  });
});

describe('model space and units', () => {
  it('keys on model_index and the scheduler class', () => {
    expect(sigmaSpace(SD_INDEX, SD_DDIM)).toBe('vp');
    expect(sigmaSpace({}, { _class_name: 'FlowMatchEulerDiscreteScheduler' })).toBe('flow');
    expect(sigmaSpace({ _class_name: 'FluxPipeline' }, {})).toBe('flow');
    expect(timestepUnits({ _class_name: 'FluxPipeline' })).toBe('fraction');
    expect(timestepUnits({ _class_name: 'StableDiffusion3Pipeline' })).toBe('scheduler');
    expect(timestepUnits({ 'flowstudio.timestep_units': 'fraction' })).toBe('fraction');
    expect(() => timestepUnits({ flowstudio: { timestep_units: 'ms' } })).toThrow(/timestep_units/);
  });

  it('VP fraction units divide the scheduler timestep by T', () => {
    const s = buildSigmas(SD_DDIM, { flowstudio: { timestep_units: 'fraction' } }, 50, 'ddim');
    expect(s.timesteps[0]).toBeCloseTo(0.981, 12);
  });

  it('refuses betas that leave no signal (an infinite level) with the config keys, in every table', () => {
    // sum(beta) ~ 270 here: abar falls below float32's smallest value (diffusers' tables) and its level
    // past float32's largest (ComfyUI's float64 levels kept in float32).
    const washed = { ...SD_DDIM, beta_end: 0.79 };
    const refused = /betas \(beta_schedule scaled_linear, beta_start 0\.00085, beta_end 0\.79\) leave no signal from training step (\d+) of 1000 on/;
    for (const solver of ['ddim', 'euler', 'dpmpp_2m', 'dpmpp_sde']) {
      const thrown = (() => {
        try {
          buildSigmas(washed, SD_INDEX, 10, solver);
        } catch (e) {
          return (e as Error).message;
        }
        return 'no error';
      })();
      expect(thrown, solver).toMatch(refused);
      expect(Number(refused.exec(thrown)![1])).toBeGreaterThan(500);
    }
    expect(() => comfyModelSampling(washed, 'vp')).toThrow(refused);
    // abar positive but below ~3e-39: (1 - abar) / abar, taken before the root, overflows float32. The
    // DPM-Solver family's beta levels came out Infinity and NaN here.
    const overflow = { ...SD_DDIM, beta_end: 0.25, use_beta_sigmas: true };
    for (const solver of ['dpmpp_2m', 'unipc', 'euler']) expect(() => buildSigmas(overflow, SD_INDEX, 5, solver), solver).toThrow(/beta_end 0\.25\) leave no signal from training step \d+ of 1000 on/);
    // Large but finite everywhere, and a zero-SNR table, whose last abar is 0 by design, are fine.
    expect(buildSigmas({ ...SD_DDIM, beta_end: 0.1 }, SD_INDEX, 10, 'euler').sigmas[0]).toBeGreaterThan(1e6);
    expect(buildSigmas({ ...SD_DDIM, rescale_betas_zero_snr: true, timestep_spacing: 'trailing' }, SD_INDEX, 10, 'ddim').timesteps[0]).toBe(999);
    expect(comfyModelSampling({ ...SD_DDIM, beta_end: 0.1 }, 'vp').sigmaMax).toBeLessThan(Infinity);
  });

  it('unknown solvers are named', () => {
    expect(() => buildSigmas(SD_DDIM, SD_INDEX, 10, 'dpm++')).toThrow(/solver "dpm\+\+"/);
  });
});

describe('roundHalfEven', () => {
  it('matches numpy round', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 2, 3]);
  });
});
