/**
 * Remembered model stamps (electron/engine/models/stamp-cache.ts): a run's LoadModel cache key is salted with
 * the model's stamp, so the remembered stamp must change exactly when locating the model afresh would give
 * another one, and locating must be skipped otherwise.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFileService } from '../electron/engine/files.ts';
import { ensureEmbeddedModel } from '../electron/engine/models/embedded.ts';
import { OnnxModelService } from '../electron/engine/models/model-service.ts';
import { statSignature } from '../electron/engine/models/stamp-cache.ts';
import { SessionPool } from '../electron/engine/onnx/session-pool.ts';

let root: string;
let cacheDir: string;
const pool = new SessionPool({ providers: ['cpu'] });

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'flowstudio-stamps-'));
  cacheDir = path.join(root, 'cache');
});
afterAll(async () => {
  await pool.dispose();
  await fs.rm(root, { recursive: true, force: true });
});

async function copyEmbedded(name: string, as: string): Promise<string> {
  const dst = path.join(root, as);
  await fs.cp(await ensureEmbeddedModel(name, cacheDir), dst, { recursive: true });
  return dst;
}

/** A service whose locate() calls are counted (the slow path a remembered stamp skips). */
function countingService(): { service: OnnxModelService; locates: () => number; locate: ReturnType<typeof vi.spyOn> } {
  // No racy window: these tests change files and stamp again at once (the window has its own test).
  const service = new OnnxModelService({ pool, cacheDir, providers: ['cpu'], stampRacyMs: 0 });
  const locate = vi.spyOn(service as unknown as { locate: (ref: string) => Promise<unknown> }, 'locate');
  return { service, locates: () => locate.mock.calls.length, locate };
}

/** Sets a file's mtime to a distinct time an hour back (in the past, so no racy window applies). */
async function touch(file: string, seconds: number): Promise<void> {
  const t = new Date(Date.now() - 3600_000 + seconds * 1000);
  await fs.utimes(file, t, t);
}

/** Every file and folder under `dir` (and itself) last changed `seconds` ago. */
async function age(dir: string, seconds: number): Promise<void> {
  const t = new Date(Date.now() - seconds * 1000);
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) await fs.utimes(path.join(entry.parentPath, entry.name), t, t);
  await fs.utimes(dir, t, t);
}

describe('statSignature', () => {
  it('changes with size, mtime and inode, and marks missing paths', async () => {
    const file = path.join(root, 'sig.txt');
    await fs.writeFile(file, 'a');
    const s1 = await statSignature([file, path.join(root, 'nope')]);
    expect(s1.split('|')[1]).toBe('missing');
    expect(await statSignature([file, path.join(root, 'nope')])).toBe(s1);
    await fs.writeFile(file, 'ab');
    const s2 = await statSignature([file]);
    expect(s2).not.toBe(s1.split('|')[0]);
    await touch(file, 5);
    expect(await statSignature([file])).not.toBe(s2);
    // Replaced by another file with the same size and mtime: a new inode.
    const st = await fs.stat(file);
    const other = path.join(root, 'sig2.txt');
    await fs.writeFile(other, 'xy');
    await fs.utimes(other, st.atime, st.mtime);
    const before = await statSignature([file]);
    await fs.rename(other, file);
    expect(await statSignature([file])).not.toBe(before);
  });
});

