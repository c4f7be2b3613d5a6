/**
 * Executor cancellation: an AbortSignal (or Executor.cancel) stops a sampler-like node between model
 * calls, run() settles only after the node's work has, the run is 'cancelled' (not 'failed'), and
 * nothing partial is cached.
 */
import { describe, expect, it } from 'vitest';
import { Executor } from '../electron/engine/executor/executor.ts';
import { NodeRegistry } from '../electron/engine/registry.ts';
import { GraphDocumentSchema, type GraphDocument } from '../electron/engine/graph/schema.ts';
import type { EngineEvent } from '../electron/engine/events.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { defineNode } from '../nodes/core/types.ts';

const STEP_MS = 5;

function makeWorld() {
  const log = {
    modelCalls: 0,
    inFlight: 0,
    /** Model calls started after run() resolved (must stay 0). */
    startedAfterResolve: 0,
    resolved: false,
    executions: new Map<string, number>(),
  };
  const executed = (id: string) => log.executions.set(id, (log.executions.get(id) ?? 0) + 1);

  /** A fake model call: ~5 ms; with a signal it refuses to start once aborted and rejects early when it fires. */
  const modelCall = (signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new DOMException('model call aborted', 'AbortError'));
      log.modelCalls++;
      log.inFlight++;
      if (log.resolved) log.startedAfterResolve++;
      const done = (fn: () => void) => {
        log.inFlight--;
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const timer = setTimeout(() => done(resolve), STEP_MS);
      const onAbort = () => {
        clearTimeout(timer);
        done(() => reject(new DOMException('model call aborted', 'AbortError')));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });

  const Init = defineNode({
    type: 'Init',
    version: 1,
    title: 'Init',
    category: 'test',
    description: 'a zero latent',
    inputs: {},
    outputs: { latent: { type: 'LATENT' } },
    params: {},
    async execute(ctx) {
      executed(ctx.nodeId);
      return { latent: Tensor.zeros([4]) };
    },
  });
  /**
   * Adds 1 per step, one model call per step. style: 'check' calls ctx.throwIfAborted() before each call;
   * 'signal' hands ctx.signal to the model call; 'ignore' never looks and breaks out early on abort,
   * returning a partial result (the bug the executor must not cache).
   */
  const Sampler = defineNode({
    type: 'Sampler',
    version: 1,
    title: 'Sampler',
    category: 'test',
    description: 'loops N steps over a fake model',
    inputs: { latent: { type: 'LATENT' } },
    outputs: { latent: { type: 'LATENT' } },
    params: {
      steps: { kind: 'int', default: 20, min: 1 },
      style: { kind: 'enum', options: ['check', 'signal', 'ignore', 'throw-other'], default: 'check' },
    },
    async execute(ctx, inputs, params) {
      executed(ctx.nodeId);
      const x = inputs.latent.clone();
      for (let i = 0; i < params.steps; i++) {
        if (params.style === 'check') ctx.throwIfAborted();
        if (params.style === 'ignore' && ctx.signal.aborted) break;
        if (params.style === 'throw-other' && ctx.signal.aborted) throw new Error('some unrelated failure');
        await modelCall(params.style === 'signal' ? ctx.signal : undefined);
        for (let j = 0; j < x.size; j++) x.data[j] += 1;
        ctx.progress(i + 1, params.steps, x);
      }
      return { latent: x };
    },
  });
  const Out = defineNode({
    type: 'Out',
    version: 1,
    title: 'Out',
    category: 'test',
    description: 'downstream of the sampler',
    inputs: { latent: { type: 'LATENT' } },
    outputs: { latent: { type: 'LATENT' } },
    params: {},
    async execute(ctx, inputs) {
      executed(ctx.nodeId);
      return { latent: inputs.latent };
    },
  });

  const executor = new Executor({
    registry: new NodeRegistry([Init, Sampler, Out]),
    models: { load: async () => Promise.reject(new Error('none')), stamp: async () => '' },
    files: () => ({ outDir: '/x', resolveRead: (p) => p, resolveWrite: (p) => p }),
  });
  return { executor, log, counts: () => Object.fromEntries(log.executions) };
}

