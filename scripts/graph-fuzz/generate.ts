/**
 * Random graphs for robustness fuzzing (README.md here; twins.ts adds graphs over conditional models). Two sources:
 * - `randomGraph`: well-formed graphs over the embedded models (a model, a latent, maybe a schedule with
 *   sigma edits, noise, CFG, a second sampler, metrics, image output) whose params are drawn from their
 *   declarations, now and then out of range or of the wrong kind;
 * - `mutateGraph`: a graph with structural damage (rewired or dangling edges, cycles, unknown types or ports,
 *   duplicate ids, junk values where the schema wants others).
 * Everything is drawn from one seeded generator, so a seed names a graph.
 */
import type { NodeTypeDescription, ParamDescription } from '../../electron/engine/graph/describe.ts';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** A small LCG: plenty for choosing graph shapes, and the same sequence everywhere. */
export function createRng(seed: number): Rng {
  let s = seed >>> 0 || 1;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  return { next, pick: (items) => items[Math.floor(next() * items.length)], chance: (p) => next() < p };
}

export const EMBEDDED_MODELS = ['embedded:gaussian-vp', 'embedded:gaussian-vp-continuous', 'embedded:gaussian-rf'] as const;

/** Values no declaration asks for: each must be refused with a message, never crash anything. */
const JUNK: readonly unknown[] = [Number.NaN, -1, 1e12, 'abc', null, {}, [], true, -0.5, Number.POSITIVE_INFINITY, ''];
const STRINGS = ['', '1.0, 0.5, 0.0', 'a photo', '14.6, 7, 3, 1, 0.03', '[1, 0.5]', 'x'];
/** Size params stay small: a fuzz round is about logic, not about allocating gigabytes. */
const SIZE_PARAMS = new Set(['width', 'height', 'channels', 'batch']);

export interface RandomGraphOptions {
  /** Chance that a param is set at all (else its default). */
  paramChance?: number;
  /** Chance that a set param gets a junk value. */
  junkChance?: number;
  /** The LoadModel reference (default: one of the embedded models). */
  model?: string;
}

function randomParam(rng: Rng, p: ParamDescription, junkChance: number): unknown {
  if (rng.chance(junkChance)) return rng.pick(JUNK);
  switch (p.kind) {
    case 'enum':
      return rng.pick(p.options ?? [p.default]);
    case 'boolean':
      return rng.chance(0.5);
    case 'int': {
      const lo = p.min ?? 0;
      const span = p.name.includes('step') ? 30 : SIZE_PARAMS.has(p.name) ? 40 : 1000;
      const hi = Math.min(p.max ?? 100, lo + span);
      return Math.floor(lo + rng.next() * (hi - lo + 1));
    }
    case 'float': {
      const lo = p.min ?? -10;
      const hi = Math.min(p.max ?? 20, lo + 50);
      return rng.chance(0.2) ? rng.pick([lo, hi, 1]) : lo + rng.next() * (hi - lo);
    }
    case 'seed':
      return Math.floor(rng.next() * 1e6);
    case 'string':
      return rng.pick(STRINGS);
    case 'file':
      return rng.pick(['', 'nope.npy', '../../etc/passwd', 'inputs/missing.png']);
  }
  return p.default;
}

export interface Doc {
  format: string;
  schemaVersion: number;
  metadata: { name: string; description: string; author: string; tags: string[] };
  nodes: { id: string; type: string; params: Record<string, unknown>; position: { x: number; y: number } }[];
  edges: { id: string; source: string; sourcePort: string; target: string; targetPort: string }[];
  groups: unknown[];
  viewport: { x: number; y: number; zoom: number };
  subgraphs: Record<string, unknown>;
}

/** A node's params: `fixed` ones as given, each other one drawn (or left at its default). */
export function randomNodeParams(rng: Rng, def: NodeTypeDescription, fixed: Record<string, unknown> = {}, opts: RandomGraphOptions = {}): Record<string, unknown> {
  const paramChance = opts.paramChance ?? 0.3;
  const junkChance = opts.junkChance ?? 0.003;
  const params: Record<string, unknown> = {};
  for (const p of def.params) {
    if (p.name in fixed) params[p.name] = fixed[p.name];
    else if (rng.chance(paramChance)) params[p.name] = randomParam(rng, p, junkChance);
  }
  return params;
}

