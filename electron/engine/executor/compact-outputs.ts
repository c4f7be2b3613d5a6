/**
 * A node's outputs outlive the node: the run hands them on, and the cache and the recent-runs list keep
 * them. Small tensors are carved from shared 64 KiB slabs (nodes/core/tensor.ts) and slices share their
 * parent's buffer, so a kept 3 KB latent could pin a whole slab and a recorded trajectory several times
 * its size, beyond what the cache's byte bound counts. compactOutputs copies such tensors (and bare typed
 * arrays) into buffers of their own. A container is copied only when something inside it was (frozen
 * again if it was frozen); the rest, class instances included (models, sessions), is kept as it is, and a
 * value reached twice maps to one copy, so aliases stay aliases.
 */
import { isTensor } from '../../../nodes/core/tensor.ts';

/** As deep as value-size.ts walks: what it counts, this compacts. */
const MAX_DEPTH = 8;

/** A view is copied when its buffer is more than this many times its size. */
const PIN_FACTOR = 2;

export function compactOutputs(outputs: Record<string, unknown>): Record<string, unknown> {
  return compact(outputs, new Map(), 0) as Record<string, unknown>;
}

function compact(value: unknown, memo: Map<object, unknown>, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (memo.has(value)) return memo.get(value);
  const out = compactObject(value, memo, depth);
  memo.set(value, out);
  return out;
}

function compactObject(obj: object, memo: Map<object, unknown>, depth: number): unknown {
  if (isTensor(obj)) return obj.compacted();
  if (ArrayBuffer.isView(obj)) {
    const pinsMore = obj.buffer.byteLength > PIN_FACTOR * obj.byteLength;
    return pinsMore && !(obj instanceof DataView) ? ownCopy(obj) : obj;
  }
  if (depth >= MAX_DEPTH) return obj;
  if (Array.isArray(obj)) {
    // Copied from the first changed item on: long lists of numbers (schedules, metric series) cost no copy.
    let items: unknown[] | undefined;
    for (let i = 0; i < obj.length; i++) {
      const item: unknown = obj[i];
      if (item === null || typeof item !== 'object') {
        if (items) items[i] = item;
        continue;
      }
      const c = compact(item, memo, depth + 1);
      if (c !== item && !items) items = obj.slice(0, i);
      if (items) items[i] = c;
    }
    return items ? refrozen(obj, items) : obj;
  }
  if (obj instanceof Map) {
    let changed = false;
    const copy = new Map();
    for (const [k, v] of obj) {
      const c = compact(v, memo, depth + 1);
      changed ||= c !== v;
      copy.set(k, c);
    }
    return changed ? copy : obj;
  }
  const proto = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) return obj;
  let changed = false;
  const copy: Record<string, unknown> = Object.create(proto);
  for (const [k, v] of Object.entries(obj)) {
    const c = compact(v, memo, depth + 1);
    changed ||= c !== v;
    copy[k] = c;
  }
  return changed ? refrozen(obj, copy) : obj;
}

function refrozen<T extends object>(original: object, copy: T): T {
  return Object.isFrozen(original) ? Object.freeze(copy) : copy;
}

/**
 * A typed array's values in a buffer of their own. A Node Buffer's slice() is a view and Buffer.from takes
 * small ones from Node's shared pool again: it gets an unpooled buffer.
 */
function ownCopy(view: ArrayBufferView): ArrayBufferView {
  if (Buffer.isBuffer(view)) {
    const copy = Buffer.allocUnsafeSlow(view.length);
    view.copy(copy);
    return copy;
  }
  return (view as unknown as { slice(): ArrayBufferView }).slice();
}
