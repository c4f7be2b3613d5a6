/**
 * Opens models for nodes: "embedded:<name>" (generated into the cache), a diffusers-ONNX folder
 * (model_index.json + unet/ or transformer/ + scheduler/), or a single .onnx with a sidecar .json.
 * Sessions come from the shared SessionPool; errors name the missing or broken piece.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ModelService } from '../../../nodes/core/types.ts';
import { GUIDER_COMPONENTS, type ModelHandle, type SchedulerConfig } from '../../../nodes/core/values.ts';
import type { SessionPool } from '../onnx/session-pool.ts';
import { abortError, untilAborted } from '../abort.ts';
import { formatJsonPath, MAX_NESTING, tooDeep } from '../graph/parse.ts';
import { embeddedName, embeddedStamp, ensureEmbeddedModel, exists } from './embedded.ts';
import { StampCache } from './stamp-cache.ts';

export interface OnnxModelServiceOptions {
  pool: SessionPool;
  /** Where embedded models are generated (default: FLOWSTUDIO_CACHE_DIR, XDG cache or ~/.cache/flowstudio). */
  cacheDir?: string;
  /** Execution-provider preference for the denoiser sessions (default: the pool's). */
  providers?: readonly string[];
  /** The engine's path check for paths from graphs: returns the real path of an allowed, existing file. */
  resolveRead?: (path: string) => string;
  /** Stamps are remembered only for models unchanged this long (ms; default stamp-cache.ts RACY_MS). */
  stampRacyMs?: number;
}

const DENOISERS = ['unet', 'transformer'] as const;
type DenoiserKind = (typeof DENOISERS)[number];

/** A model's files, located and checked, and its configs as read. */
interface ModelLayout {
  name: string;
  /** The folder, or the .onnx file for single-file models: identifies the model in handle keys. */
  id: string;
  folder: string;
  /** Files whose size + mtime make up the stamp. */
  files: string[];
  denoiserFile: string;
  denoiserKind: DenoiserKind;
  modelIndex: Record<string, unknown>;
  scheduler: SchedulerConfig;
  guiders: ModelHandle['guiders'];
}



async function readJsonObject(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`invalid JSON in ${file}: ${(e as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${file} must contain a JSON object`);
  // Configs are flat; one nested past the stack broke whatever walks it later, with a bare "Maximum call stack".
  const deep = tooDeep(value, MAX_NESTING);
  if (deep) throw new Error(`${file}: ${formatJsonPath(deep.slice(0, 3))} is nested more than ${MAX_NESTING} levels deep (a model config never needs that)`);
  return value as Record<string, unknown>;
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** x.onnx -> x.json */
function sidecarOf(file: string): string {
  return file.slice(0, -path.extname(file).length) + '.json';
}

export class OnnxModelService implements ModelService {
  private readonly pool: SessionPool;
  private readonly cacheDir?: string;
  private readonly providers?: readonly string[];
  private readonly resolveRead?: (path: string) => string;
  private readonly stamps: StampCache;

  constructor(opts: OnnxModelServiceOptions) {
    this.pool = opts.pool;
    this.cacheDir = opts.cacheDir;
    this.providers = opts.providers;
    this.resolveRead = opts.resolveRead;
    this.stamps = new StampCache(opts.stampRacyMs);
  }

  async load(ref: string, signal?: AbortSignal): Promise<ModelHandle> {
    if (signal?.aborted) throw abortError();
    const layout = await this.locate(ref);
    const stamp = await this.stampOf(ref, layout);
    if (signal?.aborted) throw abortError();
    // Loading a big model takes seconds and cannot be stopped: a cancel does not wait for it (the pool keeps
    // the session for the next run).
    const denoiser = await untilAborted(this.pool.get(layout.denoiserFile, { providers: this.providers }), signal);
    return {
      key: `${layout.id}#${stamp}`,
      name: layout.name,
      folder: layout.folder,
      modelIndex: layout.modelIndex,
      scheduler: layout.scheduler,
      denoiser,
      denoiserKind: layout.denoiserKind,
      ...(layout.guiders ? { guiders: layout.guiders } : {}),
    };
  }

  async stamp(ref: string): Promise<string> {
    const name = embeddedName(ref.trim());
    if (name !== undefined) return embeddedStamp(name);
    // Resolved afresh each time (the path check runs again): a re-pointed link moves these.
    const dirs = this.watchedDirs(ref);
    // A path that does not resolve is located as usual, for its error.
    if (dirs === undefined) return this.stampOf(ref, await this.locate(ref));
    const known = await this.stamps.lookup(ref, dirs, this.resolveRead);
    if (known !== undefined) return known;
    return this.stamps.compute(ref, dirs, (resolve) => this.locate(ref, resolve), (layout) => this.stampOf(ref, layout), this.resolveRead);
  }

