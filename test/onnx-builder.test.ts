import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { attr, decodeModel, GraphBuilder, onnxDataType, PRODUCER_NAME } from '../electron/engine/onnx/builder.ts';
import { fromFloat16Bits, toFloat16Bits } from '../electron/engine/onnx/float16.ts';

async function runModel(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  try {
    return (await s.run(feeds)) as Record<string, ort.Tensor>;
  } finally {
    await s.release();
  }
}

/** Deterministic pseudo-random floats in [-1, 1). */
function lcgFloats(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

describe('GraphBuilder writes models ONNX Runtime runs', () => {
  it('Add with broadcasting, symbolic batch dim, model metadata', async () => {
    const g = new GraphBuilder('add');
    const x = g.input('x', 'float32', ['batch', 3]);
    const c = g.initializer('c', 'float32', [3], [0.5, -1, 2]);
    g.node('Add', [x, c], ['y']);
    g.output('y', 'float32', ['batch', 3]);
    const bytes = g.toBytes({ metadata: { purpose: 'test' } });

    const m = decodeModel(bytes);
    expect(m.producerName).toBe(PRODUCER_NAME);
    expect(Number(m.irVersion)).toBe(8);
    expect(Number(m.opsetImport[0].version)).toBe(17);
    expect(m.metadataProps[0]).toMatchObject({ key: 'purpose', value: 'test' });

    const xs = lcgFloats(6, 1);
    const out = await runModel(bytes, { x: new ort.Tensor('float32', xs, [2, 3]) });
    const want = Array.from(xs, (v, i) => Math.fround(v + [0.5, -1, 2][i % 3]));
    expect(Array.from(out.y.data as Float32Array)).toEqual(want);
    expect(out.y.dims).toEqual([2, 3]);
  });

  it('MatMul against a JS matrix product, and Gemm with transB', async () => {
    const n = 5;
    const k = 7;
    const m = 4;
    const a = lcgFloats(n * k, 2);
    const b = lcgFloats(k * m, 3);
    const g = new GraphBuilder();
    const A = g.input('A', 'float32', [n, k]);
    const B = g.initializer('B', 'float32', [k, m], b);
    const Bt = g.initializer('Bt', 'float32', [m, k], Float32Array.from({ length: m * k }, (_, i) => b[(i % k) * m + Math.floor(i / k)]));
    g.op('MatMul', [A, B], {}, 'C');
    g.op('Gemm', [A, Bt], { transB: attr.int(1), alpha: attr.float(2) }, 'C2');
    g.output('C', 'float32', [n, m]);
    g.output('C2', 'float32', [n, m]);
    const out = await runModel(g.toBytes(), { A: new ort.Tensor('float32', a, [n, k]) });
    const ref = new Float64Array(n * m);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < m; j++) for (let q = 0; q < k; q++) ref[i * m + j] += a[i * k + q] * b[q * m + j];
    const C = out.C.data as Float32Array;
    const C2 = out.C2.data as Float32Array;
    for (let i = 0; i < n * m; i++) {
      expect(C[i]).toBeCloseTo(ref[i], 5);
      expect(C2[i]).toBeCloseTo(2 * ref[i], 5);
    }
  });

  it('Gather on an int64 index, Cast int64 -> float, Reshape with a constant shape', async () => {
    const table = Float32Array.from([10, 20, 30, 40, 50]);
    const g = new GraphBuilder();
    const idx = g.input('idx', 'int64', [2]);
    const x = g.input('x', 'float32', [2, 3]);
    const tab = g.initializer('table', 'float32', [5], table);
    const picked = g.op('Gather', [tab, idx], { axis: attr.int(0) }, 'picked');
    const asFloat = g.op('Cast', [idx], { to: attr.int(onnxDataType('float32')) }, 'idx_f');
    const shape = g.constInt64([3, 2]);
    g.op('Reshape', [x, shape], {}, 'reshaped');
    g.output(picked, 'float32', [2]);
    g.output(asFloat, 'float32', [2]);
    g.output('reshaped', 'float32', [3, 2]);
    const xs = lcgFloats(6, 4);
    const out = await runModel(g.toBytes(), {
      idx: new ort.Tensor('int64', BigInt64Array.from([4n, 1n]), [2]),
      x: new ort.Tensor('float32', xs, [2, 3]),
    });
    expect(Array.from(out.picked.data as Float32Array)).toEqual([50, 20]);
    expect(Array.from(out.idx_f.data as Float32Array)).toEqual([4, 1]);
    expect(out.reshaped.dims).toEqual([3, 2]);
    expect(Array.from(out.reshaped.data as Float32Array)).toEqual(Array.from(xs));
  });

  it('float16 and float64 initializers round-trip through Cast', async () => {
    const vals = [0.1, -2.5, 65504, 1e-6, 3.14159];
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [5]);
    const h = g.initializer('h', 'float16', [5], vals);
    const d = g.initializer('d', 'float64', [5], vals);
    const hf = g.op('Cast', [h], { to: attr.int(onnxDataType('float32')) });
    const df = g.op('Cast', [d], { to: attr.int(onnxDataType('float32')) });
    g.op('Add', [x, hf], {}, 'from_half');
    g.op('Add', [x, df], {}, 'from_double');
    g.output('from_half', 'float32', [5]);
    g.output('from_double', 'float32', [5]);
    const out = await runModel(g.toBytes(), { x: new ort.Tensor('float32', new Float32Array(5), [5]) });
    expect(Array.from(out.from_half.data as Float32Array)).toEqual(vals.map((v) => Math.fround(fromFloat16Bits(toFloat16Bits(v)))));
    expect(Array.from(out.from_double.data as Float32Array)).toEqual(vals.map(Math.fround));
  });

  it('rejects undefined inputs, duplicate names, wrong data sizes, and graphs without outputs', () => {
    const g = new GraphBuilder();
    g.input('x', 'float32', [2]);
    expect(() => g.op('Relu', ['nope'])).toThrow(/"nope" is not defined/);
    expect(() => g.input('x', 'float32', [2])).toThrow(/defined twice/);
    expect(() => g.initializer('w', 'float32', [2, 2], [1, 2, 3])).toThrow(/3 elements but dims \[2, 2\] need 4/);
    expect(() => g.output('missing', 'float32', [2])).toThrow(/not produced/);
    expect(() => g.toBytes()).toThrow(/no outputs/);
    expect(() => g.initializer('i', 'int64', [1], [1.5])).toThrow(/integer/);
  });
});

