/**
 * Cache keys (what they depend on and what they must not) and the executor working with a small,
 * spilling cache: evicted values come back from disk equal, and upstream of a hit is not re-run.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, computeCacheKey, sourcesJson, type CacheKeyMaterial, type InputSource } from '../electron/engine/executor/cache-key.ts';
import { Executor } from '../electron/engine/executor/executor.ts';
import { NodeRegistry } from '../electron/engine/registry.ts';
import { GraphDocumentSchema, type GraphDocument } from '../electron/engine/graph/schema.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { defineNode } from '../nodes/core/types.ts';
import type { Trajectory } from '../nodes/core/values.ts';

describe('canonicalJson', () => {
  it('sorts keys at every depth and keeps arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(JSON.parse(canonicalJson({ s: 'q"\u00e9\n' }))).toEqual({ s: 'q"\u00e9\n' });
  });

  it('refuses what JSON cannot carry faithfully', () => {
    expect(() => canonicalJson({ a: NaN })).toThrow(/\$\.a is NaN/);
    expect(() => canonicalJson({ t: new Map() })).toThrow(/\$\.t is a Map/);
    expect(() => canonicalJson([() => 1])).toThrow(/\$\[0\] is a function/);
  });
});

describe('sourcesJson', () => {
  it('writes exactly canonicalJson({ salt, inputs }) (the key text must not change with the faster writer)', () => {
    const cases: [string | undefined, Record<string, InputSource | null>][] = [
      [undefined, {}],
      ['', { latent: null }],
      ['stamp "q"\\', { zeta: { key: 'k1', port: 'out' }, alpha: null, mid: { key: 'k2', port: 'p\u00e9' } }],
      ['s', { b: { key: 'x', port: 'y' }, a: { key: 'z', port: 'w' } }],
    ];
    for (const [salt, inputs] of cases) expect(sourcesJson(salt, inputs)).toBe(canonicalJson({ salt: salt ?? null, inputs }));
  });
});

describe('computeCacheKey', () => {
  const base: CacheKeyMaterial = {
    type: 'Scale',
    version: 1,
    params: { factor: 2, mode: 'a' },
    inputs: { latent: { key: 'f'.repeat(64), port: 'latent' }, mask: null },
  };
  const key = computeCacheKey(base);

  it('is a sha256 hex digest, independent of key insertion order', () => {
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(computeCacheKey({ ...base, params: { mode: 'a', factor: 2 }, inputs: { mask: null, latent: base.inputs.latent } })).toBe(key);
  });

  it('changes with type, version, every param, salt and each input source', () => {
    const variants: CacheKeyMaterial[] = [
      { ...base, type: 'Scale2' },
      { ...base, version: 2 },
      { ...base, params: { factor: 2.0000001, mode: 'a' } },
      { ...base, params: { factor: '2', mode: 'a' } },
      { ...base, params: { factor: 2, mode: 'b' } },
      { ...base, params: { factor: 2 } },
      { ...base, salt: 'stamp-1' },
      { ...base, salt: '' },
      { ...base, inputs: { latent: { key: 'e'.repeat(64), port: 'latent' }, mask: null } },
      { ...base, inputs: { latent: { key: 'f'.repeat(64), port: 'other' }, mask: null } },
      { ...base, inputs: { latent: null, mask: { key: 'f'.repeat(64), port: 'latent' } } },
      { ...base, inputs: { latent: { key: 'f'.repeat(64), port: 'latent' } } },
    ];
    const keys = variants.map(computeCacheKey);
    expect(new Set([key, ...keys]).size).toBe(variants.length + 1);
  });

  it('gives the same key whether it comes from the recent-key memo or a fresh digest', () => {
    const material = (i: number): CacheKeyMaterial => ({ ...base, params: { factor: i, mode: 'a' } });
    const first = Array.from({ length: 3000 }, (_, i) => computeCacheKey(material(i))); // more than the memo keeps
    expect(new Set(first).size).toBe(3000);
    for (const i of [2999, 0, 1500, 2999, 0]) expect(computeCacheKey(material(i))).toBe(first[i]);
    expect(computeCacheKey(base)).toBe(key);
    // One node (one base) whose sources keep changing: more variants than the memo keeps per base.
    const sourced = (i: number): CacheKeyMaterial => ({ ...base, inputs: { latent: { key: i.toString(16).padStart(64, '0'), port: 'latent' }, mask: null } });
    const bySource = Array.from({ length: 40 }, (_, i) => computeCacheKey(sourced(i)));
    expect(new Set(bySource).size).toBe(40);
    for (const i of [0, 39, 5, 0]) expect(computeCacheKey(sourced(i))).toBe(bySource[i]);
  });
});

/** Source -> Blur -> Collect: Blur outputs a big tensor and a trajectory, so a small cache must spill. */
function makeWorld(cache: { maxBytes: number; spillDir?: string; spillThresholdBytes?: number; maxDiskBytes?: number }) {
  const calls = new Map<string, number>();
  const count = (id: string) => calls.set(id, (calls.get(id) ?? 0) + 1);
  const N = 4096;
  const Source = defineNode({
    type: 'Source',
    version: 1,
    title: 'Source',
    category: 'test',
    description: 'ramp',
    inputs: {},
    outputs: { latent: { type: 'LATENT' } },
    params: { offset: { kind: 'float', default: 0 } },
    async execute(ctx, _i, p) {
      count(ctx.nodeId);
      return { latent: Tensor.from([N], Array.from({ length: N }, (_, i) => i / N + p.offset)) };
    },
  });
  const Blur = defineNode({
    type: 'Blur',
    version: 1,
    title: 'Blur',
    category: 'test',
    description: 'three-tap average with its intermediate states',
    inputs: { latent: { type: 'LATENT' } },
    outputs: { latent: { type: 'LATENT' }, trajectory: { type: 'TRAJECTORY' } },
    params: { passes: { kind: 'int', default: 2, min: 1 } },
    async execute(ctx, inputs, p) {
      count(ctx.nodeId);
      let x = inputs.latent;
      const states = [x];
      for (let k = 0; k < p.passes; k++) {
        const y = new Tensor(x.dims);
        for (let i = 0; i < x.size; i++) y.data[i] = (x.data[Math.max(0, i - 1)] + x.data[i] + x.data[Math.min(x.size - 1, i + 1)]) / 3;
        states.push(y);
        x = y;
      }
      const trajectory: Trajectory = { sigmas: states.map((_, i) => 1 - i / p.passes), states, denoised: [x] };
      return { latent: x, trajectory };
    },
  });
  const registry = new NodeRegistry([Source, Blur]);
  const executor = new Executor({
    registry,
    models: { load: async () => Promise.reject(new Error('none')), stamp: async () => '' },
    files: () => ({ outDir: '/x', resolveRead: (p) => p, resolveWrite: (p) => p }),
    cache,
    log: (m, e) => {
      throw new Error(`unexpected cache problem: ${m}: ${String(e)}`);
    },
  });
  return { executor, counts: () => Object.fromEntries(calls), N };
}

