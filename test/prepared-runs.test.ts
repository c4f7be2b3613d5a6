/**
 * Prepared-run reuse: an identical request skips parsing and validation; any change to the request (even
 * made by mutating the caller's own object) is a new plan; plans are frozen, so a run cannot change the
 * next one. Plus the slab allocator small tensors come from.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PreparedRuns } from '../electron/engine/executor/prepared-runs.ts';
import type { PreparedRun } from '../electron/engine/executor/prepare-run.ts';
import { NodeRegistry } from '../electron/engine/registry.ts';
import { allocFloat32, POOLED_MAX_BYTES, Tensor } from '../nodes/core/tensor.ts';
import { defineNode } from '../nodes/core/types.ts';
import { createDefaultRegistry } from '../nodes/index.ts';
import type { Engine } from '../electron/engine/engine.ts';
import { createTestEngine, graph } from './helpers/engine.ts';

const plan = (name: string) => ({ order: [name] }) as unknown as PreparedRun;

describe('PreparedRuns', () => {
  it('keys on the request text, targets and force; evicts the least recently used', () => {
    const memo = new PreparedRuns(2);
    const g = { nodes: [{ id: 'a' }] };
    expect(memo.keyOf({ graph: g })).toBe(memo.keyOf({ graph: structuredClone(g) }));
    expect(memo.keyOf({ graph: g, targets: ['a'] })).not.toBe(memo.keyOf({ graph: g }));
    expect(memo.keyOf({ graph: g, force: true })).not.toBe(memo.keyOf({ graph: g, force: ['a'] }));
    expect(memo.keyOf({ graph: { n: 1n } })).toBeUndefined();

    memo.set('a', plan('a'));
    memo.set('b', plan('b'));
    expect(memo.get('a')?.order).toEqual(['a']); // a is now the most recent
    memo.set('c', plan('c'));
    expect(memo.get('b')).toBeUndefined();
    expect(memo.get('a')?.order).toEqual(['a']);
    expect(memo.get('c')?.order).toEqual(['c']);
    expect(memo.size).toBe(2);
  });
});

describe('Engine: prepared runs', () => {
  let engine: Engine | undefined;
  afterEach(async () => {
    await engine?.dispose();
    engine = undefined;
  });

  it('prepares an identical request once; an edit to the same object is a new plan and takes effect', async () => {
    engine = createTestEngine();
    const prepare = vi.spyOn(engine.executor, 'prepare');
    const doc = graph([{ id: 'latent', type: 'EmptyLatent', params: { batch: 1 } }], []);
    const first = await engine.execute({ graph: doc });
    const again = await engine.execute({ graph: doc, targets: ['latent'] });
    const repeat = await engine.execute({ graph: doc });
    expect(first.summary.status).toBe('finished');
    expect(again.summary.status).toBe('finished');
    expect(repeat.summary.nodes.latent.state).toBe('cached');
    expect(prepare).toHaveBeenCalledTimes(2); // targets make another request

    doc.nodes[0].params.batch = 3;
    const edited = await engine.execute({ graph: doc });
    expect(prepare).toHaveBeenCalledTimes(3);
    expect((edited.result?.outputs.get('latent')?.latent as Tensor).dims[0]).toBe(3);
  });

  it('freezes a plan: a node that writes to its params fails, and the next run of the request is unaffected', async () => {
    let runs = 0;
    const Writer = defineNode({
      type: 'Writer',
      version: 1,
      title: 'Writer',
      category: 'test',
      description: 'writes to its params when asked to',
      inputs: {},
      outputs: { value: { type: 'FLOAT' } },
      params: { value: { kind: 'float', default: 1 }, write: { kind: 'boolean', default: false } },
      kind: 'side-effect',
      async execute(_ctx, _inputs, params) {
        runs++;
        if (params.write) (params as { value: number }).value = 99;
        return { value: params.value };
      },
    });
    const registry = new NodeRegistry([...createDefaultRegistry().list(), Writer]);
    engine = createTestEngine({ registry });
    const writes = graph([{ id: 'w', type: 'Writer', params: { write: true } }], []);
    const failed = await engine.run({ graph: writes });
    expect(failed.status).toBe('failed');
    expect(failed.error?.message).toMatch(/read[- ]only|Cannot assign/);
    const reads = graph([{ id: 'w', type: 'Writer', params: { value: 2 } }], []);
    for (let i = 0; i < 2; i++) {
      const r = await engine.execute({ graph: reads });
      expect(r.result?.outputs.get('w')?.value).toBe(2);
    }
    expect(runs).toBe(3);
  });
});

describe('allocFloat32', () => {
  it('gives small arrays as zero-filled, aligned, non-overlapping views and large ones their own buffer', () => {
    const a = allocFloat32(5);
    const b = allocFloat32(7);
    expect([...a, ...b].every((v) => v === 0)).toBe(true);
    a.fill(1);
    b.fill(2);
    expect([...a]).toEqual([1, 1, 1, 1, 1]);
    expect([...b]).toEqual(Array(7).fill(2));
    expect(a.byteOffset % 16).toBe(0);
    expect(b.byteOffset % 16).toBe(0);
    if (a.buffer === b.buffer) expect(b.byteOffset).toBeGreaterThanOrEqual(a.byteOffset + a.byteLength);

    const n = POOLED_MAX_BYTES / 4 + 1;
    const big = allocFloat32(n);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(n * 4);
    expect(allocFloat32(0).length).toBe(0);
  });

  it('tensors built on it copy and clone independently', () => {
    const t = new Tensor([2, 3]);
    t.data.set([1, 2, 3, 4, 5, 6]);
    const c = t.clone();
    c.data[0] = -1;
    expect(t.data[0]).toBe(1);
    expect([...c.data]).toEqual([-1, 2, 3, 4, 5, 6]);
  });
});
