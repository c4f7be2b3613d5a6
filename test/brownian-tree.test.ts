/**
 * numpy's SeedSequence, torchsde's BrownianTree and ComfyUI's BrownianTreeNoiseSampler against their
 * own outputs (test/fixtures/brownian, made by scripts/torch-random/make-brownian-refs.py), and the
 * properties of a Brownian path that a wrong tree would break.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BrownianTree, comfyBrownianNoise, pythonRound } from '../nodes/core/brownian-tree.ts';
import { readNpy } from '../nodes/core/io/npy.ts';
import { SeedSequence } from '../nodes/core/seed-sequence.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'brownian');

interface TreeCase {
  seed: string;
  size: number;
  sigma_min: number;
  sigma_max: number;
  file: string;
  queries: { kind: 'raw' | 'comfy'; a: number; b: number }[];
}
const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as {
  seed_sequence: { entropy: string; spawn_key: string[]; pool_size: number; state: number[] }[];
  python_round: { x: number; ndigits: number; rounded: number }[];
  karras_sigmas: number[];
  sde_midpoints: (number | null)[];
  trees: TreeCase[];
};

/** Our answers to a fixture tree's queries, in its order: raw tree(a, b) or the Comfy sampler's noise(a, b). */
function answer(c: TreeCase): Float32Array[] {
  const seed = BigInt(c.seed);
  const tree = new BrownianTree({ t0: c.sigma_min, t1: c.sigma_max, size: c.size, entropy: seed });
  const noise = comfyBrownianNoise({ sigmaMin: c.sigma_min, sigmaMax: c.sigma_max, size: c.size, seed });
  return c.queries.map((q) => (q.kind === 'raw' ? tree.increment(q.a, q.b) : noise(q.a, q.b)));
}

function reference(capture: 'default' | 'native', c: TreeCase): Float32Array[] {
  const { data } = readNpy(readFileSync(join(FIXTURES, `${capture}-${c.file}`)));
  return c.queries.map((_, k) => data.subarray(k * c.size, (k + 1) * c.size));
}

const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

/** One float32 ulp at |x|'s binade. */
const ulpAt = (x: number): number => 2 ** (Math.floor(Math.log2(x)) - 23);

describe('SeedSequence', () => {
  it('gives numpy\'s generate_state words (entropy 0, > 2^32, 2^64 - 1, multi-word spawn keys, pools 4..24)', () => {
    for (const c of manifest.seed_sequence) {
      const seq = new SeedSequence(BigInt(c.entropy), { spawnKey: c.spawn_key.map(BigInt), poolSize: c.pool_size });
      expect(Array.from(seq.generateState(c.state.length)), JSON.stringify(c)).toEqual(c.state);
    }
  });

  it('gives SeedSequence(42, spawn_key=(0, 0), pool_size=24).generate_state(4) from Debian numpy 1.24', () => {
    expect(Array.from(new SeedSequence(42, { spawnKey: [0, 0], poolSize: 24 }).generateState(4))).toEqual([2102017995, 2891809698, 2144110403, 379559146]);
  });

  it('takes safe numbers and bigints alike, and a state prefix does not depend on how many words are asked for', () => {
    expect(new SeedSequence(2 ** 32 + 5, { poolSize: 24 }).generateState(3)).toEqual(new SeedSequence(2n ** 32n + 5n, { poolSize: 24 }).generateState(3));
    expect(new SeedSequence(9).generateState(10).subarray(0, 3)).toEqual(new SeedSequence(9).generateState(3));
  });

  it('refuses what numpy refuses, and numbers that may have lost their low bits', () => {
    expect(() => new SeedSequence(-1)).toThrow(/non-negative/);
    expect(() => new SeedSequence(1.5)).toThrow(/safe integer or a bigint/);
    expect(() => new SeedSequence(2 ** 60)).toThrow(/safe integer or a bigint/);
    expect(() => new SeedSequence(1, { spawnKey: [-2n] })).toThrow(/spawnKey\[0\].*non-negative/);
    expect(() => new SeedSequence(1, { poolSize: 3 })).toThrow(/poolSize/);
  });
});

describe('pythonRound', () => {
  it('matches CPython\'s round(x, ndigits), exact ties to even included', () => {
    for (const c of manifest.python_round) expect(pythonRound(c.x, c.ndigits), `round(${c.x}, ${c.ndigits})`).toBe(c.rounded);
  });
});

