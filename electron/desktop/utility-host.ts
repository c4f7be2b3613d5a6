/**
 * The engine worker as an Electron utility process: Electron's own way to run Node code out of the main
 * process. A native crash in ONNX Runtime or a GPU driver there ends that process only; the window, the
 * main process and the user's graph stay, and the next request starts a fresh engine.
 */
import type { EngineHost, EngineHostFactory } from '../engine/worker/engine-host.ts';
import { ENGINE_PROCESS_ENTRY } from '../engine/worker/process-host.ts';
import type { WorkerMessage } from '../engine/worker/protocol.ts';

/** How long terminate() waits for the process to end after kill() (SIGTERM on POSIX). */
const TERMINATE_WAIT_MS = 5000;

export type UtilityProcessModule = (typeof import('electron'))['utilityProcess'];

export function utilityProcessHost(utilityProcess: UtilityProcessModule): EngineHostFactory {
  return (handlers): EngineHost => {
    const child = utilityProcess.fork(ENGINE_PROCESS_ENTRY, [], { serviceName: 'FlowStudio engine', stdio: 'inherit' });
    let ended = false;
    // Messages posted before 'spawn' are queued by Electron; nothing to wait for here.
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code) => {
        ended = true;
        resolve();
        handlers.exit({ code });
      });
    });
    child.on('message', (m: unknown) => handlers.message(m as WorkerMessage));
    // A fatal V8 error: 'exit' follows, and says the rest.
    child.on('error', (type: string, location: string) => handlers.error(new Error(`${type} at ${location}`)));
    return {
      label: 'process',
      get pid() {
        return child.pid;
      },
      post: (m) => {
        if (!ended) child.postMessage(m);
      },
      terminate: async () => {
        if (ended) return;
        child.kill();
        await Promise.race([exited, new Promise((r) => setTimeout(r, TERMINATE_WAIT_MS))]);
      },
    };
  };
}
