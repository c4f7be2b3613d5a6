/** The engine worker as a thread of the app's process (threadHost). */
import { parentPort } from 'node:worker_threads';
import { serveEngine } from './engine-service.ts';

const port = parentPort;
if (!port) throw new Error('engine-worker must run in a worker thread');
serveEngine({ post: (m) => port.postMessage(m), onMessage: (listener) => port.on('message', listener), exit: () => process.exit(0) });
