/**
 * Elementwise tensor arithmetic for the solvers: float64 scalar coefficients applied to Float32Array data,
 * each output element accumulated in float64 and rounded once.
 */
import { Tensor } from '../core/tensor.ts';

function checkShapes(op: string, tensors: readonly Tensor[]): void {
  const first = tensors[0];
  for (const t of tensors) {
    if (!t.sameShape(first)) throw new Error(`${op}: shape mismatch ${first.shapeString()} vs ${t.shapeString()}`);
  }
}

function checkScalar(op: string, c: number): void {
  if (!Number.isFinite(c)) throw new Error(`${op}: coefficient ${c} is not finite`);
}

/** sum_k c_k * t_k over tensors of one shape. Zero coefficients skip their tensor entirely. */
export function linearCombination(terms: ReadonlyArray<readonly [number, Tensor]>): Tensor {
  if (terms.length === 0) throw new Error('linearCombination: no terms');
  checkShapes('linearCombination', terms.map(([, t]) => t));
  for (const [c] of terms) checkScalar('linearCombination', c);
  const live = terms.filter(([c]) => c !== 0);
  const out = new Tensor(terms[0][1].dims);
  const o = out.data;
  const n = o.length;
  // Hot path of every solver step: plain indexed loops (no per-element iterators), the common
  // one/two/three-term shapes unrolled, each element summed in float64 and rounded once.
  if (live.length === 1) {
    const [c, { data: a }] = live[0];
    for (let i = 0; i < n; i++) o[i] = c * a[i];
  } else if (live.length === 2) {
    const [c0, { data: a }] = live[0];
    const [c1, { data: b }] = live[1];
    for (let i = 0; i < n; i++) o[i] = c0 * a[i] + c1 * b[i];
  } else if (live.length === 3) {
    const [c0, { data: a }] = live[0];
    const [c1, { data: b }] = live[1];
    const [c2, { data: d }] = live[2];
    for (let i = 0; i < n; i++) o[i] = c0 * a[i] + c1 * b[i] + c2 * d[i];
  } else if (live.length > 3) {
    const acc = new Float64Array(n);
    for (const [c, { data: a }] of live) for (let i = 0; i < n; i++) acc[i] += c * a[i];
    o.set(acc);
  }
  return out;
}

/** c * t. */
export function scale(t: Tensor, c: number): Tensor {
  return linearCombination([[c, t]]);
}

/** a + c * b (the usual solver update). */
export function addScaled(a: Tensor, c: number, b: Tensor): Tensor {
  return linearCombination([
    [1, a],
    [c, b],
  ]);
}

/** A tensor of standard normals with the given dims, drawn from a seeded source. */
export type NoiseSource = (dims: readonly number[]) => Tensor;
