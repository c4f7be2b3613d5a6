/**
 * A small dense Float32 tensor in C (row-major) order. It is the currency of every port that carries
 * numbers (LATENT, IMAGE, NOISE, MASK): nodes and solvers exchange these, never ONNX Runtime objects.
 */
export class Tensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;

  constructor(dims: readonly number[], data?: Float32Array) {
    for (const d of dims) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`Tensor: invalid dimension ${d} in [${dims.join(', ')}]`);
    }
    const size = dims.reduce((a, b) => a * b, 1);
    if (data && data.length !== size) {
      throw new Error(`Tensor: data has ${data.length} elements but dims [${dims.join(', ')}] need ${size}`);
    }
    // A private copy (callers may reuse their array); readonly by type, not frozen: this runs per solver step.
    this.dims = dims.slice();
    this.data = data ?? new Float32Array(size);
  }

  static zeros(dims: readonly number[]): Tensor {
    return new Tensor(dims);
  }

  static full(dims: readonly number[], value: number): Tensor {
    const t = new Tensor(dims);
    t.data.fill(value);
    return t;
  }

  static from(dims: readonly number[], values: ArrayLike<number>): Tensor {
    return new Tensor(dims, Float32Array.from(values));
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.dims.length;
  }

  get byteLength(): number {
    return this.data.byteLength;
  }

  clone(): Tensor {
    return new Tensor(this.dims, this.data.slice());
  }

  /** Same data, new shape (no copy). */
  reshape(dims: readonly number[]): Tensor {
    return new Tensor(dims, this.data);
  }

  sameShape(other: Tensor): boolean {
    return this.dims.length === other.dims.length && this.dims.every((d, i) => d === other.dims[i]);
  }

  shapeString(): string {
    return `[${this.dims.join(', ')}]`;
  }

  /** Index of the first NaN or infinite element, or -1. */
  firstNonFinite(): number {
    const d = this.data;
    // Fast pass: 0 * x is NaN exactly when x is NaN or infinite; runs on every model output.
    let probe = 0;
    for (let i = 0; i < d.length; i++) probe += d[i] * 0;
    if (probe === 0) return -1;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return i;
    return -1;
  }
}

export function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}
