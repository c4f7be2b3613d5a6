/**
 * makeDirs / makeDirsSync: mkdir -p that ends. Node's own recursive mkdir spins forever under /proc (the
 * child says ENOENT, the parent EEXIST); these must fail there at once, and otherwise act as it does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDirs, makeDirsSync } from '../electron/engine/make-dirs.ts';
import { tempDir } from './helpers/temp.ts';

describe('makeDirs', () => {
  it('creates every missing folder, and accepts folders that exist', async () => {
    const base = tempDir('fs-mkdirs-');
    const deep = path.join(base, 'a', 'b', 'c');
    makeDirsSync(deep);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    makeDirsSync(deep);
    const other = path.join(base, 'a', 'x', 'y');
    await makeDirs(other);
    expect(fs.statSync(other).isDirectory()).toBe(true);
    await makeDirs(base);
  });

  it('fails as mkdir -p does where a file is in the way', async () => {
    const base = tempDir('fs-mkdirs-');
    const file = path.join(base, 'f');
    fs.writeFileSync(file, 'x');
    expect(() => makeDirsSync(file)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    await expect(makeDirs(path.join(file, 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it.runIf(fs.existsSync('/proc/self'))('fails at once under /proc, where Node\'s recursive mkdir never returns', async () => {
    expect(() => makeDirsSync('/proc/flowstudio-x/y')).toThrow(expect.objectContaining({ code: 'ENOENT', path: '/proc/flowstudio-x' }));
    await expect(makeDirs('/proc/flowstudio-x')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
