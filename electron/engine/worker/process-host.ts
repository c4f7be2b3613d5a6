/**
 * The engine worker as a Node child process (`flowstudio serve`, and anything else run by plain Node).
 * V8 serialization carries what a thread's postMessage does (typed arrays, non-finite numbers). The child
 * exits when its IPC channel closes, so it never outlives the app, even one that was killed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EngineHost, EngineHostFactory, HostHandlers } from './engine-host.ts';

export const ENGINE_PROCESS_ENTRY = fileURLToPath(new URL('./engine-process-entry.mjs', import.meta.url));

/** How long terminate() waits after SIGTERM before SIGKILL (a process stuck in native code). */
const KILL_AFTER_MS = 3000;

/**
 * `execArgv`: Node flags for the engine process. None by default: the entry registers its own loader, and
 * the flags this process was started with (a test runner's, a debugger's) have no place there.
 */
export function createProcessHost(options: { execArgv?: string[] } = {}): EngineHostFactory {
  return (handlers) => startProcess(handlers, options.execArgv ?? []);
}

export const processHost: EngineHostFactory = createProcessHost();

function startProcess(handlers: HostHandlers, execArgv: string[]): EngineHost {
  const child: ChildProcess = fork(ENGINE_PROCESS_ENTRY, [], { serialization: 'advanced', execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let ended = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      ended = true;
      resolve();
      handlers.exit({ code, signal });
    });
  });
  child.on('message', (m) => handlers.message(m as Parameters<typeof handlers.message>[0]));
  child.on('error', (e) => {
    // A process that never started emits 'error' and no 'exit': say it ended, so calls do not wait forever.
    // Other errors (a signal that could not be sent) leave 'exit' to say what happened.
    if (child.pid !== undefined || ended) return;
    handlers.error(e);
    ended = true;
    handlers.exit({ code: null });
  });
  return {
    label: 'process',
    get pid() {
      return child.pid;
    },
    post: (m) => {
      // A message to a process that is ending fails (EPIPE): its 'exit' says why, and fails the call.
      if (child.connected) child.send(m, (err) => void err);
    },
    terminate: async () => {
      if (ended) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}
