/**
 * A small typed builder that writes real .onnx bytes (ModelProto via onnx-proto). Used to generate the
 * embedded analytic models and test fixtures from TypeScript, so the project needs no Python exporter.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { toFloat16Array } from './float16.ts';

const { onnx } = onnxProto;

/** Element types the builder can declare and store. */
export type ElementType = 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

const DATA_TYPE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** ONNX TensorProto.DataType code of an element type (for Cast's `to` attribute). */
export function onnxDataType(type: ElementType): number {
  return DATA_TYPE[type];
}

/** A dim is fixed (number) or symbolic (string, e.g. 'batch'). */
export type Dim = number | string;

/** Initializer / constant data: typed arrays, or plain numbers (converted to the element type). */
export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint16Array | Uint8Array | Int8Array | readonly number[];

export interface TensorValue {
  type: ElementType;
  dims: readonly number[];
  data: TensorData;
}

/** Typed attribute values: ONNX distinguishes 1 (INT) from 1.0 (FLOAT), so the kind is explicit. */
export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'tensor'; value: TensorValue };

export const attr = {
  int: (value: number): AttrValue => ({ kind: 'int', value }),
  float: (value: number): AttrValue => ({ kind: 'float', value }),
  string: (value: string): AttrValue => ({ kind: 'string', value }),
  ints: (value: readonly number[]): AttrValue => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): AttrValue => ({ kind: 'floats', value }),
  tensor: (value: TensorValue): AttrValue => ({ kind: 'tensor', value }),
};

export interface ModelOptions {
  /** Default opset 17. */
  opset?: number;
  /** Default 8 (ORT 1.30 reads IR <= 13). */
  irVersion?: number;
  producerVersion?: string;
  docString?: string;
  /** Stored as ModelProto.metadata_props. */
  metadata?: Record<string, string>;
}

export const DEFAULT_OPSET = 17;
export const DEFAULT_IR_VERSION = 8;
export const PRODUCER_NAME = 'FlowStudio';

function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function checkInt(what: string, v: number): void {
  if (!Number.isInteger(v)) throw new Error(`${what}: expected an integer, got ${v}`);
}

/** Little-endian raw bytes of tensor data in the given element type (the layout ONNX raw_data uses). */
export function rawBytes(type: ElementType, data: TensorData): Uint8Array {
  const n = data.length;
  const get = (i: number): number => Number(data[i]);
  switch (type) {
    case 'float32': {
      const out = new DataView(new ArrayBuffer(n * 4));
      for (let i = 0; i < n; i++) out.setFloat32(i * 4, get(i), true);
      return new Uint8Array(out.buffer);
    }
    case 'float64': {
      const out = new DataView(new ArrayBuffer(n * 8));
      for (let i = 0; i < n; i++) out.setFloat64(i * 8, get(i), true);
      return new Uint8Array(out.buffer);
    }
    case 'float16': {
      // Uint16Array is taken as float16 bit patterns; anything else as values to round.
      const bits = data instanceof Uint16Array ? data : toFloat16Array(Array.from(data as ArrayLike<number | bigint>, Number));
      const out = new DataView(new ArrayBuffer(n * 2));
      for (let i = 0; i < n; i++) out.setUint16(i * 2, bits[i], true);
      return new Uint8Array(out.buffer);
    }
    case 'int64': {
      const out = new DataView(new ArrayBuffer(n * 8));
      for (let i = 0; i < n; i++) {
        const v = data[i];
        if (typeof v === 'bigint') out.setBigInt64(i * 8, v, true);
        else {
          checkInt('int64 tensor data', v);
          out.setBigInt64(i * 8, BigInt(v), true);
        }
      }
      return new Uint8Array(out.buffer);
    }
    case 'int32': {
      const out = new DataView(new ArrayBuffer(n * 4));
      for (let i = 0; i < n; i++) {
        checkInt('int32 tensor data', get(i));
        out.setInt32(i * 4, get(i), true);
      }
      return new Uint8Array(out.buffer);
    }
    case 'int8':
      return Uint8Array.from(Int8Array.from(data as ArrayLike<number>, Number), (v) => v & 0xff);
    case 'uint8':
      return Uint8Array.from(data as ArrayLike<number>, Number);
    case 'bool':
      return Uint8Array.from(data as ArrayLike<number>, (v) => (Number(v) ? 1 : 0));
  }
}

function tensorProto(name: string, t: TensorValue): OnnxTypes.ITensorProto {
  for (const d of t.dims) checkInt(`tensor ${name} dims`, d);
  const expected = elementCount(t.dims);
  if (t.data.length !== expected) {
    throw new Error(`tensor ${name}: data has ${t.data.length} elements but dims [${t.dims.join(', ')}] need ${expected}`);
  }
  return { name, dims: [...t.dims], dataType: DATA_TYPE[t.type], rawData: rawBytes(t.type, t.data) };
}

