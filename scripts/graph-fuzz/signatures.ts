/**
 * Networks with random input/output signatures, for the graph fuzz's `--signatures` mode: a diffusers-ONNX
 * folder (unet/ or transformer/, the scheduler config of an embedded model) around a tiny ONNX network whose
 * sample, timestep, extra inputs and outputs get random names, element types and shapes (fixed, named or
 * unnamed dynamic dims, ranks 0 to 5, a learned-variance or flattened output). The network computes
 * 0.5 x plus a trace of every other input, so each input must be fed. A run may be refused, but by the node
 * and the input at fault, never by the session layer's last-line feed check (check.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NodeTypeDescription } from '../../electron/engine/graph/describe.ts';
import { attr, GraphBuilder, onnxDataType, type Dim, type ElementType } from '../../electron/engine/onnx/builder.ts';
import { ensureEmbeddedModel } from '../../electron/engine/models/embedded.ts';
import { writeNpy } from '../../nodes/core/io/npy.ts';
import { Tensor } from '../../nodes/core/tensor.ts';
import { fuzzDoc, randomNodeParams, type Doc, type Rng } from './generate.ts';

const BASES = ['gaussian-vp', 'gaussian-vp-continuous', 'gaussian-rf'] as const;
const FLOATS: readonly ElementType[] = ['float32', 'float32', 'float16', 'float64'];
const SOLVERS = ['auto', 'euler', 'ddim', 'dpmpp_2m', 'heun', 'unipc', 'lms', 'euler_ancestral'];
/** The fuzz latent: 3 x 16 x 16 (the embedded models' size). */
const LATENT = [3, 16, 16];

export interface SignatureCase {
  base: (typeof BASES)[number];
  kind: 'unet' | 'transformer';
  sample: { name: string; type: ElementType; dims: Dim[] };
  timestep: { name: string; type: ElementType; dims: Dim[] };
  extras: { name: string; type: ElementType; dims: Dim[] }[];
  output: { name: string; type: ElementType; variant: 'same' | 'double' | 'flat' };
  /** A second output after the first. */
  aux: boolean;
  /** Keep flowstudio.sample_dims in model_index.json. */
  sampleDims: boolean;
  /** Conditioning files the graph loads (Load Conditioning chain): for an extra input or not, of fitting dims or not. */
  conditioning: { input: string; dims: number[] }[];
}

export function randomSignatureCase(rng: Rng): SignatureCase {
  const rank = rng.chance(0.85) ? 4 : rng.pick([3, 5]);
  const full = [1, ...LATENT, 2].slice(0, rank);
  // Batch: named, unnamed (-1), or fixed; the rest mostly the latent's own, else named, unnamed or wrong.
  const dims: Dim[] = full.map((d, k) => (k === 0 ? rng.pick<Dim>(['batch', 'batch', -1, 1, 2]) : rng.chance(0.75) ? d : rng.pick<Dim>(['h', 'w', -1, 8, 32])));
  const sampleName = rng.pick(['sample', 'hidden_states', 'x', 'latent_model_input']);
  const timestepName = rng.pick(['timestep', 'timestep', 't', 'timesteps', 'sigma', 'time', 'noise_level']);
  const extras: SignatureCase['extras'] = [];
  const count = rng.chance(0.3) ? 1 + Math.floor(rng.next() * 2) : 0;
  for (let k = 0; k < count; k++) {
    const name = rng.pick(['encoder_hidden_states', 'text_embeds', 'guidance', 'class_labels', 'img_ids', 'cond']);
    if (extras.some((e) => e.name === name) || name === sampleName || name === timestepName) continue;
    extras.push({ name, type: rng.pick<ElementType>(['float32', 'int64']), dims: rng.pick<Dim[]>([['batch', 7, 8], ['batch'], [7, 3], [-1, 7]]) });
  }
  // Conditioning for most extras, with the declared dims (batch 1 or 2 for a symbolic dim) or others.
  const conditioning: SignatureCase['conditioning'] = [];
  for (const e of extras) {
    if (!rng.chance(0.7)) continue;
    const fitting = e.dims.map((d) => (typeof d === 'number' && d > 0 ? d : rng.pick([1, 2])));
    conditioning.push({ input: e.name, dims: rng.chance(0.7) ? fitting : rng.pick([[1, 7], [3, 7, 8], [1], [], [2, 7, 9]]) });
  }
  if (rng.chance(0.05)) conditioning.push({ input: rng.pick(['nope', timestepName, sampleName]), dims: [1, 3] });
  const outputNames = ['out_sample', 'sample', 'noise_pred', 'output'].filter((n) => n !== sampleName && n !== timestepName && !extras.some((e) => e.name === n));
  return {
    base: rng.pick(BASES),
    kind: rng.pick(['unet', 'transformer'] as const),
    sample: { name: sampleName, type: rng.chance(0.05) ? 'int64' : rng.pick(FLOATS), dims },
    timestep: { name: timestepName, type: rng.pick<ElementType>(['int64', 'int32', 'float32', 'float16', 'float64', 'bool', 'int8']), dims: rng.pick<Dim[]>([[], [1], ['batch'], [2], [1, 1], [-1]]) },
    extras,
    output: { name: rng.pick(outputNames), type: rng.chance(0.8) ? 'float32' : rng.pick<ElementType>(['float16', 'float64', 'int64']), variant: rng.pick(['same', 'same', 'same', 'double', 'flat'] as const) },
    aux: rng.chance(0.15),
    sampleDims: rng.chance(0.5),
    conditioning,
  };
}

