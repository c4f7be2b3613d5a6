/**
 * Electron's utilityProcess for tests, over a Node child process: the same fork(modulePath, args,
 * options) call, a UtilityProcess-shaped object ('spawn', 'message', 'exit' with a code only;
 * postMessage, kill, pid) and, in the child, `process.parentPort` (electron-parent-port.mjs).
 */
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const PARENT_PORT_SHIM = fileURLToPath(new URL('./electron-parent-port.mjs', import.meta.url));

export class FakeUtilityProcessChild extends EventEmitter {
  pid: number | undefined;
  constructor(private readonly child: ReturnType<typeof fork>) {
    super();
    this.pid = child.pid;
    child.once('spawn', () => this.emit('spawn'));
    child.on('message', (m) => this.emit('message', m));
    child.once('exit', (code, signal) => {
      this.pid = undefined;
      // Electron's 'exit' has a number only. A signal reads here as a shell shows it, 128 + its number;
      // Electron's number for a crash may differ, and nothing the app says depends on it.
      this.emit('exit', code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0));
    });
  }
  postMessage(message: unknown): void {
    this.child.send(message as object);
  }
  kill(): boolean {
    return this.child.kill('SIGTERM');
  }
  stdout = null;
  stderr = null;
}

export function fakeUtilityProcess() {
  const forked: FakeUtilityProcessChild[] = [];
  return {
    forked,
    fork(modulePath: string, args: string[] = [], options: { stdio?: unknown; serviceName?: string } = {}) {
      void options;
      const child = new FakeUtilityProcessChild(fork(modulePath, args, { serialization: 'advanced', execArgv: ['--import', PARENT_PORT_SHIM], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
      forked.push(child);
      return child;
    },
  };
}
