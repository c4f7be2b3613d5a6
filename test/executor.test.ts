/**
 * Executor: planning (upstream closure, topological order), cache reuse across runs, force, targets,
 * failures, output checks and the event stream. Fake nodes only; each counts its execute() calls.
 */
import { describe, expect, it } from 'vitest';
import { Executor, type RunResult } from '../electron/engine/executor/executor.ts';
import { checkOutputs } from '../electron/engine/executor/output-check.ts';
import { NodeRegistry } from '../electron/engine/registry.ts';
import { GraphDocumentSchema, type GraphDocument } from '../electron/engine/graph/schema.ts';
import { GraphValidationError } from '../electron/engine/graph/errors.ts';
import type { EngineEvent } from '../electron/engine/events.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { defineNode, NodeInputError, type AnyNodeDefinition, type FileService, type ModelService } from '../nodes/core/types.ts';

const SIZE = 16;

/** The Source node's values, written independently of the node: x_i = sin(seed + i). */
function sourceValues(seed: number): number[] {
  return Array.from({ length: SIZE }, (_, i) => Math.fround(Math.sin(seed + i)));
}

function makeWorld() {
  const calls = new Map<string, number>();
  const count = (id: string) => calls.set(id, (calls.get(id) ?? 0) + 1);
  const received = new Map<string, Tensor>();
  const stamps: Record<string, string> = { m: 'v1' };

  const Source = defineNode({
    type: 'Source',
    version: 1,
    title: 'Source',
    category: 'test',
    description: 'deterministic tensor from a seed',
    inputs: {},
    outputs: { latent: { type: 'LATENT' } },
    params: { seed: { kind: 'seed', default: 0 } },
    async execute(ctx, _inputs, params) {
      count(ctx.nodeId);
      return { latent: Tensor.from([SIZE], sourceValues(params.seed)) };
    },
  });
  const Scale = defineNode({
    type: 'Scale',
    version: 1,
    title: 'Scale',
    category: 'test',
    description: 'multiplies by a factor',
    inputs: { latent: { type: 'LATENT' } },
    outputs: { latent: { type: 'LATENT' } },
    params: { factor: { kind: 'float', default: 1 } },
    async execute(ctx, inputs, params) {
      count(ctx.nodeId);
      const out = new Tensor(inputs.latent.dims);
      for (let i = 0; i < out.size; i++) out.data[i] = inputs.latent.data[i] * params.factor;
      ctx.progress(1, 2);
      ctx.progress(2, 2, out);
      return { latent: out };
    },
  });
  const Sink = defineNode({
    type: 'Sink',
    version: 1,
    title: 'Sink',
    category: 'test',
    description: 'side effect: records its input',
    kind: 'side-effect',
    inputs: { latent: { type: 'LATENT' } },
    outputs: {},
    params: {},
    async execute(ctx, inputs) {
      count(ctx.nodeId);
      received.set(ctx.nodeId, inputs.latent);
      return {};
    },
  });
  const Fail = defineNode({
    type: 'Fail',
    version: 1,
    title: 'Fail',
    category: 'test',
    description: 'fails on request, or returns bad outputs',
    inputs: { latent: { type: 'LATENT' } },
    outputs: { latent: { type: 'LATENT' } },
    params: { mode: { kind: 'enum', options: ['ok', 'throw', 'input', 'nan', 'inf', 'missing', 'string'], default: 'ok' } },
    async execute(ctx, inputs, params) {
      count(ctx.nodeId);
      const out = inputs.latent.clone();
      switch (params.mode) {
        case 'throw':
          throw new Error('boom');
        case 'input':
          throw new NodeInputError('expected 4 channels', 'latent');
        case 'nan':
          out.data[5] = NaN;
          break;
        case 'inf':
          out.data[7] = -Infinity;
          break;
        case 'missing':
          return {} as { latent: Tensor };
        case 'string':
          return { latent: 'oops' as unknown as Tensor };
      }
      return { latent: out };
    },
  });
  const Salted = defineNode({
    type: 'Salted',
    version: 1,
    title: 'Salted',
    category: 'test',
    description: 'output depends on a model stamp',
    inputs: {},
    outputs: { value: { type: 'FLOAT' } },
    params: { model: { kind: 'string', default: 'm' } },
    async cacheSalt(params, ctx) {
      return ctx.models.stamp(params.model);
    },
    async execute(ctx) {
      count(ctx.nodeId);
      return { value: 1 };
    },
  });
  const Tap = defineNode({
    type: 'Tap',
    version: 1,
    title: 'Tap',
    category: 'test',
    description: 'side effect that passes its input through',
    kind: 'side-effect',
    inputs: { latent: { type: 'LATENT' } },
    outputs: { latent: { type: 'LATENT' } },
    params: {},
    async execute(ctx, inputs) {
      count(ctx.nodeId);
      return { latent: inputs.latent };
    },
  });

  const registry = new NodeRegistry([Source, Scale, Sink, Fail, Salted, Tap]);
  const models: ModelService = {
    load: async () => {
      throw new Error('no models in this test');
    },
    stamp: async (ref) => {
      const s = stamps[ref];
      if (s === undefined) throw new Error(`model "${ref}" not found`);
      return s;
    },
  };
  const files: FileService = { outDir: '/nonexistent', resolveRead: (p) => p, resolveWrite: (p) => p };
  const logged: string[] = [];
  const executor = new Executor({ registry, models, files: () => files, log: (m) => logged.push(m) });
  return { executor, calls, received, stamps, logged, counts: () => Object.fromEntries(calls) };
}

