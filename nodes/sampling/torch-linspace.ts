/**
 * torch.linspace in float32, bit for bit (ComfyUI's Karras ramp, diffusers' float32 beta tables).
 */
const f32 = Math.fround;

/**
 * torch.linspace(start, end, n) in float32 as its CPU kernel computes it: a float32 step (end - start)/(n - 1);
 * element i is start + step i in the first half and end - step (n - 1 - i) in the second, each a fused
 * multiply-add (one rounding: the x86 builds compile these scalar formulas with FMA), except that whole
 * blocks of 16 are written as two 8-lane vectors, each lane = (the formula at the vector's first index) +
 * float32(k step), two roundings. Checked against torch's own values for many n and ranges. That is
 * the AVX2 and default builds (AVX-512 builds use 16 lanes): the last level of a 16-step grid is then
 * end - 7 step + 7 step, a few float32 ulps from end.
 */
export function linspaceF32(start: number, end: number, n: number): number[] {
  const a = f32(start);
  const b = f32(end);
  if (n === 1) return [a];
  const step = f32(f32(b - a) / (n - 1));
  const half = Math.floor(n / 2);
  // The scalar formulas are compiled as fused multiply-adds (one rounding): step * i is exact in a double.
  const at = (i: number) => (i < half ? f32(a + step * i) : f32(b - step * (n - i - 1)));
  const out: number[] = [];
  const lanes = 8;
  let i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    for (const first of [i, i + lanes]) {
      const base = at(first);
      for (let k = 0; k < lanes; k++) out.push(k === 0 ? base : f32(base + f32(k * step)));
    }
  }
  for (; i < n; i++) out.push(at(i));
  return out;
}
