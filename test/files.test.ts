import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileAccessError, createFileService } from '../electron/engine/files.ts';

/*
 * Temp tree (base is realpath'd so expectations compare real paths):
 *   base/secret.txt
 *   base/outside/                       a folder outside every root
 *   base/in/a.png, base/in/sub/b.npy    the read root
 *   base/in/link-out -> ../secret.txt   symlink escaping the read root
 *   base/in/link-in  -> sub/b.npy       symlink staying inside
 *   base/in/dir-out  -> ../outside      folder symlink escaping
 *   base/in-alias    -> in              the root itself reached through a symlink
 *   base/out/                           outDir (created lazily)
 *   base/extra/                         an extra write root
 */
let base: string;

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'flowstudio-files-')));
  mkdirSync(join(base, 'in', 'sub'), { recursive: true });
  mkdirSync(join(base, 'outside'));
  mkdirSync(join(base, 'extra'));
  writeFileSync(join(base, 'secret.txt'), 'secret');
  writeFileSync(join(base, 'outside', 'x.txt'), 'x');
  writeFileSync(join(base, 'in', 'a.png'), 'a');
  writeFileSync(join(base, 'in', 'sub', 'b.npy'), 'b');
  symlinkSync('../secret.txt', join(base, 'in', 'link-out'));
  symlinkSync('sub/b.npy', join(base, 'in', 'link-in'));
  symlinkSync('../outside', join(base, 'in', 'dir-out'));
  symlinkSync('in', join(base, 'in-alias'));
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

const service = () =>
  createFileService({ outDir: join(base, 'out'), readRoots: [join(base, 'in')], writeRoots: [join(base, 'extra')] });

describe('resolveRead', () => {
  it('accepts files inside a read root, absolute or relative to the root, and returns the real path', () => {
    const files = service();
    expect(files.resolveRead(join(base, 'in', 'a.png'))).toBe(join(base, 'in', 'a.png'));
    expect(files.resolveRead('sub/b.npy')).toBe(join(base, 'in', 'sub', 'b.npy'));
    expect(files.resolveRead('sub/../a.png')).toBe(join(base, 'in', 'a.png'));
    expect(files.resolveRead('link-in')).toBe(join(base, 'in', 'sub', 'b.npy'));
  });

  it('rejects ../ escapes, naming the path and the allowed roots', () => {
    const files = service();
    let error: unknown;
    try {
      files.resolveRead('../secret.txt');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FileAccessError);
    const message = (error as Error).message;
    expect(message).toContain('"../secret.txt"');
    expect(message).toContain(join(base, 'secret.txt'));
    expect(message).toContain(`"${join(base, 'in')}"`);
    expect(() => files.resolveRead(join(base, 'in', '..', 'secret.txt'))).toThrow(/outside the folders files may be read from/);
    expect(() => files.resolveRead(join(base, 'outside', 'x.txt'))).toThrow(/outside/);
  });

  it('rejects symlinks that point outside the roots', () => {
    const files = service();
    expect(() => files.resolveRead('link-out')).toThrow(/"link-out": it resolves to ".*secret\.txt", outside/);
    expect(() => files.resolveRead('dir-out/x.txt')).toThrow(/outside/);
  });

  it('accepts a root given through a symlink (roots are compared after realpath)', () => {
    const files = createFileService({ outDir: join(base, 'out'), readRoots: [join(base, 'in-alias')] });
    expect(files.resolveRead(join(base, 'in-alias', 'a.png'))).toBe(join(base, 'in', 'a.png'));
    expect(files.resolveRead(join(base, 'in', 'a.png'))).toBe(join(base, 'in', 'a.png'));
  });

  it('reports missing files, folders and empty paths clearly', () => {
    const files = service();
    expect(() => files.resolveRead('nope.png')).toThrow(/File not found: "nope.png" \(looked in ".*in"\)/);
    expect(() => files.resolveRead(join(base, 'in', 'nope.png'))).toThrow(/File not found/);
    expect(() => files.resolveRead('sub')).toThrow(/"sub": it is not a file/);
    expect(() => files.resolveRead('')).toThrow(/No file path given to read/);
    expect(() => files.resolveRead('a.png\0.txt')).toThrow(/null byte/);
    const none = createFileService({ outDir: join(base, 'out'), readRoots: [] });
    expect(() => none.resolveRead(join(base, 'in', 'a.png'))).toThrow(/none configured/);
  });
});

