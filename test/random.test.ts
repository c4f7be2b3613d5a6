import { describe, expect, it } from 'vitest';
import { SeededNormal, philox4x32_10, randomNormal, sharedNormals, uniformClosedOpen, uniformOpenClosed } from '../nodes/core/random.ts';

// --- Independent reference: Philox4x32-10 in BigInt arithmetic, from the published algorithm. ---
const MASK = 0xffffffffn;
function philoxRef(counter: bigint[], key: bigint[]): bigint[] {
  let [x0, x1, x2, x3] = counter;
  let [k0, k1] = key;
  for (let round = 0; round < 10; round++) {
    const p0 = 0xd2511f53n * x0;
    const p1 = 0xcd9e8d57n * x2;
    [x0, x1, x2, x3] = [(p1 >> 32n) ^ x1 ^ k0, p1 & MASK, (p0 >> 32n) ^ x3 ^ k1, p0 & MASK];
    k0 = (k0 + 0x9e3779b9n) & MASK;
    k1 = (k1 + 0xbb67ae85n) & MASK;
  }
  return [x0, x1, x2, x3];
}

/** The documented mapping (key = seed split in 32-bit halves, counter = pair index; 53-bit uniforms; Box-Muller). */
function normalsRef(seed: number, count: number): number[] {
  const key = [BigInt(seed) & MASK, BigInt(seed) >> 32n];
  const out: number[] = [];
  for (let block = 0n; out.length < count; block++) {
    const w = philoxRef([block & MASK, block >> 32n, 0n, 0n], key);
    const bits53 = (hi: bigint, lo: bigint) => Number(((hi >> 5n) << 26n) | (lo >> 6n));
    const u1 = (bits53(w[0], w[1]) + 1) / 2 ** 53;
    const u2 = bits53(w[2], w[3]) / 2 ** 53;
    const r = Math.sqrt(-2 * Math.log(u1));
    out.push(r * Math.cos(2 * Math.PI * u2), r * Math.sin(2 * Math.PI * u2));
  }
  return out.slice(0, count);
}

const hex = (words: ArrayLike<number | bigint>) => Array.from(words, (w) => w.toString(16).padStart(8, '0'));

