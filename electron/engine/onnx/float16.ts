/**
 * IEEE 754 half precision <-> float conversion. Node 20 has no Float16Array, so float16 data travels as
 * Uint16Array bit patterns. Encoding rounds to nearest, ties to even, straight from the double value
 * (no float32 step, which could round twice).
 */

const TWO_POW_24 = 2 ** 24;

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The float16 bit pattern nearest to `x` (ties to even); overflow gives +-Infinity, NaN a quiet NaN. */
export function toFloat16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  // 65520 is halfway between the largest half (65504) and 2^16: it and above round to infinity.
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // Subnormal (or rounds up into the smallest normal, whose bits 0x0400 follow on naturally).
    return sign | roundHalfEven(a * TWO_POW_24);
  }
  let e = Math.floor(Math.log2(a));
  // log2 can be off by one near powers of two; fix so that 2^e <= a < 2^(e+1).
  if (2 ** e > a) e -= 1;
  else if (2 ** (e + 1) <= a) e += 1;
  // (a / 2^e - 1) * 1024 is exact in double: scaling by powers of two and subtracting 1 from [1, 2).
  let q = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (q === 1024) {
    q = 0;
    e += 1;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | q;
}

/** The value of a float16 bit pattern. */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

export function toFloat16Array(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toFloat16Bits(values[i]);
  return out;
}

export function fromFloat16Array(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = fromFloat16Bits(bits[i]);
  return out;
}