/** A well-formed graph over the embedded models, with params drawn from the declarations. */
export function randomGraph(rng: Rng, types: readonly NodeTypeDescription[], opts: RandomGraphOptions = {}): Doc {
  const byType = new Map(types.map((t) => [t.type, t] as const));
  const nodes: Doc['nodes'] = [];
  const edges: Doc['edges'] = [];
  const node = (id: string, type: string, fixed: Record<string, unknown> = {}) => {
    const def = byType.get(type);
    if (!def) throw new Error(`graph fuzz: no node type ${type}`);
    nodes.push({ id, type, params: randomNodeParams(rng, def, fixed, opts), position: { x: 0, y: 0 } });
  };
  const link = (source: string, sourcePort: string, target: string, targetPort: string) =>
    edges.push({ id: `e${edges.length}`, source, sourcePort, target, targetPort });

  node('model', 'LoadModel', { model: opts.model ?? rng.pick(EMBEDDED_MODELS) });
  let model = 'model';
  if (rng.chance(0.25)) {
    node('ms', 'ModelSampling');
    link('model', 'model', 'ms', 'model');
    model = 'ms';
  }
  if (rng.chance(0.25)) node('latent', 'LoadLatent', { path: 'inputs/noise-1x3x16x16.npy', add_batch_axis: false });
  else {
    const dims = rng.chance(0.9) ? { channels: 3, height: 16, width: 16 } : { channels: rng.pick([1, 3, 4]), height: rng.pick([8, 16, 32]), width: rng.pick([8, 16]) };
    node('latent', 'EmptyLatent', { ...dims, batch: rng.pick([1, 1, 2]) });
  }
  let sigmas: [string, string] | undefined;
  if (rng.chance(0.7)) {
    node('schedule', rng.pick(['Schedule', 'ComfySchedule', 'ComfyCustomSchedule']), { steps: 1 + Math.floor(rng.next() * 20) });
    link(model, 'model', 'schedule', 'model');
    if (rng.chance(0.3)) link('latent', 'latent', 'schedule', 'latent');
    sigmas = ['schedule', 'sigmas'];
    const edits = Math.floor(rng.next() * 3);
    for (let k = 0; k < edits; k++) {
      const type = rng.pick(['SplitSigmas', 'FlipSigmas', 'SetFirstSigma', 'ExtendIntermediateSigmas']);
      const id = `edit${k}`;
      node(id, type);
      link(sigmas[0], sigmas[1], id, 'sigmas');
      if (type !== 'SplitSigmas') link(model, 'model', id, 'model');
      sigmas = [id, type === 'SplitSigmas' ? rng.pick(['high', 'low']) : 'sigmas'];
    }
  }
  node('sampler', 'Sampler', { steps: 1 + Math.floor(rng.next() * 20) });
  link(model, 'model', 'sampler', 'model');
  link('latent', 'latent', 'sampler', 'latent');
  if (sigmas) link(sigmas[0], sigmas[1], 'sampler', 'sigmas');
  if (rng.chance(0.3)) {
    node('noise', 'RandomNoise');
    if (rng.chance(0.5)) link('latent', 'latent', 'noise', 'like');
    link('noise', 'noise', 'sampler', 'noise');
  }
  if (rng.chance(0.2)) {
    node('cfg', 'CFG');
    link('cfg', 'guidance', 'sampler', 'guidance');
  }
  if (rng.chance(0.3)) {
    node('sampler2', 'Sampler', { steps: 1 + Math.floor(rng.next() * 10) });
    link(model, 'model', 'sampler2', 'model');
    link('sampler', 'latent', 'sampler2', 'latent');
    if (rng.chance(0.5)) {
      node('schedule2', rng.pick(['Schedule', 'ComfySchedule']));
      link(model, 'model', 'schedule2', 'model');
      node('split2', 'SplitSigmas');
      link('schedule2', 'sigmas', 'split2', 'sigmas');
      link('split2', 'low', 'sampler2', 'sigmas');
    }
  }
  if (rng.chance(0.3)) {
    node('metrics', 'TensorMetrics');
    link('sampler', 'latent', 'metrics', 'a');
    link('sampler', 'denoised', 'metrics', 'b');
  }
  if (rng.chance(0.15)) {
    // Real solver names and budgets (the declaration's string params would only draw junk for them).
    const solvers = byType.get('Sampler')?.params.find((p) => p.name === 'solver')?.options?.filter((o) => o !== 'auto') ?? ['euler'];
    const picked = Array.from({ length: 1 + Math.floor(rng.next() * 3) }, () => rng.pick(solvers)).join(', ');
    node('compare', 'SolverCompare', { solvers: picked, nfe: rng.pick(['3', '4, 8', '2, 5, 9', '1']), reference_steps: rng.pick([20, 50, 100]) });
    link(model, 'model', 'compare', 'model');
    link('latent', 'latent', 'compare', 'latent');
  }
  if (rng.chance(0.15) && !nodes.some((n) => n.id === 'noise')) {
    node('loaded_noise', 'LoadNoise', { path: 'inputs/noise-1x3x16x16.npy' });
    link('loaded_noise', 'noise', 'sampler', 'noise');
  }
  if (rng.chance(0.15)) {
    node('save_latent', 'SaveLatent', { filename: 'fuzz.npy' });
    link('sampler', 'latent', 'save_latent', 'latent');
  }
  if (rng.chance(0.15) && !nodes.some((n) => n.id === 'sampler2')) {
    // An image round trip into an img2img pass.
    node('to_image', 'LatentToImage');
    link('sampler', 'latent', 'to_image', 'latent');
    node('to_latent', 'ImageToLatent');
    link('to_image', 'image', 'to_latent', 'image');
    node('img2img', 'Sampler', { steps: 1 + Math.floor(rng.next() * 10), start: 'img2img' });
    link(model, 'model', 'img2img', 'model');
    link('to_latent', 'latent', 'img2img', 'latent');
  }
  if (rng.chance(0.2)) {
    node('image', 'LatentToImage');
    link('sampler', 'latent', 'image', 'latent');
    node('save', 'SaveImage', { filename: 'fuzz.png' });
    link('image', 'image', 'save', 'image');
  }
  return fuzzDoc('fuzz', nodes, edges);
}

