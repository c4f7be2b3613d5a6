/**
 * Spilling cached values to disk. Every Tensor inside a value (directly, or inside a Trajectory, Features,
 * Conditioning, any array/Map/plain object) is written to its own file and replaced by a SpilledTensorRef;
 * the rest of the value (the "skeleton": numbers, sigma lists, model handles) stays in memory as it is.
 * Restoring reads the files back and rebuilds the value with the same shape.
 *
 * File layout: "FSTENSOR" magic, uint32 LE header length, JSON header {dtype, dims}, zero padding to a
 * multiple of 4 bytes, then the elements as raw little-endian float32.
 */
import { open, unlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import { Tensor, isTensor } from '../../../nodes/core/tensor.ts';

const MAGIC = Buffer.from('FSTENSOR', 'latin1');
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** Placeholder for a tensor that lives in a spill file. */
export class SpilledTensorRef {
  constructor(
    readonly file: string,
    readonly dims: readonly number[],
  ) {}
}

export interface SpilledValue {
  /** The value with every Tensor replaced by a SpilledTensorRef; unchanged parts are the original objects. */
  skeleton: unknown;
  /** The files written, one per distinct tensor. */
  files: string[];
  /** Bytes of tensor data written. */
  bytes: number;
}

/** True when a Tensor is reachable through arrays, Maps and plain objects. */
export function containsTensor(value: unknown): boolean {
  let found = false;
  mapTensors(value, (t) => {
    found = true;
    return t;
  });
  return found;
}

/**
 * Writes every tensor of `value` to a new file named by `newFile()` and returns the skeleton. A tensor
 * reachable twice is written once. On failure, files already written are removed before rethrowing.
 */
export async function spillValue(value: unknown, newFile: () => string): Promise<SpilledValue> {
  const refs = new Map<Tensor, SpilledTensorRef>();
  const skeleton = mapTensors(value, (t) => {
    let ref = refs.get(t);
    if (!ref) {
      ref = new SpilledTensorRef(newFile(), t.dims);
      refs.set(t, ref);
    }
    return ref;
  });
  const files: string[] = [];
  let bytes = 0;
  try {
    for (const [tensor, ref] of refs) {
      files.push(ref.file);
      await writeTensorFile(ref.file, tensor);
      bytes += tensor.byteLength;
    }
  } catch (e) {
    await removeFiles(files);
    throw e;
  }
  return { skeleton, files, bytes };
}

/** Reads back every SpilledTensorRef in a skeleton; a file shared by two refs yields one Tensor. */
export async function restoreValue(skeleton: unknown): Promise<unknown> {
  const refs = new Set<SpilledTensorRef>();
  mapRefs(skeleton, (r) => {
    refs.add(r);
    return r;
  });
  const loaded = new Map<string, Tensor>();
  for (const ref of refs) {
    if (loaded.has(ref.file)) continue;
    const tensor = await readTensorFile(ref.file);
    if (tensor.dims.length !== ref.dims.length || tensor.dims.some((d, i) => d !== ref.dims[i])) {
      throw new Error(`spill file ${ref.file} holds shape ${tensor.shapeString()}, expected [${ref.dims.join(', ')}]`);
    }
    loaded.set(ref.file, tensor);
  }
  return mapRefs(skeleton, (r) => loaded.get(r.file)!);
}

/**
 * One read or write call moves at most 2^31 - 1 bytes in Node (and Linux moves less than 2 GiB per call),
 * while a tensor may hold 2 GiB: large transfers go in chunks, each of which may itself come up short.
 */
const IO_CHUNK_BYTES = 1 << 30;

export async function writeTensorFile(path: string, tensor: Tensor, chunkBytes = IO_CHUNK_BYTES): Promise<void> {
  const header = Buffer.from(JSON.stringify({ dtype: 'float32', dims: tensor.dims }), 'utf8');
  const prefixLength = MAGIC.length + 4 + header.length;
  const padding = (4 - (prefixLength % 4)) % 4;
  const prefix = Buffer.alloc(prefixLength + padding);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(header.length, MAGIC.length);
  header.copy(prefix, MAGIC.length + 4);

  const data = LITTLE_ENDIAN_HOST ? tensor.data : toLittleEndian(tensor.data);
  const handle = await open(path, 'w');
  try {
    await writeFully(handle, prefix, chunkBytes);
    await writeFully(handle, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), chunkBytes);
  } finally {
    await handle.close();
  }
}