describe('philox4x32_10', () => {
  it('matches the Random123 known-answer vectors', () => {
    // Random123 tests/kat_vectors: "philox4x32 10" counter[4] key[2] -> output[4].
    const kat: [number[], number[], string[]][] = [
      [[0, 0, 0, 0], [0, 0], ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']],
      [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']],
      [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], ['d16cfe09', '94fdcceb', '5001e420', '24126ea1']],
    ];
    const out = new Uint32Array(4);
    for (const [c, k, expected] of kat) {
      philox4x32_10(c[0], c[1], c[2], c[3], k[0], k[1], out);
      expect(hex(out)).toEqual(expected);
      expect(hex(philoxRef(c.map(BigInt), k.map(BigInt)))).toEqual(expected); // the reference is right too
    }
  });

  it('agrees with the BigInt reference on many pseudo-random inputs (exercises every carry of the 32-bit mulhi)', () => {
    const out = new Uint32Array(4);
    let s = 0x12345678;
    const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
    for (let i = 0; i < 500; i++) {
      const c = [next(), next(), next(), next()];
      const k = [next(), next()];
      philox4x32_10(c[0], c[1], c[2], c[3], k[0], k[1], out);
      expect(hex(out)).toEqual(hex(philoxRef(c.map(BigInt), k.map(BigInt))));
    }
  });
});

describe('SeededNormal / randomNormal', () => {
  it('produces the reference stream bit for bit', () => {
    for (const seed of [0, 1, 42, 0xffffffff, 2 ** 40 + 7]) {
      const g = new SeededNormal(seed);
      const got = Array.from({ length: 9 }, () => g.next());
      expect(got).toEqual(normalsRef(seed, 9));
    }
  });

  it('randomNormal is the float32 rounding of the same stream, in C order', () => {
    const t = randomNormal([2, 3, 4, 5], 1234);
    expect(t.dims).toEqual([2, 3, 4, 5]);
    expect([...t.data]).toEqual(normalsRef(1234, 120).map(Math.fround));
  });

  it('same seed gives identical bits; different seeds and the next draws differ', () => {
    const a = randomNormal([1, 3, 16, 16], 7);
    const b = randomNormal([1, 3, 16, 16], 7);
    expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer))).toBe(true);
    const c = randomNormal([1, 3, 16, 16], 8);
    const equal = a.data.filter((v, i) => v === c.data[i]).length;
    expect(equal).toBe(0);
    // Seeds differing only above bit 32 use a different key word.
    expect(randomNormal([8], 2 ** 32)).not.toEqual(randomNormal([8], 0));
  });

  it('fill continues the stream where next() left off, including an odd split of a pair', () => {
    const g = new SeededNormal(99);
    const first = g.next();
    const rest = g.fill(new Float64Array(6));
    expect([first, ...rest]).toEqual(normalsRef(99, 7));
  });

  it('rejects seeds that are not non-negative integers', () => {
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) expect(() => new SeededNormal(bad)).toThrow(/Seed must be/);
  });

  it('uniforms are built from integer bits and never hit the log singularity', () => {
    expect(uniformOpenClosed(0, 0)).toBe(2 ** -53);
    expect(uniformOpenClosed(0xffffffff, 0xffffffff)).toBe(1);
    expect(uniformClosedOpen(0, 0)).toBe(0);
    expect(uniformClosedOpen(0xffffffff, 0xffffffff)).toBe(1 - 2 ** -53);
    const r = Math.sqrt(-2 * Math.log(uniformOpenClosed(0, 0)));
    expect(Number.isFinite(r)).toBe(true);
  });

  it('has standard normal moments over 1e6 draws and no non-finite values', () => {
    const n = 1_000_000;
    const x = randomNormal([n], 2024).data;
    let m1 = 0;
    let m2 = 0;
    let m3 = 0;
    let m4 = 0;
    let inside196 = 0;
    let nonFinite = 0;
    for (let i = 0; i < n; i++) {
      const v = x[i];
      if (!Number.isFinite(v)) nonFinite++;
      m1 += v;
      m2 += v * v;
      m3 += v * v * v;
      m4 += v * v * v * v;
      if (Math.abs(v) < 1.959963984540054) inside196++;
    }
    expect(nonFinite).toBe(0);
    m1 /= n;
    m2 /= n;
    m3 /= n;
    m4 /= n;
    // Tolerances are 5 standard errors: sd(mean) = 1/sqrt(n), sd(E[x^2]) = sqrt(2/n),
    // sd(E[x^3]) = sqrt(15/n), sd(E[x^4]) = sqrt(96/n), sd(fraction) = sqrt(p(1-p)/n).
    expect(Math.abs(m1)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(m2 - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(Math.abs(m3)).toBeLessThan(5 * Math.sqrt(15 / n));
    expect(Math.abs(m4 - 3)).toBeLessThan(5 * Math.sqrt(96 / n));
    expect(Math.abs(inside196 / n - 0.95)).toBeLessThan(5 * Math.sqrt((0.95 * 0.05) / n));
  });

  it('consecutive draws are uncorrelated (lag-1 and within-pair)', () => {
    const n = 200_000;
    const x = randomNormal([n], 5).data;
    let lag1 = 0;
    for (let i = 0; i + 1 < n; i++) lag1 += x[i] * x[i + 1];
    expect(Math.abs(lag1 / (n - 1))).toBeLessThan(5 / Math.sqrt(n));
  });
});

describe('resuming a stream and shared initial draws', () => {
  it('SeededNormal.after(seed, n) continues exactly where n draws leave off (odd and even n)', () => {
    const full = new SeededNormal(77).fill(new Float64Array(40));
    for (const n of [0, 1, 2, 7, 8, 31]) {
      const rest = SeededNormal.after(77, n).fill(new Float64Array(40 - n));
      expect([...rest]).toEqual([...full.subarray(n)]);
    }
    expect(() => SeededNormal.after(77, -1)).toThrow(/non-negative integer/);
  });

  it('sharedNormals gives the first n float32 draws, the same array for a repeated request', () => {
    const a = sharedNormals(91, 33);
    expect([...a]).toEqual([...randomNormal([33], 91).data]);
    expect(sharedNormals(91, 33)).toBe(a);
    expect([...sharedNormals(91, 32)]).toEqual([...a.subarray(0, 32)]);
    for (let seed = 0; seed < 10; seed++) sharedNormals(seed, 5); // push the first one out
    const again = sharedNormals(91, 33);
    expect(again).not.toBe(a);
    expect([...again]).toEqual([...a]);
  });
});