type NodeSpec = { id: string; type: string; params?: Record<string, string | number | boolean> };
function graph(nodes: NodeSpec[], edges: [string, string, string, string][] = []): GraphDocument {
  return GraphDocumentSchema.parse({
    format: 'flowstudio-graph',
    schemaVersion: 1,
    nodes: nodes.map((n) => ({ ...n, params: n.params ?? {} })),
    edges: edges.map(([source, sourcePort, target, targetPort], i) => ({ id: `e${i}`, source, sourcePort, target, targetPort })),
  });
}

function linear(factor: number, ids = { source: 'source', scale: 'scale', sink: 'sink' }, seed = 3): GraphDocument {
  return graph(
    [
      { id: ids.source, type: 'Source', params: { seed } },
      { id: ids.scale, type: 'Scale', params: { factor } },
      { id: ids.sink, type: 'Sink' },
    ],
    [
      [ids.source, 'latent', ids.scale, 'latent'],
      [ids.scale, 'latent', ids.sink, 'latent'],
    ],
  );
}

function states(r: RunResult): Record<string, string> {
  return Object.fromEntries(Object.entries(r.nodes).map(([id, n]) => [id, n.state]));
}

describe('Executor: caching across runs', () => {
  it('runs everything first, then only what a param change invalidates', async () => {
    const w = makeWorld();
    const r1 = await w.executor.run(linear(2));
    expect(r1.status).toBe('finished');
    expect(w.counts()).toEqual({ source: 1, scale: 1, sink: 1 });
    expect(states(r1)).toEqual({ source: 'done', scale: 'done', sink: 'done' });
    expect(Array.from(w.received.get('sink')!.data)).toEqual(sourceValues(3).map((v) => Math.fround(v * 2)));

    const r2 = await w.executor.run(linear(0.5));
    expect(w.counts()).toEqual({ source: 1, scale: 2, sink: 2 });
    expect(states(r2)).toEqual({ source: 'cached', scale: 'done', sink: 'done' });
    expect(Array.from(w.received.get('sink')!.data)).toEqual(sourceValues(3).map((v) => Math.fround(v * 0.5)));

    // Changing the seed re-keys the whole chain.
    await w.executor.run(linear(0.5, undefined, 4));
    expect(w.counts()).toEqual({ source: 2, scale: 3, sink: 3 });
  });

  it('an identical re-run executes only side-effect nodes and returns the cached values', async () => {
    const w = makeWorld();
    const r1 = await w.executor.run(linear(2));
    const r2 = await w.executor.run(linear(2));
    expect(w.counts()).toEqual({ source: 1, scale: 1, sink: 2 });
    expect(states(r2)).toEqual({ source: 'cached', scale: 'cached', sink: 'done' });
    expect(r2.outputs.get('scale')!.latent).toBe(r1.outputs.get('scale')!.latent);
    expect(w.executor.cache.stats.hits).toBeGreaterThanOrEqual(2);
  });

  it('force re-executes the named nodes (and what reads them), or everything', async () => {
    const w = makeWorld();
    const r1 = await w.executor.run(linear(2));
    const r2 = await w.executor.run(linear(2), { force: ['scale'] });
    expect(w.counts()).toEqual({ source: 1, scale: 2, sink: 2 });
    expect(states(r2)).toEqual({ source: 'cached', scale: 'done', sink: 'done' });
    // Same key, fresh value replaces the cached one.
    const fresh = r2.outputs.get('scale')!.latent as Tensor;
    expect(fresh).not.toBe(r1.outputs.get('scale')!.latent);
    const r3 = await w.executor.run(linear(2));
    expect(r3.outputs.get('scale')!.latent).toBe(fresh);

    await w.executor.run(linear(2), { force: true });
    expect(w.counts()).toEqual({ source: 2, scale: 3, sink: 4 });
  });

  it('renaming node ids keeps cache hits (the key is not the id)', async () => {
    const w = makeWorld();
    await w.executor.run(linear(2));
    const r = await w.executor.run(linear(2, { source: 'a', scale: 'b', sink: 'c' }));
    expect(states(r)).toEqual({ a: 'cached', b: 'cached', c: 'done' });
    expect(w.counts()).toEqual({ source: 1, scale: 1, sink: 1, c: 1 });
  });

  it('identical nodes in one run execute once', async () => {
    const w = makeWorld();
    const doc = graph(
      [
        { id: 's1', type: 'Source', params: { seed: 9 } },
        { id: 's2', type: 'Source', params: { seed: 9 } },
        { id: 'x1', type: 'Scale', params: { factor: 3 } },
        { id: 'x2', type: 'Scale', params: { factor: 3 } },
      ],
      [
        ['s1', 'latent', 'x1', 'latent'],
        ['s2', 'latent', 'x2', 'latent'],
      ],
    );
    const r = await w.executor.run(doc);
    expect(w.counts()).toEqual({ s1: 1, x1: 1 });
    expect(states(r)).toEqual({ s1: 'done', s2: 'cached', x1: 'done', x2: 'cached' });
    expect(r.outputs.get('x2')!.latent).toBe(r.outputs.get('x1')!.latent);
  });

  it('a side-effect node always executes but its key still propagates downstream', async () => {
    const w = makeWorld();
    const doc = graph(
      [
        { id: 'src', type: 'Source', params: { seed: 1 } },
        { id: 'tap', type: 'Tap' },
        { id: 'scale', type: 'Scale', params: { factor: 2 } },
      ],
      [
        ['src', 'latent', 'tap', 'latent'],
        ['tap', 'latent', 'scale', 'latent'],
      ],
    );
    await w.executor.run(doc);
    const r = await w.executor.run(doc);
    expect(w.counts()).toEqual({ src: 1, tap: 2, scale: 1 });
    expect(states(r)).toEqual({ src: 'cached', tap: 'done', scale: 'cached' });
  });

  it('cacheSalt is part of the key: a changed model stamp re-executes', async () => {
    const w = makeWorld();
    const doc = graph([{ id: 'n', type: 'Salted', params: { model: 'm' } }]);
    await w.executor.run(doc);
    await w.executor.run(doc);
    expect(w.counts()).toEqual({ n: 1 });
    w.stamps.m = 'v2';
    await w.executor.run(doc);
    expect(w.counts()).toEqual({ n: 2 });
  });

  it('a failing cacheSalt fails the run at that node', async () => {
    const w = makeWorld();
    const r = await w.executor.run(graph([{ id: 'n', type: 'Salted', params: { model: 'absent' } }]));
    expect(r.status).toBe('failed');
    expect(r.error).toEqual({ nodeId: 'n', nodeType: 'Salted', message: 'model "absent" not found' });
    expect(w.counts()).toEqual({});
  });
});

