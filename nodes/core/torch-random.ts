/**
 * PyTorch's CPU random numbers, so that a seed gives the noise diffusers and ComfyUI draw for it:
 * `torch.Generator('cpu').manual_seed(seed)` then `torch.randn(shape, generator=...)` (diffusers'
 * randn_tensor with one CPU generator; ComfyUI's prepare_noise always draws on the CPU).
 *
 * What torch does (ATen CPUGeneratorImpl, DistributionTemplates, DistributionsHelper):
 *  - the engine is MT19937 seeded with the low 32 bits of the seed (standard init_genrand); random() is
 *    one 32-bit output, random64() two outputs, the first as the high word;
 *  - a float uniform is (random() & (2^24 - 1)) * 2^-24, a double one (random64() & (2^53 - 1)) * 2^-53;
 *  - randn of 16 or more contiguous float32 elements first draws one uniform per element, then turns each
 *    block of 16 into normals by Box-Muller (u1 = 1 - d[j], u2 = d[j + 8] for j < 8: d[j] = r cos(theta),
 *    d[j + 8] = r sin(theta), r = sqrtf(-2 logf(u1)), theta = 2 pi u2, all in float); when the size
 *    is not a multiple of 16, 16 more uniforms redo the last 16 elements;
 *  - fewer than 16 elements: each element is a double normal (Box-Muller from two double uniforms, angle
 *    from the first, radius from log(1 - second)), the sine half kept in the generator for the next
 *    element, or for the next call: a later randn of under 16 elements starts with it.
 * torch builds with AVX2 compute the large path's log, sin and cos with SLEEF's vector functions, which
 * may differ from the scalar ones in the last bit of a float: values agree to about 1e-7 relative, not
 * always bit for bit. float32 only: half-precision draws follow other rules.
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER = 0x80000000;
const LOWER = 0x7fffffff;
const TWO_POW_M24 = 2 ** -24;
const TWO_POW_M53 = 2 ** -53;
const TWO_POW_32 = 4294967296;
const TWO_PI = 2 * Math.PI;

/** The 32-bit Mersenne Twister as std::mt19937 and torch's at::mt19937 define it. */
export class MT19937 {
  private readonly state = new Uint32Array(N);
  private index = N;

  constructor(seed: number) {
    const s = this.state;
    s[0] = seed >>> 0;
    for (let j = 1; j < N; j++) {
      const prev = s[j - 1] ^ (s[j - 1] >>> 30);
      // 1812433253 * prev + j mod 2^32, exact in 16-bit halves.
      s[j] = (Math.imul(1812433253, prev) + j) >>> 0;
    }
  }

  /** The next 32-bit output, as an unsigned integer. */
  next(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const s = this.state;
    for (let k = 0; k < N; k++) {
      const y = (s[k] & UPPER) | (s[(k + 1) % N] & LOWER);
      s[k] = s[(k + M) % N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    this.index = 0;
  }
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`Seed must be a non-negative integer (got ${seed})`);
}

/** torch.Generator('cpu') after manual_seed(seed): the draws randn makes, in its order. */
export class TorchCpuGenerator {
  private readonly engine: MT19937;
  /** The sine half of the last double Box-Muller pair, waiting for the next small draw (torch keeps it per generator). */
  private cachedNormal: number | undefined;

  constructor(seed: number) {
    checkSeed(seed);
    // manual_seed takes the seed as a uint64 and the engine keeps its low 32 bits.
    this.engine = new MT19937(seed % TWO_POW_32);
  }

  /** A float32 uniform in [0, 1): 24 random bits. */
  private uniformFloat(): number {
    return (this.engine.next() & 0xffffff) * TWO_POW_M24;
  }

  /** A float64 uniform in [0, 1): 53 bits of random64() (the first output is the high word). */
  private uniformDouble(): number {
    const hi = this.engine.next();
    const lo = this.engine.next();
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) * TWO_POW_M53;
  }

  /** One double standard normal as at::normal_distribution<double> draws it (with the cached half). */
  private normalDouble(): number {
    if (this.cachedNormal !== undefined) {
      const v = this.cachedNormal;
      this.cachedNormal = undefined;
      return v;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    const r = Math.sqrt(-2 * Math.log(1 - u2));
    const theta = TWO_PI * u1;
    this.cachedNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** torch.randn(n) in float32 (any shape with n elements, C order): the next n normals of this generator. */
  randn(n: number): Float32Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`randn: the element count must be a non-negative integer, got ${n}`);
    const out = new Float32Array(n);
    if (n < 16) {
      for (let i = 0; i < n; i++) out[i] = this.normalDouble();
      return out;
    }
    for (let i = 0; i < n; i++) out[i] = this.uniformFloat();
    for (let i = 0; i + 16 <= n; i += 16) boxMuller16(out, i);
    if (n % 16 !== 0) {
      const start = n - 16;
      for (let i = 0; i < 16; i++) out[start + i] = this.uniformFloat();
      boxMuller16(out, start);
    }
    return out;
  }
}

/** torch's normal_fill_16 on d[at .. at + 15] (mean 0, std 1), every intermediate a float as in its scalar_t code. */
function boxMuller16(d: Float32Array, at: number): void {
  const f = Math.fround;
  for (let j = 0; j < 8; j++) {
    const u1 = 1 - d[at + j]; // exact in float: d is a multiple of 2^-24 in [0, 1)
    const u2 = d[at + j + 8];
    const radius = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
    const theta = f(TWO_PI * u2);
    d[at + j] = radius * f(Math.cos(theta));
    d[at + j + 8] = radius * f(Math.sin(theta));
  }
}

/** torch.randn(dims) from a fresh CPU generator seeded with `seed` (torch.manual_seed(seed); torch.randn(...)). */
export function torchRandn(n: number, seed: number): Float32Array {
  return new TorchCpuGenerator(seed).randn(n);
}
