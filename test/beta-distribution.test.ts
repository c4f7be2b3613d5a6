/**
 * The Beta quantile behind use_beta_sigmas grids, against scipy.stats.beta (values printed by scipy 1.10,
 * independent of this code).
 */
import { describe, expect, it } from 'vitest';
import { betaCdf, betaPpf, logGamma } from '../nodes/sampling/beta-distribution.ts';
import { betaSigmas } from '../nodes/sampling/sigma-grids.ts';

/** [a, b, p, scipy.stats.beta.ppf(p, a, b)] */
const PPF: [number, number, number, number][] = [
  [0.6, 0.6, 1e-6, 1.8558824624053043e-10],
  [0.6, 0.6, 0.01, 0.0008612388215429059],
  [0.6, 0.6, 0.1, 0.03958440558878085],
  [0.6, 0.6, 1 / 3, 0.2754132907776234],
  [0.6, 0.6, 0.9, 0.9604155944112192],
  [0.6, 0.6, 0.999999, 0.9999999998144118],
  [2, 5, 1e-6, 0.00025828782935406356],
  [2, 5, 0.1, 0.09259525891312873],
  [2, 5, 0.5, 0.26444998329566005],
  [2, 5, 0.9, 0.5103163065514917],
  [0.5, 0.5, 0.01, 0.00024671981713422146],
  [0.5, 0.5, 0.9, 0.9755282581475768],
  [3, 0.7, 1e-6, 0.012302992262996523],
  [3, 0.7, 0.1, 0.541538662017865],
  [3, 0.7, 0.5, 0.867187037708207],
];

describe('Beta distribution', () => {
  it.each(PPF)('ppf(%s, %s) at p = %s matches scipy', (a, b, p, want) => {
    expect(Math.abs(betaPpf(p, a, b) - want) / want).toBeLessThan(1e-12);
  });

  it('the cdf matches scipy, and inverts the ppf', () => {
    expect(betaCdf(0.3, 0.6, 0.6)).toBeCloseTo(0.35252651177214367, 14);
    expect(betaCdf(0.2, 2, 5)).toBeCloseTo(0.3446400000000002, 14); // = 1 - 0.8^6 - 6 (0.2) 0.8^5
    expect(betaCdf(0.999, 0.5, 0.5)).toBeCloseTo(0.9798649583666235, 14); // = (2/pi) asin(sqrt(x))
    for (const p of [0.05, 0.4, 0.77]) expect(betaCdf(betaPpf(p, 1.7, 0.4), 1.7, 0.4)).toBeCloseTo(p, 13);
  });

  it('ln Gamma: exact values and the reflection range', () => {
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 13);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 13);
    expect(logGamma(0.1)).toBeCloseTo(2.252712651734206, 13);
  });

  it('ends and bad arguments', () => {
    expect(betaPpf(0, 0.6, 0.6)).toBe(0);
    expect(betaPpf(1, 0.6, 0.6)).toBe(1);
    expect(() => betaPpf(1.5, 0.6, 0.6)).toThrow(/p must be in \[0, 1\]/);
    expect(() => betaPpf(0.5, 0, 1)).toThrow(/must be positive/);
  });

  it('beta sigma grids run from sigma_max to sigma_min, symmetric in [0, 1] for alpha = beta', () => {
    const s = betaSigmas(0.1, 10, 7);
    expect(s[0]).toBe(10);
    expect(s[6]).toBe(0.1);
    for (let i = 0; i < 7; i++) expect((s[i] - 0.1) / 9.9 + (s[6 - i] - 0.1) / 9.9).toBeCloseTo(1, 12);
    expect(betaSigmas(0.1, 10, 1)).toEqual([10]);
  });
});
