/**
 * A small dense Float32 tensor in C (row-major) order. It is the currency of every port that carries
 * numbers (LATENT, IMAGE, NOISE, MASK): nodes and solvers exchange these, never ONNX Runtime objects.
 */
export class Tensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
  /** Set by markFinite(): the producer saw every element finite while writing them. */
  #knownFinite = false;

  constructor(dims: readonly number[], data?: Float32Array) {
    let size = 1;
    for (let k = 0; k < dims.length; k++) {
      const d = dims[k];
      if (!Number.isInteger(d) || d < 0) throw new Error(`Tensor: invalid dimension ${d} in [${dims.join(', ')}]`);
      size *= d;
    }
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

  /** A zero tensor of the same shape as `t`. */
  static like(t: Tensor): Tensor {
    return new Tensor(t.dims);
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
    const a = this.dims;
    const b = other.dims;
    if (a === b) return true;
    if (a.length !== b.length) return false;
    for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
    return true;
  }

  shapeString(): string {
    return `[${this.dims.join(', ')}]`;
  }

  /**
   * Records that every element is finite, so firstNonFinite() answers without a scan. For producers that
   * checked while writing the data (one pass instead of two on a solver step's hot path); only valid for a
   * tensor nobody writes to afterwards, which is the rule for tensors handed between nodes and solvers.
   */
  markFinite(): this {
    this.#knownFinite = true;
    return this;
  }

  /** Index of the first NaN or infinite element, or -1. */
  firstNonFinite(): number {
    if (this.#knownFinite) return -1;
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
