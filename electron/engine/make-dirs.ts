/**
 * `mkdir -p` that always ends. Node's recursive mkdir (sync and async, Node 20 on Linux) spins forever on a
 * path whose parent exists but cannot hold children, such as anything under /proc: mkdir(child) says ENOENT,
 * mkdir(parent) says EEXIST, and it retries. An output folder a user types can be such a path. This creates
 * one component at a time, from the deepest existing ancestor down, and reports the first failure.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The components of `folder` that do not exist yet, outermost first. */
function missingFolders(folder: string): string[] {
  const missing: string[] = [];
  let p = path.resolve(folder);
  while (!fs.existsSync(p)) {
    missing.unshift(p);
    const up = path.dirname(p);
    if (up === p) break;
    p = up;
  }
  return missing;
}

function alreadyThere(e: unknown, dir: string): boolean {
  // Another process may create the same folder meanwhile: fine if it is a folder now.
  return (e as NodeJS.ErrnoException).code === 'EEXIST' && fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true;
}

/** A path that exists but is no folder fails as Node's recursive mkdir fails on it. */
function checkIsFolder(folder: string): void {
  if (fs.statSync(folder).isDirectory()) return;
  throw Object.assign(new Error(`EEXIST: file already exists, mkdir '${folder}'`), { code: 'EEXIST', syscall: 'mkdir', path: folder });
}

export function makeDirsSync(folder: string): void {
  for (const dir of missingFolders(folder)) {
    try {
      fs.mkdirSync(dir);
    } catch (e) {
      if (!alreadyThere(e, dir)) throw e;
    }
  }
  checkIsFolder(folder);
}

export async function makeDirs(folder: string): Promise<void> {
  for (const dir of missingFolders(folder)) {
    try {
      await fs.promises.mkdir(dir);
    } catch (e) {
      if (!alreadyThere(e, dir)) throw e;
    }
  }
  checkIsFolder(folder);
}