describe('resolveWrite', () => {
  it('puts relative paths in outDir, creating it and parent folders', () => {
    const files = service();
    expect(files.outDir).toBe(join(base, 'out'));
    expect(files.resolveWrite('image.png')).toBe(join(base, 'out', 'image.png'));
    expect(existsSync(join(base, 'out'))).toBe(true);
    expect(files.resolveWrite('runs/1/latent.npy')).toBe(join(base, 'out', 'runs', '1', 'latent.npy'));
    expect(existsSync(join(base, 'out', 'runs', '1'))).toBe(true);
  });

  it.runIf(existsSync('/proc/self'))('reports an output folder that cannot be made (under /proc, where Node\'s own mkdir -p never returns)', () => {
    const files = createFileService({ outDir: '/proc/flowstudio-out', readRoots: [] });
    expect(() => files.resolveWrite('latent.npy')).toThrow(/Cannot write "latent\.npy": could not create folder "\/proc\/flowstudio-out" \(ENOENT/);
  });

  it('accepts absolute paths in outDir or an extra write root', () => {
    const files = service();
    expect(files.resolveWrite(join(base, 'extra', 'deep', 'e.png'))).toBe(join(base, 'extra', 'deep', 'e.png'));
    expect(files.resolveWrite(join(base, 'out', 'o.png'))).toBe(join(base, 'out', 'o.png'));
  });

  it('rejects ../ escapes and other folders without creating anything', () => {
    const files = service();
    expect(() => files.resolveWrite('../escape/x.png')).toThrow(/Cannot write "..\/escape\/x.png": it resolves outside/);
    expect(existsSync(join(base, 'escape'))).toBe(false);
    expect(() => files.resolveWrite(join(base, 'outside', 'y.png'))).toThrow(/outside the folders files may be written to/);
    expect(() => files.resolveWrite(join(base, 'in', 'y.png'))).toThrow(/outside/);
  });

  it('rejects writing through a folder symlink that escapes, without creating folders outside', () => {
    const files = service();
    mkdirSync(join(base, 'out'), { recursive: true });
    symlinkSync('../outside', join(base, 'out', 'dir-out'));
    expect(() => files.resolveWrite('dir-out/x.png')).toThrow(/outside/);
    expect(() => files.resolveWrite('dir-out/new/deeper/x.png')).toThrow(/outside/);
    expect(existsSync(join(base, 'outside', 'new'))).toBe(false);
  });

  it('rejects a target that is a symlink to a file outside, or a dangling symlink', () => {
    const files = service();
    mkdirSync(join(base, 'out'), { recursive: true });
    symlinkSync('../secret.txt', join(base, 'out', 'evil.png'));
    expect(() => files.resolveWrite('evil.png')).toThrow(/symbolic link to ".*secret\.txt", outside/);
    symlinkSync('../missing.txt', join(base, 'out', 'dangling.png'));
    expect(() => files.resolveWrite('dangling.png')).toThrow(/symbolic link to a missing target/);
    writeFileSync(join(base, 'out', 'real.png'), '');
    symlinkSync('real.png', join(base, 'out', 'ok-link.png'));
    expect(files.resolveWrite('ok-link.png')).toBe(join(base, 'out', 'ok-link.png'));
  });

  it('rejects empty names, folder names and existing folders', () => {
    const files = service();
    expect(() => files.resolveWrite('')).toThrow(/No file path given to write/);
    expect(() => files.resolveWrite('folder/')).toThrow(/names a folder/);
    mkdirSync(join(base, 'out', 'adir'), { recursive: true });
    expect(() => files.resolveWrite('adir')).toThrow(/a folder of that name exists/);
  });
});
