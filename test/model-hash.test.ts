/**
 * Model content hashes: the digest is node:crypto's sha256 of the weight files' bytes (one file: that
 * file's sha256), it follows the file when it changes, and the cache is keyed by path + size + mtime.
 * Plus the renderer's side: which refs an export asks about and the tags the answers become.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelHasher, modelWeightFiles, sha256OfFiles } from '../electron/engine/models/model-hash.ts';
import { describeRegistry } from '../electron/engine/graph/describe.ts';
import type { GraphDocument } from '../electron/engine/graph/schema.ts';
import { createDefaultRegistry } from '../nodes/index.ts';
import { indexNodeTypes } from '../renderer/src/graph/node-types.ts';
import { modelHashesFromTags, sanitizeForExport } from '../renderer/src/io/sanitize.ts';
import { hashesForExport, modelRefsOf } from '../renderer/src/ui/controller/model-hashes.ts';
import { listedChoice, mergeChoices } from '../renderer/src/ui/inspector/fields/file-choices.ts';
import { graph, tempDir } from './helpers/engine.ts';

const sha256 = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest('hex');

let base: string;
beforeAll(() => {
  base = fs.realpathSync(tempDir('fs-hash-'));
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

function write(rel: string, bytes: Buffer): string {
  const file = path.join(base, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  return file;
}

describe('sha256OfFiles', () => {
  it('equals node:crypto sha256 of the bytes, across read chunks and several files', async () => {
    // 2.5 MiB: more than one 1 MiB read chunk, and a partial last chunk.
    const big = randomBytes((5 << 20) / 2 + 7);
    const small = randomBytes(13);
    const a = write('plain/a.bin', big);
    const b = write('plain/b.bin', small);
    await expect(sha256OfFiles([a])).resolves.toBe(sha256(big));
    await expect(sha256OfFiles([a, b])).resolves.toBe(sha256(big, small));
    await expect(sha256OfFiles([])).resolves.toBe(sha256());
  });
});

describe('modelWeightFiles', () => {
  it('takes .onnx and external data from the folder and its components, sorted, leaving configs and hidden files out', async () => {
    const root = path.join(base, 'sd');
    write('sd/model_index.json', Buffer.from('{}'));
    write('sd/scheduler/scheduler_config.json', Buffer.from('{}'));
    write('sd/unet/model.onnx', randomBytes(10));
    write('sd/unet/model.onnx_data', randomBytes(10));
    write('sd/text_encoder/model.onnx', randomBytes(10));
    write('sd/tokenizer/vocab.json', randomBytes(10));
    write('sd/unet/.model.onnx.swp', randomBytes(10));
    write('sd/.cache/x.onnx', randomBytes(10));
    write('sd/unet/deep/ignored.onnx', randomBytes(10));
    const rel = (await modelWeightFiles(root)).map((f) => path.relative(root, f).split(path.sep).join('/'));
    expect(rel).toEqual(['text_encoder/model.onnx', 'unet/model.onnx', 'unet/model.onnx_data']);
  });

  it('takes a single .onnx with the external data named after it, and says when a folder has no weights', async () => {
    const file = write('single/m.onnx', randomBytes(4));
    write('single/m.json', Buffer.from('{}'));
    expect(await modelWeightFiles(file)).toEqual([file]);
    const data = write('single/m.onnx_data', randomBytes(4));
    expect(await modelWeightFiles(file)).toEqual([file, data]);
    write('empty/model_index.json', Buffer.from('{}'));
    await expect(modelWeightFiles(path.join(base, 'empty'))).rejects.toThrow(/has no \.onnx files/);
    await expect(modelWeightFiles(path.join(base, 'missing'))).rejects.toThrow(/model not found/);
  });
});

describe('ModelHasher', () => {
  it('a one-file model hashes to the sha256 of its file; a folder to its weight files in order', async () => {
    const hasher = new ModelHasher();
    const unet = randomBytes(1000);
    const data = randomBytes(3000);
    const te = randomBytes(500);
    const file = write('m1/unet/model.onnx', unet);
    write('m1/model_index.json', Buffer.from('{}'));
    const one = await hasher.hash(file);
    expect(one.sha256).toBe(sha256(unet));
    expect(one.files).toEqual([file]);
    write('m1/unet/model.onnx_data', data);
    write('m1/text_encoder/model.onnx', te);
    expect((await hasher.hash(path.join(base, 'm1'))).sha256).toBe(sha256(te, unet, data));
  });

  it('changes when the file changes; keyed by path + size + mtime (same stamp: cached digest)', async () => {
    const hasher = new ModelHasher();
    const v1 = randomBytes(4096);
    const file = write('m2/model.onnx', v1);
    const first = await hasher.hash(file);
    expect(first.sha256).toBe(sha256(v1));

    // Whole seconds, so the mtime can be set back exactly.
    const mtime = new Date(Math.floor(Date.now() / 1000) * 1000 + 60_000);
    const v2 = randomBytes(4097);
    fs.writeFileSync(file, v2);
    fs.utimesSync(file, mtime, mtime);
    const second = await hasher.hash(file);
    expect(second.sha256).toBe(sha256(v2));
    expect(second.sha256).not.toBe(first.sha256);

    // Same size and mtime as before a rewrite: the cache answers without reading (the stamp is the key)...
    const v3 = randomBytes(4097);
    fs.writeFileSync(file, v3);
    fs.utimesSync(file, mtime, mtime);
    expect((await hasher.hash(file)).sha256).toBe(sha256(v2));
    // ...and a new mtime makes it read the file again.
    const later = new Date(mtime.getTime() + 5000);
    fs.utimesSync(file, later, later);
    expect((await hasher.hash(file)).sha256).toBe(sha256(v3));
    // A fresh hasher reads the bytes.
    expect((await new ModelHasher().hash(file)).sha256).toBe(sha256(v3));
  });

  it('maps each file through the caller’s check (a refused file fails the hash)', async () => {
    const file = write('m3/model.onnx', randomBytes(8));
    await expect(
      new ModelHasher().hash(file, () => {
        throw new Error('outside the roots');
      }),
    ).rejects.toThrow(/outside the roots/);
  });
});

describe('export tags from the backend answers', () => {
  const types = indexNodeTypes(describeRegistry(createDefaultRegistry()));
  const doc = (): GraphDocument => ({
    ...graph(
      [
        { id: 'm1', type: 'LoadModel' },
        { id: 'm2', type: 'LoadModel', params: { model: '/home/ann/models/sd15' } },
        { id: 'm3', type: 'LoadModel', params: { model: 'embedded:gaussian-vp' } },
        { id: 'img', type: 'LoadImage', params: { path: '/home/ann/x.png' } },
      ],
      [],
    ),
  });

  it('collects each model ref once (defaults included, other file params not)', () => {
    expect(modelRefsOf(doc(), types)).toEqual(['embedded:gaussian-vp', '/home/ann/models/sd15']);
  });

  it('tags model-hash:<name>=<sha256> by model name, never by path; failures listed', () => {
    const digest = sha256(Buffer.from('weights'));
    const { hashes, failed } = hashesForExport({
      'embedded:gaussian-vp': { name: 'gaussian-vp', sha256: digest },
      '/home/ann/models/sd15': { name: 'sd15', error: 'cannot hash model "/home/ann/models/sd15": not found' },
    });
    expect(failed).toEqual(['cannot hash model "/home/ann/models/sd15": not found']);
    const out = sanitizeForExport(doc(), types, { modelHashes: hashes }).doc;
    expect(out.metadata.tags).toEqual([`model-hash:gaussian-vp=${digest}`]);
    expect(modelHashesFromTags(out.metadata.tags)).toEqual({ 'gaussian-vp': digest });
    expect(JSON.stringify(out)).not.toContain('/home/ann');
  });

  it('describes listed files for the picker: name, folder under its root, size', () => {
    const f = { path: '/data/out/run1/a.png', name: 'a.png', root: '/data/out', size: 2048, modified: '2024-01-01T00:00:00.000Z', isFolder: false };
    expect(listedChoice(f)).toEqual({ value: '/data/out/run1/a.png', label: 'a.png', detail: 'out/run1 · 2 KiB' });
    expect(listedChoice({ ...f, path: '/data/out/sd', name: 'sd', size: 0, isFolder: true }).detail).toBe('out · model folder');
    expect(mergeChoices([{ value: 'a', label: '1' }], [{ value: 'a', label: '2' }, { value: 'b', label: '3' }]).map((c) => c.label)).toEqual(['1', '3']);
  });
});
