/** The engine in a worker thread (how the app runs it): same API, events across the thread, cancel. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../electron/engine/events.ts';
import { readGraphFile } from '../electron/engine/graph/io.ts';
import { EXAMPLES_DIR } from '../electron/engine/paths.ts';
import { Engine } from '../electron/engine/engine.ts';
import { WorkerEngine } from '../electron/engine/worker/worker-client.ts';
import { writeNpy } from '../nodes/core/io/npy.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { graph, tempDir, testCacheDir } from './helpers/engine.ts';

const engine = new WorkerEngine({ cacheDir: testCacheDir(), outDir: tempDir('fs-worker-'), providers: ['cpu'] });
afterAll(() => engine.close());

describe('WorkerEngine', () => {
  it('runs the example in the worker and streams typed events, previews as Tensors', async () => {
    const events: EngineEvent[] = [];
    const off = engine.subscribe((e) => events.push(e));
    const summary = await engine.run({ graph: readGraphFile(path.join(EXAMPLES_DIR, 'gaussian-vp-ddim.json')) });
    off();
    expect(summary.status).toBe('finished');
    expect(events[0].type).toBe('run-started');
    expect(events.at(-1)?.type).toBe('run-finished');
    expect(events.some((e) => e.type === 'node-progress' && e.nodeId === 'sampler' && e.step === e.total)).toBe(true);
    const preview = events.find((e) => e.type === 'node-preview');
    expect(preview && preview.type === 'node-preview' && preview.preview instanceof Tensor).toBe(true);
  });

  it('closing rejects the calls still in flight with "the engine was closed", and later calls at once', async () => {
    const own = new WorkerEngine({ cacheDir: testCacheDir(), outDir: tempDir('fs-worker-close-'), providers: ['cpu'] });
    const doc = graph(
      [
        { id: 'model', type: 'LoadModel' },
        { id: 'latent', type: 'EmptyLatent' },
        { id: 'sampler', type: 'Sampler', params: { steps: 1000, seed: 5 } },
      ],
      ['model.model->sampler.model', 'latent.latent->sampler.latent'],
    );
    await own.listNodeTypes();
    const running = own.run({ graph: doc });
    await own.close();
    await expect(running).rejects.toThrow('the engine was closed');
    await expect(own.listNodeTypes()).rejects.toThrow('engine worker has exited');
  });

  it('a worker that dies unexpectedly fails the calls in flight, and the next call runs on a fresh one', async () => {
    const own = new WorkerEngine({ cacheDir: testCacheDir(), outDir: tempDir('fs-worker-crash-'), providers: ['cpu'] });
    const crash = async () => {
      const worker = (own as unknown as { worker: import('node:worker_threads').Worker }).worker;
      await worker.terminate(); // not through close(): what an uncaught exception or out of memory looks like
    };
    try {
      const doc = graph(
        [
          { id: 'model', type: 'LoadModel' },
          { id: 'latent', type: 'EmptyLatent' },
          { id: 'sampler', type: 'Sampler', params: { steps: 1000, seed: 5 } },
        ],
        ['model.model->sampler.model', 'latent.latent->sampler.latent'],
      );
      const events: EngineEvent[] = [];
      own.subscribe((e) => events.push(e));
      await own.listNodeTypes();
      const running = own.run({ graph: doc });
      await new Promise((r) => setImmediate(r)); // the request is posted
      const crashed = crash();
      await expect(running).rejects.toThrow('engine worker exited (code 1); the next request starts a fresh engine');
      await crashed;
      // A fresh engine: it runs, and events still reach the listeners subscribed before the crash.
      events.length = 0;
      const summary = await own.run({ graph: readGraphFile(path.join(EXAMPLES_DIR, 'gaussian-vp-ddim.json')) });
      expect(summary.status).toBe('finished');
      expect(events.some((e) => e.type === 'run-finished' && e.runId === summary.runId)).toBe(true);
      // A worker that keeps dying is not started over and over: the third death within 10 s is the last.
      await crash();
      await own.listNodeTypes();
      const inFlight = own.run({ graph: doc });
      await new Promise((r) => setImmediate(r));
      await crash();
      await expect(inFlight).rejects.toThrow('engine worker exited (code 1); it died 3 times within 10 s and is not started again');
      await expect(own.listNodeTypes()).rejects.toThrow('engine worker has exited and could not be started again');
    } finally {
      await own.close();
    }
  });

  it('lists node types and validates across the thread', async () => {
    const types = await engine.listNodeTypes();
    expect(types.map((t) => t.type)).toContain('Sampler');
    const errors = await engine.validate(graph([{ id: 'x', type: 'NoSuchNode' }], []));
    expect(errors[0]).toMatchObject({ code: 'unknown_node_type', nodeId: 'x' });
  });

  it('cancels a running sampler by run id', async () => {
    const doc = graph(
      [
        { id: 'model', type: 'LoadModel' },
        { id: 'latent', type: 'EmptyLatent' },
        { id: 'sampler', type: 'Sampler', params: { steps: 500, seed: 3 } },
      ],
      ['model.model->sampler.model', 'latent.latent->sampler.latent'],
    );
    const off = engine.subscribe((e) => {
      if (e.type === 'node-progress' && e.step === 5) void engine.cancel('w-cancel');
    });
    const summary = await engine.run({ graph: doc, runId: 'w-cancel' });
    off();
    expect(summary.error?.message ?? '').toBe('');
    expect(summary.status).toBe('cancelled');
    expect(summary.nodes.sampler.state).toBe('cancelled');
  });
});

describe('allowReadFolder (ReadFolderGrant)', () => {
  /** A .npy in a folder that is none of the engine's roots, and a graph that loads it. */
  function latentElsewhere() {
    const dir = tempDir('fs-grant-');
    const file = path.join(dir, 'x.npy');
    fs.writeFileSync(file, writeNpy(Tensor.full([1, 3, 4, 4], 0.5)));
    const doc = graph([{ id: 'load', type: 'LoadLatent', params: { path: file } }], []);
    return { dir, file, doc };
  }

  it('lets runs read a folder granted at run time, in process', async () => {
    const { dir, doc } = latentElsewhere();
    const own = new Engine({ cacheDir: testCacheDir(), outDir: tempDir('fs-grant-out-'), providers: ['cpu'] });
    try {
      const before = await own.run({ graph: doc });
      expect(before.status).toBe('failed');
      expect(before.error?.message).toMatch(/outside|allowed|not/i);
      await own.allowReadFolder(dir);
      await expect(own.run({ graph: doc, force: true })).resolves.toMatchObject({ status: 'finished' });
    } finally {
      await own.dispose();
    }
  });

  it('in a worker, and still after the worker died and was started again', async () => {
    const { dir, doc } = latentElsewhere();
    const own = new WorkerEngine({ cacheDir: testCacheDir(), outDir: tempDir('fs-grant-worker-'), providers: ['cpu'] });
    try {
      expect((await own.run({ graph: doc })).status).toBe('failed');
      await own.allowReadFolder(dir);
      expect((await own.run({ graph: doc, force: true })).status).toBe('finished');
      await (own as unknown as { worker: import('node:worker_threads').Worker }).worker.terminate();
      expect((await own.run({ graph: doc, force: true })).status).toBe('finished');
    } finally {
      await own.close();
    }
  });
});
