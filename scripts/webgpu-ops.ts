/**
 * Which ONNX operators of SD / DiT exports run on ORT's WebGPU provider alone: each in a one-node model,
 * created with the CPU fallback disabled (so a session either puts every node on the GPU or fails), run on
 * the GPU and compared with the CPU. `npx tsx scripts/webgpu-ops.ts` on a machine with a GPU; README
 * ("WebGPU on Linux") has a result.
 */
import * as ort from 'onnxruntime-node';
import { attr, GraphBuilder } from '../electron/engine/onnx/builder.ts';

type Case = { name: string; build(g: GraphBuilder): void; feeds: Record<string, ort.Tensor> };
const rnd = (n: number, seed: number) => {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; a[i] = s / 2 ** 32 - 0.5; }
  return a;
};
const f32 = (dims: number[], seed = 1) => new ort.Tensor('float32', rnd(dims.reduce((a, b) => a * b, 1), seed), dims);
const X = (g: GraphBuilder, dims: number[]) => g.input('x', 'float32', dims);
const out = (g: GraphBuilder, name: string, dims: (number | string)[]) => g.output(name, 'float32', dims as never);
const unary = (op: string, attrs = {}): Case => ({ name: op, feeds: { x: f32([2, 8, 16]) }, build: (g) => { g.op(op, [X(g, [2, 8, 16])], attrs, 'y'); out(g, 'y', [2, 8, 16]); } });
const binary = (op: string): Case => ({ name: op, feeds: { x: f32([2, 8, 16]), z: f32([2, 8, 16], 5) }, build: (g) => { g.op(op, [X(g, [2, 8, 16]), g.input('z', 'float32', [2, 8, 16])], {}, 'y'); out(g, 'y', [2, 8, 16]); } });