function valueInfo(name: string, type: ElementType, dims: readonly Dim[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[type],
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

function attributeProto(name: string, a: AttrValue): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      checkInt(`attribute ${name}`, a.value);
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'ints':
      a.value.forEach((v) => checkInt(`attribute ${name}`, v));
      return { name, type: T.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...a.value] };
    case 'tensor':
      return { name, type: T.TENSOR, t: tensorProto(name, a.value) };
  }
}

/**
 * Collects inputs, outputs, initializers and nodes of one graph. Names are checked as they are added:
 * every node input must already exist (graph input, initializer or earlier node output), so the node
 * list is topologically sorted by construction.
 */
export class GraphBuilder {
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly known = new Set<string>();
  private counter = 0;

  constructor(readonly name = 'main') {}

  private define(name: string): string {
    if (!name) throw new Error('GraphBuilder: value names must not be empty');
    if (this.known.has(name)) throw new Error(`GraphBuilder: value "${name}" is defined twice`);
    this.known.add(name);
    return name;
  }

  /** A fresh value name with the given prefix. */
  fresh(prefix = 'v'): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`;
    while (this.known.has(n));
    return n;
  }

  /** Declares a graph input; returns its name. */
  input(name: string, type: ElementType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return this.define(name);
  }

  /** Declares an existing value as a graph output. */
  output(name: string, type: ElementType, dims: readonly Dim[]): string {
    if (!this.known.has(name)) throw new Error(`GraphBuilder: output "${name}" is not produced by any node`);
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Adds a constant tensor stored in the model; returns its name. */
  initializer(name: string, type: ElementType, dims: readonly number[], data: TensorData): string {
    this.initializers.push(tensorProto(name, { type, dims, data }));
    return this.define(name);
  }

  /** Float32 constant with an auto-generated name (scalar when dims is []). */
  constFloat(values: readonly number[] | Float32Array | Float64Array, dims: readonly number[] = [values.length]): string {
    return this.initializer(this.fresh('const_f'), 'float32', dims, values);
  }

  /** Int64 constant with an auto-generated name (scalar when dims is []). */
  constInt64(values: readonly number[] | BigInt64Array, dims: readonly number[] = [values.length]): string {
    return this.initializer(this.fresh('const_i'), 'int64', dims, values);
  }

  /**
   * Adds a node. `outputs` is a list of names or a count of auto-named outputs. Empty-string inputs
   * stand for omitted optional inputs. Returns the output names.
   */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[] | number = 1,
    attrs: Record<string, AttrValue> = {},
    opts: { name?: string; domain?: string } = {},
  ): string[] {
    for (const i of inputs) {
      if (i !== '' && !this.known.has(i)) throw new Error(`GraphBuilder: ${opType} input "${i}" is not defined yet`);
    }
    const outNames =
      typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase())) : [...outputs];
    outNames.forEach((o) => this.define(o));
    this.nodes.push({
      name: opts.name ?? `${opType}_${this.nodes.length}`,
      opType,
      domain: opts.domain ?? '',
      input: [...inputs],
      output: outNames,
      attribute: Object.entries(attrs).map(([k, v]) => attributeProto(k, v)),
    });
    return outNames;
  }

  /** A single-output node; returns the output name (auto-named unless `out` is given). */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, out?: string): string {
    return this.node(opType, inputs, out ? [out] : 1, attrs)[0];
  }

  graphProto(): OnnxTypes.IGraphProto {
    if (this.outputs.length === 0) throw new Error(`GraphBuilder: graph "${this.name}" has no outputs`);
    return {
      name: this.name,
      input: this.inputs,
      output: this.outputs,
      initializer: this.initializers,
      node: this.nodes,
    };
  }

  modelProto(opts: ModelOptions = {}): OnnxTypes.IModelProto {
    return {
      irVersion: opts.irVersion ?? DEFAULT_IR_VERSION,
      opsetImport: [{ domain: '', version: opts.opset ?? DEFAULT_OPSET }],
      producerName: PRODUCER_NAME,
      producerVersion: opts.producerVersion ?? '',
      docString: opts.docString ?? '',
      graph: this.graphProto(),
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
  }

  /** Serialized .onnx bytes. */
  toBytes(opts: ModelOptions = {}): Uint8Array {
    return onnx.ModelProto.encode(onnx.ModelProto.fromObject(this.modelProto(opts))).finish();
  }
}

/** Decodes .onnx bytes (for tests and inspection). */
export function decodeModel(bytes: Uint8Array): OnnxTypes.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