export async function readTensorFile(path: string, chunkBytes = IO_CHUNK_BYTES): Promise<Tensor> {
  const handle = await open(path, 'r');
  try {
    const corrupt = (why: string) => new Error(`spill file ${path} is corrupt: ${why}`);
    const { size } = await handle.stat();
    const fixed = Buffer.alloc(MAGIC.length + 4);
    await readExactly(handle, fixed, 0);
    if (!fixed.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt('bad magic');
    const headerLength = fixed.readUInt32LE(MAGIC.length);
    if (headerLength > size) throw corrupt('header length beyond end of file');
    const headerBytes = Buffer.alloc(headerLength);
    await readExactly(handle, headerBytes, fixed.length);
    let header: { dtype?: unknown; dims?: unknown };
    try {
      header = JSON.parse(headerBytes.toString('utf8'));
    } catch {
      throw corrupt('header is not JSON');
    }
    if (header.dtype !== 'float32' || !Array.isArray(header.dims)) throw corrupt('header lacks dtype float32 / dims');
    const dims = header.dims as number[];
    const prefixLength = fixed.length + headerLength;
    const dataStart = prefixLength + ((4 - (prefixLength % 4)) % 4);
    const count = dims.reduce((a, b) => a * b, 1);
    if (size - dataStart !== count * 4) throw corrupt(`expected ${count * 4} data bytes, found ${size - dataStart}`);
    const data = new Float32Array(count);
    await readExactly(handle, new Uint8Array(data.buffer), dataStart, chunkBytes);
    return new Tensor(dims, LITTLE_ENDIAN_HOST ? data : fromLittleEndian(data));
  } finally {
    await handle.close();
  }
}

/** Deletes files, ignoring ones already gone. */
export async function removeFiles(files: readonly string[]): Promise<void> {
  for (const f of files) {
    try {
      await unlink(f);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

async function writeFully(handle: Awaited<ReturnType<typeof open>>, bytes: Uint8Array, chunkBytes: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, Math.min(chunkBytes, bytes.byteLength - done));
    done += bytesWritten;
  }
}

async function readExactly(handle: Awaited<ReturnType<typeof open>>, into: Uint8Array, position: number, chunkBytes = IO_CHUNK_BYTES): Promise<void> {
  let done = 0;
  while (done < into.byteLength) {
    const { bytesRead } = await handle.read(into, done, Math.min(chunkBytes, into.byteLength - done), position + done);
    if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
}

function toLittleEndian(data: Float32Array): Float32Array {
  const out = new Float32Array(data.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

function fromLittleEndian(raw: Float32Array): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function mapTensors(value: unknown, fn: (t: Tensor) => unknown): unknown {
  return rebuild(value, (v) => (isTensor(v) ? { hit: true, value: fn(v) } : undefined), new Set());
}

function mapRefs(value: unknown, fn: (r: SpilledTensorRef) => unknown): unknown {
  return rebuild(value, (v) => (v instanceof SpilledTensorRef ? { hit: true, value: fn(v) } : undefined), new Set());
}

/**
 * Rebuilds arrays, Maps and plain objects around the leaves `leaf` replaces. Containers with no replaced
 * leaf are returned as the same object, so identities outside tensors (model handles) survive.
 */
function rebuild(value: unknown, leaf: (v: unknown) => { hit: true; value: unknown } | undefined, active: Set<object>): unknown {
  const replaced = leaf(value);
  if (replaced) return replaced.value;
  if (value === null || typeof value !== 'object' || active.has(value)) return value;
  active.add(value);
  try {
    if (Array.isArray(value)) {
      const out = value.map((v) => rebuild(v, leaf, active));
      return out.some((v, i) => v !== value[i]) ? out : value;
    }
    if (value instanceof Map) {
      let changed = false;
      const out = new Map();
      for (const [k, v] of value) {
        const nv = rebuild(v, leaf, active);
        if (nv !== v) changed = true;
        out.set(k, nv);
      }
      return changed ? out : value;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    let changed = false;
    const out: Record<string, unknown> = proto === null ? Object.create(null) : {};
    for (const [k, v] of Object.entries(value)) {
      const nv = rebuild(v, leaf, active);
      if (nv !== v) changed = true;
      out[k] = nv;
    }
    return changed ? out : value;
  } finally {
    active.delete(value);
  }
}