function chain(offset: number, passes = 2): GraphDocument {
  return GraphDocumentSchema.parse({
    format: 'flowstudio-graph',
    schemaVersion: 1,
    nodes: [
      { id: 'src', type: 'Source', params: { offset } },
      { id: 'blur', type: 'Blur', params: { passes } },
    ],
    edges: [{ id: 'e', source: 'src', sourcePort: 'latent', target: 'blur', targetPort: 'latent' }],
  });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fs-exec-cache-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function bits(t: Tensor): number[] {
  return Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.size));
}

describe('Executor with a small spilling cache', () => {
  it('reloads evicted outputs from disk bit-identical instead of re-executing', async () => {
    const spillDir = join(dir, 'spill');
    // Room for about one Source output in memory: running the second chain evicts the first to disk.
    const w = makeWorld({ maxBytes: 20 * 1024, spillDir, spillThresholdBytes: 20 * 1024, maxDiskBytes: 1024 ** 2 });
    const first = await w.executor.run(chain(0));
    await w.executor.run(chain(1));
    expect(w.counts()).toEqual({ src: 2, blur: 2 });
    expect(w.executor.cache.stats.entriesOnDisk).toBeGreaterThan(0);
    expect(readdirSync(spillDir).length).toBeGreaterThan(0);

    const again = await w.executor.run(chain(0));
    expect(again.status).toBe('finished');
    expect(w.counts()).toEqual({ src: 2, blur: 2 });
    expect(again.nodes.blur.state).toBe('cached');
    const a = first.outputs.get('blur')!;
    const b = again.outputs.get('blur')!;
    expect(bits(b.latent as Tensor)).toEqual(bits(a.latent as Tensor));
    const ta = a.trajectory as Trajectory;
    const tb = b.trajectory as Trajectory;
    expect(tb.sigmas).toEqual(ta.sigmas);
    expect(tb.states.map(bits)).toEqual(ta.states.map(bits));
    expect(tb.denoised[0]).toBe(tb.states[2]); // the shared tensor was written once and comes back shared

    await w.executor.clearCache();
    expect(readdirSync(spillDir)).toEqual([]);
    await w.executor.run(chain(0));
    expect(w.counts()).toEqual({ src: 3, blur: 3 });
  });

  it('without a spill folder, an evicted upstream is not re-run while its consumer is still cached', async () => {
    const w = makeWorld({ maxBytes: 50 * 1024 }); // Blur's entry (~48 KiB) fits alone: caching it evicts Source's
    await w.executor.run(chain(0), { targets: ['blur'] });
    expect(w.executor.cache.stats.entries).toBe(1);
    const r = await w.executor.run(chain(0), { targets: ['blur'] });
    expect(r.nodes).toMatchObject({ src: { state: 'skipped' }, blur: { state: 'cached' } });
    expect(w.counts()).toEqual({ src: 1, blur: 1 });
    // Blur changes: it must execute, so Source is needed again and (evicted) re-executes.
    const changed = await w.executor.run(chain(0, 3), { targets: ['blur'] });
    expect(changed.nodes).toMatchObject({ src: { state: 'done' }, blur: { state: 'done' } });
    expect(w.counts()).toEqual({ src: 2, blur: 2 });
  });
});
