/**
 * Seeded standard-normal noise that is bit-identical across runs, platforms and Node versions.
 *
 * Generator: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11),
 * counter-based, in 32-bit integer arithmetic only. Key = (seed low 32 bits, seed high bits);
 * counter = (block index low, block index high, 0, 0). Each block's four words give two 53-bit
 * uniforms and, by Box-Muller in float64, two normals: normal i comes from block floor(i / 2), so the
 * stream is fixed by the seed alone. Math.log/sqrt/sin/cos in V8 are fdlibm ports (sqrt is exact),
 * so the float64 results do not depend on the CPU or OS.
 */
import { Tensor } from './tensor.ts';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO_POW_32 = 4294967296;
const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;
const TWO_PI = 2 * Math.PI;

/** High 32 bits of the 64-bit product of two uint32s, exact (16-bit limbs keep every partial sum below 2^32). */
function mulhi32(a: number, b: number): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const hl = aH * bL + (ll >>> 16);
  const lh = aL * bH + (hl & 0xffff);
  return (aH * bH + (hl >>> 16) + (lh >>> 16)) >>> 0;
}

/**
 * One Philox4x32-10 block: writes 4 uint32 words for counter (c0..c3) and key (k0, k1) into out.
 * Matches the Random123 known-answer vectors.
 */
export function philox4x32_10(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi32(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

/** 53 bits from two words (27 high of `hi`, 26 high of `lo`) as (x + 1) / 2^53 in (0, 1]: exact, never 0, so log is finite. */
export function uniformOpenClosed(hi: number, lo: number): number {
  return ((hi >>> 5) * TWO_POW_26 + (lo >>> 6) + 1) / TWO_POW_53;
}

/** The same 53 bits as x / 2^53 in [0, 1) (for the Box-Muller angle). */
export function uniformClosedOpen(hi: number, lo: number): number {
  return ((hi >>> 5) * TWO_POW_26 + (lo >>> 6)) / TWO_POW_53;
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(`Seed must be a non-negative integer (got ${seed})`);
  }
}

/** A stream of standard normals for one seed; solvers that draw noise per step call next() or fill(). */
export class SeededNormal {
  private readonly k0: number;
  private readonly k1: number;
  private block = 0;
  private spare = 0;
  private hasSpare = false;
  private readonly words = new Uint32Array(4);

  constructor(seed: number) {
    checkSeed(seed);
    this.k0 = seed >>> 0;
    this.k1 = Math.floor(seed / TWO_POW_32) >>> 0;
  }

  /** The next standard normal, in float64 (finite: the log's argument is never 0). */
  next(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const w = this.words;
    philox4x32_10(this.block >>> 0, Math.floor(this.block / TWO_POW_32), 0, 0, this.k0, this.k1, w);
    this.block++;
    const u1 = uniformOpenClosed(w[0], w[1]);
    const u2 = uniformClosedOpen(w[2], w[3]);
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = TWO_PI * u2;
    this.spare = r * Math.sin(theta);
    this.hasSpare = true;
    return r * Math.cos(theta);
  }

  /** The stream of `seed` positioned after its first `drawn` normals, as if they had been drawn. */
  static after(seed: number, drawn: number): SeededNormal {
    if (!Number.isSafeInteger(drawn) || drawn < 0) throw new Error(`SeededNormal.after: drawn must be a non-negative integer, got ${drawn}`);
    const rng = new SeededNormal(seed);
    // Normals come in pairs per counter block: skip whole blocks, then draw the odd one out.
    rng.block = Math.floor(drawn / 2);
    if (drawn % 2 === 1) rng.next();
    return rng;
  }

  /** Fills the array with the next normals (rounded to float32 when the array is a Float32Array). */
  fill<A extends Float32Array | Float64Array>(arr: A): A {
    for (let i = 0; i < arr.length; i++) arr[i] = this.next();
    return arr;
  }
}

/** A tensor of standard normals; element i (C order) is the i-th draw of SeededNormal(seed). */
export function randomNormal(dims: readonly number[], seed: number): Tensor {
  const t = new Tensor(dims);
  new SeededNormal(seed).fill(t.data);
  return t;
}

const recentNormals = new Map<string, Float32Array>();
const RECENT_NORMALS_KEPT = 4;

/**
 * The first n normals of `seed` as float32, shared with every caller that asks for the same pair: a
 * re-run with the same seed (the usual "change one setting, run again") skips drawing them. The array is
 * read-only by contract: copy before writing. Continue the stream with SeededNormal.after(seed, n).
 */
export function sharedNormals(seed: number, n: number): Float32Array {
  const key = `${seed}:${n}`;
  let data = recentNormals.get(key);
  if (data) {
    recentNormals.delete(key);
  } else {
    data = new SeededNormal(seed).fill(new Float32Array(n));
    if (recentNormals.size >= RECENT_NORMALS_KEPT) recentNormals.delete(recentNormals.keys().next().value as string);
  }
  recentNormals.set(key, data);
  return data;
}
