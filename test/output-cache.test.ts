/**
 * Output cache: byte estimates, LRU eviction by bytes, spilling to disk (tensors in their own files) and
 * reading back bit-identical values, disk budget, and spill files removed on eviction and clear().
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputCache } from '../electron/engine/executor/output-cache.ts';
import { estimateOutputsBytes, estimateValueBytes } from '../electron/engine/executor/value-size.ts';
import { readTensorFile, restoreValue, spillValue, writeTensorFile } from '../electron/engine/executor/spill.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import type { Features, Trajectory } from '../nodes/core/values.ts';

/** A tensor of n float32 values (4n bytes) with distinct, non-trivial contents. */
function tensor(n: number, salt = 0): Tensor {
  return Tensor.from([n], Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + salt) * 1e3));
}

/** Bit patterns, so -0, NaN payloads and denormals compare exactly. */
function bits(t: Tensor): number[] {
  return Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.size));
}

const KB = 1024;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fs-cache-test-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('value sizes', () => {
  it('counts tensor bytes exactly and small values as small', () => {
    const t = tensor(1000);
    const size = estimateValueBytes(t);
    expect(size).toBeGreaterThanOrEqual(4000);
    expect(size).toBeLessThan(4000 + 256);
    expect(estimateValueBytes(3.5)).toBeLessThan(64);
    const handle = { key: 'k', name: 'n', folder: '/m', modelIndex: {}, scheduler: {}, denoiser: new (class Session {})(), denoiserKind: 'unet' };
    expect(estimateValueBytes(handle)).toBeLessThan(1024);
  });

  it('sums trajectory states and denoised, features entries; a shared tensor counts once', () => {
    const a = tensor(1000, 1);
    const b = tensor(2000, 2);
    const traj: Trajectory = { sigmas: [1, 0.5, 0], states: [a, b], denoised: [b] };
    const size = estimateValueBytes(traj);
    expect(size).toBeGreaterThanOrEqual(12000);
    expect(size).toBeLessThan(12000 + 1024);
    const features: Features = { kind: 'v', entries: new Map([['x', a], ['y', tensor(500)]]) };
    expect(estimateValueBytes(features)).toBeGreaterThanOrEqual(6000);
    // Across the ports of one entry too.
    expect(estimateOutputsBytes({ latent: b, trajectory: traj })).toBe(estimateOutputsBytes({ trajectory: traj }));
  });
});

describe('spill files', () => {
  it('round-trips exact bits for several header lengths and shapes', async () => {
    const special = Tensor.from([2, 3], [0, -0, 1e-45, -3.4e38, Math.PI, 7]);
    special.data[0] = NaN;
    const cases = [special, tensor(1), Tensor.zeros([0]), tensor(1001).reshape([7, 11, 13]), tensor(24).reshape([1, 2, 3, 4])];
    for (const [i, t] of cases.entries()) {
      const file = join(dir, `t${i}.tensor`);
      await writeTensorFile(file, t);
      const back = await readTensorFile(file);
      expect(back.dims).toEqual(t.dims);
      expect(bits(back)).toEqual(bits(t));
      // Raw float32 after a small header.
      expect(statSync(file).size - t.byteLength).toBeLessThan(128);
    }
  });

  it('moves data in chunks, as tensors past 2 GiB need (one call moves less), and round-trips at any chunk size', async () => {
    const t = tensor(1001).reshape([7, 11, 13]);
    for (const [w, r] of [[1, 3], [64, 100], [4000, 4004], [4003, 1]]) {
      const file = join(dir, `chunk-${w}-${r}.tensor`);
      await writeTensorFile(file, t, w);
      expect(statSync(file).size - t.byteLength).toBeLessThan(128);
      const back = await readTensorFile(file, r);
      expect(bits(back)).toEqual(bits(t));
    }
  });

  it('rejects a truncated or foreign file', async () => {
    const file = join(dir, 'bad.tensor');
    await writeTensorFile(file, tensor(10));
    writeFileSync(file, Buffer.from('not a tensor at all'));
    await expect(readTensorFile(file)).rejects.toThrow(/corrupt: bad magic/);
  });

  it('spills every tensor in a nested value once and restores the same shape', async () => {
    const shared = tensor(64, 3);
    const model = { key: 'm', run: () => 1 };
    const value = {
      latent: shared,
      trajectory: { sigmas: [1, 0], states: [tensor(64, 4), shared], denoised: [tensor(64, 5)] } satisfies Trajectory,
      features: { kind: 'v', entries: new Map([['a', tensor(8, 6)]]) } satisfies Features,
      model,
      count: 3,
    };
    let n = 0;
    const spilled = await spillValue(value, () => join(dir, `s${n++}.tensor`));
    expect(spilled.files.length).toBe(4);
    expect(readdirSync(dir).length).toBe(4);
    expect(spilled.bytes).toBe(4 * (64 * 3 + 8));
    const back = (await restoreValue(spilled.skeleton)) as typeof value;
    expect(back.model).toBe(model); // parts without tensors are kept as they are
    expect(back.count).toBe(3);
    expect(back.trajectory.sigmas).toEqual([1, 0]);
    expect(bits(back.latent)).toEqual(bits(shared));
    expect(back.trajectory.states[1]).toBe(back.latent); // sharing survives
    expect(bits(back.trajectory.states[0])).toEqual(bits(value.trajectory.states[0]));
    expect(bits(back.features.entries.get('a')!)).toEqual(bits(value.features.entries.get('a')!));
  });
});

