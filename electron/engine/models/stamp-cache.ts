/**
 * Remembers model stamps between runs. A run salts LoadModel's cache key with the model's stamp, and
 * locating a folder model afresh (path checks, JSON configs, directory listings) costs about a millisecond
 * of file-system round trips per run. A remembered stamp holds while every watched path stats the same:
 * the model's folders (an entry added, removed or renamed changes a folder's mtime) and its stamped files
 * (a rewrite changes size, mtime or inode), and every path the path check resolved while locating still
 * resolves to the same real path (a re-pointed symlink). The folders are statted before the model is located,
 * so a change racing the locate shows up on the next check instead of being remembered as current.
 */
import fs from 'node:fs/promises';

/** Distinct models remembered; the oldest is dropped first. */
const ENTRIES = 64;

/** One stat per path, in order: size, mtime and inode, or "missing". */
export async function statSignature(paths: readonly string[]): Promise<string> {
  return (await statPaths(paths)).signature;
}

/** The signature and the newest mtime among the paths (-Infinity when none exists). */
async function statPaths(paths: readonly string[]): Promise<{ signature: string; newest: number }> {
  let newest = -Infinity;
  const parts = await Promise.all(
    paths.map(async (p) => {
      try {
        const st = await fs.stat(p);
        newest = Math.max(newest, st.mtimeMs);
        return `${st.size}:${st.mtimeMs}:${st.ino}`;
      } catch {
        return 'missing';
      }
    }),
  );
  return { signature: parts.join('|'), newest };
}

/**
 * How recent a watched mtime may be for the stamp to be remembered. A change in the same timestamp tick as
 * the stat leaves the mtime as it was (2 s on FAT, coarse on some network shares), so a model changed this
 * recently is stamped afresh each time until it is older, as git treats racily clean files.
 */
export const RACY_MS = 2000;

interface Entry {
  dirs: readonly string[];
  files: readonly string[];
  /** Each path the path check resolved while locating, with the real path it gave (symlinks re-pointed show here). */
  resolutions: readonly (readonly [string, string])[];
  signature: string;
  stamp: string;
}

/** The path check: the real path of an allowed, existing file, or a throw. */
export type Resolve = (path: string) => string;

export class StampCache {
  private readonly entries = new Map<string, Entry>();

  /** `racyMs`: see RACY_MS (tests of the remembering itself pass 0). */
  constructor(private readonly racyMs = RACY_MS) {}

  /**
   * The remembered stamp of `ref` when nothing it watches has changed since, else undefined: the same folders
   * (`dirs`, resolved afresh by the caller), every path the check resolved still resolving to the same real
   * path (it also runs the check again, so a link re-pointed outside the allowed folders is refused), and the
   * same stats.
   */
  async lookup(ref: string, dirs: readonly string[], resolve?: Resolve): Promise<string | undefined> {
    const entry = this.entries.get(ref);
    if (!entry) return undefined;
    const same = entry.dirs.length === dirs.length && entry.dirs.every((d, k) => d === dirs[k]) && entry.resolutions.every(([p, real]) => stillResolves(resolve, p, real));
    if (same && (await statSignature([...entry.dirs, ...entry.files])) === entry.signature) return entry.stamp;
    this.entries.delete(ref);
    return undefined;
  }

  /**
   * Stamps `ref` afresh: `dirs` are statted first, then `locate` finds the files (through `resolve`, whose
   * answers are recorded), which are statted after it; `stampOf` turns the located model into its stamp.
   */
  async compute<L extends { files: readonly string[] }>(
    ref: string,
    dirs: readonly string[],
    locate: (resolve: Resolve | undefined) => Promise<L>,
    stampOf: (layout: L) => Promise<string>,
    resolve?: Resolve,
  ): Promise<string> {
    const startedAt = Date.now();
    const dirStats = await statPaths(dirs);
    const resolutions: [string, string][] = [];
    const recording = resolve
      ? (p: string) => {
          const real = resolve(p);
          resolutions.push([p, real]);
          return real;
        }
      : undefined;
    const layout = await locate(recording);
    const fileStats = await statPaths(layout.files);
    const stamp = await stampOf(layout);
    this.entries.delete(ref);
    // Racily recent: not remembered (the next run stamps afresh).
    if (Math.max(dirStats.newest, fileStats.newest) > startedAt - this.racyMs) return stamp;
    this.entries.set(ref, { dirs, files: [...layout.files], resolutions, signature: dirs.length > 0 ? `${dirStats.signature}|${fileStats.signature}` : fileStats.signature, stamp });
    while (this.entries.size > ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    return stamp;
  }
}

function stillResolves(resolve: Resolve | undefined, path: string, real: string): boolean {
  if (!resolve) return true;
  try {
    return resolve(path) === real;
  } catch {
    return false;
  }
}
