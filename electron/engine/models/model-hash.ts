/**
 * Content hashes of models, so a shared graph can name the exact weights it was made with.
 *
 * A model's hash is the sha256 of the bytes of its weight files (.onnx graphs and their external data)
 * streamed one after another in order of relative path ('/' separators). A one-file model's hash is
 * therefore the plain sha256 of that file, what `sha256sum` prints. Configs (JSON), tokenizers and
 * hidden files are left out: they do not change what the weights compute, and editors rewrite them.
 *
 * Hashing gigabytes takes seconds, so results are cached by each file's path, size and mtime: a model
 * is read again only when one of its files changed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Graph files and the external-data names ONNX exporters write (model.onnx_data, model.onnx.data, weights.pb, x.data). */
const WEIGHT_FILE = /\.(onnx|onnx_data|data|pb)$/i;
const READ_CHUNK_BYTES = 1 << 20;
/** Distinct (model, stamp) results kept; older ones are dropped first. */
const CACHE_ENTRIES = 64;

export function isWeightFile(name: string): boolean {
  return !name.startsWith('.') && WEIGHT_FILE.test(name);
}

/**
 * The weight files of a model, sorted by relative path: for a folder, those in it and in its direct
 * subfolders (the diffusers components: unet/, text_encoder/, ...); for a .onnx file, the file and the
 * external data next to it named after it (x.onnx_data, x.onnx.data).
 */
export async function modelWeightFiles(target: string): Promise<string[]> {
  const stat = await fs.stat(target).catch(() => {
    throw new Error(`model not found: ${target}`);
  });
  if (stat.isFile()) {
    const siblings = [`${target}_data`, `${target}.data`];
    const present = await Promise.all(siblings.map((s) => isFile(s)));
    return [target, ...siblings.filter((_, i) => present[i])];
  }
  if (!stat.isDirectory()) throw new Error(`model ${target} is neither a file nor a folder`);
  // Entries are stat'ed (links followed): hub caches keep weights as symlinks into a blob store.
  const found: { rel: string; file: string }[] = [];
  for (const name of await visibleNames(target)) {
    const full = path.join(target, name);
    const st = await fs.stat(full).catch(() => undefined);
    if (st?.isFile() && isWeightFile(name)) found.push({ rel: name, file: full });
    if (!st?.isDirectory()) continue;
    for (const inner of await visibleNames(full)) {
      if (isWeightFile(inner) && (await isFile(path.join(full, inner)))) found.push({ rel: `${name}/${inner}`, file: path.join(full, inner) });
    }
  }
  if (found.length === 0) throw new Error(`model folder ${target} has no .onnx files to hash`);
  found.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return found.map((f) => f.file);
}

/** sha256 (hex) of the files' bytes one after another, read in chunks (never a whole file in memory). */
export async function sha256OfFiles(files: readonly string[], signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) {
    for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK_BYTES, signal })) hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

export interface ModelHash {
  sha256: string;
  /** The files hashed, in hashing order. */
  files: string[];
}

/** Hashes models with a cache keyed by every file's path, size and mtime; concurrent asks share one read. */
export class ModelHasher {
  private readonly cache = new Map<string, Promise<string>>();

  /**
   * `target`: a model folder or a single .onnx file. `check` maps each weight file to the real path to
   * read, or throws: the caller's root check, so a link inside a model folder cannot lead outside them.
   */
  async hash(target: string, check: (file: string) => string = (f) => f): Promise<ModelHash> {
    const files = (await modelWeightFiles(target)).map(check);
    const stamps = await Promise.all(
      files.map(async (f) => {
        const st = await fs.stat(f);
        return `${f}\0${st.size}\0${st.mtimeMs}`;
      }),
    );
    const key = stamps.join('\n');
    let pending = this.cache.get(key);
    if (!pending) {
      pending = sha256OfFiles(files);
      this.cache.set(key, pending);
      // A failed read (file vanished mid-way) must not stick.
      pending.catch(() => this.cache.delete(key));
      while (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    }
    return { sha256: await pending, files };
  }
}

async function visibleNames(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((n) => !n.startsWith('.'));
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isFile();
  } catch {
    return false;
  }
}
