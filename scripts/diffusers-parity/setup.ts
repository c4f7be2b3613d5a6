/**
 * Writes what a parity case needs on disk: the model folders (embedded analytic models and tiny twins of
 * real exports), a folder per changed scheduler_config.json, the noise / init latents / conditioning .npy
 * files, and the graph the case runs. Shared by prepare.ts (the CLI run + manifest for check.py) and
 * test/diffusers-parity.test.ts (the in-process run compared with the committed diffusers results).
 *
 * Every input is a pure function of the case id, so both places write identical files.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeNpy } from '../../nodes/core/io/npy.ts';
import { randomNormal } from '../../nodes/core/random.ts';
import { cogView4Twin, ditTwin, fluxTwin, hunyuanImageTwin, lumina2Twin, pixartSigmaTwin, sanaSprintTwin, sd15LegacyTwin, sd15Twin, sd3Twin, sdTurboTwin, sdxlTwin, writeTwin, zImageTwin, type TwinSpec } from '../../test/helpers/twins.ts';
import { GRID_AS } from '../../nodes/sampling/solver-registry.ts';
import { unconditionalFill } from '../../nodes/cfg.ts';
import { TIMESTEP_R_NAME } from '../../nodes/sampling/denoiser.ts';
import { ANALYTIC_MODELS, diffusersSchedulerFor, type AnalyticModel, type ApgCase, type ParityCase, type ParityModel, type TwinModel } from './cases.ts';

const TWINS: Record<TwinModel, () => TwinSpec> = {
  sd15: () => sd15Twin(),
  'sd15-legacy': () => sd15LegacyTwin(),
  'sd-turbo': () => sdTurboTwin(),
  sdxl: () => sdxlTwin(),
  sd3: () => sd3Twin(),
  'flux-dev': () => fluxTwin('dev'),
  'flux-schnell': () => fluxTwin('schnell'),
  'sana-sprint': () => sanaSprintTwin(),
  lumina2: () => lumina2Twin(),
  cogview4: () => cogView4Twin(),
  'pixart-sigma': () => pixartSigmaTwin(),
  'z-image': () => zImageTwin(),
  'hunyuan-image': () => hunyuanImageTwin('base'),
  'hunyuan-image-distilled': () => hunyuanImageTwin('distilled'),
  dit: () => ditTwin(),
};

export interface LatentParams {
  batch: number;
  channels: number;
  height: number;
  width: number;
  layout: 'nchw' | 'packed';
}

/** EmptyLatent params per model: the analytic models' 3x16x16 (any batch), an 8x8 latent for the twins (batch 1). */
export function latentParams(model: ParityModel, batch = 1, size?: { height: number; width: number }): LatentParams {
  if ((ANALYTIC_MODELS as readonly string[]).includes(model)) return { batch, channels: 3, height: 16, width: 16, layout: 'nchw' };
  // A twin at another batch or latent size (ParityCase.batch / latent): its own conditioning files (twinInputs).
  if (batch !== 1 || size) return { ...latentParams(model), batch, ...(size ?? {}) };
  if (model === 'sd3') return { batch: 1, channels: 16, height: 8, width: 8, layout: 'nchw' };
  if (model.startsWith('flux')) return { batch: 1, channels: 16, height: 8, width: 8, layout: 'packed' };
  if (model === 'sana-sprint') return { batch: 1, channels: 32, height: 8, width: 8, layout: 'nchw' };
  // Lumina 2: 8 x 12, so that its mu quirk (latents.shape[1] = 16 channels) differs from the 24 patches.
  if (model === 'lumina2') return { batch: 1, channels: 16, height: 8, width: 12, layout: 'nchw' };
  if (model === 'z-image') return { batch: 1, channels: 16, height: 8, width: 8, layout: 'nchw' };
  if (model === 'cogview4') return { batch: 1, channels: 16, height: 8, width: 12, layout: 'nchw' };
  if (model.startsWith('hunyuan-image')) return { batch: 1, channels: 64, height: 8, width: 8, layout: 'nchw' };
  return { batch: 1, channels: 4, height: 8, width: 8, layout: 'nchw' };
}

