/**
 * Model refs as written in graphs -> content hashes, for exported PNGs ("referenced by name and content
 * hash"). Embedded models are found through the engine's model list (it knows its cache folder); paths
 * go through the backend's read check, so a graph cannot probe files outside the allowed roots.
 */
import path from 'node:path';
import type { ModelInfo } from '../api.ts';
import type { ModelHashResult } from '../app-api.ts';
import { ModelHasher } from '../models/model-hash.ts';
import { BadRequestError } from './errors.ts';

const EMBEDDED_PREFIX = 'embedded:';
/** Refs per call at most (a graph has a handful of models). */
export const MAX_MODEL_REFS = 64;

export interface ModelHashesOptions {
  listModels(): Promise<ModelInfo[]>;
  /** The real path of an allowed, existing file, or throws (FileService.resolveRead). */
  resolveRead(file: string): string;
}

export class ModelHashes {
  private readonly hasher = new ModelHasher();

  constructor(private readonly opts: ModelHashesOptions) {}

  async hash(refs: unknown): Promise<Record<string, ModelHashResult>> {
    const list = parseRefs(refs);
    const models = list.some((r) => r.startsWith(EMBEDDED_PREFIX) || !r.toLowerCase().endsWith('.onnx')) ? await this.opts.listModels() : [];
    const out: Record<string, ModelHashResult> = {};
    // One at a time: each may read gigabytes, and parallel reads of one disk are not faster.
    for (const ref of list) {
      const name = displayName(ref);
      try {
        const { target, name: modelName, check } = this.locate(ref, models);
        out[ref] = { name: modelName, sha256: (await this.hasher.hash(target, check)).sha256 };
      } catch (e) {
        out[ref] = { name, error: `cannot hash model "${ref}": ${(e as Error).message}` };
      }
    }
    return out;
  }

  /** The folder or .onnx file to hash, the model's name, and the check each weight file must pass. */
  private locate(ref: string, models: ModelInfo[]): { target: string; name: string; check: (f: string) => string } {
    // Models the engine lists (embedded ones live in its cache, outside the backend's roots) are trusted.
    const known = models.find((m) => m.ref === ref || (!ref.startsWith(EMBEDDED_PREFIX) && samePath(m.folder, ref)));
    if (known) return { target: known.folder, name: known.name, check: (f) => f };
    if (ref.startsWith(EMBEDDED_PREFIX)) {
      throw new Error(`no embedded model "${ref.slice(EMBEDDED_PREFIX.length)}" (available: ${models.filter((m) => m.ref.startsWith(EMBEDDED_PREFIX)).map((m) => m.ref).join(', ') || 'none'})`);
    }
    const check = (f: string) => this.opts.resolveRead(f);
    if (ref.toLowerCase().endsWith('.onnx')) {
      const file = check(ref);
      return { target: file, name: path.basename(file), check };
    }
    // The read check takes files only: check the folder through its model_index.json (as LoadModel does).
    const folder = path.dirname(check(path.join(ref, 'model_index.json')));
    return { target: folder, name: path.basename(folder), check };
  }
}

function parseRefs(refs: unknown): string[] {
  if (!Array.isArray(refs) || !refs.every((r) => typeof r === 'string' && r.trim() !== '')) {
    throw new BadRequestError('modelHashes needs an array of model refs (non-empty strings)');
  }
  const unique = [...new Set(refs as string[])];
  if (unique.length > MAX_MODEL_REFS) throw new BadRequestError(`modelHashes takes at most ${MAX_MODEL_REFS} refs (got ${unique.length})`);
  return unique;
}

/** "embedded:x" -> "x"; a path -> its last segment. */
function displayName(ref: string): string {
  if (ref.startsWith(EMBEDDED_PREFIX)) return ref.slice(EMBEDDED_PREFIX.length);
  return ref.split(/[\\/]+/).filter(Boolean).pop() ?? ref;
}

function samePath(a: string, b: string): boolean {
  return path.isAbsolute(b) && path.resolve(a) === path.resolve(b);
}
