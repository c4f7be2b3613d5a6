/** Runs one Engine inside a worker thread, so sampling never blocks the app's main thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from '../engine.ts';
import { toWireError, toWireEvent } from '../wire-messages.ts';
import type { WorkerInit, WorkerMessage, WorkerRequest } from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('engine-worker must run in a worker thread');
const engine = new Engine(workerData as WorkerInit);

engine.subscribe((e) => port.postMessage({ kind: 'event', event: toWireEvent(e) } satisfies WorkerMessage));

port.on('message', async (req: WorkerRequest) => {
  try {
    const fn = engine[req.method] as (...a: unknown[]) => Promise<unknown>;
    const value = await fn.apply(engine, req.args);
    port.postMessage({ kind: 'reply', id: req.id, ok: true, value } satisfies WorkerMessage);
  } catch (e) {
    port.postMessage({ kind: 'reply', id: req.id, ok: false, error: toWireError(e) } satisfies WorkerMessage);
  }
});

port.postMessage({ kind: 'ready' } satisfies WorkerMessage);
