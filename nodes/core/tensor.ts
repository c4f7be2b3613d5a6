/**
 * A small dense Float32 tensor in C (row-major) order. It is the currency of every port that carries
 * numbers (LATENT, IMAGE, NOISE, MASK): nodes and solvers exchange these, never ONNX Runtime objects.
 */
/**
 * Small float arrays are carved from shared slabs, as Node carves small Buffers from its pool: a typed
 * array with a backing store of its own costs about 1.3 µs of V8 bookkeeping whatever its size, a view on
 * an existing buffer about 0.03 µs, and solvers allocate several latent-sized tensors per model call.
 * Slabs are never reused, so a view starts zero-filled like a fresh array and a slab is freed with its last
 * view. The price: a small tensor kept alive pins its slab (SLAB_BYTES at most), so what outlives a node
 * is copied out (compacted(); the executor does it for every node's outputs), and code reaching for
 * `data.buffer` must honour byteOffset/byteLength (it must anyway: subarrays share buffers too).
 */
const SLAB_BYTES = 64 * 1024;
/** Arrays up to this size come from a slab; larger ones get their own buffer (allocation is then a small share of any pass over them). */
export const POOLED_MAX_BYTES = 4096;
let slab: ArrayBuffer | undefined;
let slabUsed = SLAB_BYTES;

/** A zero-filled Float32Array of n elements (from a shared slab when small; see above). */
export function allocFloat32(n: number): Float32Array {
  const bytes = n * 4;
  if (bytes > POOLED_MAX_BYTES || bytes === 0) return new Float32Array(n);
  if (slabUsed + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = new Float32Array(slab!, slabUsed, n);
  // 16-byte steps keep every array aligned for SIMD loads.
  slabUsed += (bytes + 15) & ~15;
  return out;
}

/**
 * The most values one tensor may hold: 2^29 (2 GiB of float32). A .npy file of it still fits one Node
 * buffer (4 GiB at most), and no image model's latent comes near it: SDXL at batch 64 is 2^22 values,
 * FLUX at 4096x4096 and batch 64 is 2^28.
 */
export const MAX_TENSOR_VALUES = 2 ** 29;

/** Throws a readable error when a shape holds more values than MAX_TENSOR_VALUES (what: how the message names it). */
export function checkTensorSize(dims: readonly number[], what = 'a tensor'): void {
  let size = 1;
  for (const d of dims) size *= d;
  if (size > MAX_TENSOR_VALUES) {
    throw new Error(
      `${what} of shape [${dims.join(', ')}] would hold ${size.toPrecision(3)} values (${((size * 4) / 2 ** 30).toPrecision(3)} GiB as float32); ` +
        `the limit is 2^29 values (2 GiB): lower the batch or the size`,
    );
  }
}

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
    if (size > MAX_TENSOR_VALUES) checkTensorSize(dims);
    if (data && data.length !== size) {
      throw new Error(`Tensor: data has ${data.length} elements but dims [${dims.join(', ')}] need ${size}`);
    }
    // A frozen private copy (callers may reuse their array). A frozen array, such as another tensor's dims,
    // is shared as is: the solvers' many same-shape tensors then cost no copy at all.
    this.dims = Object.isFrozen(dims) ? dims : Object.freeze(dims.slice());
    this.data = data ?? allocFloat32(size);
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
    const copy = allocFloat32(this.data.length);
    copy.set(this.data);
    return new Tensor(this.dims, copy);
  }

  /**
   * This tensor, or a copy that owns a buffer of its own when the data is a view on a buffer more than twice
   * its size (a slab, a slice of a bigger tensor): a tensor that outlives its node should pin only what it
   * holds. The copy keeps the finite mark.
   */
  compacted(): Tensor {
    const d = this.data;
    if (d.buffer.byteLength <= 2 * d.byteLength) return this;
    const copy = new Tensor(this.dims, d.slice());
    copy.#knownFinite = this.#knownFinite;
    return copy;
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
