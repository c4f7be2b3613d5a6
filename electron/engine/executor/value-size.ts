/**
 * Byte estimates for cached port values. Tensors dominate, so they are counted by the buffers they keep
 * alive; everything else (scalars, sigma lists, handles) gets a small flat cost. MODEL handles count as
 * small: the session pool owns model memory, the cache only holds a reference.
 */
import { isTensor } from '../../../nodes/core/tensor.ts';

/** Flat cost of one object/array/scalar slot: roughly what V8 spends on a small heap object. */
const SLOT_BYTES = 16;
/** Objects owned elsewhere (sessions, class instances) and anything nested deeper than this. */
const OPAQUE_BYTES = 64;
const MAX_DEPTH = 8;

/** Bytes held by a node's outputs; a tensor reachable from two ports (or twice in one) counts once. */
export function estimateOutputsBytes(outputs: Record<string, unknown>): number {
  const seen = new Set<object>();
  let total = 0;
  for (const value of Object.values(outputs)) total += estimateValueBytes(value, seen);
  return total;
}

/** Bytes held by one port value; pass `seen` to share de-duplication across several values. */
export function estimateValueBytes(value: unknown, seen: Set<object> = new Set()): number {
  return walk(value, seen, 0);
}

function walk(value: unknown, seen: Set<object>, depth: number): number {
  if (value === null || value === undefined) return 0;
  switch (typeof value) {
    case 'string':
      return SLOT_BYTES + 2 * value.length;
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'symbol':
      return SLOT_BYTES;
    case 'function':
      return OPAQUE_BYTES;
  }
  const obj = value as object;
  if (seen.has(obj)) return 0;
  seen.add(obj);
  if (isTensor(obj)) return pinned(obj.data, seen) + OPAQUE_BYTES;
  if (ArrayBuffer.isView(obj)) return pinned(obj, seen) + OPAQUE_BYTES;
  if (obj instanceof ArrayBuffer) return obj.byteLength + OPAQUE_BYTES;
  if (depth >= MAX_DEPTH) return OPAQUE_BYTES;
  if (Array.isArray(obj)) return obj.reduce<number>((sum, v) => sum + walk(v, seen, depth + 1), SLOT_BYTES);
  if (obj instanceof Map) {
    let sum = SLOT_BYTES;
    for (const [k, v] of obj) sum += walk(k, seen, depth + 1) + walk(v, seen, depth + 1);
    return sum;
  }
  const proto = Object.getPrototypeOf(obj);
  // Class instances (ONNX sessions and the like) are owned by whoever made them.
  if (proto !== Object.prototype && proto !== null) return OPAQUE_BYTES;
  let sum = SLOT_BYTES;
  for (const [k, v] of Object.entries(obj)) sum += SLOT_BYTES + k.length + walk(v, seen, depth + 1);
  return sum;
}

/**
 * What a view keeps alive is its whole buffer (a slab, the tensor it was sliced from), counted once however
 * many views share it. The executor compacts node outputs (compact-outputs.ts), so this is the view's own
 * size, give or take a factor of two, for every value the cache sees from a run.
 */
function pinned(view: ArrayBufferView, seen: Set<object>): number {
  const buffer = view.buffer;
  if (seen.has(buffer)) return 0;
  seen.add(buffer);
  return buffer.byteLength;
}
