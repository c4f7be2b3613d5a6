/** Spill folders left by processes that ended (a crash, a kill) are removed; live ones are left alone. */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { processAlive, sweepStaleSpillDirs } from '../electron/engine/executor/spill-sweep.ts';
import { Engine } from '../electron/engine/engine.ts';
import { tempDir } from './helpers/temp.ts';

function folderWithFile(root: string, name: string): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'entry.tensor'), 'x');
  return dir;
}

/** The pid of a process that has exited. */
async function endedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('stale spill folders', () => {
  it('removes the folders of ended processes only, leaving live pids, this process and other names', async () => {
    const root = tempDir('fs-spill-');
    for (const name of ['111', '222', String(process.pid), 'notes', '0123']) folderWithFile(root, name);
    const removed = await sweepStaleSpillDirs(root, (pid) => pid === 222);
    expect(removed).toEqual([111]);
    expect(fs.readdirSync(root).sort()).toEqual(['0123', '222', String(process.pid), 'notes'].sort());
    expect(fs.existsSync(path.join(root, '222', 'entry.tensor'))).toBe(true);
    // No spill root yet: nothing to do.
    expect(await sweepStaleSpillDirs(path.join(root, 'absent'))).toEqual([]);
  });

  it('tells a running process from one that has ended', async () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(await endedPid())).toBe(false);
  });

  it('the first engine of a process sweeps its cache folder’s spill root', async () => {
    const cacheDir = tempDir('fs-spill-cache-');
    const dead = await endedPid();
    const stale = folderWithFile(path.join(cacheDir, 'spill'), String(dead));
    const engine = new Engine({ cacheDir, outDir: tempDir('fs-spill-out-'), providers: ['cpu'] });
    try {
      for (let i = 0; i < 100 && fs.existsSync(stale); i++) await new Promise((r) => setTimeout(r, 20));
      expect(fs.existsSync(stale)).toBe(false);
    } finally {
      await engine.dispose();
    }
  });
});
