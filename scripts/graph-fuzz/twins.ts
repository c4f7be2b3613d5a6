/**
 * Conditional models for the graph fuzz: the tiny twins of real diffusers-ONNX folders (SD 1.x, SD-Turbo,
 * SDXL, SD3, FLUX dev and schnell on packed latents, DiT on class labels; test/helpers/twins.ts) with
 * conditioning files for their extra inputs, and random graphs that
 * sample them with a LoadConditioning chain, often a CFG node of random settings with a negative chain,
 * and sometimes a schedule node.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NodeTypeDescription } from '../../electron/engine/graph/describe.ts';
import { writeNpy } from '../../nodes/core/io/npy.ts';
import { Tensor } from '../../nodes/core/tensor.ts';
import { ditTwin, fluxTwin, sd15Twin, sd3Twin, sdTurboTwin, sdxlTwin, writeTwin, type TwinSpec } from '../../test/helpers/twins.ts';
import { fuzzDoc, randomNodeParams, type Doc, type Rng } from './generate.ts';

export interface FuzzTwin {
  name: string;
  folder: string;
  /** Latent channels. */
  channels: number;
  /** FLUX: the latent is packed [B, (H/2)(W/2), 4C]. */
  packed?: boolean;
  /** DiT: conditioned by class labels (ClassLabel), not by files. */
  classLabels?: boolean;
  /** Conditioning files per batch size: one set for the positive, one for the negative prompt. */
  conditioning: Record<number, { positive: Record<string, string>; negative: Record<string, string> }>;
}

const BATCHES = [1, 2];
const SEQUENCE = 7;
/** Every fuzz latent is 8 x 8: FLUX's packed length is then 16. */
const PACKED_LENGTH = 16;

function conditioningFiles(dir: string, spec: TwinSpec, batch: number, tag: string, seed: number): Record<string, string> {
  const files: Record<string, string> = {};
  let s = seed;
  const value = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2147483648 - 1);
  for (const input of spec.inputs) {
    if (input.name === 'timestep') continue;
    const dims = input.dims.map((d) => (typeof d === 'number' ? d : d.startsWith('batch') ? batch : d === 'packed_height_width' ? PACKED_LENGTH : SEQUENCE));
    const t = new Tensor(dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, value));
    const file = path.join(dir, `${tag}-b${batch}-${input.name}.npy`);
    fs.writeFileSync(file, writeNpy(t));
    files[input.name] = file;
  }
  return files;
}

/** Writes the twins and their conditioning files under `dir` (which runs must be allowed to read). */
export async function prepareFuzzTwins(dir: string): Promise<FuzzTwin[]> {
  const specs: [string, TwinSpec, number, Partial<FuzzTwin>][] = [
    ['sd15', sd15Twin(), 4, {}],
    ['sd-turbo', sdTurboTwin(), 4, {}],
    ['sdxl', sdxlTwin(), 4, {}],
    ['sd3', sd3Twin(), 16, {}],
    ['flux-dev', fluxTwin('dev'), 16, { packed: true }],
    ['flux-schnell', fluxTwin('schnell'), 16, { packed: true }],
    ['dit', ditTwin(), 4, { classLabels: true }],
  ];
  const twins: FuzzTwin[] = [];
  for (const [name, spec, channels, more] of specs) {
    const folder = await writeTwin(path.join(dir, name), spec);
    const conditioning: FuzzTwin['conditioning'] = {};
    for (const b of BATCHES) {
      conditioning[b] = { positive: conditioningFiles(dir, spec, b, `${name}-pos`, 11 + b), negative: conditioningFiles(dir, spec, b, `${name}-neg`, 29 + b) };
    }
    twins.push({ name, folder, channels, conditioning, ...more });
  }
  return twins;
}

/** A graph sampling one of the twins with its conditioning, maybe CFG and a schedule node. */
export function twinGraph(rng: Rng, types: readonly NodeTypeDescription[], twins: readonly FuzzTwin[]): Doc {
  const twin = rng.pick(twins);
  const batch = rng.pick(BATCHES);
  const nodes: Doc['nodes'] = [];
  const edges: Doc['edges'] = [];
  const byType = new Map(types.map((t) => [t.type, t] as const));
  const node = (id: string, type: string, fixed: Record<string, unknown> = {}, chance = 0.3) =>
    nodes.push({ id, type, params: randomNodeParams(rng, byType.get(type)!, fixed, { paramChance: chance }), position: { x: 0, y: 0 } });
  const link = (source: string, sourcePort: string, target: string, targetPort: string) =>
    edges.push({ id: `e${edges.length}`, source, sourcePort, target, targetPort });
  const chain = (prefix: string, files: Record<string, string>): string => {
    let last = '';
    for (const [input, file] of Object.entries(files)) {
      const id = `${prefix}_${input}`;
      nodes.push({ id, type: 'LoadConditioning', params: { input, path: file }, position: { x: 0, y: 0 } });
      if (last) link(last, 'conditioning', id, 'base');
      last = id;
    }
    return last;
  };
  node('model', 'LoadModel', { model: twin.folder }, 0);
  node('latent', 'EmptyLatent', { channels: twin.channels, height: 8, width: 8, batch, layout: twin.packed ? 'packed' : 'nchw' }, 0);
  node('sampler', 'Sampler', { steps: 2 + Math.floor(rng.next() * 12) }, 0.25);
  link('model', 'model', 'sampler', 'model');
  link('latent', 'latent', 'sampler', 'latent');
  // DiT takes ImageNet class labels (by number or by name, read from the model), the others their files.
  const labels = (id: string) => {
    node(id, 'ClassLabel', { labels: rng.pick(['207', '1, 2', 'golden retriever', '999', 'otter, 3']) }, 0);
    if (rng.chance(0.5)) link('model', 'model', id, 'model');
    return id;
  };
  link(twin.classLabels ? labels('positive') : chain('positive', twin.conditioning[batch].positive), 'conditioning', 'sampler', 'conditioning');
  if (rng.chance(0.7)) {
    node('cfg', 'CFG', {}, 0.5);
    if (rng.chance(0.7)) link(twin.classLabels ? labels('negative') : chain('negative', twin.conditioning[batch].negative), 'conditioning', 'cfg', 'negative');
    link('cfg', 'guidance', 'sampler', 'guidance');
  }
  if (rng.chance(0.4)) {
    node('schedule', rng.pick(['Schedule', 'ComfySchedule', 'ComfyCustomSchedule']), { steps: 2 + Math.floor(rng.next() * 12) }, 0.2);
    link('model', 'model', 'schedule', 'model');
    if (rng.chance(0.5)) link('latent', 'latent', 'schedule', 'latent');
    link('schedule', 'sigmas', 'sampler', 'sigmas');
  }
  if (rng.chance(0.25)) {
    node('noise', 'RandomNoise', { layout: twin.packed ? 'packed' : 'nchw' }, 0.3);
    link('latent', 'latent', 'noise', 'like');
    link('noise', 'noise', 'sampler', 'noise');
  }
  if (rng.chance(0.25)) {
    // A second pass continuing from the first (a refiner, or an img2img of the result).
    node('sampler2', 'Sampler', { steps: 1 + Math.floor(rng.next() * 8) }, 0.25);
    link('model', 'model', 'sampler2', 'model');
    link('sampler', 'latent', 'sampler2', 'latent');
    link(twin.classLabels ? labels('positive2') : chain('positive2', twin.conditioning[batch].positive), 'conditioning', 'sampler2', 'conditioning');
  }
  return fuzzDoc(`fuzz ${twin.name}`, nodes, edges);
}