function pipeline(style = 'check', steps = 20): GraphDocument {
  return GraphDocumentSchema.parse({
    format: 'flowstudio-graph',
    schemaVersion: 1,
    nodes: [
      { id: 'init', type: 'Init' },
      { id: 'sampler', type: 'Sampler', params: { steps, style } },
      { id: 'out', type: 'Out' },
    ],
    edges: [
      { id: 'e1', source: 'init', sourcePort: 'latent', target: 'sampler', targetPort: 'latent' },
      { id: 'e2', source: 'sampler', sourcePort: 'latent', target: 'out', targetPort: 'latent' },
    ],
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Executor cancellation', () => {
  for (const style of ['check', 'signal'] as const) {
    it(`aborting from a progress event stops the sampler (${style === 'check' ? 'throwIfAborted' : 'signal passed to the model'})`, async () => {
      const w = makeWorld();
      const k = 4;
      const controller = new AbortController();
      const events: EngineEvent[] = [];
      const result = await w.executor.run(pipeline(style), {
        signal: controller.signal,
        onEvent: (e) => {
          events.push(e);
          if (e.type === 'node-progress' && e.step === k) controller.abort();
        },
      });
      w.log.resolved = true;
      expect(w.log.inFlight).toBe(0); // the in-flight call had settled before run() resolved
      expect(result.status).toBe('cancelled');
      expect(result.error).toBeUndefined();
      expect(w.log.modelCalls).toBeGreaterThanOrEqual(k);
      expect(w.log.modelCalls).toBeLessThanOrEqual(k + 1);
      expect(result.nodes.sampler.state).toBe('cancelled');
      expect(result.nodes.out.state).toBe('skipped');
      expect(result.nodes.init.state).toBe('done');
      expect(events.at(-1)).toMatchObject({ type: 'run-cancelled', nodeId: 'sampler' });
      expect(events.some((e) => e.type === 'node-failed' || e.type === 'run-failed')).toBe(false);

      await sleep(8 * STEP_MS);
      expect(w.log.startedAfterResolve).toBe(0);

      // Nothing partial was cached: a fresh run executes the sampler in full and gets the exact answer.
      const again = await w.executor.run(pipeline(style));
      expect(again.status).toBe('finished');
      expect(again.nodes.init.state).toBe('cached');
      expect(again.nodes.sampler.state).toBe('done');
      expect(Array.from((again.outputs.get('out')!.latent as Tensor).data)).toEqual([20, 20, 20, 20]);
    });
  }

  it('a run handed its own controller cancels through it, and that controller is aborted once the run ends', async () => {
    const w = makeWorld();
    const controller = new AbortController();
    const result = await w.executor.run(pipeline('signal'), {
      controller,
      onEvent: (e) => {
        if (e.type === 'node-progress' && e.step === 2) controller.abort();
      },
    });
    expect(result.status).toBe('cancelled');
    expect(w.log.modelCalls).toBeLessThanOrEqual(3);
    const done = new AbortController();
    const finished = await w.executor.run(pipeline('signal'), { controller: done, runId: 'own' });
    expect(finished.status).toBe('finished');
    expect(done.signal.aborted).toBe(true); // stray work still watching the signal learns the run is over
    expect(w.executor.cancel('own')).toBe(false);
  });

  for (const style of ['check', 'signal'] as const) {
    it(`an abort landing during a model call (${style}) waits for that call to settle`, async () => {
      const w = makeWorld();
      const k = 3;
      const controller = new AbortController();
      const result = await w.executor.run(pipeline(style), {
        signal: controller.signal,
        onEvent: (e) => {
          // Deferred: the sampler has already started call k + 1 when the abort lands.
          if (e.type === 'node-progress' && e.step === k) setTimeout(() => controller.abort(), 1);
        },
      });
      w.log.resolved = true;
      expect(result.status).toBe('cancelled');
      expect(w.log.modelCalls).toBe(k + 1);
      expect(w.log.inFlight).toBe(0);
      await sleep(4 * STEP_MS);
      expect(w.log.startedAfterResolve).toBe(0);
    });
  }

  it('a node that returns early after abort is cancelled and its partial output is not cached', async () => {
    const w = makeWorld();
    const controller = new AbortController();
    const result = await w.executor.run(pipeline('ignore'), {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'node-progress' && e.step === 3) controller.abort();
      },
    });
    expect(result.status).toBe('cancelled');
    expect(result.outputs.has('sampler')).toBe(false);
    const again = await w.executor.run(pipeline('ignore'));
    expect(again.nodes.sampler.state).toBe('done');
    expect(Array.from((again.outputs.get('sampler')!.latent as Tensor).data)).toEqual([20, 20, 20, 20]);
  });

  it('any error a node throws after abort counts as cancellation, not failure', async () => {
    const w = makeWorld();
    const controller = new AbortController();
    const result = await w.executor.run(pipeline('throw-other'), {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'node-progress' && e.step === 2) controller.abort();
      },
    });
    expect(result.status).toBe('cancelled');
    expect(result.error).toBeUndefined();
  });

  it('an already-aborted signal runs nothing', async () => {
    const w = makeWorld();
    const events: EngineEvent[] = [];
    const result = await w.executor.run(pipeline(), { signal: AbortSignal.abort(), onEvent: (e) => events.push(e) });
    expect(result.status).toBe('cancelled');
    expect(w.counts()).toEqual({});
    expect(events.map((e) => e.type)).toEqual(['run-started', 'run-cancelled']);
  });

  it('the signal is checked between nodes: aborting after a node finished keeps its output cached', async () => {
    const w = makeWorld();
    const controller = new AbortController();
    const result = await w.executor.run(pipeline('check', 3), {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'node-finished' && e.nodeId === 'sampler') controller.abort();
      },
    });
    expect(result.status).toBe('cancelled');
    expect(result.nodes.sampler.state).toBe('done');
    expect(result.nodes.out.state).toBe('skipped');
    expect(w.counts()).toEqual({ init: 1, sampler: 1 });
    const again = await w.executor.run(pipeline('check', 3));
    expect(again.nodes.sampler.state).toBe('cached');
    expect(w.counts()).toEqual({ init: 1, sampler: 1, out: 1 });
  });

  it('Executor.cancel(runId) cancels a running run', async () => {
    const w = makeWorld();
    const running = w.executor.run(pipeline('signal'), {
      runId: 'r1',
      onEvent: (e) => {
        if (e.type === 'node-progress' && e.step === 2) expect(w.executor.cancel('r1')).toBe(true);
      },
    });
    const result = await running;
    expect(result.status).toBe('cancelled');
    expect(w.log.modelCalls).toBeLessThanOrEqual(3);
    expect(w.executor.cancel('r1')).toBe(false);
  });

  it('the executor stays usable after a cancelled run', async () => {
    const w = makeWorld();
    await w.executor.run(pipeline(), { signal: AbortSignal.abort() });
    const r = await w.executor.run(pipeline('check', 2));
    expect(r.status).toBe('finished');
    expect(Array.from((r.outputs.get('out')!.latent as Tensor).data)).toEqual([2, 2, 2, 2]);
  });
});