describe('BrownianTree and ComfyUI noise against torchsde', () => {
  // Fixture queries: DPM++ 2M SDE steps (raw tree and Comfy noise), DPM++ SDE midpoint and full steps
  // (Comfy noise), and raw queries across several nodes, clamped at both ends, with equal ends, through
  // a 6-digit rounding tie, and 2e-6 wide.
  const small = manifest.trees.filter((c) => c.size < 16);
  const large = manifest.trees.filter((c) => c.size >= 16);

  it('is bit for bit torchsde for latents under 16 elements (torch draws those through its double path)', () => {
    expect(small.length).toBeGreaterThan(0);
    for (const c of small) {
      const got = answer(c);
      for (const capture of ['default', 'native'] as const) {
        reference(capture, c).forEach((ref, k) => expect(got[k], `seed ${c.seed}, query ${k} (${capture})`).toEqual(ref));
      }
    }
  });

  // From 16 elements torch's randn uses float Box-Muller (logf, cosf, sinf), which ours follows to
  // 2 float ulps per normal (test/torch-random.test.ts). The bridge passes such a difference on to every
  // node below, and W_right = W - W_left cancels, so the bound is in ulps of the query's largest value,
  // not of each element.
  it('matches torch\'s scalar kernels to 2 ulps of each query\'s largest value, most elements bit for bit', () => {
    let same = 0;
    let total = 0;
    for (const c of large) {
      const got = answer(c);
      reference('default', c).forEach((ref, k) => {
        const bound = ref.some((v) => v !== 0) ? 2 * ulpAt(maxAbs(ref)) : 0;
        for (let i = 0; i < ref.length; i++) {
          expect(Math.abs(got[k][i] - ref[i]), `seed ${c.seed}, query ${k}, element ${i}: ${got[k][i]} vs ${ref[i]}`).toBeLessThanOrEqual(bound);
          if (got[k][i] === ref[i]) same++;
        }
        total += ref.length;
      });
    }
    expect(same / total).toBeGreaterThan(0.95);
  });

  // With AVX2, torch computes those log/sin/cos with SLEEF's vector functions (about 3e-6 apart from
  // ours, see test/torch-random.test.ts): 1e-6 of the query's largest value, about 8 float ulps.
  it('matches torch\'s SIMD kernels to 1e-6 of each query\'s largest value', () => {
    for (const c of large) {
      const got = answer(c);
      reference('native', c).forEach((ref, k) => {
        const bound = 1e-6 * maxAbs(ref);
        for (let i = 0; i < ref.length; i++) expect(Math.abs(got[k][i] - ref[i]), `seed ${c.seed}, query ${k}, element ${i}`).toBeLessThanOrEqual(bound);
      });
    }
  });

  it('the fixture queries include deep, clamped and empty ones', () => {
    const raws = manifest.trees[0].queries.filter((q) => q.kind === 'raw');
    expect(raws.some((q) => q.a < manifest.trees[0].sigma_min)).toBe(true);
    expect(raws.some((q) => q.b > manifest.trees[0].sigma_max)).toBe(true);
    expect(raws.some((q) => q.a === q.b)).toBe(true);
    expect(raws.some((q) => q.b - q.a < 1e-5)).toBe(true);
  });
});

const T0 = Math.fround(0.0292);
const T1 = Math.fround(14.6146);