describe('OutputCache', () => {
  it('evicts the least recently used entries to stay within maxBytes', async () => {
    const one = estimateOutputsBytes({ x: tensor(1000) });
    const cache = new OutputCache({ maxBytes: 3 * one });
    await cache.set('a', { x: tensor(1000, 1) });
    await cache.set('b', { x: tensor(1000, 2) });
    await cache.set('c', { x: tensor(1000, 3) });
    expect(cache.stats).toMatchObject({ entries: 3, bytesInMemory: 3 * one });
    expect(await cache.get('a')).toBeDefined(); // a is now the most recent
    await cache.set('d', { x: tensor(1000, 4) });
    expect(['a', 'b', 'c', 'd'].map((k) => cache.has(k))).toEqual([true, false, true, true]);
    await cache.set('e', { x: tensor(2000, 5) }); // twice the size: pushes out c and a
    expect(['a', 'c', 'd', 'e'].map((k) => cache.has(k))).toEqual([false, false, true, true]);
    expect(cache.stats.bytesInMemory).toBeLessThanOrEqual(3 * one);
    expect(await cache.get('b')).toBeUndefined();
    expect(cache.stats).toMatchObject({ hits: 1, misses: 1, entries: 2, bytesOnDisk: 0 });
  });

  it('does not keep an entry bigger than the whole budget without a spill folder', async () => {
    const cache = new OutputCache({ maxBytes: 1000 });
    await cache.set('big', { x: tensor(1000) });
    expect(cache.has('big')).toBe(false);
    expect(cache.stats.bytesInMemory).toBe(0);
  });

  it('writes entries over the spill threshold to disk and reads back equal data', async () => {
    const cache = new OutputCache({ maxBytes: 100 * KB, spillDir: join(dir, 'spill'), spillThresholdBytes: 8 * KB });
    const big = tensor(4096, 7);
    const traj: Trajectory = { sigmas: [1, 0.5, 0], states: [tensor(1024, 8), tensor(1024, 9)], denoised: [big] };
    await cache.set('k', { latent: big, trajectory: traj, note: 'hello' });
    expect(cache.location('k')).toBe('disk');
    expect(readdirSync(join(dir, 'spill')).length).toBe(3);
    expect(cache.stats).toMatchObject({ entries: 1, entriesOnDisk: 1, bytesInMemory: 0, bytesOnDisk: 4 * (4096 + 2048) });

    const back = (await cache.get('k'))!;
    expect(back.latent).not.toBe(big);
    expect(bits(back.latent as Tensor)).toEqual(bits(big));
    const t = back.trajectory as Trajectory;
    expect(t.sigmas).toEqual([1, 0.5, 0]);
    expect(t.states.map(bits)).toEqual(traj.states.map(bits));
    expect(t.denoised[0]).toBe(back.latent);
    expect(back.note).toBe('hello');
    // Large entries stay on disk after a hit.
    expect(cache.location('k')).toBe('disk');

    await cache.clear();
    expect(readdirSync(join(dir, 'spill'))).toEqual([]);
    expect(cache.stats).toMatchObject({ entries: 0, bytesOnDisk: 0, bytesInMemory: 0 });
  });

  it('spills evicted entries with tensors, drops those without, and promotes small ones back on a hit', async () => {
    const one = estimateOutputsBytes({ x: tensor(1000) });
    const spill = join(dir, 'spill');
    const cache = new OutputCache({ maxBytes: one, spillDir: spill });
    await cache.set('a', { x: tensor(1000, 1) });
    await cache.set('scalars', { value: 42 }); // no tensors: cannot be spilled
    await cache.set('b', { x: tensor(1000, 2) });
    expect(cache.location('a')).toBe('disk');
    expect(cache.has('scalars')).toBe(false);
    expect(cache.location('b')).toBe('memory');
    expect(readdirSync(spill).length).toBe(1);

    const a = (await cache.get('a'))!;
    expect(bits(a.x as Tensor)).toEqual(bits(tensor(1000, 1)));
    // a came back into memory as the freshest entry, which pushed b to disk.
    expect(cache.location('a')).toBe('memory');
    expect(cache.location('b')).toBe('disk');
    expect(readdirSync(spill).length).toBe(1);
    expect(cache.stats).toMatchObject({ entries: 2, entriesOnDisk: 1, bytesInMemory: one, bytesOnDisk: 4000 });

    await cache.clear();
    expect(readdirSync(spill)).toEqual([]);
  });

  it('keeps spill files within maxDiskBytes, deleting the least recently used', async () => {
    const spill = join(dir, 'spill');
    const cache = new OutputCache({ maxBytes: 0, spillDir: spill, maxDiskBytes: 2 * 4000 });
    for (const k of ['a', 'b', 'c']) await cache.set(k, { x: tensor(1000) });
    expect(['a', 'b', 'c'].map((k) => cache.location(k))).toEqual([undefined, 'disk', 'disk']);
    expect(readdirSync(spill).length).toBe(2);
    expect(cache.stats.bytesOnDisk).toBe(8000);
  });

  it('replacing an entry deletes its old spill files', async () => {
    const spill = join(dir, 'spill');
    const cache = new OutputCache({ spillDir: spill, spillThresholdBytes: 0 });
    await cache.set('k', { x: tensor(100, 1) });
    const first = readdirSync(spill);
    await cache.set('k', { x: tensor(100, 2) });
    const second = readdirSync(spill);
    expect(second.length).toBe(1);
    expect(second).not.toEqual(first);
    expect(bits((await cache.get('k'))!.x as Tensor)).toEqual(bits(tensor(100, 2)));
    await cache.delete('k');
    expect(readdirSync(spill)).toEqual([]);
  });

  it('treats an unreadable spill file as a miss and reports it', async () => {
    const spill = join(dir, 'spill');
    const problems: string[] = [];
    const cache = new OutputCache({ spillDir: spill, spillThresholdBytes: 0, onError: (m) => problems.push(m) });
    await cache.set('k', { x: tensor(100) });
    const [file] = readdirSync(spill);
    writeFileSync(join(spill, file), 'garbage');
    expect(await cache.get('k')).toBeUndefined();
    expect(cache.has('k')).toBe(false);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/could not be read/);
    expect(readdirSync(spill)).toEqual([]);
  });

  it('never spills into the last free gigabytes of the disk: such entries are dropped, and it says so once', async () => {
    const spill = join(dir, 'spill');
    const problems: string[] = [];
    let free = 5 * 1024 ** 3;
    const cache = new OutputCache({
      maxBytes: 0,
      maxDiskBytes: 1e9,
      spillDir: spill,
      minFreeDiskBytes: 2 * 1024 ** 3,
      freeDiskBytes: async (d) => (expect(d).toBe(spill), free),
      onError: (m) => problems.push(m),
    });
    await cache.set('a', { x: tensor(1000) });
    expect(problems).toEqual([]);
    expect(cache.location('a')).toBe('disk');
    free = 2 * 1024 ** 3 + 3999; // one 4,000-byte entry would go past the margin
    await cache.set('b', { x: tensor(1000) });
    await cache.set('c', { x: tensor(1000) });
    expect([cache.location('b'), cache.location('c')]).toEqual([undefined, undefined]);
    expect(problems).toEqual([`not spilling cache entries to ${spill}: the disk has 2.0 GiB free, and spilling keeps 2.0 GiB free for everything else`]);
    expect(readdirSync(spill)).toHaveLength(1);
    // Space again: spilling resumes (and a later shortage is reported again).
    free = 10 * 1024 ** 3;
    await cache.set('d', { x: tensor(1000) });
    expect(cache.location('d')).toBe('disk');
    free = 0;
    await cache.set('e', { x: tensor(1000) });
    expect(problems).toHaveLength(2);
    expect(() => new OutputCache({ minFreeDiskBytes: -1 })).toThrow(/minFreeDiskBytes must be a non-negative/);
  });

  it('rejects a negative budget', () => {
    expect(() => new OutputCache({ maxBytes: -1 })).toThrow(/maxBytes must be a non-negative/);
  });
});
