/**
 * The worker's side of the engine worker, whatever holds it (a thread, a Node child process, an Electron
 * utility process): it builds the Engine from the first message and answers calls with replies.
 */
import { Engine } from '../engine.ts';
import { toWireError, toWireEvent } from '../wire-messages.ts';
import type { WorkerInbound, WorkerMessage } from './protocol.ts';

/** How the worker talks to the app. */
export interface ParentChannel {
  post(message: WorkerMessage): void;
  onMessage(listener: (message: WorkerInbound) => void): void;
  /** Ends the worker now (process.exit, which in a worker thread ends the thread). */
  exit(): void;
}

export function serveEngine(channel: ParentChannel): void {
  let engine: Engine | undefined;
  channel.onMessage(async (m) => {
    // Handled between two model calls: onnxruntime-node runs a model synchronously on this thread, so
    // nothing native is in progress here. A thread terminated from outside during a model call aborts
    // the whole process instead ('terminate called after throwing an instance of Napi::Error').
    if (m.kind === 'stop') return channel.exit();
    if (m.kind === 'init') {
      try {
        engine = new Engine(m.init);
      } catch (e) {
        channel.post({ kind: 'start-failed', error: toWireError(e) });
        return;
      }
      engine.subscribe((e) => channel.post({ kind: 'event', event: toWireEvent(e) }));
      channel.post({ kind: 'ready' });
      return;
    }
    try {
      if (!engine) throw new Error('internal: the engine worker got a call before its options');
      const fn = engine[m.method] as (...a: unknown[]) => Promise<unknown>;
      const value = await fn.apply(engine, m.args);
      channel.post({ kind: 'reply', id: m.id, ok: true, value });
    } catch (e) {
      channel.post({ kind: 'reply', id: m.id, ok: false, error: toWireError(e) });
    }
  });
}