describe('remembered model stamps', () => {
  it('a folder model is located once while nothing changes, and again after each kind of change', async () => {
    const folder = await copyEmbedded('gaussian-vp', 'vp');
    const { service, locates } = countingService();
    const s1 = await service.stamp(folder);
    expect(locates()).toBe(1);
    expect(await service.stamp(folder)).toBe(s1);
    expect(await service.stamp(folder)).toBe(s1);
    expect(locates()).toBe(1);
    // The handle a load builds carries the same stamp.
    expect((await service.load(folder)).key).toBe(`${folder}#${s1}`);

    // A config rewritten: its mtime moves.
    await touch(path.join(folder, 'scheduler', 'scheduler_config.json'), 10);
    const s2 = await service.stamp(folder);
    expect(s2).not.toBe(s1);
    expect(locates()).toBe(3);
    expect(await service.stamp(folder)).toBe(s2);
    expect(locates()).toBe(3);

    // External weights added beside the graph: only the folder's listing changed, and the file joins the stamp.
    await fs.writeFile(path.join(folder, 'unet', 'model.onnx_data'), 'weights');
    const s3 = await service.stamp(folder);
    expect(s3).not.toBe(s2);
    expect(locates()).toBe(4);

    // A guider appears: a new component folder (read only once model_index.json names it, as diffusers does).
    await fs.mkdir(path.join(folder, 'guider'));
    expect(await service.stamp(folder)).toBe(s3);
    expect(locates()).toBe(5);
    await fs.writeFile(path.join(folder, 'guider', 'guider_config.json'), JSON.stringify({ _class_name: 'ClassifierFreeGuidance' }));
    const index = JSON.parse(await fs.readFile(path.join(folder, 'model_index.json'), 'utf8'));
    await fs.writeFile(path.join(folder, 'model_index.json'), JSON.stringify({ ...index, guider: ['diffusers', 'ClassifierFreeGuidance'] }));
    await touch(path.join(folder, 'model_index.json'), 20);
    const s4 = await service.stamp(folder);
    expect(s4).not.toBe(s3);
    expect((await service.load(folder)).guiders).toEqual({ guider: { _class_name: 'ClassifierFreeGuidance' } });

    // The denoiser removed: the stamp fails as a fresh locate does, and is not remembered.
    await fs.rm(path.join(folder, 'unet'), { recursive: true });
    await expect(service.stamp(folder)).rejects.toThrow(/has no denoiser/);
    await expect(service.stamp(folder)).rejects.toThrow(/has no denoiser/);
  });

  it('a change racing the locate is seen by the next stamp, not remembered as current', async () => {
    const folder = await copyEmbedded('gaussian-vp', 'vp-race');
    const { service, locates, locate } = countingService();
    const real = locate.getMockImplementation() ?? (OnnxModelService.prototype as unknown as { locate: (ref: string) => Promise<unknown> }).locate;
    const extra = path.join(folder, 'unet', 'weights.pb');
    // The first locate reads the folder, then a writer adds external weights before the stamp is stored.
    locate.mockImplementationOnce(async function (this: unknown, ref: string) {
      const layout = await real.call(this, ref);
      await fs.writeFile(extra, 'late');
      return layout;
    });
    const s1 = await service.stamp(folder);
    const s2 = await service.stamp(folder);
    expect(locates()).toBe(2);
    expect(s2).not.toBe(s1);
    // And with the late file in its stamp, it holds again.
    expect(await service.stamp(folder)).toBe(s2);
    expect(locates()).toBe(2);
  });

  it('a single .onnx file is watched with its sidecar', async () => {
    const src = await ensureEmbeddedModel('gaussian-rf', cacheDir);
    const dir = path.join(root, 'single');
    await fs.mkdir(dir);
    const file = path.join(dir, 'flow.onnx');
    await fs.copyFile(path.join(src, 'transformer', 'model.onnx'), file);
    await fs.writeFile(path.join(dir, 'flow.json'), JSON.stringify({ scheduler: { _class_name: 'FlowMatchEulerDiscreteScheduler' } }));
    const { service, locates } = countingService();
    const s1 = await service.stamp(file);
    expect(await service.stamp(file)).toBe(s1);
    expect(locates()).toBe(1);
    await touch(path.join(dir, 'flow.json'), 10);
    expect(await service.stamp(file)).not.toBe(s1);
    expect(locates()).toBe(2);
    // Its sidecar gone: the locate's own error.
    await fs.rm(path.join(dir, 'flow.json'));
    await expect(service.stamp(file)).rejects.toThrow(/has no sidecar/);
  });
});

describe('the racy window', () => {
  it('a model changed within the last 2 s is stamped afresh every time, and remembered once older', async () => {
    const folder = await copyEmbedded('gaussian-vp', 'vp-racy');
    const service = new OnnxModelService({ pool, cacheDir, providers: ['cpu'] });
    const locate = vi.spyOn(service as unknown as { locate: (ref: string) => Promise<unknown> }, 'locate');
    const s1 = await service.stamp(folder);
    expect(await service.stamp(folder)).toBe(s1);
    expect(locate.mock.calls.length).toBe(2);
    await age(folder, 60);
    const s2 = await service.stamp(folder);
    expect(await service.stamp(folder)).toBe(s2);
    expect(locate.mock.calls.length).toBe(3);
    // A file added now makes it racy again: seen, and not remembered.
    await fs.writeFile(path.join(folder, 'unet', 'model.onnx_data'), 'w');
    const s3 = await service.stamp(folder);
    expect(s3).not.toBe(s2);
    await service.stamp(folder);
    expect(locate.mock.calls.length).toBe(5);
  });
});

