/**
 * The engine worker as a thread of this process: starts fastest, but a native crash in it ends the app too.
 * It is stopped by a message, never by Worker.terminate(): terminating a thread while onnxruntime-node
 * runs a model in it aborts the whole process. The message is handled between model calls.
 */
import { Worker } from 'node:worker_threads';
import type { EngineHost, EngineHostFactory } from './engine-host.ts';

/**
 * How long terminate() waits for the thread to stop by itself before terminating it: only a thread stuck
 * in JavaScript, or in one very long model call, takes that long (the latter may then abort the process).
 */
const FORCE_AFTER_MS = 10_000;

export const threadHost: EngineHostFactory = (handlers): EngineHost => {
  const worker = new Worker(new URL('./worker-entry.mjs', import.meta.url));
  worker.on('message', handlers.message);
  worker.on('error', handlers.error);
  let ended = false;
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      ended = true;
      resolve();
      handlers.exit({ code });
    }),
  );
  return {
    label: 'worker',
    post: (m) => worker.postMessage(m),
    terminate: async () => {
      if (ended) return;
      worker.postMessage({ kind: 'stop' });
      const timer = setTimeout(() => void worker.terminate(), FORCE_AFTER_MS);
      await exited;
      clearTimeout(timer);
    },
  };
};