describe('Executor: targets', () => {
  it('runs only the upstream closure of the targets', async () => {
    const w = makeWorld();
    const r = await w.executor.run(linear(2), { targets: ['scale'] });
    expect(r.status).toBe('finished');
    expect(w.counts()).toEqual({ source: 1, scale: 1 });
    expect(states(r)).toEqual({ source: 'done', scale: 'done' });
    expect([...r.outputs.keys()]).toEqual(['source', 'scale']);
  });

  it('skips the upstream of a cached target', async () => {
    const w = makeWorld();
    await w.executor.run(linear(2), { targets: ['scale'] });
    const r = await w.executor.run(linear(2), { targets: ['scale'] });
    expect(states(r)).toEqual({ source: 'skipped', scale: 'cached' });
    expect([...r.outputs.keys()]).toEqual(['scale']);
  });

  it('ignores broken nodes outside the closure but rejects unknown targets', async () => {
    const w = makeWorld();
    const doc = graph([
      { id: 'src', type: 'Source' },
      { id: 'lonely', type: 'Scale' }, // required input not connected
    ]);
    const r = await w.executor.run(doc, { targets: ['src'] });
    expect(r.status).toBe('finished');
    await expect(w.executor.run(doc)).rejects.toThrow(/required input "latent"/);
    await expect(w.executor.run(doc, { targets: ['nope'] })).rejects.toBeInstanceOf(GraphValidationError);
    await expect(w.executor.run(doc, { targets: ['src'], force: ['ghost'] })).rejects.toThrow(/"ghost" named in force does not exist/);
  });
});

