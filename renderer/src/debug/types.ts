/**
 * Shapes the debug views accept and produce. Kept structural so the views take the engine's Tensor class,
 * plain `{ dims, data }` objects from the transport, and DOM ImageData alike, without importing any of them.
 */

/** A float tensor in C order: [N, C, H, W] (or [C, H, W], read as N = 1). */
export interface TensorLike {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/** 8-bit RGBA pixels, top row first (the layout of DOM ImageData, which satisfies this type). */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
}

/** The planar view of one batch item: `channels` planes of `height` x `width` floats. */
export interface PlanarImage {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** channels * height * width values, plane after plane, row 0 first. */
  readonly data: Float32Array;
}

export function isTensorLike(v: unknown): v is TensorLike {
  return typeof v === 'object' && v !== null && Array.isArray((v as TensorLike).dims) && (v as TensorLike).data instanceof Float32Array;
}

/** Reads [N, C, H, W] or [C, H, W] and returns the planes of batch item `batchIndex` (no copy). */
export function selectBatchItem(view: string, tensor: TensorLike, batchIndex = 0): PlanarImage {
  if (!isTensorLike(tensor)) throw new Error(`${view}: expected a tensor { dims, data: Float32Array }`);
  const dims = tensor.dims;
  if (dims.length !== 4 && dims.length !== 3) {
    throw new Error(`${view}: expected a [N, C, H, W] or [C, H, W] tensor, got dims [${dims.join(', ')}]`);
  }
  for (const d of dims) {
    if (!Number.isInteger(d) || d <= 0) throw new Error(`${view}: tensor dims [${dims.join(', ')}] must be positive integers`);
  }
  const [n, c, h, w] = dims.length === 4 ? dims : [1, ...dims];
  if (tensor.data.length !== n * c * h * w) {
    throw new Error(`${view}: tensor data has ${tensor.data.length} values but dims [${dims.join(', ')}] need ${n * c * h * w}`);
  }
  if (!Number.isInteger(batchIndex) || batchIndex < 0 || batchIndex >= n) {
    throw new Error(`${view}: batch index ${batchIndex} is out of range for a batch of ${n}`);
  }
  const plane = c * h * w;
  return { channels: c, height: h, width: w, data: tensor.data.subarray(batchIndex * plane, (batchIndex + 1) * plane) };
}

/** A fresh opaque-black image. */
export function createRgbaImage(width: number, height: number): RgbaImage & { data: Uint8ClampedArray } {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  return { width, height, data };
}

export function checkRgbaImage(view: string, image: RgbaImage, label: string): void {
  if (
    typeof image !== 'object' || image === null ||
    !Number.isInteger(image.width) || !Number.isInteger(image.height) || image.width <= 0 || image.height <= 0 ||
    !(image.data instanceof Uint8ClampedArray || (image.data as unknown) instanceof Uint8Array) ||
    image.data.length !== image.width * image.height * 4
  ) {
    throw new Error(`${view}: image ${label} must be { width, height, data } with width * height * 4 bytes of RGBA`);
  }
}