describe('float16 conversion', () => {
  it('encodes exactly representable values exactly and decodes them back', () => {
    for (const v of [0, 1, -1, 0.5, 2048, 65504, -65504, 2 ** -14, 2 ** -24, 3 * 2 ** -24, 1 + 2 ** -10]) {
      expect(fromFloat16Bits(toFloat16Bits(v))).toBe(v);
    }
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(-2)).toBe(0xc000);
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(-0)).toBe(0x8000);
    expect(toFloat16Bits(Infinity)).toBe(0x7c00);
    expect(Number.isNaN(fromFloat16Bits(toFloat16Bits(NaN)))).toBe(true);
  });

  it('rounds to nearest, ties to even, including subnormals and overflow', () => {
    const ulp1 = 2 ** -10; // spacing just above 1
    expect(toFloat16Bits(1 + ulp1 / 2)).toBe(0x3c00); // tie -> even (mantissa 0)
    expect(toFloat16Bits(1 + 1.5 * ulp1)).toBe(0x3c02); // tie -> even (mantissa 2)
    expect(toFloat16Bits(1 + ulp1 / 2 + 1e-12)).toBe(0x3c01); // just above the tie
    expect(toFloat16Bits(2 ** -25)).toBe(0); // half of the smallest subnormal: tie -> 0
    expect(toFloat16Bits(1.5 * 2 ** -24)).toBe(2); // tie between 1 and 2 subnormal units -> even
    expect(toFloat16Bits(65519)).toBe(0x7bff);
    expect(toFloat16Bits(65520)).toBe(0x7c00);
    // Exhaustive check against brute-force nearest over all finite positive halves at random points.
    const halves = Array.from({ length: 0x7c00 }, (_, h) => fromFloat16Bits(h));
    const xs = lcgFloats(2000, 9);
    for (const r of xs) {
      const v = Math.abs(r) * 2 ** Math.floor(Math.abs(r) * 40 - 26); // 2^-27 .. 2^14: subnormal to large normal
      let best = 0;
      for (let h = 1; h < halves.length; h++) if (Math.abs(halves[h] - v) < Math.abs(halves[best] - v)) best = h;
      expect(Math.abs(fromFloat16Bits(toFloat16Bits(v)) - v)).toBe(Math.abs(halves[best] - v));
    }
  });
});