describe('BrownianTree as a Brownian path', () => {
  it('adds up: W(a, c) = W(a, b) + W(b, c) to float32 rounding, over one split and over many', () => {
    const tree = new BrownianTree({ t0: T0, t1: T1, size: 256, entropy: 3 });
    for (const [a, b, c] of [[0.1, 0.7, 3.3], [T0, 7.3219, T1], [1.234567, 1.234568, 1.5], [2, 5, 11]]) {
      const ab = tree.increment(a, b);
      const bc = tree.increment(b, c);
      const ac = tree.increment(a, c);
      const bound = 8 * ulpAt(Math.max(maxAbs(ab), maxAbs(bc)));
      for (let i = 0; i < ac.length; i++) expect(Math.abs(ac[i] - (ab[i] + bc[i])), `[${a}, ${b}, ${c}] element ${i}`).toBeLessThanOrEqual(bound);
    }
    const grid = Array.from({ length: 21 }, (_, k) => 0.5 + 0.5 * k);
    const sum = new Float64Array(256);
    for (let k = 0; k + 1 < grid.length; k++) tree.increment(grid[k], grid[k + 1]).forEach((v, i) => (sum[i] += v));
    const whole = tree.increment(grid[0], grid[grid.length - 1]);
    for (let i = 0; i < whole.length; i++) expect(Math.abs(whole[i] - sum[i])).toBeLessThan(2e-5);
  });

  it('answers a query the same whatever came between, even when a tiny cache forgets everything', () => {
    for (const cacheSize of [0, 1, 3]) {
      const tree = new BrownianTree({ t0: T0, t1: T1, size: 40, entropy: 11, cacheSize });
      const first = tree.increment(0.3, 0.9);
      for (const [a, b] of [[5, 6], [0.05, 14], [0.31, 0.32], [8.5, 8.500002]]) tree.increment(a, b);
      expect(tree.increment(0.3, 0.9), `cacheSize ${cacheSize}`).toEqual(first);
      expect(first).toEqual(new BrownianTree({ t0: T0, t1: T1, size: 40, entropy: 11 }).increment(0.3, 0.9));
    }
  });

  it('does not depend on the order of the queries (the halfway tree)', () => {
    const queries = [[0.1, 0.2], [3, 4.5], [0.05, 9], [4.5, 4.6], [1.23456, 7.654321], [T0, T1], [2.2, 2.200001]];
    const forward = new BrownianTree({ t0: T0, t1: T1, size: 24, entropy: 5n });
    const backward = new BrownianTree({ t0: T0, t1: T1, size: 24, entropy: 5n, cacheSize: 4 });
    const ahead = queries.map(([a, b]) => forward.increment(a, b));
    const behind = [...queries].reverse().map(([a, b]) => backward.increment(a, b)).reverse();
    ahead.forEach((w, k) => expect(behind[k], `query ${k}`).toEqual(w));
  });

  it('keeps at most cacheSize node increments, so memory stays bounded for large latents', () => {
    const tree = new BrownianTree({ t0: T0, t1: T1, size: 8, entropy: 1, cacheSize: 5 });
    for (let k = 0; k < 30; k++) tree.increment(0.03 + 0.4 * k, 0.05 + 0.45 * k);
    expect((Reflect.get(tree, 'cache') as Map<unknown, unknown>).size).toBeLessThanOrEqual(5);
  });

  it('clamps to [t0, t1], returns zeros for ta == tb, and refuses reversed or unresolvable queries', () => {
    const tree = new BrownianTree({ t0: T0, t1: T1, size: 5, entropy: 2 });
    expect(tree.increment(0, 1)).toEqual(tree.increment(T0, 1));
    expect(tree.increment(2, 99)).toEqual(tree.increment(2, T1));
    expect(tree.increment(3, 3)).toEqual(new Float32Array(5));
    expect(tree.increment(-5, 0)).toEqual(new Float32Array(5)); // both clamp to t0
    expect(() => tree.increment(2, 1)).toThrow(/ta <= tb/);
    expect(() => tree.increment(1, 1 + 1e-8)).toThrow(/closer than the tree resolves/);
    expect(() => new BrownianTree({ t0: 2, t1: 1, size: 5, entropy: 0 })).toThrow(/t0 <= t1/);
    expect(() => new BrownianTree({ t0: 0, t1: 1, size: 5, entropy: -1 })).toThrow(/non-negative/);
  });
});

describe('comfyBrownianNoise', () => {
  const sigmas = manifest.karras_sigmas.filter((s) => s > 0);
  const size = 4 * 32 * 32;
  const noise = comfyBrownianNoise({ sigmaMin: sigmas[sigmas.length - 1], sigmaMax: sigmas[0], size, seed: 2 ** 32 + 5 });

  function stats(a: Float32Array, b = a): { mean: number; cov: number } {
    let ma = 0;
    let mb = 0;
    for (let i = 0; i < a.length; i++) {
      ma += a[i];
      mb += b[i];
    }
    ma /= a.length;
    mb /= b.length;
    let cov = 0;
    for (let i = 0; i < a.length; i++) cov += (a[i] - ma) * (b[i] - mb);
    return { mean: ma, cov: cov / a.length };
  }

  it('is standard normal noise at every step, independent across steps', () => {
    const steps = sigmas.slice(0, -1).map((s, i) => noise(s, sigmas[i + 1]));
    for (const w of steps) {
      const { mean, cov } = stats(w);
      expect(Math.abs(mean)).toBeLessThan(0.05); // 4096 samples: standard error 0.016
      expect(Math.abs(cov - 1)).toBeLessThan(0.1); // standard error 0.022
    }
    for (let k = 0; k + 1 < steps.length; k++) expect(Math.abs(stats(steps[k], steps[k + 1]).cov)).toBeLessThan(0.08);
  });

  it('correlates a DPM++ SDE midpoint draw with its step as Brownian motion does: sqrt((s - mid) / (s - next))', () => {
    for (let i = 0; i + 1 < sigmas.length; i++) {
      const mid = manifest.sde_midpoints[i]!;
      const corr = stats(noise(sigmas[i], mid), noise(sigmas[i], sigmas[i + 1])).cov;
      expect(Math.abs(corr - Math.sqrt((sigmas[i] - mid) / (sigmas[i] - sigmas[i + 1]))), `step ${i}`).toBeLessThan(0.08);
    }
  });

  it('turns sign with the direction of the step, and is the tree increment over sqrt of the step', () => {
    const [a, b] = [sigmas[3], sigmas[4]];
    const down = noise(a, b);
    expect(noise(b, a)).toEqual(down.map((v) => -v));
    const tree = new BrownianTree({ t0: sigmas[sigmas.length - 1], t1: sigmas[0], size, entropy: 2 ** 32 + 5 });
    const scale = Math.fround(Math.sqrt(Math.fround(a - b)));
    expect(down).toEqual(tree.increment(b, a).map((v) => Math.fround(-v / scale)));
  });
});