export function latentDims(p: LatentParams): number[] {
  return p.layout === 'packed' ? [p.batch, (p.height / 2) * (p.width / 2), 4 * p.channels] : [p.batch, p.channels, p.height, p.width];
}

/** A little-endian .npy (format 1.0) of int64 values. */
function npyInt64(dims: readonly number[], values: readonly number[]): Uint8Array {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '<i8', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + 8 * values.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  values.forEach((v, i) => view.setBigInt64(10 + header.length + 8 * i, BigInt(v), true));
  return out;
}

async function writeNormals(file: string, dims: readonly number[], seed: number, scale = 1, offset = 0): Promise<void> {
  const t = randomNormal(dims, seed);
  for (let i = 0; i < t.data.length; i++) t.data[i] = t.data[i] * scale + offset;
  await fs.writeFile(file, writeNpy(t));
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(() => true, () => false);
}

export interface PreparedModel {
  /** The denoiser subfolder: 'unet' or 'transformer'. */
  net: string;
  config: Record<string, unknown>;
  timeUnits: string;
  /**
   * Which diffusers pipeline's loop check.py runs: 'flux' (FluxPipeline's sigmas, mu and t/1000), 'lumina2' /
   * 'zimage' (their sigma lists, the data-fraction timestep, the negated output and their CFG rules),
   * 'cogview4' (its truncated timestep list and square-root mu, the scheduler timestep), 'sd3' (the SD loop, with
   * StableDiffusion3Pipeline's mu under dynamic shifting) or 'sd'.
   */
  pipeline: 'sd' | 'sd3' | 'flux' | 'lumina2' | 'zimage' | 'cogview4' | 'hunyuanimage' | 'dit';
  sampleInput: string | null;
  timestepInput: string | null;
  /** Extra model inputs: name -> .npy, relative to the parity folder. */
  conditioning: Record<string, string>;
  /** CFG's negative side: the prompt-embedding inputs only (the others keep the positive's value, or DiT's null class). */
  negative: Record<string, string>;
}

const PIPELINE_LOOPS: Record<string, PreparedModel['pipeline']> = {
  StableDiffusion3Pipeline: 'sd3',
  FluxPipeline: 'flux',
  Lumina2Pipeline: 'lumina2',
  ZImagePipeline: 'zimage',
  CogView4Pipeline: 'cogview4',
  HunyuanImagePipeline: 'hunyuanimage',
  DiTPipeline: 'dit',
};

/** Writes a twin folder and one .npy per extra input (concrete sizes: batch 1, 5 tokens, the latent's L). */
export async function prepareTwin(dir: string, name: TwinModel): Promise<PreparedModel> {
  const spec = TWINS[name]();
  await writeTwin(path.join(dir, 'models', name), spec);
  // Z-Image's transformer calls it t.
  const timestepName = spec.inputs.some((i) => i.name === 'timestep') ? 'timestep' : 't';
  const { conditioning, negative } = await writeTwinInputs(dir, name, spec, latentDims(latentParams(name)), '');
  return {
    net: spec.denoiser,
    config: spec.scheduler as Record<string, unknown>,
    timeUnits: 'scheduler',
    pipeline: PIPELINE_LOOPS[String(spec.modelIndex._class_name)] ?? 'sd',
    sampleInput: spec.sample.name,
    timestepInput: timestepName,
    conditioning,
    negative,
  };
}

/**
 * One .npy per extra twin input (and per negative prompt-embedding input) for a latent of `dims` (its batch and,
 * for FLUX, its packed token count); `tag` names a non-default batch / size ('' for the default).
 */
