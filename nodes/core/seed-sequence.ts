/**
 * numpy.random.SeedSequence for integer entropy and spawn keys: the uint32 words of
 * `SeedSequence(entropy, spawn_key=..., pool_size=...).generate_state(n)`. torchsde's Brownian trees
 * derive every node's torch seed this way, so matching it word for word is what makes their noise
 * reproducible here.
 *
 * What numpy does (numpy/random/bit_generator.pyx):
 *  - entropy and each spawn-key entry become little-endian uint32 words (0 is the single word [0]);
 *  - with a spawn key, run entropy shorter than the pool is zero-padded to the pool size first (numpy
 *    1.19+, so that spawned children cannot collide with plain longer entropy), then the key words follow;
 *  - the pool takes the first pool_size words through hashmix (0 words past the end of the entropy),
 *    every pool word is mixed with every other one, then any words past the pool are mixed into all of it;
 *  - generate_state cycles over the pool through a second multiplicative hash.
 * All arithmetic is uint32, wrapping: Math.imul keeps the low 32 bits of a product exactly.
 */

const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const XSHIFT = 16;
const MIN_POOL_SIZE = 4; // numpy's DEFAULT_POOL_SIZE, also the least it accepts

/** A non-negative integer as numpy's _int_to_uint32_array writes it: low word first, 0 as [0]. */
function uint32Words(value: number | bigint, what: string): number[] {
  let n: bigint;
  if (typeof value === 'bigint') {
    n = value;
  } else {
    // Above 2^53 a number may already be another integer than the one meant: ask for a bigint.
    if (!Number.isSafeInteger(value)) {
      throw new Error(`SeedSequence: ${what} must be a non-negative safe integer or a bigint (got ${value})`);
    }
    n = BigInt(value);
  }
  if (n < 0n) throw new Error(`SeedSequence: ${what} must be non-negative (got ${value})`);
  if (n === 0n) return [0];
  const words: number[] = [];
  for (; n > 0n; n >>= 32n) words.push(Number(n & 0xffffffffn));
  return words;
}

/** (MIX_MULT_L * x - MIX_MULT_R * y) mod 2^32, then xorshift. */
function mix(x: number, y: number): number {
  const r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
  return (r ^ (r >>> XSHIFT)) >>> 0;
}

export class SeedSequence {
  private readonly pool: Uint32Array;

  constructor(entropy: number | bigint, opts: { spawnKey?: readonly (number | bigint)[]; poolSize?: number } = {}) {
    const poolSize = opts.poolSize ?? MIN_POOL_SIZE;
    if (!Number.isSafeInteger(poolSize) || poolSize < MIN_POOL_SIZE) {
      throw new Error(`SeedSequence: poolSize must be an integer of at least ${MIN_POOL_SIZE} (got ${poolSize})`);
    }
    const runWords = uint32Words(entropy, 'entropy');
    const keyWords = (opts.spawnKey ?? []).flatMap((k, i) => uint32Words(k, `spawnKey[${i}]`));
    if (keyWords.length > 0) while (runWords.length < poolSize) runWords.push(0);
    this.pool = mixEntropy(poolSize, [...runWords, ...keyWords]);
  }

  /** The first n uint32 words of generate_state(n) (dtype uint32). */
  generateState(n: number): Uint32Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`SeedSequence: word count must be a non-negative integer (got ${n})`);
    const out = new Uint32Array(n);
    let hashConst = INIT_B;
    for (let i = 0; i < n; i++) {
      let v = (this.pool[i % this.pool.length] ^ hashConst) >>> 0;
      hashConst = Math.imul(hashConst, MULT_B) >>> 0;
      v = Math.imul(v, hashConst) >>> 0;
      out[i] = v ^ (v >>> XSHIFT);
    }
    return out;
  }
}

/** numpy's mix_entropy: one running hash constant threads through every hashmix call, in this order. */
function mixEntropy(poolSize: number, entropy: readonly number[]): Uint32Array {
  let hashConst = INIT_A;
  const hashmix = (value: number): number => {
    let v = (value ^ hashConst) >>> 0;
    hashConst = Math.imul(hashConst, MULT_A) >>> 0;
    v = Math.imul(v, hashConst) >>> 0;
    return (v ^ (v >>> XSHIFT)) >>> 0;
  };
  const pool = new Uint32Array(poolSize);
  for (let i = 0; i < poolSize; i++) pool[i] = hashmix(i < entropy.length ? entropy[i] : 0);
  for (let src = 0; src < poolSize; src++) {
    for (let dst = 0; dst < poolSize; dst++) if (src !== dst) pool[dst] = mix(pool[dst], hashmix(pool[src]));
  }
  for (let src = poolSize; src < entropy.length; src++) {
    for (let dst = 0; dst < poolSize; dst++) pool[dst] = mix(pool[dst], hashmix(entropy[src]));
  }
  return pool;
}
