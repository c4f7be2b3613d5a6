/**
 * AppBackend (presets, autosave, graph files, recent files, readFile) on a stub engine: everything
 * here is disk and path handling, so no ONNX session is needed.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineAPI, RunSummary } from '../electron/engine/api.ts';
import { AppBackend } from '../electron/engine/app-backend.ts';
import { defaultDataDir } from '../electron/engine/app/data-dir.ts';
import { MAX_RECENT_FILES } from '../electron/engine/app/recent-files.ts';
import { presetFileStem } from '../electron/engine/app/safe-name.ts';
import type { EngineEvent, EngineEventListener } from '../electron/engine/events.ts';
import { readGraphFile, serializeGraph } from '../electron/engine/graph/io.ts';
import type { GraphDocument } from '../electron/engine/graph/schema.ts';
import { EXAMPLES_DIR } from '../electron/engine/paths.ts';
import { graph, tempDir } from './helpers/engine.ts';

/** Records calls; emits one event on run so subscribe pass-through is visible. */
function stubEngine(): EngineAPI & { calls: string[] } {
  const listeners = new Set<EngineEventListener>();
  const calls: string[] = [];
  return {
    calls,
    listNodeTypes: async () => (calls.push('listNodeTypes'), []),
    validate: async () => (calls.push('validate'), []),
    checkFiles: async () => (calls.push('checkFiles'), []),
    run: async (r) => {
      calls.push(`run:${r.runId}`);
      const e: EngineEvent = { type: 'run-finished', runId: r.runId ?? '', ms: 1 };
      for (const l of listeners) l(e);
      return { runId: r.runId ?? '', status: 'finished', ms: 1, outDir: '', nodes: {}, outputs: {} } satisfies RunSummary;
    },
    cancel: async (id) => (calls.push(`cancel:${id}`), false),
    listModels: async () => (calls.push('listModels'), []),
    readOutput: async () => (calls.push('readOutput'), null),
    freeMemory: async (r) => (calls.push(`freeMemory:${JSON.stringify(r)}`), { modelsUnloaded: 2, modelsLoaded: 0, cacheBytesFreed: 5 }),
    memoryStatus: async () => (calls.push('memoryStatus'), { modelsLoaded: 1, modelBytes: 2, cacheBytes: 3, cacheBytesOnDisk: 4 }),
    systemInfo: async () => {
      calls.push('systemInfo');
      return { appVersion: '1', onnxruntimeVersion: '2', nodeVersion: '3', platform: 'p', arch: 'a', cpus: 1, totalMemory: 1, freeMemory: 1, cacheDir: '/c', outDir: '/o', providers: [], engine: { runsIn: 'app', pid: 1 } };
    },
    subscribe: (l) => (listeners.add(l), () => listeners.delete(l)),
  };
}

const doc = (name = 'test'): GraphDocument => ({
  ...graph(
    [
      { id: 'latent', type: 'EmptyLatent', params: { width: 8 } },
      { id: 'noise', type: 'RandomNoise', params: { seed: 5 } },
    ],
    [],
  ),
  metadata: { name, description: 'd', author: '', tags: ['t'] },
});

let base: string;
let dataDir: string;
let outDir: string;
let outside: string;
let backend: AppBackend;
let engine: ReturnType<typeof stubEngine>;

async function rejection(p: Promise<unknown>): Promise<Error & { errors?: unknown[] }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

beforeAll(() => {
  base = fs.realpathSync(tempDir('fs-app-'));
  dataDir = path.join(base, 'data');
  outDir = path.join(base, 'out');
  outside = path.join(base, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'secret');
  fs.writeFileSync(path.join(outside, 'g.flowstudio'), serializeGraph(doc('outside')));
  engine = stubEngine();
  backend = new AppBackend({ engine, outDir, dataDir });
});

afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

