/**
 * torch-compatible CPU noise against torch's own draws (test/fixtures/torch-random, made by
 * scripts/torch-random/make-refs.py with torch on this machine), and the seeded draws a Sampler makes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../nodes/core/io/npy.ts';
import { randomNormal, SeededNormal } from '../nodes/core/random.ts';
import { seededDraws } from '../nodes/core/seeded-draws.ts';
import { MT19937, TorchCpuGenerator, torchRandn } from '../nodes/core/torch-random.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'torch-random');
const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as {
  cases: { seed: number; sizes: number[]; file: string }[];
};

function reference(capture: 'default' | 'native', file: string): Float32Array {
  return readNpy(readFileSync(join(FIXTURES, `${capture}-${file}`))).data;
}

/** Our draws for a case: successive randn calls on one generator, concatenated. */
function ours(seed: number, sizes: number[]): Float32Array {
  const g = new TorchCpuGenerator(seed);
  const parts = sizes.map((n) => g.randn(n));
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Distance in float32 units in the last place (same-sign values; normals near 0 are compared by abs diff too). */
function ulps(a: number, b: number): number {
  const f = new Float32Array([a, b]);
  const i = new Int32Array(f.buffer);
  return Math.abs(i[0] - i[1]);
}

describe('MT19937', () => {
  it('gives the reference outputs of std::mt19937 (seed 5489: 10000th output 4123659995)', () => {
    const mt = new MT19937(5489);
    expect(mt.next()).toBe(3499211612); // the first output of the default-seeded engine
    for (let i = 1; i < 9999; i++) mt.next();
    expect(mt.next()).toBe(4123659995); // C++11 [rand.predef]: the 10000th invocation
  });
});

describe('torch CPU randn', () => {
  it('torch.manual_seed(42); torch.randn(4) = 0.3367, 0.1288, 0.2345, 0.2303 (the small-size path)', () => {
    expect(Array.from(torchRandn(4, 42))).toEqual([0.33669036626815796, 0.12880940735340118, 0.23446236550807953, 0.23033303022384644]);
  });

  it('matches torch\'s scalar kernels to 2 float ulps, nearly all bit for bit, across call sequences', () => {
    let same = 0;
    let total = 0;
    for (const c of manifest.cases) {
      const ref = reference('default', c.file);
      const got = ours(c.seed, c.sizes);
      expect(got.length).toBe(ref.length);
      for (let k = 0; k < ref.length; k++) {
        expect(ulps(got[k], ref[k]), `seed ${c.seed}, element ${k}: ${got[k]} vs ${ref[k]}`).toBeLessThanOrEqual(2);
        if (got[k] === ref[k]) same++;
      }
      total += ref.length;
    }
    // The rest differ where glibc's logf/cosf/sinf and a float64 result rounded to float part ways.
    expect(same / total).toBeGreaterThan(0.97);
  });

  it('matches torch\'s SIMD kernels (SLEEF log/sin/cos) to 3e-6', () => {
    for (const c of manifest.cases) {
      const ref = reference('native', c.file);
      const got = ours(c.seed, c.sizes);
      let worst = 0;
      for (let k = 0; k < ref.length; k++) worst = Math.max(worst, Math.abs(got[k] - ref[k]));
      expect(worst, `seed ${c.seed}`).toBeLessThan(3e-6);
    }
  });

  it('keeps only the low 32 bits of the seed, as torch\'s engine does', () => {
    expect(torchRandn(40, 2 ** 32 + 7)).toEqual(torchRandn(40, 7));
    expect(torchRandn(40, 8)).not.toEqual(torchRandn(40, 7));
  });

  it('carries the cached second normal of a small draw into the next small draw, not into a large one', () => {
    const g = new TorchCpuGenerator(3);
    const [a] = g.randn(1);
    const [b] = g.randn(1); // the cached sine half: no new engine output
    const pair = new TorchCpuGenerator(3).randn(2);
    expect([a, b]).toEqual(Array.from(pair));
  });

  it('refuses bad seeds and sizes', () => {
    expect(() => new TorchCpuGenerator(-1)).toThrow(/non-negative integer/);
    expect(() => new TorchCpuGenerator(0.5)).toThrow(/non-negative integer/);
    expect(() => new TorchCpuGenerator(1).randn(-2)).toThrow(/element count/);
  });
});

describe('seeded draws of a run', () => {
  it('flowstudio: the initial noise is RandomNoise\'s, and step draws continue the same Philox stream', () => {
    const d = seededDraws('flowstudio', 9, 24);
    expect(d.initial).toEqual(randomNormal([24], 9).data);
    const step = d.next(10);
    expect(step).toEqual(SeededNormal.after(9, 24).fill(new Float32Array(10)));
  });

  it('torch: one generator for the initial noise and every step draw (diffusers with a CPU generator)', () => {
    const d = seededDraws('torch', 5, 32);
    const g = new TorchCpuGenerator(5);
    expect(d.initial).toEqual(g.randn(32));
    expect(d.next(32)).toEqual(g.randn(32));
    expect(d.next(32)).toEqual(g.randn(32));
  });

  it('comfyui: step draws come from a second generator seeded with seed + 1 (ComfyUI since #11528), not a repeat of the initial noise', () => {
    const d = seededDraws('comfyui', 5, 32);
    expect(d.initial).toEqual(torchRandn(32, 5));
    const g = new TorchCpuGenerator(6);
    const first = d.next(32);
    expect(first).toEqual(g.randn(32));
    expect(d.next(32)).toEqual(g.randn(32));
    expect(first).not.toEqual(d.initial);
    // torch keeps the seed's low 32 bits: seed + 1 wraps there, as manual_seed(seed + 1) does.
    expect(seededDraws('comfyui', 4294967295, 8).next(8)).toEqual(new TorchCpuGenerator(0).randn(8));
    expect(seededDraws('comfyui', 2 ** 40 + 7, 8).next(8)).toEqual(new TorchCpuGenerator(8).randn(8));
  });
});