async function writeTwinInputs(dir: string, name: TwinModel, spec: TwinSpec, dims: number[], tag: string): Promise<{ conditioning: Record<string, string>; negative: Record<string, string> }> {
  const timestepName = spec.inputs.some((i) => i.name === 'timestep') ? 'timestep' : 't';
    const concrete: Record<string, number> = { batch_size: dims[0], batch: dims[0], step: 1, sequence_length: 5, sequence: 5, packed_height_width: dims[1] };
  const conditioning: Record<string, string> = {};
  const negative: Record<string, string> = {};
  let seed = 100;
  for (const input of spec.inputs) {
    // The timestep, and a mean-flow network's interval end, come from the sampler.
    if (input.name === timestepName || input.name === TIMESTEP_R_NAME) continue;
    const shape = input.dims.map((d) => (typeof d === 'number' ? d : (concrete[d] ?? 1)));
    const rel = `inputs/cond-${name}${tag}-${input.name}.npy`;
    const file = path.join(dir, rel);
    if (input.name === 'class_labels') {
      // DiT: one ImageNet class (207, golden retriever, as the pipeline's examples use it).
      await fs.writeFile(file, npyInt64(shape, Array(shape.reduce((a, b) => a * b, 1)).fill(207)));
    } else if (input.type === 'int64') {
      const n = shape.reduce((a, b) => a * b, 1);
      await fs.writeFile(file, npyInt64(shape, Array.from({ length: n }, (_, i) => (i * 7) % 5)));
    } else if (input.name === 'guidance') {
      await writeNormals(file, shape, seed++, 0, 3.5);
    } else {
      await writeNormals(file, shape, seed++);
    }
    conditioning[input.name] = rel;
    // Only inputs whose unconditional value is zeros get a negative file: DiT's null class is the CFG node's own.
    if (unconditionalFill(spec.modelIndex, input.name) === 'zeros') {
      negative[input.name] = `inputs/neg-${name}${tag}-${input.name}.npy`;
      const file = path.join(dir, negative[input.name]);
      // An attention mask (int64): the negative prompt's own, here all ones.
      if (input.type === 'int64') await fs.writeFile(file, npyInt64(shape, Array(shape.reduce((a, b) => a * b, 1)).fill(1)));
      else await writeNormals(file, shape, 500 + seed);
    }
  }
  return { conditioning, negative };
}

/** A twin case's conditioning at its own batch / latent size (the default files when it has neither). */
export async function twinInputsFor(dir: string, c: ParityCase, m: PreparedModel): Promise<{ conditioning: Record<string, string>; negative: Record<string, string>; tag: string }> {
  if ((ANALYTIC_MODELS as readonly string[]).includes(c.model) || ((c.batch ?? 1) === 1 && !c.latent)) return { conditioning: m.conditioning, negative: m.negative, tag: '' };
  const dims = latentDims(latentParams(c.model, c.batch ?? 1, c.latent));
  const tag = `-b${dims[0]}-${c.latent ? `${c.latent.height}x${c.latent.width}` : 'default'}`;
  const key = `${dir}\0${c.model}${tag}`;
  if (!twinInputCache.has(key)) twinInputCache.set(key, writeTwinInputs(dir, c.model as TwinModel, TWINS[c.model as TwinModel](), dims, tag));
  return { ...(await twinInputCache.get(key)!), tag };
}
/** Written once per folder, model and tag (cases run two at a time). */
const twinInputCache = new Map<string, Promise<{ conditioning: Record<string, string>; negative: Record<string, string> }>>();

async function prepareAnalytic(dir: string, name: AnalyticModel, folder: string): Promise<PreparedModel> {
  await fs.cp(folder, path.join(dir, 'models', name), { recursive: true });
  const index = await readJson(path.join(folder, 'model_index.json'));
  const net = (await exists(path.join(folder, 'unet'))) ? 'unet' : 'transformer';
  return {
    net,
    config: await readJson(path.join(folder, 'scheduler/scheduler_config.json')),
    timeUnits: (index.flowstudio as { timestep_units?: string } | undefined)?.timestep_units ?? 'scheduler',
    pipeline: 'sd',
    sampleInput: null,
    timestepInput: null,
    conditioning: {},
    negative: {},
  };
}

