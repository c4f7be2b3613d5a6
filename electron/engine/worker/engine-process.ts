/**
 * The engine worker as a process of its own: a Node child process (processHost, `child_process.fork`
 * with V8 serialization) or an Electron utility process (utilityProcessHost), told apart by Electron's
 * `process.parentPort`. A native crash here (ONNX Runtime, a GPU driver) ends this process only.
 */
import { serveEngine, type ParentChannel } from './engine-service.ts';
import type { WorkerInbound, WorkerMessage } from './protocol.ts';
import { toWireError } from '../wire-messages.ts';

/** Exit code after an exception nothing caught (EX_SOFTWARE). */
const FATAL_EXIT_CODE = 70;

/** Electron's ParentPort, as much of it as this uses. */
interface ElectronParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
}

/** The channel, and a way to send one last message before exiting. */
function channel(): ParentChannel & { postThenExit(m: WorkerMessage, code: number): void } {
  const electronPort = (process as { parentPort?: ElectronParentPort }).parentPort;
  if (electronPort) {
    return {
      post: (m) => electronPort.postMessage(m),
      onMessage: (listener) => electronPort.on('message', (e) => listener(e.data as WorkerInbound)),
      exit: () => process.exit(0),
      postThenExit: (m, code) => {
        electronPort.postMessage(m);
        setTimeout(() => process.exit(code), 100); // the port has no delivery callback
      },
    };
  }
  const send = process.send?.bind(process);
  if (!send) throw new Error('engine-process must run as a child process with an IPC channel (or an Electron utility process)');
  // The app is gone (even killed): nothing is left to answer, and an engine must not outlive its app.
  process.on('disconnect', () => process.exit(0));
  return {
    post: (m: WorkerMessage) => void send(m),
    onMessage: (listener) => process.on('message', (m) => listener(m as WorkerInbound)),
    exit: () => process.exit(0),
    postThenExit: (m, code) => void send(m, () => process.exit(code)),
  };
}

const parent = channel();
// Ctrl+C in a terminal reaches the whole process group: the app decides when its engine ends (it closes it
// on its own SIGINT), so a run is not cut short as a crash while the app is still shutting down.
process.on('SIGINT', () => undefined);
// The app learns why, not only that the process ended.
process.on('uncaughtException', (e) => parent.postThenExit({ kind: 'fatal', error: toWireError(e) }, FATAL_EXIT_CODE));
serveEngine(parent);