const cases: Case[] = [
  { name: 'Conv', feeds: { x: f32([1, 4, 8, 8]) }, build: (g) => { g.op('Conv', [X(g, [1, 4, 8, 8]), g.initializer('w', 'float32', [8, 4, 3, 3], rnd(288, 2)), g.constFloat(rnd(8, 3), [8])], { pads: attr.ints([1, 1, 1, 1]), kernel_shape: attr.ints([3, 3]) }, 'y'); out(g, 'y', [1, 8, 8, 8]); } },
  { name: 'InstanceNormalization', feeds: { x: f32([1, 8, 4, 4]) }, build: (g) => { g.op('InstanceNormalization', [X(g, [1, 8, 4, 4]), g.constFloat(rnd(8, 4), [8]), g.constFloat(rnd(8, 5), [8])], { epsilon: attr.float(1e-5) }, 'y'); out(g, 'y', [1, 8, 4, 4]); } },
  { name: 'GroupNormalization', feeds: { x: f32([1, 8, 4, 4]) }, build: (g) => { g.op('GroupNormalization', [X(g, [1, 8, 4, 4]), g.constFloat(rnd(2, 4), [2]), g.constFloat(rnd(2, 5), [2])], { num_groups: attr.int(2), epsilon: attr.float(1e-5) }, 'y'); out(g, 'y', [1, 8, 4, 4]); } },
  { name: 'LayerNormalization', feeds: { x: f32([1, 16, 8]) }, build: (g) => { g.op('LayerNormalization', [X(g, [1, 16, 8]), g.constFloat(rnd(8, 4), [8]), g.constFloat(rnd(8, 5), [8])], { axis: attr.int(-1) }, 'y'); out(g, 'y', [1, 16, 8]); } },
  unary('Sigmoid'), unary('Tanh'), unary('Erf'), unary('Sin'), unary('Cos'), unary('Exp'), unary('Relu'), unary('Softmax', { axis: attr.int(-1) }),
  { name: 'Sqrt', feeds: { x: new ort.Tensor('float32', rnd(256, 9).map(Math.abs), [2, 8, 16]) }, build: (g) => { g.op('Sqrt', [X(g, [2, 8, 16])], {}, 'y'); out(g, 'y', [2, 8, 16]); } },
  binary('Add'), binary('Sub'), binary('Mul'), binary('Div'),
  { name: 'Pow', feeds: { x: new ort.Tensor('float32', rnd(256, 9).map(Math.abs), [2, 8, 16]) }, build: (g) => { g.op('Pow', [X(g, [2, 8, 16]), g.constFloat([2], [])], {}, 'y'); out(g, 'y', [2, 8, 16]); } },
  { name: 'MatMul', feeds: { x: f32([2, 16, 8]) }, build: (g) => { g.op('MatMul', [X(g, [2, 16, 8]), g.initializer('b', 'float32', [8, 12], rnd(96, 3))], {}, 'y'); out(g, 'y', [2, 16, 12]); } },
  { name: 'Gemm', feeds: { x: f32([4, 8]) }, build: (g) => { g.op('Gemm', [X(g, [4, 8]), g.initializer('b', 'float32', [12, 8], rnd(96, 3)), g.constFloat(rnd(12, 4), [12])], { transB: attr.int(1) }, 'y'); out(g, 'y', [4, 12]); } },
  { name: 'Transpose', feeds: { x: f32([2, 8, 16]) }, build: (g) => { g.op('Transpose', [X(g, [2, 8, 16])], { perm: attr.ints([0, 2, 1]) }, 'y'); out(g, 'y', [2, 16, 8]); } },
  { name: 'Reshape', feeds: { x: f32([2, 8, 16]) }, build: (g) => { g.op('Reshape', [X(g, [2, 8, 16]), g.constInt64([2, 4, 32])], {}, 'y'); out(g, 'y', [2, 4, 32]); } },
  { name: 'Resize(nearest)', feeds: { x: f32([1, 4, 8, 8]) }, build: (g) => { g.op('Resize', [X(g, [1, 4, 8, 8]), '', g.constFloat([1, 1, 2, 2], [4])], { mode: attr.string('nearest') }, 'y'); out(g, 'y', [1, 4, 16, 16]); } },
  { name: 'Concat', feeds: { x: f32([2, 8, 16]) }, build: (g) => { const x = X(g, [2, 8, 16]); g.op('Concat', [x, x], { axis: attr.int(1) }, 'y'); out(g, 'y', [2, 16, 16]); } },
  { name: 'ReduceMean', feeds: { x: f32([2, 8, 16]) }, build: (g) => { g.op('ReduceMean', [X(g, [2, 8, 16]), g.constInt64([2])], { keepdims: attr.int(1) }, 'y'); out(g, 'y', [2, 8, 1]); } },
  { name: 'Gather', feeds: { x: f32([2, 8, 16]) }, build: (g) => { g.op('Gather', [X(g, [2, 8, 16]), g.constInt64([3, 1, 4])], { axis: attr.int(1) }, 'y'); out(g, 'y', [2, 3, 16]); } },
  { name: 'Slice', feeds: { x: f32([2, 8, 16]) }, build: (g) => { g.op('Slice', [X(g, [2, 8, 16]), g.constInt64([2]), g.constInt64([6]), g.constInt64([1])], {}, 'y'); out(g, 'y', [2, 4, 16]); } },
  { name: 'Split', feeds: { x: f32([2, 8, 16]) }, build: (g) => { const [a, b] = g.node('Split', [X(g, [2, 8, 16])], 2, { axis: attr.int(1), num_outputs: attr.int(2) }); g.op('Sub', [a, b], {}, 'y'); out(g, 'y', [2, 4, 16]); } },
  { name: 'Where+Greater', feeds: { x: f32([2, 8, 16]) }, build: (g) => { const x = X(g, [2, 8, 16]); const c = g.op('Greater', [x, g.constFloat([0], [])]); g.op('Where', [c, x, g.constFloat([0], [])], {}, 'y'); out(g, 'y', [2, 8, 16]); } },
  { name: 'Expand', feeds: { x: f32([1, 8, 1]) }, build: (g) => { g.op('Expand', [X(g, [1, 8, 1]), g.constInt64([2, 8, 16])], {}, 'y'); out(g, 'y', [2, 8, 16]); } },
  { name: 'Unsqueeze', feeds: { x: f32([8, 16]) }, build: (g) => { g.op('Unsqueeze', [X(g, [8, 16]), g.constInt64([0])], {}, 'y'); out(g, 'y', [1, 8, 16]); } },
  { name: 'Cast f16 round trip', feeds: { x: f32([2, 8, 16]) }, build: (g) => { const h = g.op('Cast', [X(g, [2, 8, 16])], { to: attr.int(10) }); g.op('Cast', [h], { to: attr.int(1) }, 'y'); out(g, 'y', [2, 8, 16]); } },
  { name: 'Shape+Gather (dynamic dims)', feeds: { x: f32([2, 8, 16]) }, build: (g) => { const x = X(g, [2, 8, 16]); const s = g.op('Shape', [x]); const d = g.op('Gather', [s, g.constInt64([1])], { axis: attr.int(0) }); const f = g.op('Cast', [d], { to: attr.int(1) }); g.op('Mul', [x, f], {}, 'y'); out(g, 'y', [2, 8, 16]); } },
];

const rows: string[] = [];
for (const c of cases) {
  const g = new GraphBuilder(c.name);
  let verdict: string;
  try {
    c.build(g);
    const bytes = g.toBytes({ opset: 18 });
    const cpu = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
    const ref = (await cpu.run(c.feeds)).y.data as Float32Array;
    try {
      const gpu = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'], extra: { session: { disable_cpu_ep_fallback: '1' } }, logSeverityLevel: 3 });
      const got = (await gpu.run(c.feeds)).y.data as Float32Array;
      let max = 0, scale = 1e-6;
      for (let i = 0; i < ref.length; i++) { max = Math.max(max, Math.abs(ref[i] - got[i])); scale = Math.max(scale, Math.abs(ref[i])); }
      verdict = `on GPU, max |diff| ${(max / scale).toExponential(1)} relative`;
    } catch (e) {
      verdict = `NOT on GPU alone: ${String((e as Error).message).replace(/\s+/g, ' ').slice(-160)}`;
    }
  } catch (e) {
    verdict = `probe broken: ${String((e as Error).message).slice(0, 160)}`;
  }
  rows.push(`${c.name.padEnd(28)} ${verdict}`);
  console.log(rows.at(-1));
}