describe('data dir', () => {
  it('follows FLOWSTUDIO_DATA_DIR, then XDG_DATA_HOME, then ~/.local/share', () => {
    const saved = { d: process.env.FLOWSTUDIO_DATA_DIR, x: process.env.XDG_DATA_HOME };
    try {
      process.env.FLOWSTUDIO_DATA_DIR = '/tmp/a';
      process.env.XDG_DATA_HOME = '/tmp/x';
      expect(defaultDataDir()).toBe('/tmp/a');
      delete process.env.FLOWSTUDIO_DATA_DIR;
      expect(defaultDataDir()).toBe('/tmp/x/flowstudio');
      delete process.env.XDG_DATA_HOME;
      expect(defaultDataDir()).toMatch(/[\\/]\.local[\\/]share[\\/]flowstudio$/);
    } finally {
      for (const [k, v] of [['FLOWSTUDIO_DATA_DIR', saved.d], ['XDG_DATA_HOME', saved.x]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('engine pass-through', () => {
  it('forwards every EngineAPI call and event unchanged', async () => {
    const seen: EngineEvent[] = [];
    const off = backend.subscribe((e) => seen.push(e));
    await backend.run({ graph: doc(), runId: 'r1' });
    await backend.cancel('r1');
    await backend.validate(doc());
    await backend.checkFiles(doc());
    await backend.listNodeTypes();
    await backend.listModels();
    expect(await backend.freeMemory({ cache: false })).toEqual({ modelsUnloaded: 2, modelsLoaded: 0, cacheBytesFreed: 5 });
    expect(await backend.memoryStatus()).toEqual({ modelsLoaded: 1, modelBytes: 2, cacheBytes: 3, cacheBytesOnDisk: 4 });
    expect((await backend.systemInfo()).appVersion).toBe('1');
    off();
    expect(engine.calls).toEqual(['run:r1', 'cancel:r1', 'validate', 'checkFiles', 'listNodeTypes', 'listModels', 'freeMemory:{"cache":false}', 'memoryStatus', 'systemInfo']);
    expect(seen).toEqual([{ type: 'run-finished', runId: 'r1', ms: 1 }]);
  });

  it('restarts an engine that can be restarted, and says why not for one in the app\'s own process', async () => {
    expect(await backend.restartEngine()).toEqual({ restarted: false, reason: expect.stringContaining("inside the app's own process") });
    const restartable = Object.assign(stubEngine(), { restart: async () => 2 });
    const other = new AppBackend({ engine: restartable, outDir: tempDir('fs-backend-restart-out-'), dataDir: tempDir('fs-backend-restart-data-') });
    expect(await other.restartEngine()).toEqual({ restarted: true, runsStopped: 2 });
  });
});

describe('presets', () => {
  it('lists the shipped examples first, read-only, with their metadata', async () => {
    const list = await backend.listPresets();
    const stems = fs.readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json')).map((f) => `example:${f.slice(0, -5)}`);
    expect(list.filter((p) => p.source === 'example').map((p) => p.id).sort()).toEqual(stems.sort());
    const ddim = list.find((p) => p.id === 'example:gaussian-vp-ddim')!;
    const fromFile = readGraphFile(path.join(EXAMPLES_DIR, 'gaussian-vp-ddim.json'));
    expect(ddim).toMatchObject({ name: fromFile.metadata.name, description: fromFile.metadata.description, tags: fromFile.metadata.tags });
    expect(await backend.readPreset('example:gaussian-vp-ddim')).toEqual(fromFile);
    const err = await rejection(backend.deletePreset('example:gaussian-vp-ddim'));
    expect(err.name).toBe('BadRequestError');
    expect(fs.existsSync(path.join(EXAMPLES_DIR, 'gaussian-vp-ddim.json'))).toBe(true);
  });

  it('writes, lists after the examples, reads, overwrites and deletes a user preset', async () => {
    const info = await backend.writePreset('My Preset', doc('ignored'));
    expect(info).toMatchObject({ id: 'user:My Preset', name: 'My Preset', source: 'user', description: 'd', tags: ['t'] });
    expect(fs.existsSync(path.join(dataDir, 'presets', 'My Preset.flowstudio'))).toBe(true);

    const list = await backend.listPresets();
    expect(list.at(-1)?.id).toBe('user:My Preset');
    expect(list.findIndex((p) => p.source === 'user')).toBeGreaterThan(list.findLastIndex((p) => p.source === 'example'));

    const read = (await backend.readPreset(info.id)) as GraphDocument;
    expect(read.nodes).toEqual(doc().nodes);
    expect(read.metadata.name).toBe('My Preset');
    expect(Date.parse(read.metadata.modified ?? '')).toBeGreaterThan(0);

    const changed = doc();
    changed.nodes[0].params.width = 32;
    await backend.writePreset('My Preset', changed);
    expect(((await backend.readPreset(info.id)) as GraphDocument).nodes[0].params.width).toBe(32);
    expect((await backend.listPresets()).filter((p) => p.id === info.id)).toHaveLength(1);

    await backend.deletePreset(info.id);
    expect((await backend.listPresets()).some((p) => p.id === info.id)).toBe(false);
    expect((await rejection(backend.readPreset(info.id))).name).toBe('NotFoundError');
    expect((await rejection(backend.deletePreset(info.id))).name).toBe('NotFoundError');
  });

  it('turns names into file stems that stay inside the presets folder', async () => {
    const info = await backend.writePreset('../../escape/..\\evil', doc());
    expect(info.id).toBe('user:escape-..-evil');
    expect(fs.readdirSync(path.join(dataDir, 'presets'))).toContain('escape-..-evil.flowstudio');
    expect(fs.existsSync(path.join(base, 'escape'))).toBe(false);
    await backend.deletePreset(info.id);

    expect(presetFileStem('  .hidden  ')).toBe('hidden');
    expect(presetFileStem('CON')).toBe('CON_');
    expect(presetFileStem('Café au lait #2')).toBe('Café au lait -2');
    expect(presetFileStem('x'.repeat(300))).toHaveLength(80);
    for (const bad of ['', '   ', '...', '///']) expect(() => presetFileStem(bad)).toThrow(/preset/i);
  });

  it('refuses ids that could name a path, and invalid graphs (structured errors)', async () => {
    for (const id of ['user:../autosave', 'user:a/b', 'user:.hidden', 'other:x', 'user:', '']) {
      expect((await rejection(backend.readPreset(id))).name).toBe('BadRequestError');
    }
    const err = await rejection(backend.writePreset('broken', { format: 'flowstudio-graph', schemaVersion: 1, nodes: 'no' }));
    expect(err.name).toBe('GraphValidationError');
    expect(err.errors?.[0]).toMatchObject({ code: 'schema', path: 'nodes' });
    expect(fs.existsSync(path.join(dataDir, 'presets', 'broken.flowstudio'))).toBe(false);
  });

  it('skips unreadable files in the presets folder instead of failing the list', async () => {
    fs.writeFileSync(path.join(dataDir, 'presets', 'garbage.flowstudio'), '{ nope');
    const ids = (await backend.listPresets()).map((p) => p.id);
    expect(ids).not.toContain('user:garbage');
    expect(ids).toContain('example:gaussian-vp-ddim');
    fs.rmSync(path.join(dataDir, 'presets', 'garbage.flowstudio'));
  });
});

describe('autosave', () => {
  it('round-trips the working graph with savedAt, keeps the last good save, recovers from a corrupt file', async () => {
    const fresh = new AppBackend({ engine, outDir, dataDir: path.join(base, 'data-autosave') });
    expect(await fresh.readAutosave()).toBeNull();

    const before = Date.now();
    await fresh.writeAutosave(doc('working'));
    const saved = await fresh.readAutosave();
    expect(saved?.graph).toEqual(doc('working'));
    const at = Date.parse(saved?.savedAt ?? '');
    expect(at).toBeGreaterThanOrEqual(before - 1000);
    expect(at).toBeLessThanOrEqual(Date.now());

    const err = await rejection(fresh.writeAutosave({ nodes: 3 }));
    expect(err.name).toBe('GraphValidationError');
    expect((await fresh.readAutosave())?.graph).toEqual(doc('working'));
    // No temp files left behind by the atomic writes.
    expect(fs.readdirSync(path.join(base, 'data-autosave')).filter((f) => f.includes('autosave'))).toEqual(['autosave.json']);

    fs.writeFileSync(path.join(base, 'data-autosave', 'autosave.json'), '{"format":"flowstudio-autosave","savedAt":');
    expect(await fresh.readAutosave()).toBeNull();
  });
});

describe('graph files and recent files', () => {
  it('saves relative paths into <data>/graphs (adding .flowstudio), opens them back, and records them as recent', async () => {
    const written = await backend.saveGraphFile('mine', doc('mine'));
    expect(written).toBe(path.join(dataDir, 'graphs', 'mine.flowstudio'));
    const opened = (await backend.openGraphFile('mine.flowstudio')) as GraphDocument;
    expect(opened.nodes).toEqual(doc().nodes);
    expect(opened.metadata.name).toBe('mine');

    const example = path.join(EXAMPLES_DIR, 'gaussian-rf-euler.json');
    expect(await backend.openGraphFile(example)).toEqual(readGraphFile(example));
    const recent = await backend.listRecentFiles();
    expect(recent.slice(0, 2).map((r) => r.path)).toEqual([fs.realpathSync(example), written]);
    expect(recent[1]).toMatchObject({ name: 'mine.flowstudio' });
  });

  it('refuses paths outside the allowed roots: .., absolute, symlinks, other extensions', async () => {
    const graphs = path.join(dataDir, 'graphs');
    fs.symlinkSync(path.join(outside, 'g.flowstudio'), path.join(graphs, 'link-out.flowstudio'));
    fs.symlinkSync(outside, path.join(graphs, 'dir-out'));

    const refused = async (p: Promise<unknown>, name: string) => expect((await rejection(p)).name).toBe(name);
    await refused(backend.saveGraphFile('../escape.flowstudio', doc()), 'FileAccessError');
    await refused(backend.saveGraphFile(path.join(outside, 'x.flowstudio'), doc()), 'FileAccessError');
    await refused(backend.saveGraphFile('dir-out/x.flowstudio', doc()), 'FileAccessError');
    await refused(backend.saveGraphFile('link-out.flowstudio', doc()), 'FileAccessError');
    await refused(backend.saveGraphFile('notes.txt', doc()), 'BadRequestError');
    await refused(backend.saveGraphFile('bad', { nodes: 1 }), 'GraphValidationError');
    await refused(backend.openGraphFile('../outside/g.flowstudio'), 'FileAccessError');
    await refused(backend.openGraphFile(path.join(outside, 'g.flowstudio')), 'FileAccessError');
    await refused(backend.openGraphFile('link-out.flowstudio'), 'FileAccessError');
    await refused(backend.openGraphFile('dir-out/g.flowstudio'), 'FileAccessError');
    await refused(backend.openGraphFile('/etc/passwd'), 'BadRequestError');
    expect(fs.readdirSync(outside).sort()).toEqual(['g.flowstudio', 'secret.txt']);
    expect(readGraphFile(path.join(outside, 'g.flowstudio')).metadata.name).toBe('outside');
  });

  it('keeps the recent list newest first, deduplicated, capped, without files that are gone', async () => {
    const fresh = new AppBackend({ engine, outDir, dataDir: path.join(base, 'data-recent') });
    for (let i = 0; i < MAX_RECENT_FILES + 5; i++) await fresh.saveGraphFile(`g${i}`, doc());
    await fresh.openGraphFile('g3.flowstudio');
    const recent = await fresh.listRecentFiles();
    expect(recent).toHaveLength(MAX_RECENT_FILES);
    expect(recent[0].name).toBe('g3.flowstudio');
    expect(recent[1].name).toBe(`g${MAX_RECENT_FILES + 4}.flowstudio`);
    expect(new Set(recent.map((r) => r.path)).size).toBe(MAX_RECENT_FILES);
    fs.rmSync(recent[1].path);
    expect((await fresh.listRecentFiles()).map((r) => r.name)).not.toContain(recent[1].name);
  });
});

describe('readFile', () => {
  it('reads outputs, examples and data-dir files; refuses .. and symlink escapes', async () => {
    fs.mkdirSync(path.join(outDir, 'sub'), { recursive: true });
    const bytes = Uint8Array.from([137, 80, 78, 71, 0, 255]);
    fs.writeFileSync(path.join(outDir, 'sub', 'image.png'), bytes);
    expect(await backend.readFile(path.join(outDir, 'sub', 'image.png'))).toEqual(bytes);
    expect(await backend.readFile('sub/image.png')).toEqual(bytes);
    expect(Buffer.from(await backend.readFile(path.join(EXAMPLES_DIR, 'gaussian-vp-ddim.json'))).toString()).toBe(
      fs.readFileSync(path.join(EXAMPLES_DIR, 'gaussian-vp-ddim.json'), 'utf8'),
    );

    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(outDir, 'link-secret'));
    for (const p of ['../outside/secret.txt', 'sub/../../outside/secret.txt', path.join(outside, 'secret.txt'), 'link-secret', '/etc/passwd']) {
      const err = await rejection(backend.readFile(p));
      expect(err.name, p).toBe('FileAccessError');
      expect(err.message).not.toContain('secret\n');
    }
    expect((await rejection(backend.readFile('missing.png'))).message).toMatch(/^File not found/);
  });
});

describe('listFiles', () => {
  let root: string;
  let lister: AppBackend;
  const names = (files: { name: string }[]) => files.map((f) => f.name).sort();

  beforeAll(() => {
    root = path.join(base, 'listing');
    const put = (rel: string, bytes: string | Buffer = 'x') => {
      const file = path.join(root, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, bytes);
      return file;
    };
    fs.mkdirSync(path.join(root, 'examples'), { recursive: true });
    put('out/a.png', Buffer.alloc(1234));
    put('out/run1/b.png');
    put('out/run1/c.npy');
    put('out/run1/notes.txt');
    put('out/.hidden/h.png');
    put('out/.x.png');
    put('out/l1/l2/l3/deep3.png');
    put('out/l1/l2/l3/l4/deep4.png');
    put('inputs/photo.jpg');
    put('outside-root/secret.png');
    put('outside-root/dir/x.png');
    fs.symlinkSync(path.join(root, 'outside-root', 'secret.png'), path.join(root, 'out', 'link-out.png'));
    fs.symlinkSync(path.join(root, 'inputs', 'photo.jpg'), path.join(root, 'out', 'link-in.png'));
    fs.symlinkSync(path.join(root, 'outside-root', 'dir'), path.join(root, 'out', 'dir-link'));
    put('inputs/models/sd/model_index.json', '{}');
    put('inputs/models/sd/unet/model.onnx');
    put('inputs/models/single.onnx');
    put('inputs/models/single.json', '{}');
    put('inputs/models/bare.onnx');
    lister = new AppBackend({
      engine,
      outDir: path.join(root, 'out'),
      dataDir: path.join(root, 'data'),
      examplesDir: path.join(root, 'examples'),
      readRoots: [path.join(root, 'inputs')],
    });
  });

  it('lists images under the read roots: 3 levels deep, no hidden names, symlinks only when they stay inside', async () => {
    const images = await lister.listFiles({ kind: 'image' });
    expect(names(images)).toEqual(['a.png', 'b.png', 'deep3.png', 'link-in.png', 'photo.jpg']);
    const a = images.find((f) => f.name === 'a.png')!;
    expect(a).toEqual({
      path: path.join(root, 'out', 'a.png'),
      name: 'a.png',
      root: path.join(root, 'out'),
      size: 1234,
      modified: fs.statSync(path.join(root, 'out', 'a.png')).mtime.toISOString(),
      isFolder: false,
    });
    expect(images.find((f) => f.name === 'photo.jpg')!.root).toBe(path.join(root, 'inputs'));
    // Every listed path is readable through readFile (same roots, same checks).
    for (const f of images) await expect(lister.readFile(f.path)).resolves.toBeInstanceOf(Uint8Array);
  });

  it('filters by the given extensions (case-insensitive) and by kind', async () => {
    expect(names(await lister.listFiles({ kind: 'image', extensions: ['.PNG'] }))).toEqual(['a.png', 'b.png', 'deep3.png', 'link-in.png']);
    expect(names(await lister.listFiles({ kind: 'latent' }))).toEqual(['c.npy']);
    expect(names(await lister.listFiles({ kind: 'any', extensions: ['.txt'] }))).toEqual(['notes.txt']);
    const any = names(await lister.listFiles({ kind: 'any' }));
    expect(any).toEqual(expect.arrayContaining(['a.png', 'c.npy', 'notes.txt', 'photo.jpg', 'model_index.json']));
    expect(any).not.toContain('secret.png');
    expect(any).not.toContain('x.png');
  });

  it('lists models as diffusers folders (not descended into) and .onnx files with a sidecar', async () => {
    const models = await lister.listFiles({ kind: 'model' });
    expect(models.map((m) => [m.name, m.isFolder]).sort()).toEqual([
      ['sd', true],
      ['single.onnx', false],
    ]);
    expect(models.find((m) => m.isFolder)!.path).toBe(path.join(root, 'inputs', 'models', 'sd'));
  });

  it('caps the listing at 500 entries, shallow files first', async () => {
    const many = path.join(root, 'many');
    fs.mkdirSync(path.join(many, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(many, 'sub', 'deep.png'), 'x');
    for (let i = 0; i < 520; i++) fs.writeFileSync(path.join(many, `f${String(i).padStart(3, '0')}.png`), 'x');
    const capped = new AppBackend({ engine, outDir: many, dataDir: path.join(root, 'data-many'), examplesDir: path.join(root, 'examples') });
    const files = await capped.listFiles({ kind: 'image' });
    expect(files).toHaveLength(500);
    expect(files.map((f) => f.name)).not.toContain('deep.png');
  });

  it('refuses a bad kind or extension with BadRequestError', async () => {
    for (const opts of [{ kind: 'secrets' }, { kind: 'image', extensions: ['png/../x'] }, { kind: 'image', extensions: '.png' }, null]) {
      const err = await rejection(lister.listFiles(opts as never));
      expect(err.name, JSON.stringify(opts)).toBe('BadRequestError');
      expect(err.message).toMatch(/listFiles/);
    }
  });
});

describe('modelHashes', () => {
  let root: string;
  let hashing: AppBackend;
  let embeddedOnnx: Buffer;
  const sha256 = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest('hex');

  beforeAll(() => {
    root = path.join(base, 'hashing');
    const put = (rel: string, bytes: string | Buffer) => {
      const file = path.join(root, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, bytes);
      return file;
    };
    // The "embedded" model lives outside every root (like the engine's cache): found through listModels.
    embeddedOnnx = randomBytes(300);
    put('cache/fake/model_index.json', '{}');
    put('cache/fake/unet/model.onnx', embeddedOnnx);
    put('outside/secret.onnx', randomBytes(10));
    put('outside/stolen/model_index.json', '{}');
    put('outside/stolen/unet/model.onnx', randomBytes(10));
    put('inputs/leaky/model_index.json', '{}');
    fs.mkdirSync(path.join(root, 'inputs/leaky/unet'), { recursive: true });
    fs.symlinkSync(path.join(root, 'outside/secret.onnx'), path.join(root, 'inputs/leaky/unet/model.onnx'));
    const stub = stubEngine();
    stub.listModels = async () => [{ ref: 'embedded:fake', name: 'fake', description: '', kind: 'vp', folder: path.join(root, 'cache', 'fake') }];
    hashing = new AppBackend({ engine: stub, outDir: path.join(root, 'out'), dataDir: path.join(root, 'data'), readRoots: [path.join(root, 'inputs')] });
  });

  it('hashes embedded, folder and single-file models: sha256 of their weight files, keyed by the ref', async () => {
    const unet = randomBytes(2000);
    const te = randomBytes(700);
    const single = randomBytes(50);
    const put = (rel: string, bytes: string | Buffer) => fs.writeFileSync(path.join(root, rel), bytes);
    fs.mkdirSync(path.join(root, 'inputs/sd/unet'), { recursive: true });
    fs.mkdirSync(path.join(root, 'inputs/sd/text_encoder'), { recursive: true });
    put('inputs/sd/model_index.json', '{}');
    put('inputs/sd/unet/model.onnx', unet);
    put('inputs/sd/text_encoder/model.onnx', te);
    put('inputs/one.onnx', single);
    const got = await hashing.modelHashes(['embedded:fake', 'sd', path.join(root, 'inputs', 'one.onnx'), 'sd']);
    expect(got).toEqual({
      'embedded:fake': { name: 'fake', sha256: sha256(embeddedOnnx) },
      sd: { name: 'sd', sha256: sha256(te, unet) },
      [path.join(root, 'inputs', 'one.onnx')]: { name: 'one.onnx', sha256: sha256(single) },
    });
    // A rewritten file gives a new hash.
    const unet2 = randomBytes(2001);
    put('inputs/sd/unet/model.onnx', unet2);
    expect((await hashing.modelHashes(['sd'])).sd).toEqual({ name: 'sd', sha256: sha256(te, unet2) });
  });

  it('answers an error per ref it cannot hash: unknown embedded, missing, outside the roots, links out', async () => {
    const refs = ['embedded:nope', 'missing-folder', path.join(root, 'outside', 'secret.onnx'), path.join(root, 'outside', 'stolen'), 'leaky', '../outside/stolen'];
    const got = await hashing.modelHashes(refs);
    expect(Object.keys(got).sort()).toEqual([...refs].sort());
    for (const ref of refs) {
      const r = got[ref];
      expect('error' in r && !('sha256' in r), ref).toBe(true);
      if ('error' in r) expect(r.error).toContain(`cannot hash model "${ref}"`);
    }
    const err = (ref: string) => (got[ref] as { error: string }).error;
    expect(err('embedded:nope')).toMatch(/no embedded model "nope" \(available: embedded:fake\)/);
    expect(err('missing-folder')).toMatch(/not found/);
    expect(err(path.join(root, 'outside', 'secret.onnx'))).toMatch(/outside the folders/);
    expect(err('leaky')).toMatch(/outside the folders/);
  });

  it('refuses a request that is not a list of refs with BadRequestError', async () => {
    for (const refs of ['embedded:fake', [1], [''], Array.from({ length: 65 }, (_, i) => `m${i}`)]) {
      expect((await rejection(hashing.modelHashes(refs as never))).name).toBe('BadRequestError');
    }
  });
});

describe('folders the user chose through the system', () => {
  it('allowReadFolder makes a folder readable and passes it to the engine once; a folder already allowed is not passed on', async () => {
    const granted: string[] = [];
    const grantEngine = Object.assign(stubEngine(), { allowReadFolder: async (dir: string) => void granted.push(dir) });
    const own = new AppBackend({ engine: grantEngine, outDir, dataDir: path.join(base, 'data-grant') });
    await expect(rejection(own.readFile(path.join(outside, 'secret.txt')))).resolves.toMatchObject({ name: 'FileAccessError' });
    own.allowReadFolder(outside);
    own.allowReadFolder(outside);
    own.allowReadFolder(outDir);
    expect(Buffer.from(await own.readFile(path.join(outside, 'secret.txt'))).toString()).toBe('secret');
    expect(granted).toEqual([outside]);
  });
});