/** y = 0.5 x + 0.0001 mean(t) + 0 mean(extra) ..., in float32, then the output's variant and element type. */
function network(c: SignatureCase): Uint8Array {
  const g = new GraphBuilder('signature-fuzz');
  const toFloat = (v: string) => g.op('Cast', [v], { to: attr.int(onnxDataType('float32')) });
  const trace = (v: string, weight: number) => g.op('Mul', [g.op('ReduceMean', [toFloat(v)], { keepdims: attr.int(0) }), g.constFloat([weight], [])]);
  const x = g.input(c.sample.name, c.sample.type, c.sample.dims);
  const t = g.input(c.timestep.name, c.timestep.type, c.timestep.dims);
  let y = g.op('Add', [g.op('Mul', [toFloat(x), g.constFloat([0.5], [])]), trace(t, 0.0001)]);
  for (const e of c.extras) y = g.op('Add', [y, trace(g.input(e.name, e.type, e.dims), 0)]);
  let out = y;
  let dims: Dim[] = c.sample.dims;
  if (c.output.variant === 'double' && dims.length === 4) {
    out = g.op('Concat', [y, y], { axis: attr.int(1) });
    dims = dims.map((d, k) => (k === 1 && typeof d === 'number' && d > 0 ? 2 * d : d));
  } else if (c.output.variant === 'flat') {
    out = g.op('Flatten', [y], { axis: attr.int(1) });
    dims = [dims[0], 'features'];
  }
  if (c.output.type !== 'float32') out = g.op('Cast', [out], { to: attr.int(onnxDataType(c.output.type)) });
  g.node('Identity', [out], [c.output.name]);
  g.output(c.output.name, c.output.type, dims);
  if (c.aux) {
    g.node('Identity', [y], ['aux']);
    g.output('aux', 'float32', c.sample.dims);
  }
  return g.toBytes();
}

/** Writes the case as a model folder at `folder` (the scheduler config from `cacheDir`'s embedded model). */
export async function writeSignatureCase(folder: string, c: SignatureCase, cacheDir?: string): Promise<void> {
  const source = await ensureEmbeddedModel(c.base, cacheDir);
  fs.mkdirSync(path.join(folder, 'scheduler'), { recursive: true });
  fs.mkdirSync(path.join(folder, c.kind), { recursive: true });
  fs.copyFileSync(path.join(source, 'scheduler', 'scheduler_config.json'), path.join(folder, 'scheduler', 'scheduler_config.json'));
  fs.writeFileSync(path.join(folder, c.kind, 'model.onnx'), network(c));
  const index = JSON.parse(fs.readFileSync(path.join(source, 'model_index.json'), 'utf8')) as Record<string, unknown> & { flowstudio: Record<string, unknown> };
  delete index.unet;
  delete index.transformer;
  delete index.flowstudio.analytic;
  if (!c.sampleDims) delete index.flowstudio.sample_dims;
  index[c.kind] = ['diffusers', 'OnnxRuntimeModel'];
  fs.writeFileSync(path.join(folder, 'model_index.json'), JSON.stringify(index, null, 1));
  c.conditioning.forEach((cond, k) => fs.writeFileSync(conditioningFile(folder, k), writeNpy(Tensor.full(cond.dims, 0.25))));
}

function conditioningFile(folder: string, k: number): string {
  return path.join(folder, `conditioning-${k}.npy`);
}

/** LoadModel on the folder, a 3 x 16 x 16 latent of batch 1 or 2, a Sampler (sometimes on a Schedule) fed the case's conditioning files. */
export function signatureGraph(rng: Rng, types: readonly NodeTypeDescription[], folder: string, c: SignatureCase): Doc {
  const byType = new Map(types.map((t) => [t.type, t] as const));
  const nodes: Doc['nodes'] = [];
  const edges: Doc['edges'] = [];
  const node = (id: string, type: string, fixed: Record<string, unknown>) =>
    nodes.push({ id, type, params: randomNodeParams(rng, byType.get(type)!, fixed, { paramChance: 0.1 }), position: { x: 0, y: 0 } });
  const link = (source: string, sourcePort: string, target: string, targetPort: string) =>
    edges.push({ id: `e${edges.length}`, source, sourcePort, target, targetPort });
  node('model', 'LoadModel', { model: folder });
  node('latent', 'EmptyLatent', { channels: LATENT[0], height: LATENT[1], width: LATENT[2], batch: rng.pick([1, 1, 2]) });
  node('sampler', 'Sampler', { steps: 1 + Math.floor(rng.next() * 4), solver: rng.pick(SOLVERS) });
  link('model', 'model', 'sampler', 'model');
  link('latent', 'latent', 'sampler', 'latent');
  c.conditioning.forEach((cond, k) => {
    nodes.push({ id: `cond${k}`, type: 'LoadConditioning', params: { input: cond.input, path: conditioningFile(folder, k) }, position: { x: 0, y: 0 } });
    link(`cond${k}`, 'conditioning', k + 1 < c.conditioning.length ? `cond${k + 1}` : 'sampler', k + 1 < c.conditioning.length ? 'base' : 'conditioning');
  });
  if (rng.chance(0.3)) {
    node('schedule', rng.pick(['Schedule', 'ComfySchedule']), { steps: 1 + Math.floor(rng.next() * 4) });
    link('model', 'model', 'schedule', 'model');
    link('schedule', 'sigmas', 'sampler', 'sigmas');
  }
  return fuzzDoc('fuzz signature', nodes, edges);
}