describe('Executor: failures', () => {
  it('validation errors reject before anything runs', async () => {
    const w = makeWorld();
    const events: EngineEvent[] = [];
    const doc = graph([{ id: 'a', type: 'Source' }, { id: 'b', type: 'Nope' }]);
    const err = await w.executor.run(doc, { onEvent: (e) => events.push(e) }).catch((e) => e);
    expect(err).toBeInstanceOf(GraphValidationError);
    expect((err as GraphValidationError).errors.map((e) => e.code)).toEqual(['unknown_node_type']);
    expect(events).toEqual([]);
    expect(w.counts()).toEqual({});
  });

  it('a throwing node fails the run with its id and type; the executor stays usable', async () => {
    const w = makeWorld();
    const doc = (mode: string) =>
      graph(
        [
          { id: 'src', type: 'Source' },
          { id: 'bad', type: 'Fail', params: { mode } },
          { id: 'sink', type: 'Sink' },
        ],
        [
          ['src', 'latent', 'bad', 'latent'],
          ['bad', 'latent', 'sink', 'latent'],
        ],
      );
    const events: EngineEvent[] = [];
    const r = await w.executor.run(doc('throw'), { onEvent: (e) => events.push(e) });
    expect(r.status).toBe('failed');
    expect(r.error).toEqual({ nodeId: 'bad', nodeType: 'Fail', message: 'boom' });
    expect(states(r)).toEqual({ src: 'done', bad: 'failed', sink: 'skipped' });
    expect(events.slice(-2)).toMatchObject([
      { type: 'node-failed', nodeId: 'bad', nodeType: 'Fail', message: 'boom' },
      { type: 'run-failed', nodeId: 'bad', message: 'boom' },
    ]);

    const input = await w.executor.run(doc('input'));
    expect(input.error?.message).toBe('input "latent": expected 4 channels');

    const ok = await w.executor.run(doc('ok'));
    expect(ok.status).toBe('finished');
    expect(states(ok)).toEqual({ src: 'cached', bad: 'done', sink: 'done' });
  });

  it('rejects NaN/Inf, missing and mistyped outputs with a clear message and caches none of them', async () => {
    const w = makeWorld();
    const doc = (mode: string) =>
      graph(
        [
          { id: 'src', type: 'Source' },
          { id: 'bad', type: 'Fail', params: { mode } },
        ],
        [['src', 'latent', 'bad', 'latent']],
      );
    const cases: [string, string][] = [
      ['nan', 'output "latent" contains NaN at element 5'],
      ['inf', 'output "latent" contains -Infinity at element 7'],
      ['missing', 'output "latent" (LATENT) is missing from what execute() returned'],
      ['string', 'output "latent" (LATENT) is a string, expected a Tensor'],
    ];
    for (const [mode, message] of cases) {
      const r = await w.executor.run(doc(mode));
      expect(r.status).toBe('failed');
      expect(r.error).toEqual({ nodeId: 'bad', nodeType: 'Fail', message });
      expect(r.outputs.has('bad')).toBe(false);
      await w.executor.run(doc(mode));
    }
    // Each mode ran twice: failures were not cached.
    expect(w.calls.get('bad')).toBe(2 * cases.length);
  });

  it("a malformed schedule output is the producing node's internal error; a well-formed one passes", () => {
    const def = { outputs: { sigmas: { type: 'SIGMAS' } } } as unknown as AnyNodeDefinition;
    expect(() => checkOutputs(def, { sigmas: { space: 'flow', sigmas: [1], timesteps: [500] } })).toThrow(
      'internal: output "sigmas" is not a well-formed schedule: SIGMAS: 1 levels for 1 timesteps (expected one more level than timesteps)',
    );
    expect(() => checkOutputs(def, { sigmas: { space: 'vp', sigmas: [14.6, Infinity], timesteps: [999] } })).toThrow(/internal: .*level Infinity/);
    const good = { space: 'vp', sigmas: [14.6, 1, 0], timesteps: [999, 500] };
    expect(checkOutputs(def, { sigmas: good })).toEqual({ sigmas: good });
  });

  it('a throwing event listener does not break the run', async () => {
    const w = makeWorld();
    const r = await w.executor.run(linear(2), {
      onEvent: () => {
        throw new Error('listener bug');
      },
    });
    expect(r.status).toBe('finished');
    expect(w.counts()).toEqual({ source: 1, scale: 1, sink: 1 });
    expect(w.logged.length).toBeGreaterThan(0);
    expect(w.logged[0]).toMatch(/listener threw on "run-started"/);
  });
});