describe('refs the path check looks up', () => {
  it('a relative folder ref is located every time (a read folder earlier in the list could come to hold it)', async () => {
    const first = path.join(root, 'roots-a');
    const second = path.join(root, 'roots-b');
    await fs.mkdir(first);
    await fs.mkdir(second);
    await fs.cp(await ensureEmbeddedModel('gaussian-vp', cacheDir), path.join(second, 'm'), { recursive: true });
    const files = createFileService({ outDir: path.join(root, 'out'), readRoots: [first, second] });
    const service = new OnnxModelService({ pool, cacheDir, providers: ['cpu'], resolveRead: (p) => files.resolveRead(p), stampRacyMs: 0 });
    const locate = vi.spyOn(service as unknown as { locate: (ref: string) => Promise<unknown> }, 'locate');
    const s1 = await service.stamp('m');
    await fs.cp(path.join(second, 'm'), path.join(first, 'm'), { recursive: true });
    const s2 = await service.stamp('m');
    expect(locate.mock.calls.length).toBe(2);
    // The stamp names the files: the copy in the first folder now answers for "m".
    expect(s2).not.toBe(s1);
    // An absolute ref through the same check is remembered.
    const abs = path.join(first, 'm');
    await service.stamp(abs);
    await service.stamp(abs);
    expect(locate.mock.calls.length).toBe(3);
  });
});

describe('symlinks on the way to a model (path check on)', () => {
  it('a re-pointed folder link, a re-pointed file link inside the folder, and a link moved outside the read folders are all seen', async () => {
    const base = path.join(root, 'links');
    const models = path.join(base, 'models');
    const store = path.join(base, 'store');
    const outside = path.join(root, 'links-outside');
    for (const d of [models, store, outside]) await fs.mkdir(d, { recursive: true });
    const src = await ensureEmbeddedModel('gaussian-vp', cacheDir);
    await fs.cp(src, path.join(store, 'v1'), { recursive: true });
    await fs.cp(src, path.join(store, 'v2'), { recursive: true });
    await fs.cp(src, path.join(outside, 'v3'), { recursive: true });
    // v2 differs in its scheduler config, so its stamp differs.
    await touch(path.join(store, 'v2', 'scheduler', 'scheduler_config.json'), 30);
    const files = createFileService({ outDir: path.join(root, 'links-out'), readRoots: [models, store] });
    const service = new OnnxModelService({ pool, cacheDir, providers: ['cpu'], resolveRead: (p) => files.resolveRead(p), stampRacyMs: 0 });
    const fresh = (ref: string) => new OnnxModelService({ pool, cacheDir, providers: ['cpu'], resolveRead: (p) => files.resolveRead(p) }).stamp(ref);
    const link = path.join(models, 'sd');
    await fs.symlink(path.join(store, 'v1'), link);
    const s1 = await service.stamp(link);
    expect(await service.stamp(link)).toBe(s1);
    // The folder link re-pointed: the remembered stamp follows.
    await fs.rm(link);
    await fs.symlink(path.join(store, 'v2'), link);
    const s2 = await service.stamp(link);
    expect(s2).not.toBe(s1);
    expect(s2).toBe(await fresh(link));
    // A link inside the model: unet/model.onnx -> weights/current.onnx -> a.onnx, then current -> b.onnx.
    const v2 = path.join(store, 'v2');
    await fs.mkdir(path.join(v2, 'weights'));
    await fs.rename(path.join(v2, 'unet', 'model.onnx'), path.join(v2, 'weights', 'a.onnx'));
    await fs.copyFile(path.join(v2, 'weights', 'a.onnx'), path.join(v2, 'weights', 'b.onnx'));
    await fs.symlink(path.join(v2, 'weights', 'a.onnx'), path.join(v2, 'weights', 'current.onnx'));
    await fs.symlink(path.join(v2, 'weights', 'current.onnx'), path.join(v2, 'unet', 'model.onnx'));
    const s3 = await service.stamp(link);
    expect(await service.stamp(link)).toBe(s3);
    await fs.rm(path.join(v2, 'weights', 'current.onnx'));
    await fs.symlink(path.join(v2, 'weights', 'b.onnx'), path.join(v2, 'weights', 'current.onnx'));
    const s4 = await service.stamp(link);
    expect(s4).not.toBe(s3);
    expect(s4).toBe(await fresh(link));
    // Re-pointed outside the read folders: refused, as a fresh locate refuses it.
    await fs.rm(link);
    await fs.symlink(path.join(outside, 'v3'), link);
    await expect(service.stamp(link)).rejects.toThrow(/outside the folders files may be read from/);
  });
});
