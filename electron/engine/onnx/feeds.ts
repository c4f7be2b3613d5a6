/**
 * Checks model feeds against the inputs a model declares and converts their data to the declared
 * element type; converts numeric outputs back to FlowStudio Tensors. Errors name the input and the file.
 */
import * as ort from './ort.ts';
import { Tensor } from '../../../nodes/core/tensor.ts';
import { declaredShapeString, type ModelFeed, type TensorInfo } from '../../../nodes/core/values.ts';
import { fromFloat16Array, toFloat16Array } from './float16.ts';

type FeedData = ModelFeed['data'];

/** Reads feed data as numbers (Uint16Array is taken as float16 bit patterns, as ModelFeed documents). */
function asNumbers(data: FeedData): ArrayLike<number> {
  if (data instanceof Uint16Array) return fromFloat16Array(data);
  if (data instanceof BigInt64Array) return Float64Array.from(data, Number);
  return data;
}

function checkIntegerSource(values: ArrayLike<number>, name: string, file: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new Error(`input "${name}" of model ${file}: element ${i} is ${values[i]}, which cannot become an integer`);
    }
  }
}

/** Converts feed data to the typed array ORT needs for `type`. Integers truncate toward zero (numpy astype). */
export function convertFeedData(data: FeedData, type: string, name: string, file: string): ort.Tensor['data'] {
  switch (type) {
    case 'float32':
      return data instanceof Float32Array ? data : Float32Array.from(asNumbers(data));
    case 'float64':
      return data instanceof Float64Array ? data : Float64Array.from(asNumbers(data));
    case 'float16':
      return data instanceof Uint16Array ? data : toFloat16Array(asNumbers(data));
    case 'int64': {
      if (data instanceof BigInt64Array) return data;
      const v = asNumbers(data);
      checkIntegerSource(v, name, file);
      const out = new BigInt64Array(v.length);
      for (let i = 0; i < v.length; i++) out[i] = BigInt(Math.trunc(v[i]));
      return out;
    }
    case 'int32': {
      if (data instanceof Int32Array) return data;
      const v = asNumbers(data);
      checkIntegerSource(v, name, file);
      const out = new Int32Array(v.length);
      for (let i = 0; i < v.length; i++) {
        const t = Math.trunc(v[i]);
        if (t < -(2 ** 31) || t >= 2 ** 31) {
          throw new Error(`input "${name}" of model ${file}: element ${i} = ${v[i]} does not fit in int32`);
        }
        out[i] = t;
      }
      return out;
    }
    default:
      throw new Error(`input "${name}" of model ${file} has element type ${type}, which FlowStudio cannot feed`);
  }
}

/**
 * Validates feed names and shapes against the declared inputs: every input present, no unknown names,
 * fixed dims equal, and a symbolic dim (e.g. 'batch') the same size wherever it appears.
 */
export function validateFeeds(feeds: Record<string, ModelFeed>, inputs: readonly TensorInfo[], file: string): void {
  // Runs before every model call: plain loops, no per-call closures or collections on the happy path.
  let known = 0;
  for (const info of inputs) if (feeds[info.name]) known++;
  if (known !== Object.keys(feeds).length) {
    const declared = new Set(inputs.map((i) => i.name));
    const unknown = Object.keys(feeds).find((n) => !declared.has(n));
    throw new Error(`unknown input "${unknown}" for model ${file} (inputs: ${inputs.map((i) => i.name).join(', ')})`);
  }
  // Symbolic dims seen so far as [name, size, input] triples: a model has a handful, a Map would cost more.
  let symbols: (string | number)[] | undefined;
  for (const info of inputs) {
    const feed = feeds[info.name];
    if (!feed) throw new Error(`missing input "${info.name}" for model ${file} (expected shape ${declaredShapeString(info.shape)})`);
    let count = 1;
    for (const d of feed.dims) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`input "${info.name}" of model ${file}: invalid dimension ${d}`);
      count *= d;
    }
    if (feed.data.length !== count) {
      throw new Error(
        `input "${info.name}" of model ${file}: data has ${feed.data.length} elements but dims ${declaredShapeString(feed.dims)} need ${count}`,
      );
    }
    if (info.shape.length === 0) continue; // rank unknown to the runtime: nothing to check
    if (info.shape.length !== feed.dims.length) throw shapeMismatch(info, feed, file);
    for (let i = 0; i < info.shape.length; i++) {
      const d = info.shape[i];
      const got = feed.dims[i];
      if (typeof d === 'number') {
        if (d >= 0 && d !== got) throw shapeMismatch(info, feed, file);
      } else if (d !== '') {
        symbols ??= [];
        let k = 0;
        while (k < symbols.length && symbols[k] !== d) k += 3;
        if (k === symbols.length) symbols.push(d, got, info.name);
        else if (symbols[k + 1] !== got) {
          throw new Error(
            `shape mismatch for input "${info.name}" of model ${file}: dimension "${d}" is ${got} here but ${symbols[k + 1]} in input "${symbols[k + 2]}"`,
          );
        }
      }
    }
  }
}

function shapeMismatch(info: TensorInfo, feed: ModelFeed, file: string): Error {
  return new Error(
    `shape mismatch for input "${info.name}" of model ${file}: expected ${declaredShapeString(info.shape)}, got ${declaredShapeString(feed.dims)}`,
  );
}

/** An ORT tensor for one validated feed, in the declared element type. */
export function toOrtTensor(feed: ModelFeed, info: TensorInfo | undefined, name: string, file: string): ort.Tensor {
  const type = info?.type ?? feed.type;
  const data = convertFeedData(feed.data, type, name, file);
  return new ort.Tensor(type as 'float32', data as Float32Array, [...feed.dims]);
}

/**
 * Numeric ORT output as a Float32 Tensor; undefined for non-numeric outputs (strings). `dimsHint`: the
 * frozen dims of the same output's previous call, reused when equal (a sampler's calls all have one shape).
 */
export function fromOrtTensor(t: ort.Tensor, dimsHint?: readonly number[]): Tensor | undefined {
  const dims = sameDims(dimsHint, t.dims) ? dimsHint : Object.freeze(t.dims.map(Number));
  const data = t.data;
  if (t.type === 'float32') return new Tensor(dims, data as Float32Array);
  if (t.type === 'float16') return new Tensor(dims, fromFloat16Array(data as Uint16Array));
  if (t.type === 'string') return undefined;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return new Tensor(dims, Float32Array.from(data, Number));
  return new Tensor(dims, Float32Array.from(data as ArrayLike<number>));
}

function sameDims(a: readonly number[] | undefined, b: readonly number[]): a is readonly number[] {
  if (a === undefined || a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== Number(b[k])) return false;
  return true;
}