  /**
   * The folders whose listings locate() reads for `ref`: a folder model's folder and the component folders it
   * looks into; a single file's folder (its sidecar). undefined when the path does not resolve, or is relative:
   * the path check looks a relative path up in each read folder in turn, so one appearing earlier could move it.
   */
  private watchedDirs(refIn: string): string[] | undefined {
    const ref = refIn.trim();
    if (!path.isAbsolute(ref)) return undefined;
    try {
      if (ref.toLowerCase().endsWith('.onnx')) return [path.dirname(this.resolveRead ? this.resolveRead(ref) : path.resolve(ref))];
      const folder = this.resolveRead ? path.dirname(this.resolveRead(path.join(ref, 'model_index.json'))) : path.resolve(ref);
      return [folder, ...[...DENOISERS, 'scheduler', ...GUIDER_COMPONENTS].map((d) => path.join(folder, d))];
    } catch {
      return undefined;
    }
  }

  /** sha1 over each file's path, size and mtime: cheap, and changes whenever a file is rewritten. */
  private async stampOf(ref: string, layout: ModelLayout): Promise<string> {
    const name = embeddedName(ref.trim());
    if (name !== undefined) return embeddedStamp(name);
    const h = createHash('sha1');
    for (const f of layout.files) {
      const st = await fs.stat(f);
      h.update(`${f}\0${st.size}\0${st.mtimeMs}\n`);
    }
    return h.digest('hex').slice(0, 16);
  }

  /**
   * Finds and checks the model's files (generating an embedded model's folder on first use). `resolve`: the path
   * check to locate through (default the service's; the stamp cache passes one that records its answers).
   */
  private async locate(refIn: string, resolve = this.resolveRead): Promise<ModelLayout> {
    const ref = refIn.trim();
    if (!ref) throw new Error('no model given: choose a diffusers-ONNX folder, a .onnx file or an embedded model');
    const name = embeddedName(ref);
    if (name !== undefined) {
      // Embedded folders live in the cache FlowStudio controls: no user path check needed.
      const folder = await ensureEmbeddedModel(name, this.cacheDir);
      const layout = await this.folderLayout(folder, (p) => p);
      return { ...layout, name };
    }
    if (ref.toLowerCase().endsWith('.onnx')) return this.singleFileLayout(ref, resolve);
    return this.folderFromRef(ref, resolve);
  }

  private async folderFromRef(ref: string, resolve: ((p: string) => string) | undefined): Promise<ModelLayout> {
    if (resolve) {
      // The path check accepts files only: check the folder through its model_index.json.
      let index: string;
      try {
        index = resolve(path.join(ref, 'model_index.json'));
      } catch (e) {
        throw new Error(`cannot open model "${ref}": expected a diffusers-ONNX folder with model_index.json (${(e as Error).message})`);
      }
      return this.folderLayout(path.dirname(index), resolve);
    }
    const folder = path.resolve(ref);
    let isDir: boolean;
    try {
      isDir = (await fs.stat(folder)).isDirectory();
    } catch {
      throw new Error(`model not found: ${folder}`);
    }
    if (!isDir) throw new Error(`model ${folder} is neither a diffusers-ONNX folder nor a .onnx file`);
    return this.folderLayout(folder, (p) => p);
  }

