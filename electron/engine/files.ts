/**
 * Path checks for file params. Graph files are untrusted (one may arrive inside a stranger's PNG), so
 * every path a node reads or writes is resolved here and must land inside the configured folders after
 * symlinks are followed: `..` tricks and links pointing outside are refused with an error that names
 * the path and the allowed folders.
 */
import { existsSync, lstatSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { FileService } from '../../nodes/core/types.ts';
import { makeDirsSync } from './make-dirs.ts';

export interface FileServiceOptions {
  /** The run's output folder: relative write paths land here. Created on first write. */
  outDir: string;
  /** Folders whose files graphs may read. Relative read paths are looked up in them, in order. */
  readRoots: string[];
  /** Extra folders graphs may write to, besides outDir. */
  writeRoots?: string[];
}

/** A path outside the allowed folders, missing, or otherwise unusable. */
export class FileAccessError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'FileAccessError';
  }
}

export function createFileService(opts: FileServiceOptions): FileService {
  const outDir = resolve(opts.outDir);
  const readRoots = opts.readRoots.map((r) => resolve(r));
  const writeRoots = [outDir, ...(opts.writeRoots ?? []).map((r) => resolve(r))];

  return {
    outDir,

    resolveRead(path: string): string {
      checkPathString(path, 'read');
      const candidates = isAbsolute(path) ? [resolve(path)] : readRoots.map((root) => resolve(root, path));
      const found = candidates.find((c) => existsSync(c));
      if (!found) {
        const where = isAbsolute(path) ? '' : ` (looked in ${listRoots(readRoots)})`;
        throw new FileAccessError(`File not found: "${path}"${where}`, path);
      }
      const real = realpathSync(found);
      if (!insideAny(real, realRoots(readRoots))) {
        throw new FileAccessError(
          `Cannot read "${path}": it resolves to "${real}", outside the folders files may be read from (${listRoots(readRoots)})`,
          path,
        );
      }
      if (!statSync(real).isFile()) throw new FileAccessError(`Cannot read "${path}": it is not a file`, path);
      return real;
    },

    resolveWrite(path: string): string {
      checkPathString(path, 'write');
      if (/[\\/]$/.test(path)) throw new FileAccessError(`Cannot write "${path}": it names a folder, not a file`, path);
      const target = resolve(outDir, path);
      const outside = () =>
        new FileAccessError(
          `Cannot write "${path}": it resolves outside the folders files may be written to (${listRoots(writeRoots)})`,
          path,
        );
      // Lexical check first, so nothing is created outside the roots.
      const root = writeRoots.find((r) => inside(target, r));
      if (!root) throw outside();
      makeFolder(root, path);

      // Follow symlinks in the existing part of the parent path before creating the rest.
      const parent = dirname(target);
      const existing = deepestExisting(parent);
      const allowed = realRoots(writeRoots);
      if (!insideAny(realpathSync(existing), allowed)) throw outside();
      makeFolder(parent, path);
      const realParent = realpathSync(parent);
      if (!insideAny(realParent, allowed)) throw outside();

      const result = join(realParent, basename(target));
      const stat = lstatOrUndefined(result);
      if (stat?.isSymbolicLink()) {
        let linked: string;
        try {
          linked = realpathSync(result);
        } catch {
          throw new FileAccessError(`Cannot write "${path}": it is a symbolic link to a missing target`, path);
        }
        if (!insideAny(linked, allowed)) {
          throw new FileAccessError(
            `Cannot write "${path}": it is a symbolic link to "${linked}", outside the folders files may be written to (${listRoots(writeRoots)})`,
            path,
          );
        }
      }
      if (stat && !stat.isSymbolicLink() && stat.isDirectory()) {
        throw new FileAccessError(`Cannot write "${path}": a folder of that name exists`, path);
      }
      return result;
    },
  };
}

function checkPathString(path: string, mode: 'read' | 'write'): void {
  if (typeof path !== 'string' || path.trim() === '') throw new FileAccessError(`No file path given to ${mode}`, String(path));
  if (path.includes('\0')) throw new FileAccessError(`Invalid path ${JSON.stringify(path)}: contains a null byte`, path);
}

/** True when `path` is `root` or lies below it (both absolute, same resolution). */
function inside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
}

function insideAny(path: string, roots: string[]): boolean {
  return roots.some((r) => inside(path, r));
}

/** Roots after resolving their own symlinks (e.g. /tmp -> /private/tmp); roots that do not exist are skipped. */
function realRoots(roots: string[]): string[] {
  return roots.flatMap((r) => {
    try {
      return [realpathSync(r)];
    } catch {
      return [];
    }
  });
}

function makeFolder(folder: string, path: string): void {
  try {
    makeDirsSync(folder);
  } catch (e) {
    throw new FileAccessError(`Cannot write "${path}": could not create folder "${folder}" (${(e as Error).message})`, path);
  }
}

function deepestExisting(path: string): string {
  let p = path;
  while (!existsSync(p)) {
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return p;
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function listRoots(roots: string[]): string {
  return roots.length ? roots.map((r) => `"${r}"`).join(', ') : 'none configured';
}