export type PreparedModels = Map<ParityModel, PreparedModel>;

/**
 * Writes models/, inputs/ (with init.npy) and empty configs/ and graphs/ under `dir`. `embeddedFolder`
 * returns the folder of an embedded analytic model (generated on first use).
 */
export async function prepareModels(dir: string, embeddedFolder: (name: AnalyticModel) => Promise<string>): Promise<PreparedModels> {
  for (const sub of ['models', 'configs', 'inputs', 'graphs']) await fs.mkdir(path.join(dir, sub), { recursive: true });
  const models: PreparedModels = new Map();
  for (const name of ANALYTIC_MODELS) models.set(name, await prepareAnalytic(dir, name, await embeddedFolder(name)));
  for (const name of Object.keys(TWINS) as TwinModel[]) models.set(name, await prepareTwin(dir, name));
  await writeNormals(path.join(dir, 'inputs/init.npy'), latentDims(latentParams('gaussian-vp')), 7, 0.5, 0.1);
  for (const name of Object.keys(TWINS) as TwinModel[]) await writeNormals(path.join(dir, initFile(name)), latentDims(latentParams(name)), 7, 0.5, 0.1);
  return models;
}

/** The init latent (img2img start, inversion input) of a model's cases: the analytic models share one 3x16x16 per batch size. */
function initFile(model: ParityModel, batch = 1, tag = ''): string {
  if (!(ANALYTIC_MODELS as readonly string[]).includes(model)) return `inputs/init-${model}${tag}.npy`;
  return batch === 1 ? 'inputs/init.npy' : `inputs/init-b${batch}.npy`;
}

/** What check.py needs about a case (ours / ours_error are added by the runner). */
export interface ManifestEntry {
  id: string;
  model: ParityModel;
  model_file: string;
  time_units: string;
  pipeline: PreparedModel['pipeline'];
  sample_input: string | null;
  timestep_input: string | null;
  conditioning: Record<string, string>;
  expect: ParityCase['expect'] | null;
  /** The case's own relative L2 tolerance (ParityCase.tolerance), else null: check.py's --tol. */
  tol: number | null;
  class: string;
  config: Record<string, unknown>;
  overrides: Record<string, unknown>;
  eta: number | undefined;
  steps: number;
  strength: number | null;
  /** Run diffusers' inverse scheduler loop from the init latent (DiffEdit-style strength prefix). */
  invert: boolean;
  /** Guide with CFG: negative conditioning files (name -> .npy) and the pipeline's scale and rescale. */
  cfg: { scale: number; rescale: number; normalize?: string; norm_limit?: number; truncate?: number; apg?: ApgCase; guider?: Record<string, unknown>; negative: Record<string, string> } | null;
  /** Continue from step `at` with a fresh scheduler of `class` (ParityCase.chain). */
  chain: { at: number; class: string; overrides: Record<string, unknown> } | null;
  stochastic: boolean;
  /** The noise file; null when the noise comes from torch_seed. */
  noise: string | null;
  /** Draw the noise with torch.Generator('cpu').manual_seed(torch_seed) (ParityCase.torchSeed). */
  torch_seed: number | null;
  /** The latent's shape (the initial noise drawn from torch_seed has it). */
  latent_shape: number[];
  init: string | null;
}

export interface PreparedCase {
  /** The graph document (LoadModel -> Sampler -> SaveLatent "<id>.npy", with LoadNoise and conditioning). */
  graph: Record<string, unknown>;
  graphFile: string;
  entry: ManifestEntry;
}