  /** diffusers-ONNX folder: model_index.json, unet/ or transformer/ model.onnx, scheduler/scheduler_config.json. */
  private async folderLayout(folder: string, check: (p: string) => string): Promise<ModelLayout> {
    const indexFile = path.join(folder, 'model_index.json');
    if (!(await exists(indexFile))) throw new Error(`model folder ${folder} has no model_index.json`);
    const schedulerFile = path.join(folder, 'scheduler', 'scheduler_config.json');
    if (!(await exists(schedulerFile))) throw new Error(`model folder ${folder} is missing scheduler/scheduler_config.json`);
    // Prefer the denoiser model_index.json names; fall back to whichever folder exists.
    const index = await readJsonObject(indexFile);
    const order = [...DENOISERS].sort((a, b) => Number(b in index) - Number(a in index));
    let denoiserKind: DenoiserKind | undefined;
    for (const kind of order) {
      if (await exists(path.join(folder, kind, 'model.onnx'))) {
        denoiserKind = kind;
        break;
      }
    }
    if (!denoiserKind) {
      throw new Error(`model folder ${folder} has no denoiser: expected unet/model.onnx or transformer/model.onnx`);
    }
    const denoiserFile = check(path.join(folder, denoiserKind, 'model.onnx'));
    check(schedulerFile);
    const files = [indexFile, schedulerFile, denoiserFile];
    const guiders = await this.folderGuiders(folder, index, check, files);
    // Large exports keep weights next to the graph as external data under any name (model.onnx_data,
    // weights.pb from diffusers' convert script, one file per tensor): every file there joins the stamp.
    const denoiserDir = path.join(folder, denoiserKind);
    for (const entry of (await fs.readdir(denoiserDir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const f = path.join(denoiserDir, entry.name);
      if (entry.isFile() && f !== denoiserFile) files.push(f);
    }
    return {
      name: path.basename(folder),
      id: folder,
      folder,
      files,
      denoiserFile,
      denoiserKind,
      modelIndex: index,
      scheduler: (await readJsonObject(schedulerFile)) as SchedulerConfig,
      guiders,
    };
  }

  /**
   * The folder's diffusers guider configs (guider/ and ocr_guider/ guider_config.json), read as diffusers loads
   * components: only those model_index.json names with a class (not [null, null]). Each file read joins `files`.
   */
  private async folderGuiders(folder: string, index: Record<string, unknown>, check: (p: string) => string, files: string[]): Promise<ModelHandle['guiders']> {
    let guiders: ModelHandle['guiders'];
    for (const name of GUIDER_COMPONENTS) {
      const entry = index[name];
      if (!Array.isArray(entry) || entry.every((v) => v === null)) continue;
      const file = path.join(folder, name, 'guider_config.json');
      if (!(await exists(file))) continue;
      check(file);
      files.push(file);
      (guiders ??= {})[name] = await readJsonObject(file);
    }
    return guiders;
  }

  /**
   * A single x.onnx with sidecar x.json: {"scheduler": {...}, "modelIndex"?: {...}, "denoiser"?: "unet" | "transformer",
   * "guider"?: {...}, "ocr_guider"?: {...}} (diffusers guider configs).
   */
  private async singleFileLayout(ref: string, resolve: ((p: string) => string) | undefined): Promise<ModelLayout> {
    let file: string;
    if (resolve) file = resolve(ref);
    else {
      file = path.resolve(ref);
      if (!(await exists(file))) throw new Error(`model file not found: ${file}`);
    }
    const sidecar = sidecarOf(file);
    if (!(await exists(sidecar))) {
      throw new Error(
        `model ${file} has no sidecar ${sidecar}: a single .onnx file needs a JSON file next to it with {"scheduler": {...diffusers scheduler_config...}}`,
      );
    }
    if (resolve) resolve(sidecar);
    const meta = await readJsonObject(sidecar);
    if (meta.scheduler === undefined) throw new Error(`sidecar ${sidecar} has no "scheduler" object`);
    const scheduler = asObject(meta.scheduler, `"scheduler" in ${sidecar}`) as SchedulerConfig;
    const modelIndex =
      meta.modelIndex === undefined
        ? { _class_name: 'FlowStudioSingleFilePipeline' }
        : asObject(meta.modelIndex, `"modelIndex" in ${sidecar}`);
    let denoiserKind: DenoiserKind;
    if (meta.denoiser !== undefined) {
      if (meta.denoiser !== 'unet' && meta.denoiser !== 'transformer') {
        throw new Error(`sidecar ${sidecar}: "denoiser" must be "unet" or "transformer", got ${JSON.stringify(meta.denoiser)}`);
      }
      denoiserKind = meta.denoiser;
    } else {
      const flow = 'transformer' in modelIndex || String(scheduler._class_name ?? '').startsWith('FlowMatch');
      denoiserKind = flow ? 'transformer' : 'unet';
    }
    let guiders: ModelHandle['guiders'];
    for (const name of GUIDER_COMPONENTS) {
      if (meta[name] !== undefined && meta[name] !== null) (guiders ??= {})[name] = asObject(meta[name], `"${name}" in ${sidecar}`);
    }
    return {
      name: path.basename(file, path.extname(file)),
      id: file,
      folder: path.dirname(file),
      files: [file, sidecar],
      denoiserFile: file,
      denoiserKind,
      modelIndex,
      scheduler,
      guiders,
    };
  }
}