/** A v1 graph document around fuzzed nodes and edges. */
export function fuzzDoc(name: string, nodes: Doc['nodes'], edges: Doc['edges']): Doc {
  return {
    format: 'flowstudio-graph',
    schemaVersion: 1,
    metadata: { name, description: '', author: '', tags: [] },
    nodes,
    edges,
    groups: [],
    viewport: { x: 0, y: 0, zoom: 1 },
    subgraphs: {},
  };
}

const PORTS = ['model', 'latent', 'sigmas', 'noise', 'image', 'high', 'a', 'nope'];
const DOC_KEYS = ['nodes', 'edges', 'metadata', 'groups', 'viewport', 'subgraphs', 'schemaVersion', 'format'];

/** One to three structural mutations of a copy of `doc` (any JSON value may come out). */
export function mutateGraph(rng: Rng, source: unknown, types: readonly NodeTypeDescription[]): unknown {
  const doc = JSON.parse(JSON.stringify(source)) as Record<string, unknown> & { nodes: Record<string, unknown>[]; edges: Record<string, unknown>[] };
  const count = 1 + Math.floor(rng.next() * 3);
  for (let m = 0; m < count; m++) {
    if (!Array.isArray(doc.nodes) || !Array.isArray(doc.edges)) return doc;
    const n = doc.nodes.length ? rng.pick(doc.nodes) : undefined;
    const e = doc.edges.length ? rng.pick(doc.edges) : undefined;
    switch (Math.floor(rng.next() * 15)) {
      case 0: // rewire an edge to another node
        if (e && n) e.target = rng.pick(doc.nodes).id;
        break;
      case 1:
        if (e) e.targetPort = rng.pick(PORTS);
        break;
      case 2:
        if (e) e.sourcePort = rng.pick(PORTS);
        break;
      case 3:
        if (n) n.type = rng.pick([...types.map((t) => t.type), 'Nope', '']);
        break;
      case 4: {
        const def = n && types.find((t) => t.type === n.type);
        // An earlier mutation may have replaced the params themselves.
        const params = n?.params;
        if (def?.params.length && typeof params === 'object' && params !== null && !Array.isArray(params)) (params as Record<string, unknown>)[rng.pick(def.params).name] = rng.pick(JUNK);
        break;
      }
      case 5: // duplicate id
        if (n) doc.nodes.push({ ...JSON.parse(JSON.stringify(n)) });
        break;
      case 6: // dangling edges
        if (n) doc.nodes = doc.nodes.filter((x) => x !== n);
        break;
      case 7: // an edge back: a cycle
        if (e) doc.edges.push({ id: `back${m}`, source: e.target, sourcePort: rng.pick(['latent', 'sigmas', 'model']), target: e.source, targetPort: rng.pick(['latent', 'sigmas', 'model']) });
        break;
      case 8:
        if (n) n[rng.pick(['id', 'type', 'params', 'position'])] = rng.pick(JUNK);
        break;
      case 9:
        if (e) e[rng.pick(['id', 'source', 'target', 'sourcePort', 'targetPort'])] = rng.pick(JUNK);
        break;
      case 10:
        doc[rng.pick(DOC_KEYS)] = rng.pick(JUNK);
        break;
      case 11: // a second edge into one input
        if (e) doc.edges.push({ ...e, id: `${String(e.id)}b` });
        break;
      case 12:
        doc.schemaVersion = rng.pick([0, 2, 99, '1', 1.5]);
        break;
      case 13:
        if (n) n.position = rng.pick([{ x: 1e300, y: 0 }, { x: 'left', y: 0 }, null]);
        break;
      case 14: // free-form data nested deeper than any graph needs (past the stack it broke runs; test/graph-io)
        doc.subgraphs = { deep: JSON.parse(`${'['.repeat(1000)}${']'.repeat(1000)}`) };
        break;
    }
  }
  return doc;
}
