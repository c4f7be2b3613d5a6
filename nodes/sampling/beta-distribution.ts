/**
 * The Beta(a, b) distribution's quantile function, for diffusers' use_beta_sigmas grids ("Beta Sampling is
 * All You Need", Lee et al. 2024), which place levels at scipy.stats.beta.ppf of evenly spaced
 * probabilities. No npm package offers an accurate inverse incomplete beta without pulling in a whole
 * statistics library, so it is written here: the regularized incomplete beta function by its continued
 * fraction (Lentz's method), inverted by Newton steps kept inside a shrinking bisection bracket. Both are
 * float64 and agree with scipy to ~1e-15 (test/beta-distribution.test.ts pins scipy's values).
 */

// Lanczos approximation, g = 7, n = 9 (Godfrey's coefficients): ~15 significant digits for x > 0.
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Gamma(x) for x > 0. */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new Error(`logGamma: x must be positive, got ${x}`);
  // Reflection keeps the series in its accurate range: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let k = 1; k < LANCZOS.length; k++) sum += LANCZOS[k] / (z + k);
  const t = z + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln B(a, b). */
function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

const TINY = 1e-300;

/** The continued fraction of I_x(a, b) (modified Lentz), converging fast for x < (a + 1) / (a + b + 2). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    // Even step.
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + num / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    // Odd step.
    num = -((a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + num / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) return h;
  }
  throw new Error(`incomplete beta: the continued fraction did not converge (x ${x}, a ${a}, b ${b})`);
}

function checkShape(a: number, b: number): void {
  if (!(a > 0 && b > 0 && Number.isFinite(a) && Number.isFinite(b))) throw new Error(`beta distribution: a and b must be positive, got ${a} and ${b}`);
}

/** The regularized incomplete beta function I_x(a, b): the Beta(a, b) distribution function at x. */
export function betaCdf(x: number, a: number, b: number): number {
  checkShape(a, b);
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(a * Math.log(x) + b * Math.log1p(-x) - logBeta(a, b));
  // The fraction converges fast on one side of the mean; the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) covers the other.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** scipy.stats.beta.ppf(p, a, b): the x in [0, 1] with I_x(a, b) = p. */
export function betaPpf(p: number, a: number, b: number): number {
  checkShape(a, b);
  if (!(p >= 0 && p <= 1)) throw new Error(`beta quantile: p must be in [0, 1], got ${p}`);
  if (p === 0) return 0;
  if (p === 1) return 1;
  const lnB = logBeta(a, b);
  let lo = 0;
  let hi = 1;
  let x = a / (a + b);
  for (let iter = 0; iter < 200; iter++) {
    const f = betaCdf(x, a, b) - p;
    if (f === 0) return x;
    if (f < 0) lo = x;
    else hi = x;
    // Newton on the cdf (its derivative is the density); a step leaving the bracket bisects instead.
    const density = Math.exp((a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x) - lnB);
    const next = x - f / density;
    const bisect = 0.5 * (lo + hi);
    const x1 = next > lo && next < hi && Number.isFinite(next) ? next : bisect;
    if (Math.abs(x1 - x) <= 1e-17 + 4e-16 * x || hi - lo <= 4e-16 * Math.max(hi, 1e-300)) return x1;
    x = x1;
  }
  return x;
}