describe('Executor: events', () => {
  it('emits a well-ordered stream for a small run, then node-cached on a re-run', async () => {
    const w = makeWorld();
    const doc = graph(
      [
        { id: 'src', type: 'Source', params: { seed: 1 } },
        { id: 'scale', type: 'Scale', params: { factor: 2 } },
      ],
      [['src', 'latent', 'scale', 'latent']],
    );
    const events: EngineEvent[] = [];
    const r = await w.executor.run(doc, { runId: 'run-1', onEvent: (e) => events.push(e) });
    expect(events.map((e) => [e.type, 'nodeId' in e ? e.nodeId : undefined])).toEqual([
      ['run-started', undefined],
      ['node-started', 'src'],
      ['node-finished', 'src'],
      ['node-started', 'scale'],
      ['node-progress', 'scale'],
      ['node-progress', 'scale'],
      ['node-preview', 'scale'],
      ['node-finished', 'scale'],
      ['run-finished', undefined],
    ]);
    expect(events.every((e) => e.runId === 'run-1')).toBe(true);
    expect(events[0]).toMatchObject({ type: 'run-started', order: ['src', 'scale'] });
    expect(events[5]).toMatchObject({ step: 2, total: 2 });
    const preview = events[6] as Extract<EngineEvent, { type: 'node-preview' }>;
    // The preview is a copy with the output's values.
    expect(preview.preview).not.toBe(r.outputs.get('scale')!.latent);
    expect(Array.from(preview.preview.data)).toEqual(Array.from((r.outputs.get('scale')!.latent as Tensor).data));
    const finished = events[2] as Extract<EngineEvent, { type: 'node-finished' }>;
    expect(finished.ms).toBeGreaterThanOrEqual(0);
    expect(r.nodes.src.ms).toBe(finished.ms);

    const again: EngineEvent[] = [];
    await w.executor.run(doc, { onEvent: (e) => again.push(e) });
    expect(again.map((e) => [e.type, 'nodeId' in e ? e.nodeId : undefined])).toEqual([
      ['run-started', undefined],
      ['node-cached', 'src'],
      ['node-cached', 'scale'],
      ['run-finished', undefined],
    ]);
  });

  it('passes the run context: ids, graph, files from the per-run factory', async () => {
    const seen: { nodeId: string; nodeType: string; graph: unknown; outDir: string }[] = [];
    const Probe = defineNode({
      type: 'Probe',
      version: 1,
      title: 'Probe',
      category: 'test',
      description: 'records its context',
      inputs: {},
      outputs: {},
      params: {},
      kind: 'side-effect',
      async execute(ctx) {
        seen.push({ nodeId: ctx.nodeId, nodeType: ctx.nodeType, graph: ctx.graph, outDir: ctx.files.outDir });
        return {};
      },
    });
    const runIds: string[] = [];
    const executor = new Executor({
      registry: new NodeRegistry([Probe]),
      models: { load: async () => Promise.reject(new Error('none')), stamp: async () => '' },
      files: (runId) => {
        runIds.push(runId);
        return { outDir: `/out/${runId}`, resolveRead: (p) => p, resolveWrite: (p) => p };
      },
    });
    const doc = graph([{ id: 'p1', type: 'Probe' }, { id: 'p2', type: 'Probe' }]);
    await executor.run(doc, { runId: 'abc' });
    expect(runIds).toEqual(['abc']); // one file service per run, made once
    expect(seen.map((s) => [s.nodeId, s.nodeType, s.outDir])).toEqual([
      ['p1', 'Probe', '/out/abc'],
      ['p2', 'Probe', '/out/abc'],
    ]);
    expect(seen[0].graph).toEqual(doc);
  });

  it('queues concurrent runs one after the other', async () => {
    let active = 0;
    let maxActive = 0;
    const Slow = defineNode({
      type: 'Slow',
      version: 1,
      title: 'Slow',
      category: 'test',
      description: 'takes a while',
      inputs: {},
      outputs: {},
      params: {},
      kind: 'side-effect',
      async execute() {
        maxActive = Math.max(maxActive, ++active);
        await new Promise((r) => setTimeout(r, 10));
        active--;
        return {};
      },
    });
    const executor = new Executor({
      registry: new NodeRegistry([Slow]),
      models: { load: async () => Promise.reject(new Error('none')), stamp: async () => '' },
      files: () => ({ outDir: '/x', resolveRead: (p) => p, resolveWrite: (p) => p }),
    });
    const doc = graph([{ id: 'a', type: 'Slow' }]);
    const results = await Promise.all([executor.run(doc), executor.run(doc), executor.run(doc)]);
    expect(results.map((r) => r.status)).toEqual(['finished', 'finished', 'finished']);
    expect(maxActive).toBe(1);
  });
});
