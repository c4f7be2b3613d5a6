/**
 * Grids of representative models pinned against literals computed outside the project: by hand from the
 * formulas in the comments, or with a few lines of numpy that follow diffusers' set_timesteps (float64
 * numpy, float32 where diffusers casts, its training table included), e.g. `np.linspace(0, 999, 11).round()[::-1][:-1]`.
 */
import { describe, expect, it } from 'vitest';
import { buildSigmas, initNoiseSigma } from '../nodes/sampling/schedules.ts';

const SD = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 };
const SD_INDEX = { _class_name: 'StableDiffusionPipeline' };
/**
 * diffusers' table, as its float32 tensors hold it (torch): sig = ((1 - abar) / abar) ** 0.5, abar =
 * cumprod(1 - linspace(sqrt(0.00085), sqrt(0.012), 1000, dtype=float32) ** 2). Levels between its entries:
 * numpy's float64 np.interp over those float32 values.
 */
const SD_SIGMA_MAX = 14.614645004272461;
const SD_SIGMA_MIN = 0.029167532920837402;

function close(actual: readonly number[], expected: readonly number[], digits = 10): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i], digits));
}

describe('SD 1.5 (scaled_linear 0.00085..0.012)', () => {
  it('table ends: sigma_max 14.6146, sigma_min 0.02917', () => {
    const s = buildSigmas(SD, SD_INDEX, 1000, 'euler');
    expect(s.sigmas[0]).toBeCloseTo(14.6146, 4);
    expect(s.sigmas[999]).toBeCloseTo(0.02917, 5);
  });

  it('DDIM 50 steps, leading, steps_offset 1 -> 981, 961, ..., 21, 1', () => {
    const s = buildSigmas({ ...SD, _class_name: 'DDIMScheduler', timestep_spacing: 'leading', steps_offset: 1 }, SD_INDEX, 50, 'ddim');
    expect(s.timesteps).toEqual(Array.from({ length: 50 }, (_, i) => 981 - 20 * i));
  });
});

describe('SD-Turbo (EulerDiscrete, trailing)', () => {
  const TURBO = { ...SD, _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'trailing', steps_offset: 1 };

  it('1 step -> t = 999 at sigma_max; init noise sigma_max (trailing)', () => {
    const s = buildSigmas(TURBO, SD_INDEX, 1, 'euler');
    expect(s.timesteps).toEqual([999]);
    close(s.sigmas, [SD_SIGMA_MAX, 0]);
    expect(initNoiseSigma(s, TURBO)).toBeCloseTo(SD_SIGMA_MAX, 10);
  });

  it('4 steps -> 999, 749, 499, 249 (round(arange(1000, 0, -250)) - 1)', () => {
    const s = buildSigmas(TURBO, SD_INDEX, 4, 'euler');
    expect(s.timesteps).toEqual([999, 749, 499, 249]);
    close(s.sigmas, [SD_SIGMA_MAX, 4.081730842590332, 1.6128870248794556, 0.6932054162025452, 0]);
  });
});

describe('SDXL (EulerDiscrete, leading, steps_offset 1)', () => {
  const SDXL = { ...SD, _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'leading', steps_offset: 1, interpolation_type: 'linear' };

  it('25 steps: T//25 = 40 -> 961, 921, ..., 1; init noise sqrt(sigma(961)^2 + 1)', () => {
    const s = buildSigmas(SDXL, { _class_name: 'StableDiffusionXLPipeline' }, 25, 'euler');
    expect(s.timesteps).toEqual(Array.from({ length: 25 }, (_, i) => 961 - 40 * i));
    expect(s.sigmas[0]).toBeCloseTo(11.676050186157227, 10);
    expect(s.sigmas[25]).toBe(0);
    expect(initNoiseSigma(s, SDXL)).toBeCloseTo(11.71879464576721, 10);
  });

  it('linspace interpolates sigmas at fractional timesteps (float32 linspace(0, 999, 7))', () => {
    const s = buildSigmas({ ...SDXL, timestep_spacing: 'linspace' }, SD_INDEX, 7, 'euler');
    expect(s.timesteps).toEqual([999, 832.5, 666, 499.5, 333, 166.5, 0]);
    // numpy: np.interp(ts, np.arange(1000), sig).
    close(s.sigmas.slice(0, 7), [SD_SIGMA_MAX, 5.948917865753174, 2.9183082580566406, 1.6155833005905151, 0.9323583245277405, 0.4935535043478012, SD_SIGMA_MIN]);
  });
});

