import { mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileService } from '../electron/engine/files.ts';
import { decodePng, encodePng } from '../nodes/core/io/png.ts';
import { randomNormal } from '../nodes/core/random.ts';
import { torchRandn } from '../nodes/core/torch-random.ts';
import { checkTensorSize, Tensor } from '../nodes/core/tensor.ts';
import type { ExecContext, FileService } from '../nodes/core/types.ts';
import EmptyLatentDefault, { EmptyLatent } from '../nodes/empty-latent.ts';
import { ImageToLatent } from '../nodes/image-to-latent.ts';
import { LatentToImage } from '../nodes/latent-to-image.ts';
import { LoadImage } from '../nodes/load-image.ts';
import { LoadLatent } from '../nodes/load-latent.ts';
import { RandomNoise } from '../nodes/random-noise.ts';
import { SaveImage } from '../nodes/save-image.ts';
import { SaveLatent } from '../nodes/save-latent.ts';
import { TensorMetrics } from '../nodes/tensor-metrics.ts';

let base: string;
let files: FileService;

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'flowstudio-nodes-')));
  mkdirSync(join(base, 'inputs'));
  files = createFileService({ outDir: join(base, 'out'), readRoots: [join(base, 'inputs'), join(base, 'out')] });
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

function fakeContext(graph: unknown = undefined): ExecContext {
  return {
    nodeId: 'n1',
    nodeType: 'Test',
    signal: new AbortController().signal,
    models: {
      load: () => Promise.reject(new Error('no models in this test')),
      stamp: () => Promise.reject(new Error('no models in this test')),
    },
    files,
    graph,
    progress: () => undefined,
    throwIfAborted: () => undefined,
  };
}

const sizeDefaults = { width: 16, height: 16, channels: 3, batch: 1 };