function graphFor(
  c: ParityCase,
  modelPath: string,
  noiseFile: string | null,
  initFile: string | null,
  conditioning: Record<string, string>,
  negative: Record<string, string>,
): Record<string, unknown> {
  const node = (id: string, type: string, params: Record<string, unknown>, x: number, y: number) => ({ id, type, position: { x, y }, params });
  const edge = (id: string, source: string, sourcePort: string, target: string, targetPort: string) => ({ id, source, sourcePort, target, targetPort });
  const latentNode = initFile ? node('latent', 'LoadLatent', { path: initFile }, 0, 160) : node('latent', 'EmptyLatent', { ...latentParams(c.model, c.batch, c.latent) }, 0, 160);
  if ([c.invert, c.viaSchedule, c.chain].filter(Boolean).length > 1) throw new Error(`parity case ${c.id}: invert, viaSchedule and chain exclude each other`);
  if (c.viaSchedule && c.strength === undefined) throw new Error(`parity case ${c.id}: viaSchedule is for img2img cases`);
  if (c.chain && c.torchSeed !== undefined) throw new Error(`parity case ${c.id}: torchSeed does not apply to chains`);
  // A torch seed: the Sampler draws the noise itself, as torch would for that seed; else a LoadNoise node feeds it.
  const seeded = c.torchSeed !== undefined ? { seed: c.torchSeed, noise_generator: 'torch' } : {};
  const noise = noiseFile
    ? { nodes: [node('noise', 'LoadNoise', { path: noiseFile }, 0, 320)], edges: [edge('e3', 'noise', 'noise', c.chain ? 'head' : 'sampler', 'noise')] }
    : { nodes: [], edges: [] };
  if (c.chain && (c.cfg || c.strength !== undefined)) throw new Error(`parity case ${c.id}: chains run plain text-to-image, without CFG`);
  // At most one Schedule node, built for the case's solver (grid rules by family: dpm_2m's are dpmpp_2m's):
  // the ascending grid an inversion walks, the img2img tail a viaSchedule case cuts with denoise, or the
  // grid a chain splits.
  const scheduleParams = c.invert ? { direction: 'invert', denoise: c.strength ?? 1 } : c.viaSchedule ? { denoise: c.strength } : c.chain ? {} : undefined;
  const schedule = scheduleParams
    ? {
        nodes: [node('schedule', 'Schedule', { solver: GRID_AS[c.solver] ?? c.solver, steps: c.steps, ...scheduleParams }, 0, 480)],
        edges: [edge('s1', 'model', 'model', 'schedule', 'model'), edge('s2', 'schedule', 'sigmas', c.chain ? 'split' : 'sampler', 'sigmas')],
      }
    : { nodes: [], edges: [] };
  /** One Load Conditioning per input, chained through `base`, the last one into `target`.`port`. */
  const loaders = (prefix: string, files: Record<string, string>, y: number, target: string, port: string) => {
    const nodes = Object.entries(files).map(([input, file], k) => node(`${prefix}${k}`, 'LoadConditioning', { input, path: file }, -320, y + 160 * k));
    const edges = nodes.map((n, k) =>
      k + 1 < nodes.length ? edge(`${prefix}-e${k}`, n.id, 'conditioning', nodes[k + 1].id, 'base') : edge(`${prefix}-e${k}`, n.id, 'conditioning', target, port),
    );
    return { nodes, edges };
  };
  // CFG: a negative Load Conditioning per prompt-embedding input, into the CFG node's negative side.
  const negatives = loaders('neg', c.cfg ? negative : {}, 640, 'cfg', 'negative');
  const cfgParams = c.cfg?.guider ? { settings_from: 'model' } : c.cfg ? { scale: c.cfg.scale, rescale: c.cfg.rescale, ...(c.cfg.normalize ? { normalize: c.cfg.normalize } : {}), ...(c.cfg.norm_limit ? { norm_limit: c.cfg.norm_limit } : {}), ...(c.cfg.truncate !== undefined ? { truncate: c.cfg.truncate } : {}), ...apgParams(c.cfg.apg) } : {};
  const guidance = c.cfg
    ? { nodes: [node('cfg', 'CFG', cfgParams, 0, 640), ...negatives.nodes], edges: [edge('g1', 'cfg', 'guidance', 'sampler', 'guidance'), ...negatives.edges] }
    : { nodes: [], edges: [] };
  // A chain: the Schedule's grid split; 'head' samples the first range, 'sampler' continues with the second solver.
  const first = c.chain ? 'head' : 'sampler';
  const chain = c.chain
    ? {
        nodes: [
          node('split', 'SplitSigmas', { mode: 'at_step', step: c.chain.at }, 160, 480),
          node('head', 'Sampler', { solver: c.solver, steps: c.steps, ...c.sampler }, 320, 240),
        ],
        edges: [
          edge('c1', 'split', 'high', 'head', 'sigmas'),
          edge('c2', 'split', 'low', 'sampler', 'sigmas'),
          edge('c3', 'model', 'model', 'head', 'model'),
          edge('c4', 'head', 'latent', 'sampler', 'latent'),
        ],
      }
    : { nodes: [], edges: [] };
  const finalSampler = c.chain
    ? node('sampler', 'Sampler', { solver: c.chain.then, steps: c.steps, start: 'continue' }, 640, 240)
    : node('sampler', 'Sampler', { solver: c.solver, steps: c.steps, ...c.sampler, ...seeded }, 320, 40);
  const cond = loaders('cond', conditioning, 0, 'sampler', 'conditioning');
  // A chain's first Sampler takes the same conditioning.
  if (c.chain && cond.nodes.length > 0) cond.edges.push(edge('cond-head', cond.nodes[cond.nodes.length - 1].id, 'conditioning', 'head', 'conditioning'));
  return {
    format: 'flowstudio-graph',
    schemaVersion: 1,
    metadata: { name: `parity ${c.id}`, description: '', author: 'FlowStudio', tags: ['parity'], created: '2026-11-28T00:00:00Z', modified: '2026-11-28T00:00:00Z', appVersion: '0.1.0' },
    nodes: [
      node('model', 'LoadModel', { model: modelPath }, 0, 0),
      latentNode,
      ...noise.nodes,
      finalSampler,
      node('save', 'SaveLatent', { filename: `${c.id}.npy` }, 960, 40),
      ...cond.nodes,
      ...schedule.nodes,
      ...guidance.nodes,
      ...chain.nodes,
    ],
    edges: [
      edge('e1', 'model', 'model', 'sampler', 'model'),
      edge('e2', 'latent', 'latent', first, 'latent'),
      ...noise.edges,
      edge('e4', 'sampler', 'latent', 'save', 'latent'),
      ...cond.edges,
      ...schedule.edges,
      ...guidance.edges,
      ...chain.edges,
    ],
    groups: [],
    viewport: { x: 0, y: 0, zoom: 1 },
    subgraphs: {},
  };
}