describe('SD3 (FlowMatchEuler, shift 3.0)', () => {
  const SD3 = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3.0 };
  const SD3_INDEX = { _class_name: 'StableDiffusion3Pipeline' };

  it('28 steps: the doubly shifted table ends on ~0.00893; timesteps = sigma * 1000', () => {
    const s = buildSigmas(SD3, SD3_INDEX, 28, 'euler');
    // By hand: sigma_min = 3e-3 / 1.002 = 0.0029940; shift again: 3 * 0.002994 / (1 + 2 * 0.002994) = 0.0089286.
    expect(s.sigmas[27]).toBeCloseTo(0.00893, 5);
    expect(s.sigmas[28]).toBe(0);
    // numpy/torch float32 reference.
    close(s.sigmas.slice(0, 3), [1.0, 0.9873806238174438, 0.9741077423095703], 7);
    expect(s.timesteps.slice(0, 3)).toEqual([1000, 987.380615234375, 974.1077270507812]);
    expect(s.timesteps[27]).toBeCloseTo(8.928571701049805, 4);
    expect(initNoiseSigma(s, SD3)).toBe(1);
  });
});

describe('FLUX (FluxPipeline sigmas, t / 1000)', () => {
  const DEV = {
    _class_name: 'FlowMatchEulerDiscreteScheduler',
    use_dynamic_shifting: true,
    base_image_seq_len: 256,
    max_image_seq_len: 4096,
    base_shift: 0.5,
    max_shift: 1.15,
    shift: 3.0,
  };
  const SCHNELL = { _class_name: 'FlowMatchEulerDiscreteScheduler', use_dynamic_shifting: false, shift: 1.0 };
  const FLUX = { _class_name: 'FluxPipeline' };

  it('dev at 1024^2 (4096 tokens): mu = 1.15, sigma = e^mu / (e^mu + 1/t - 1) on linspace(1, 1/N, N)', () => {
    const s = buildSigmas(DEV, FLUX, 4, 'euler', { imageSeqLen: (1024 / 16) * (1024 / 16) });
    const e = Math.exp(1.15);
    close(s.sigmas, [1, 0.75, 0.5, 0.25].map((t) => e / (e + 1 / t - 1)).concat([0]), 6);
    expect(s.timesteps).toEqual([1.0, 0.9045307636260986, 0.7595109343528748, 0.5128441452980042]);
  });

  it('dev at 512^2 (1024 tokens): mu = 0.5 + 768 * 0.65/3840 = 0.63', () => {
    const s = buildSigmas(DEV, FLUX, 4, 'euler', { imageSeqLen: 1024 });
    const e = Math.exp(0.63);
    close(s.sigmas.slice(0, 4), [1, 0.75, 0.5, 0.25].map((t) => e / (e + 1 / t - 1)), 9);
  });

  it('equal base and max token counts: the shift slope would divide by 0 (diffusers: ZeroDivisionError), refused with the keys named', () => {
    expect(() => buildSigmas({ ...DEV, max_image_seq_len: 256 }, FLUX, 4, 'euler', { imageSeqLen: 1024 })).toThrow(/base_image_seq_len and max_image_seq_len are both 256/);
  });

  it('schnell: no shift, 4 steps -> 1, 0.75, 0.5, 0.25, 0', () => {
    const s = buildSigmas(SCHNELL, FLUX, 4, 'euler');
    expect(s.sigmas).toEqual([1, 0.75, 0.5, 0.25, 0]);
    expect(s.timesteps).toEqual([1, 0.75, 0.5, 0.25]);
  });
});

describe('DPM-Solver multistep N + 1 rule', () => {
  it('10 steps linspace: round(linspace(0, 999, 11)) reversed, last dropped', () => {
    // 99.9 k: 999, 899.1, 799.2, 699.3, 599.4, 499.5 (-> 500, half to even), 399.6, 299.7, 199.8, 99.9.
    const s = buildSigmas(SD, SD_INDEX, 10, 'dpmpp_2m');
    expect(s.timesteps).toEqual([999, 899, 799, 699, 599, 500, 400, 300, 200, 100]);
    expect(s.sigmas[10]).toBe(0);
    expect(initNoiseSigma(s, SD)).toBeCloseTo(Math.sqrt(SD_SIGMA_MAX ** 2 + 1), 10);
  });

  it('20 steps leading + offset 1: ratio 1000 // 21 = 47 -> 941, 894, ..., 48', () => {
    const s = buildSigmas({ ...SD, timestep_spacing: 'leading', steps_offset: 1 }, SD_INDEX, 20, 'unipc');
    expect(s.timesteps).toEqual(Array.from({ length: 20 }, (_, i) => 941 - 47 * i));
  });
});
