/**
 * Each process spills cache entries into <cache>/spill/<pid> and deletes them as they are evicted and at
 * dispose. A process that crashed or was killed leaves its folder behind (up to the disk budget, gigabytes),
 * and nothing else would ever delete it: the first engine of a process removes the folders of processes
 * that no longer run. A folder whose pid is alive (another FlowStudio, or a pid reused since) is left alone.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

/** Whether a process with this id runs now (EPERM: it does, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes <root>/<pid> folders of processes that are gone; returns the pids removed. Other names are left. */
export async function sweepStaleSpillDirs(root: string, alive: (pid: number) => boolean = processAlive): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.readdir(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const removed: number[] = [];
  for (const name of names) {
    if (!/^[1-9]\d{0,9}$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid || alive(pid)) continue;
    await fs.rm(path.join(root, name), { recursive: true, force: true });
    removed.push(pid);
  }
  return removed;
}

const swept = new Set<string>();

/** sweepStaleSpillDirs once per root and process, in the background; problems are only reported. */
export function sweepStaleSpillDirsOnce(root: string, report: (message: string, error: unknown) => void): void {
  const key = path.resolve(root);
  if (swept.has(key)) return;
  swept.add(key);
  sweepStaleSpillDirs(key).catch((e) => report(`could not remove the spill folders of processes that ended (${key})`, e));
}