describe('EmptyLatent and RandomNoise', () => {
  it('declares defaults for the pixel-space sample [1, 3, 16, 16] and outputs zeros', async () => {
    expect(EmptyLatentDefault).toBe(EmptyLatent);
    expect(EmptyLatent.category).toBe('latent');
    for (const [k, v] of Object.entries(sizeDefaults)) expect(EmptyLatent.params[k as keyof typeof sizeDefaults].default).toBe(v);
    const { latent } = await EmptyLatent.execute(fakeContext(), {}, { width: 5, height: 4, channels: 2, batch: 3, layout: 'nchw' });
    expect(latent.dims).toEqual([3, 2, 4, 5]);
    expect(latent.data.every((v) => v === 0)).toBe(true);
  });

  it('packed layout: [batch, (height/2)(width/2), 4 channels] for FLUX-style transformers; odd sizes refused', async () => {
    const size = { width: 6, height: 4, channels: 16, batch: 2, layout: 'packed' as const };
    expect((await EmptyLatent.execute(fakeContext(), {}, size)).latent.dims).toEqual([2, 6, 64]);
    const { noise } = await RandomNoise.execute(fakeContext(), { like: undefined }, { ...size, seed: 4, generator: 'flowstudio' });
    expect(noise.dims).toEqual([2, 6, 64]);
    expect(noise.data).toEqual(randomNormal([2, 6, 64], 4).data);
    await expect(EmptyLatent.execute(fakeContext(), {}, { ...size, height: 5 })).rejects.toThrow(/even height and width/);
  });

  it('refuses a size whose values a tensor cannot hold, before allocating, with the shape and the limit', async () => {
    // Each param is within its range; the product (2^31 values, 8 GiB) is not.
    const size = { width: 16384, height: 16384, channels: 8, batch: 1, layout: 'nchw' as const };
    const message = /the latent of shape \[1, 8, 16384, 16384\] would hold 2\.15e\+9 values \(8\.00 GiB as float32\); the limit is 2\^29 values/;
    await expect(EmptyLatent.execute(fakeContext(), {}, size)).rejects.toThrow(message);
    await expect(RandomNoise.execute(fakeContext(), { like: undefined }, { ...size, seed: 1, generator: 'torch' })).rejects.toThrow(message);
    // The limit itself is allowed (checked on shape alone: no allocation).
    expect(() => checkTensorSize([1, 2, 16384, 16384])).not.toThrow();
    expect(() => checkTensorSize([1, 2, 16384, 16385])).toThrow(/limit is 2\^29/);
    expect(() => new Tensor([1, 1024, 1024, 1024])).toThrow(/a tensor of shape \[1, 1024, 1024, 1024\] would hold 1\.07e\+9 values \(4\.00 GiB/);
  });

  it('RandomNoise draws the seeded stream at the requested size, or at the shape of `like`', async () => {
    const params = { seed: 31, generator: 'flowstudio' as const, width: 6, height: 5, channels: 3, batch: 1, layout: 'nchw' as const };
    const { noise } = await RandomNoise.execute(fakeContext(), { like: undefined }, params);
    expect(noise.dims).toEqual([1, 3, 5, 6]);
    expect(noise.data).toEqual(randomNormal([1, 3, 5, 6], 31).data);
    const like = Tensor.zeros([2, 4, 3, 3]);
    const shaped = (await RandomNoise.execute(fakeContext(), { like }, params)).noise;
    expect(shaped.dims).toEqual([2, 4, 3, 3]);
    expect(shaped.data).toEqual(randomNormal([2, 4, 3, 3], 31).data);
    // generator torch: torch.manual_seed(31); torch.randn(1, 3, 5, 6) (torch-random.test.ts pins that to torch).
    const torchNoise = (await RandomNoise.execute(fakeContext(), { like: undefined }, { ...params, generator: 'torch' })).noise;
    expect(torchNoise.dims).toEqual([1, 3, 5, 6]);
    expect(torchNoise.data).toEqual(torchRandn(90, 31));
    expect(torchNoise.data).not.toEqual(noise.data);
    expect(RandomNoise.params.seed.kind).toBe('seed');
    expect(RandomNoise.inputs.like.optional).toBe(true);
  });
});

describe('SaveLatent and LoadLatent', () => {
  it('round-trips a latent through a .npy file written atomically in outDir', async () => {
    const latent = randomNormal([1, 4, 8, 8], 3);
    const { path } = await SaveLatent.execute(fakeContext(), { latent }, { filename: 'sub/lat' });
    expect(path).toBe(join(base, 'out', 'sub', 'lat.npy'));
    expect(readdirSync(join(base, 'out', 'sub'))).toEqual(['lat.npy']); // no temp file left behind
    expect(SaveLatent.kind).toBe('side-effect');

    const loaded = await LoadLatent.execute(fakeContext(), {}, { path, add_batch_axis: false });
    expect(loaded.latent.dims).toEqual([1, 4, 8, 8]);
    expect(loaded.latent.data).toEqual(latent.data);
  });

  it('overwrites an existing file and refuses a wrong extension or a path outside outDir', async () => {
    const ctx = fakeContext();
    await SaveLatent.execute(ctx, { latent: Tensor.full([1, 1, 1, 2], 1) }, { filename: 'same.npy' });
    await SaveLatent.execute(ctx, { latent: Tensor.full([1, 1, 1, 2], 2) }, { filename: 'same.npy' });
    expect([...(await LoadLatent.execute(ctx, {}, { path: join(base, 'out', 'same.npy'), add_batch_axis: false })).latent.data]).toEqual([2, 2]);
    await expect(SaveLatent.execute(ctx, { latent: Tensor.zeros([1]) }, { filename: 'x.png' })).rejects.toThrow(/must end in \.npy/);
    await expect(SaveLatent.execute(ctx, { latent: Tensor.zeros([1]) }, { filename: '../x.npy' })).rejects.toThrow(/outside/);
  });

  it('keeps a 3-D array as packed [N, L, C] unless asked to add a batch axis; rejects other ranks, empty paths and files outside the roots', async () => {
    const ctx = fakeContext();
    const { path } = await SaveLatent.execute(ctx, { latent: Tensor.from([3, 1, 2], [1, 2, 3, 4, 5, 6]) }, { filename: 'chw.npy' });
    const { latent } = await LoadLatent.execute(ctx, {}, { path, add_batch_axis: true });
    expect(latent.dims).toEqual([1, 3, 1, 2]);
    expect([...latent.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await LoadLatent.execute(ctx, {}, { path, add_batch_axis: false })).latent.dims).toEqual([3, 1, 2]);

    const flat = await SaveLatent.execute(ctx, { latent: Tensor.zeros([5]) }, { filename: 'flat.npy' });
    await expect(LoadLatent.execute(ctx, {}, { path: flat.path, add_batch_axis: false })).rejects.toThrow(/shape \[5\]; expected \[N, C, H, W\] or packed \[N, L, C\]/);
    await expect(LoadLatent.execute(ctx, {}, { path: flat.path, add_batch_axis: true })).rejects.toThrow(/"add batch axis" expects \[C, H, W\]/);
    await expect(LoadLatent.execute(ctx, {}, { path: '', add_batch_axis: false })).rejects.toThrow(/No .npy file chosen/);
    writeFileSync(join(base, 'elsewhere.npy'), 'x');
    await expect(LoadLatent.execute(ctx, {}, { path: join(base, 'elsewhere.npy'), add_batch_axis: false })).rejects.toThrow(/outside/);
    writeFileSync(join(base, 'inputs', 'junk.npy'), 'not numpy');
    await expect(LoadLatent.execute(ctx, {}, { path: 'junk.npy', add_batch_axis: false })).rejects.toThrow(/Cannot load latent from "junk.npy": Not a .npy file/);
  });

  it('cacheSalt changes when the file changes on disk', async () => {
    const ctx = fakeContext();
    const { path } = await SaveLatent.execute(ctx, { latent: Tensor.zeros([1, 1, 1, 1]) }, { filename: 'salt.npy' });
    utimesSync(path, 1_000_000, 1_000_000);
    const before = await LoadLatent.cacheSalt!({ path, add_batch_axis: false }, ctx);
    await SaveLatent.execute(ctx, { latent: Tensor.zeros([1, 1, 1, 3]) }, { filename: 'salt.npy' });
    const after = await LoadLatent.cacheSalt!({ path, add_batch_axis: false }, ctx);
    expect(after).not.toBe(before);
    expect(await LoadLatent.cacheSalt!({ path: 'missing.npy', add_batch_axis: false }, ctx)).toBe('unresolved');
  });
});

describe('SaveImage and LoadImage', () => {
  it('saves an 8-bit PNG with the graph in iTXt and loads image and graph back', async () => {
    const graph = { version: 1, nodes: [{ id: 'p', type: 'Prompt', params: { text: 'ein Fuchs 🦊 im Schnee, 雪の狐' } }] };
    const levels = Array.from({ length: 3 * 4 * 5 }, (_, i) => (i * 53) % 256);
    const image = Tensor.from([1, 3, 4, 5], levels.map((k) => k / 255));
    const { path } = await SaveImage.execute(fakeContext(graph), { image }, { filename: 'pic' });
    expect(path).toBe(join(base, 'out', 'pic.png'));
    expect(decodePng(readFileSync(path)).text).toEqual({ flowstudio: JSON.stringify(graph) });

    const loaded = await LoadImage.execute(fakeContext(), {}, { path: 'pic.png' });
    expect(loaded.image.dims).toEqual([1, 3, 4, 5]);
    expect([...loaded.image.data]).toEqual(levels.map((k) => Math.fround(k / 255)));
    expect(JSON.parse(loaded.graph)).toEqual(graph);
  });

  it('outputs an empty graph string for PNGs without one', async () => {
    writeFileSync(join(base, 'inputs', 'plain.png'), encodePng(Tensor.full([1, 3, 2, 2], 0.25), { text: { other: 'x' } }));
    const loaded = await LoadImage.execute(fakeContext(), {}, { path: 'plain.png' });
    expect(loaded.graph).toBe('');
    expect([...loaded.image.data]).toEqual(new Array(12).fill(Math.fround(64 / 255)));
    expect(LoadImage.category).toBe('image');
  });

  it('rejects batches, non-RGB images, missing files and broken PNGs with clear errors', async () => {
    const ctx = fakeContext({});
    await expect(SaveImage.execute(ctx, { image: Tensor.zeros([2, 3, 2, 2]) }, { filename: 'b.png' })).rejects.toThrow(
      /one RGB image \[1, 3, H, W\], got \[2, 3, 2, 2\]/,
    );
    await expect(SaveImage.execute(ctx, { image: Tensor.zeros([1, 3, 2, 2]) }, { filename: 'b.jpg' })).rejects.toThrow(/must end in \.png/);
    await expect(LoadImage.execute(ctx, {}, { path: 'nothing.png' })).rejects.toThrow(/File not found/);
    writeFileSync(join(base, 'inputs', 'broken.png'), 'garbage');
    await expect(LoadImage.execute(ctx, {}, { path: 'broken.png' })).rejects.toThrow(/Cannot load image from "broken.png"/);
  });
});

describe('LatentToImage and ImageToLatent', () => {
  it('maps [-1, 1] to [0, 1] by (x + 1) / 2 with clamping, and back by 2x - 1', async () => {
    const x = [-1, -0.5, 0, 0.25, 1, -3, 2, 0.999];
    const latent = Tensor.from([1, 3, 1, 8], [...x, ...x, ...x]);
    const { image } = await LatentToImage.execute(fakeContext(), { latent }, {});
    const expected = x.map((v) => Math.min(1, Math.max(0, (Math.fround(v) + 1) / 2)));
    expect([...image.data]).toEqual([...expected, ...expected, ...expected].map(Math.fround));

    const { latent: back } = await ImageToLatent.execute(fakeContext(), { image }, {});
    const clamped = x.map((v) => Math.min(1, Math.max(-1, v)));
    for (let i = 0; i < back.size; i++) expect(back.data[i]).toBeCloseTo(clamped[i % 8], 6);
  });

  it('needs 3-channel NCHW input and finite values', async () => {
    await expect(LatentToImage.execute(fakeContext(), { latent: Tensor.zeros([1, 4, 2, 2]) }, {})).rejects.toThrow(
      /"latent" must be \[N, 3, H, W\].*got \[1, 4, 2, 2\]/,
    );
    await expect(ImageToLatent.execute(fakeContext(), { image: Tensor.zeros([3, 2, 2]) }, {})).rejects.toThrow(/"image" must be/);
    const bad = Tensor.zeros([1, 3, 1, 1]);
    bad.data[2] = Infinity;
    await expect(LatentToImage.execute(fakeContext(), { latent: bad }, {})).rejects.toThrow(/non-finite value \(Infinity\) at element 2/);
  });
});

describe('TensorMetrics', () => {
  it('computes mse, psnr, max_abs and rel_l2 against closed forms', async () => {
    const a = Tensor.from([1, 1, 2, 2], [0, 0, 0.5, 0]);
    const b = Tensor.from([1, 1, 2, 2], [1, -1, 0.5, 0]);
    const out = await TensorMetrics.execute(fakeContext(), { a, b }, { data_range: 2 });
    // diffs -1, 1, 0, 0: mse = 2/4; psnr = 10 log10(4 / 0.5); |a-b| = sqrt 2, |b| = sqrt 2.25
    expect(out.mse).toBe(0.5);
    expect(out.psnr).toBeCloseTo(10 * Math.log10(8), 12);
    expect(out.metrics.values).toEqual({ mse: 0.5, psnr: out.psnr, max_abs: 1, rel_l2: Math.sqrt(2 / 2.25) });
    expect(TensorMetrics.params.data_range.default).toBe(2);
    expect(TensorMetrics.category).toBe('metrics');
  });

  it('gives infinite PSNR for identical tensors and scales PSNR with the data range', async () => {
    const a = randomNormal([1, 3, 4, 4], 1);
    const same = await TensorMetrics.execute(fakeContext(), { a, b: a.clone() }, { data_range: 2 });
    expect(same.mse).toBe(0);
    expect(same.psnr).toBe(Infinity);
    expect(same.metrics.values.rel_l2).toBe(0);
    const b = randomNormal([1, 3, 4, 4], 2);
    const r1 = await TensorMetrics.execute(fakeContext(), { a, b }, { data_range: 1 });
    const r2 = await TensorMetrics.execute(fakeContext(), { a, b }, { data_range: 2 });
    expect(r2.psnr - r1.psnr).toBeCloseTo(20 * Math.log10(2), 10);
  });

  it('names both shapes when they differ', async () => {
    await expect(
      TensorMetrics.execute(fakeContext(), { a: Tensor.zeros([1, 3, 4, 4]), b: Tensor.zeros([1, 3, 4, 5]) }, { data_range: 2 }),
    ).rejects.toThrow('a [1, 3, 4, 4] and b [1, 3, 4, 5]');
  });
});
