/**
 * What the inspector's file pickers offer: files of a kind under the folders the backend may read.
 * The walk is bounded (entries, depth, folders visited) so a large root cannot stall the server, skips
 * hidden names, never descends through a symlinked folder (no cycles, no escapes) and lists a symlinked
 * file only when its target lies inside an allowed root.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileListKind, ListedFile, ListFilesOptions } from '../app-api.ts';
import { BadRequestError } from './errors.ts';

export interface ListingLimits {
  /** Entries returned at most. */
  maxEntries: number;
  /** Folder levels below a root descended into (files of the root itself are level 0). */
  maxDepth: number;
  /** Folders read at most, over all roots (a root full of folders with nothing to list stays cheap). */
  maxFolders: number;
}

export const DEFAULT_LISTING_LIMITS: ListingLimits = { maxEntries: 500, maxDepth: 3, maxFolders: 2000 };

const KINDS: readonly FileListKind[] = ['image', 'latent', 'model', 'any'];
const DEFAULT_EXTENSIONS: Record<FileListKind, string[] | undefined> = {
  image: ['.png', '.jpg', '.jpeg', '.webp'],
  latent: ['.npy'],
  model: ['.onnx'],
  any: undefined,
};
const EXTENSION = /^\.[a-z0-9][a-z0-9_.-]{0,15}$/;
const MAX_EXTENSIONS = 32;
const MODEL_INDEX = 'model_index.json';

/** Checks a request from the UI; returns the kind and the extensions to keep (undefined: every file). */
export function parseListFilesOptions(opts: unknown): { kind: FileListKind; extensions?: string[] } {
  if (!opts || typeof opts !== 'object' || Array.isArray(opts)) throw new BadRequestError('listFiles needs an options object {kind, extensions?}');
  const { kind, extensions } = opts as Partial<ListFilesOptions>;
  if (!KINDS.includes(kind as FileListKind)) {
    throw new BadRequestError(`listFiles: "kind" must be one of ${KINDS.join(', ')} (got ${JSON.stringify(kind)})`);
  }
  if (extensions === undefined) return { kind: kind as FileListKind, extensions: DEFAULT_EXTENSIONS[kind as FileListKind] };
  if (!Array.isArray(extensions) || extensions.length > MAX_EXTENSIONS || !extensions.every((e) => typeof e === 'string')) {
    throw new BadRequestError(`listFiles: "extensions" must be an array of at most ${MAX_EXTENSIONS} strings`);
  }
  const lower = extensions.map((e) => e.toLowerCase());
  const bad = lower.find((e) => !EXTENSION.test(e));
  if (bad !== undefined) throw new BadRequestError(`listFiles: bad extension ${JSON.stringify(bad)} (expected e.g. ".png")`);
  return { kind: kind as FileListKind, extensions: lower };
}

/**
 * Lists files under `roots` (in root order, shallow levels first, names sorted). For kind 'model': diffusers
 * folders (holding model_index.json, not descended into) and .onnx files with their sidecar .json.
 */
export async function listFilesUnder(roots: readonly string[], opts: unknown, limits: ListingLimits = DEFAULT_LISTING_LIMITS): Promise<ListedFile[]> {
  const { kind, extensions } = parseListFilesOptions(opts);
  const realRoots = await existingRealRoots(roots);
  const out: ListedFile[] = [];
  const seen = new Set<string>();
  let foldersRead = 0;

  const wanted = (name: string) => extensions === undefined || extensions.some((e) => name.toLowerCase().endsWith(e));
  const add = (file: string, root: string, size: number, mtime: Date, isFolder: boolean) => {
    if (seen.has(file) || out.length >= limits.maxEntries) return;
    seen.add(file);
    out.push({ path: file, name: path.basename(file), root, size, modified: mtime.toISOString(), isFolder });
  };

  for (const root of realRoots) {
    // Breadth first, so a cap cuts deep files before shallow ones.
    let level = [root];
    for (let depth = 0; depth <= limits.maxDepth && level.length > 0 && out.length < limits.maxEntries; depth++) {
      const next: string[] = [];
      for (const dir of level) {
        if (foldersRead >= limits.maxFolders || out.length >= limits.maxEntries) break;
        foldersRead++;
        let entries;
        try {
          entries = await fs.readdir(dir, { withFileTypes: true });
        } catch {
          continue; // unreadable (permissions) or removed meanwhile: skip it
        }
        entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const entry of entries) {
          if (entry.name.startsWith('.')) continue;
          const full = path.join(dir, entry.name);
          if (entry.isDirectory()) {
            if (kind === 'model' && (await statOf(path.join(full, MODEL_INDEX)))?.isFile()) {
              const st = await statOf(full);
              if (st) add(full, root, 0, st.mtime, true);
            } else {
              next.push(full);
            }
            continue;
          }
          if (!wanted(entry.name)) continue;
          if (entry.isSymbolicLink()) {
            // A link is listed only when it ends at a file inside an allowed root.
            const real = await fs.realpath(full).catch(() => undefined);
            if (!real || !realRoots.some((r) => inside(real, r))) continue;
          } else if (!entry.isFile()) {
            continue;
          }
          const st = await statOf(full);
          if (!st?.isFile()) continue;
          if (kind === 'model' && !(await statOf(sidecarOf(full)))?.isFile()) continue;
          add(full, root, st.size, st.mtime, false);
        }
      }
      level = next;
    }
  }
  return out;
}

/** Roots as real paths (so listed paths pass the same realpath checks reads do), missing ones skipped, duplicates dropped. */
async function existingRealRoots(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of roots) {
    const real = await fs.realpath(path.resolve(r)).catch(() => undefined);
    if (real && !out.includes(real)) out.push(real);
  }
  return out;
}

function inside(p: string, root: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!path.isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${path.sep}`));
}

async function statOf(p: string) {
  return fs.stat(p).catch(() => undefined);
}

/** x.onnx -> x.json (what LoadModel needs next to a single .onnx). */
function sidecarOf(file: string): string {
  return file.slice(0, -path.extname(file).length) + '.json';
}
