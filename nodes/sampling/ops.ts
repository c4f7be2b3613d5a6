/**
 * Elementwise tensor arithmetic for the solvers: float64 scalar coefficients applied to Float32Array data,
 * each output element accumulated in float64 and rounded once.
 */
import { Tensor } from '../core/tensor.ts';

function checkShape(op: string, first: Tensor, t: Tensor): void {
  if (!t.sameShape(first)) throw new Error(`${op}: shape mismatch ${first.shapeString()} vs ${t.shapeString()}`);
}

function checkScalar(op: string, c: number): void {
  if (!Number.isFinite(c)) throw new Error(`${op}: coefficient ${c} is not finite`);
}

/** sum_k c_k * t_k over tensors of one shape. Zero coefficients skip their tensor entirely. */
export function linearCombination(terms: ReadonlyArray<readonly [number, Tensor]>): Tensor {
  if (terms.length === 0) throw new Error('linearCombination: no terms');
  const first = terms[0][1];
  // Hot path of every solver step: plain loops, no per-call closures or filtered copies of `terms`.
  let live = 0;
  for (let k = 0; k < terms.length; k++) {
    const [c, t] = terms[k];
    checkShape('linearCombination', first, t);
    checkScalar('linearCombination', c);
    if (c !== 0) live++;
  }
  const out = Tensor.like(first);
  if (live === terms.length) {
    if (live === 1) scaleInto(out.data, terms[0][0], first.data);
    else if (live === 2) axpbyInto(out.data, terms[0][0], first.data, terms[1][0], terms[1][1].data);
    else if (live === 3) sum3Into(out.data, terms[0][0], first.data, terms[1][0], terms[1][1].data, terms[2][0], terms[2][1].data);
    else sumManyInto(out.data, terms);
  } else if (live > 0) {
    const nonzero: (readonly [number, Tensor])[] = [];
    for (const term of terms) if (term[0] !== 0) nonzero.push(term);
    return linearCombination(nonzero);
  }
  return out;
}

// The loops below: each output element summed in float64 and rounded once (as the general path). They
// run four elements per iteration: V8 does not unroll, and the per-iteration bounds and loop checks cost
// about a quarter of a pass over a latent otherwise. Every element's expression is the plain one.

/** o = c * a (exported for the denoiser's input scaling). */
export function scaleInto(o: Float32Array, c: number, a: Float32Array): void {
  const n = o.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    o[i] = c * a[i];
    o[i + 1] = c * a[i + 1];
    o[i + 2] = c * a[i + 2];
    o[i + 3] = c * a[i + 3];
  }
  for (; i < n; i++) o[i] = c * a[i];
}

function axpbyInto(o: Float32Array, c0: number, a: Float32Array, c1: number, b: Float32Array): void {
  const n = o.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    o[i] = c0 * a[i] + c1 * b[i];
    o[i + 1] = c0 * a[i + 1] + c1 * b[i + 1];
    o[i + 2] = c0 * a[i + 2] + c1 * b[i + 2];
    o[i + 3] = c0 * a[i + 3] + c1 * b[i + 3];
  }
  for (; i < n; i++) o[i] = c0 * a[i] + c1 * b[i];
}

function sum3Into(o: Float32Array, c0: number, a: Float32Array, c1: number, b: Float32Array, c2: number, d: Float32Array): void {
  const n = o.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    o[i] = c0 * a[i] + c1 * b[i] + c2 * d[i];
    o[i + 1] = c0 * a[i + 1] + c1 * b[i + 1] + c2 * d[i + 1];
    o[i + 2] = c0 * a[i + 2] + c1 * b[i + 2] + c2 * d[i + 2];
    o[i + 3] = c0 * a[i + 3] + c1 * b[i + 3] + c2 * d[i + 3];
  }
  for (; i < n; i++) o[i] = c0 * a[i] + c1 * b[i] + c2 * d[i];
}

function sumManyInto(o: Float32Array, terms: ReadonlyArray<readonly [number, Tensor]>): void {
  const acc = new Float64Array(o.length);
  for (const [c, { data: a }] of terms) for (let i = 0; i < o.length; i++) acc[i] += c * a[i];
  o.set(acc);
}

/** c * t. */
export function scale(t: Tensor, c: number): Tensor {
  checkScalar('linearCombination', c);
  const out = Tensor.like(t);
  if (c !== 0) scaleInto(out.data, c, t.data);
  return out;
}

/** a + c * b (the usual solver update). */
export function addScaled(a: Tensor, c: number, b: Tensor): Tensor {
  checkShape('linearCombination', a, b);
  checkScalar('linearCombination', c);
  const out = Tensor.like(a);
  if (c === 0) out.data.set(a.data);
  else axpbyInto(out.data, 1, a.data, c, b.data);
  return out;
}

/**
 * a + c * b, like addScaled, with the non-finite scan folded into the same pass: when every result is
 * finite, the result and b are marked so and the sampler's check of b costs nothing. For Euler-type
 * updates, whose b is the model output itself. A finite result with c finite and nonzero implies a finite
 * b (and a), so only the results are probed: 0 * r is NaN exactly when r is NaN or infinite. Four
 * accumulators, as the unrolled loops above, keep the probe's additions off one dependency chain.
 */
export function addScaledChecked(a: Tensor, c: number, b: Tensor): Tensor {
  if (c === 0) return addScaled(a, c, b);
  checkShape('linearCombination', a, b);
  checkScalar('linearCombination', c);
  const out = Tensor.like(a);
  const o = out.data;
  const x = a.data;
  const d = b.data;
  const n = o.length;
  let p0 = 0;
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const r0 = Math.fround(x[i] + c * d[i]);
    const r1 = Math.fround(x[i + 1] + c * d[i + 1]);
    const r2 = Math.fround(x[i + 2] + c * d[i + 2]);
    const r3 = Math.fround(x[i + 3] + c * d[i + 3]);
    o[i] = r0;
    o[i + 1] = r1;
    o[i + 2] = r2;
    o[i + 3] = r3;
    p0 += r0 * 0;
    p1 += r1 * 0;
    p2 += r2 * 0;
    p3 += r3 * 0;
  }
  for (; i < n; i++) {
    const r = Math.fround(x[i] + c * d[i]);
    o[i] = r;
    p0 += r * 0;
  }
  if (p0 + p1 + p2 + p3 === 0) {
    out.markFinite();
    b.markFinite();
  }
  return out;
}

/** ca * a + cb * b into a new tensor: the two-term update without building a terms list. */
export function axpby(ca: number, a: Tensor, cb: number, b: Tensor): Tensor {
  if (ca === 0 || cb === 0) return linearCombination([[ca, a], [cb, b]]);
  checkShape('linearCombination', a, b);
  checkScalar('linearCombination', ca);
  checkScalar('linearCombination', cb);
  const out = Tensor.like(a);
  axpbyInto(out.data, ca, a.data, cb, b.data);
  return out;
}

/** The levels a step's noise is for: from the level the step starts at to the one it lands on (sampling levels). */
export interface NoiseSpan {
  from: number;
  to: number;
}

/**
 * A tensor of standard normals with the given dims, drawn from a seeded source. The SDE solvers that
 * ComfyUI drives with a Brownian tree (dpmpp_sde, dpmpp_2m_sde, dpmpp_3m_sde) pass the span their noise
 * covers: a Brownian source (noise_generator comfyui) answers from the path over that span, a sequential
 * source ignores it and gives its next draw.
 */
export type NoiseSource = (dims: readonly number[], span?: NoiseSpan) => Tensor;