/** The CFG node's params for diffusers' AdaptiveProjected(Mix)Guidance (momentum None: 0, the same update). */
function apgParams(apg: ApgCase | undefined): Record<string, unknown> {
  if (!apg) return {};
  const start = apg.start ? { apg_start: apg.start, apg_start_scale: apg.start_scale } : {};
  return { method: 'apg', apg_convention: 'diffusers', apg_eta: apg.eta, apg_norm_threshold: apg.norm_threshold, apg_momentum: apg.momentum ?? 0, ...start };
}

/** The diffusers class (and from_config overrides) a chain's second half continues with. */
function chainScheduler(solver: string): { class: string; overrides: Record<string, unknown> } {
  const { cls, overrides } = diffusersSchedulerFor(solver);
  return { class: cls, overrides };
}

/** Writes a case's config folder (if its config differs), noise and graph; returns the graph and manifest entry. */
export async function prepareCase(dir: string, models: PreparedModels, c: ParityCase): Promise<PreparedCase> {
  const m = models.get(c.model);
  if (!m) throw new Error(`parity case ${c.id}: model ${c.model} was not prepared`);
  const config = { ...m.config, ...c.config };
  // A changed config gets its own folder; the network folder is linked, not copied.
  // A case's guider config (ParityCase cfg.guider) goes into such a folder too, as guider/guider_config.json.
  let modelPath = path.join(dir, 'models', c.model);
  const guider = c.cfg?.guider;
  if (Object.keys(c.config).length > 0 || guider) {
    const hash = createHash('sha256').update(c.model + JSON.stringify(config) + (guider ? JSON.stringify(guider) : '')).digest('hex').slice(0, 12);
    modelPath = path.join(dir, 'configs', hash);
    if (!(await exists(path.join(modelPath, 'scheduler/scheduler_config.json')))) {
      await fs.mkdir(path.join(modelPath, 'scheduler'), { recursive: true });
      // A guider is loaded as a component model_index.json names, as diffusers loads it.
      const index = await readJson(path.join(dir, 'models', c.model, 'model_index.json'));
      await fs.writeFile(path.join(modelPath, 'model_index.json'), JSON.stringify(guider ? { ...index, guider: ['diffusers', guider._class_name] } : index, null, 2));
      await fs.symlink(path.join('..', '..', 'models', c.model, m.net), path.join(modelPath, m.net)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      if (guider) {
        await fs.mkdir(path.join(modelPath, 'guider'), { recursive: true });
        await fs.writeFile(path.join(modelPath, 'guider', 'guider_config.json'), JSON.stringify(guider, null, 2));
      }
      await fs.writeFile(path.join(modelPath, 'scheduler/scheduler_config.json'), JSON.stringify(config, null, 2));
    }
  }
  const seed = parseInt(createHash('sha256').update(c.id).digest('hex').slice(0, 8), 16);
  const noise = c.torchSeed === undefined ? `inputs/noise-${c.id}.npy` : null;
  const dims = latentDims(latentParams(c.model, c.batch, c.latent));
  const twinInputs = await twinInputsFor(dir, c, m);
  if (noise) await writeNormals(path.join(dir, noise), c.stochastic ? [c.steps + 1, ...dims] : dims, seed);
  const init = c.strength !== undefined || c.invert ? initFile(c.model, c.batch, twinInputs.tag) : null;
  if (init && !(await exists(path.join(dir, init)))) await writeNormals(path.join(dir, init), dims, 7, 0.5, 0.1);
  // Graph paths resolve against the graph's folder (graphs/).
  const up = (rel: string) => path.join('..', rel);
  const conditioning = Object.fromEntries(Object.entries(twinInputs.conditioning).map(([k, v]) => [k, up(v)]));
  const negative = Object.fromEntries(Object.entries(twinInputs.negative).map(([k, v]) => [k, up(v)]));
  if (c.cfg && Object.keys(conditioning).length === 0) throw new Error(`parity case ${c.id}: CFG needs a conditional model`);
  const graph = graphFor(c, modelPath, noise && up(noise), init && up(init), conditioning, negative);
  const graphFile = path.join(dir, 'graphs', `${c.id}.json`);
  await fs.writeFile(graphFile, JSON.stringify(graph, null, 2));
  return {
    graph,
    graphFile,
    entry: {
      id: c.id,
      model: c.model,
      model_file: `models/${c.model}/${m.net}/model.onnx`,
      time_units: m.timeUnits,
      pipeline: m.pipeline,
      sample_input: m.sampleInput,
      timestep_input: m.timestepInput,
      conditioning: twinInputs.conditioning,
      expect: c.expect ?? null,
      tol: c.tolerance?.relL2 ?? null,
      class: c.diffusers.cls,
      config,
      overrides: c.diffusers.overrides,
      eta: c.diffusers.eta,
      steps: c.steps,
      strength: c.strength ?? null,
      invert: c.invert === true,
      cfg: c.cfg ? { ...c.cfg, negative: twinInputs.negative } : null,
      chain: c.chain ? { at: c.chain.at, ...chainScheduler(c.chain.then) } : null,
      stochastic: c.stochastic,
      noise,
      torch_seed: c.torchSeed ?? null,
      latent_shape: dims,
      init,
    },
  };
}
