/**
 * The engine worker as a thread of this process: starts fastest, but a native crash in it ends the app too.
 * It is stopped by a message, never by Worker.terminate(): terminating a thread while onnxruntime-node
 * runs a model in it aborts the whole process. The message is handled between model calls.
 */
import { Worker } from 'node:worker_threads';
import type { EngineHost, EngineHostFactory } from './engine-host.ts';

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
      await exited;
    },
  };
};
