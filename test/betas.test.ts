import { describe, expect, it } from 'vitest';
import { alphasCumprod, betasFromConfig, rescaleZeroTerminalSnr, veSigma } from '../nodes/sampling/betas.ts';
import { vpTable } from '../nodes/sampling/sigma-grids.ts';

const SD15 = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 };

describe('betasFromConfig', () => {
  it('defaults to the DDPM linear schedule 1e-4..0.02 over 1000 steps', () => {
    const b = betasFromConfig({});
    expect(b.length).toBe(1000);
    expect(b[0]).toBeCloseTo(1e-4, 15);
    expect(b[999]).toBeCloseTo(0.02, 15);
    // Equal spacing: every difference is (0.02 - 1e-4) / 999.
    const step = (0.02 - 1e-4) / 999;
    for (const i of [1, 250, 998]) expect(b[i + 1] - b[i]).toBeCloseTo(step, 14);
  });

  it('scaled_linear is the square of a linspace of square roots', () => {
    const b = betasFromConfig({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 10 });
    const r0 = Math.sqrt(0.00085);
    const r1 = Math.sqrt(0.012);
    for (let i = 0; i < 10; i++) expect(b[i]).toBeCloseTo((r0 + (i / 9) * (r1 - r0)) ** 2, 15);
  });

  it('squaredcos_cap_v2 follows the cosine abar formula with the 0.999 cap', () => {
    const n = 50;
    const b = betasFromConfig({ beta_schedule: 'squaredcos_cap_v2', num_train_timesteps: n });
    const f = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    for (let i = 0; i < n - 1; i++) expect(b[i]).toBeCloseTo(1 - f((i + 1) / n) / f(i / n), 14);
    expect(b[n - 1]).toBe(0.999); // abar(1) = cos^2(pi/2) ~ 0, so the raw beta is ~1 and capped
    // The product of (1 - beta) telescopes back to abar(t)/abar(0) away from the cap.
    const abar = alphasCumprod(b);
    expect(abar[24]).toBeCloseTo(f(25 / n) / f(0), 12);
  });

  it('trained_betas are used as given', () => {
    expect([...betasFromConfig({ trained_betas: [0.1, 0.2, 0.3], beta_schedule: 'linear' })]).toEqual([0.1, 0.2, 0.3]);
  });

  it('rejects unknown schedules and bad values with clear messages', () => {
    expect(() => betasFromConfig({ beta_schedule: 'quadratic' })).toThrow(/unknown beta_schedule "quadratic"/);
    expect(() => betasFromConfig({ beta_start: 'x' })).toThrow(/beta_start/);
    expect(() => betasFromConfig({ num_train_timesteps: 0 })).toThrow(/num_train_timesteps/);
    expect(() => betasFromConfig({ trained_betas: [0.1, Number.NaN] })).toThrow(/trained_betas/);
  });

  it('SD 1.5 pins: VE sigma_max 14.6146 and sigma_min 0.02917', () => {
    const abar = alphasCumprod(betasFromConfig(SD15));
    expect(veSigma(abar[999])).toBeCloseTo(14.6146, 4);
    expect(Number(veSigma(abar[0]).toPrecision(4))).toBe(0.02917);
  });

  it('rescale_betas_zero_snr gives zero terminal SNR and keeps the first level', () => {
    const base = alphasCumprod(betasFromConfig(SD15));
    const abar = alphasCumprod(betasFromConfig({ ...SD15, rescale_betas_zero_snr: true }));
    expect(abar[999]).toBe(0);
    expect(abar[0]).toBeCloseTo(base[0], 14);
    // sqrt(abar) is an affine map of the original sqrt(abar): check the midpoint.
    const a0 = Math.sqrt(base[0]);
    const aT = Math.sqrt(base[999]);
    const expected = ((Math.sqrt(base[500]) - aT) * a0) / (a0 - aT);
    expect(Math.sqrt(abar[500])).toBeCloseTo(expected, 12);
    expect(rescaleZeroTerminalSnr(betasFromConfig(SD15))[999]).toBeCloseTo(1, 12);
  });
});

describe('alphasCumprod', () => {
  it('is the running product of 1 - beta', () => {
    expect([...alphasCumprod([0.5, 0.5, 0.2])]).toEqual([0.5, 0.25, 0.2]);
  });
});

describe('beta_schedule "exp" (HeunDiscreteScheduler)', () => {
  it('is betas_for_alpha_bar of exp(-12 t): every beta 1 - exp(-12 / T), abar(t_i) = exp(-12 (i + 1) / T)', () => {
    const betas = betasFromConfig({ beta_schedule: 'exp', num_train_timesteps: 50 });
    for (const b of betas) expect(b).toBeCloseTo(1 - Math.exp(-12 / 50), 14);
    const abar = alphasCumprod(betas);
    expect(abar[49]).toBeCloseTo(Math.exp(-12), 12);
  });
});

describe('vpTable: the training table as diffusers holds it (float32 tensors)', () => {
  // Literals printed by torch 1.13 (CPU) from diffusers' own expressions: torch.linspace(..., dtype=float32)
  // (** 2 for scaled_linear), rescale_zero_terminal_snr, torch.cumprod(1 - betas), ((1 - abar) / abar) ** 0.5.
  it("SD 1.x scaled_linear: its first and last levels and two abar entries, to the bit", () => {
    const t = vpTable({ ...SD15 });
    expect(t.sigmas[0]).toBe(0.029167532920837402);
    expect(t.sigmas[999]).toBe(14.614645004272461);
    expect(t.alphasCumprod[0]).toBe(0.9991499781608582);
    expect(t.alphasCumprod[500]).toBe(0.2763324975967407);
    // The float64 table's first level is 1e-5 relative away: 1 - abar cancels there.
    expect(Math.abs(veSigma(alphasCumprod(betasFromConfig(SD15))[0]) / t.sigmas[0] - 1)).toBeGreaterThan(1e-5);
  });

  it('the class defaults (linear 1e-4..0.02), to the bit', () => {
    const t = vpTable({});
    expect(t.sigmas[0]).toBe(0.010001329705119133);
    expect(t.sigmas[999]).toBe(157.40725708007812);
  });

  it('zero terminal SNR: the rescale in float32, the last abar floored at 2^-24 only where the class has the key', () => {
    const cfg = { ...SD15, rescale_betas_zero_snr: true };
    const t = vpTable(cfg);
    expect(t.alphasCumprod[998]).toBe(1.9678900287090073e-7);
    expect(t.sigmas[998]).toBe(2254.23681640625);
    expect(t.alphasCumprod[999]).toBe(2 ** -24);
    // Without the key (Heun, LMS, DEIS, ...): the plain SD table.
    expect(vpTable(cfg, false).sigmas[999]).toBe(14.614645004272461);
  });
});
