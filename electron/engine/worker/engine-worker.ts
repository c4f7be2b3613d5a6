/** Runs one Engine inside a worker thread, so sampling never blocks the app's main thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from '../engine.ts';
import type { EngineEvent } from '../events.ts';
import type { WireEvent, WorkerInit, WorkerMessage, WorkerRequest } from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('engine-worker must run in a worker thread');
const engine = new Engine(workerData as WorkerInit);

function toWire(e: EngineEvent): WireEvent {
  if (e.type !== 'node-preview') return e;
  return { ...e, preview: { dims: [...e.preview.dims], data: e.preview.data.slice() } };
}

engine.subscribe((e) => port.postMessage({ kind: 'event', event: toWire(e) } satisfies WorkerMessage));

port.on('message', async (req: WorkerRequest) => {
  try {
    const fn = engine[req.method] as (...a: unknown[]) => Promise<unknown>;
    const value = await fn.apply(engine, req.args);
    port.postMessage({ kind: 'reply', id: req.id, ok: true, value } satisfies WorkerMessage);
  } catch (e) {
    const err = e as Error & { errors?: unknown };
    port.postMessage({
      kind: 'reply',
      id: req.id,
      ok: false,
      error: { name: err.name ?? 'Error', message: err.message ?? String(e), errors: err.errors },
    } satisfies WorkerMessage);
  }
});

port.postMessage({ kind: 'ready' } satisfies WorkerMessage);
