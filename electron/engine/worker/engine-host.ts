/**
 * Where the engine worker runs, seen from the app: a thread of the app's process (threadHost) or a
 * process of its own (processHost here; utilityProcessHost for Electron in electron/desktop/). A process
 * survives what a thread cannot: a native crash in ONNX Runtime or a GPU driver ends the whole process it
 * happens in, so in a thread it would take the app (and the user's unsaved graph) down with it.
 */
import type { WorkerInbound, WorkerMessage } from './protocol.ts';

/** How a worker ended: a code, or the signal that ended it (POSIX processes). */
export interface HostExit {
  code: number | null;
  signal?: string | null;
}

export interface HostHandlers {
  message(m: WorkerMessage): void;
  /** A failure the host reports on its own (a thread's uncaught exception, a process that cannot start). */
  error(e: Error): void;
  /** Once, when the worker has ended, for whatever reason. */
  exit(how: HostExit): void;
}

export interface EngineHost {
  /** How messages name it: 'worker' (a thread) or 'process'. */
  readonly label: 'worker' | 'process';
  /** The worker process's id; absent for a thread. */
  readonly pid?: number;
  post(message: WorkerInbound): void;
  /** Ends the worker; resolves once it has ended. */
  terminate(): Promise<void>;
}

/** Starts a worker wired to `handlers`. */
export type EngineHostFactory = (handlers: HostHandlers) => EngineHost;

/** Signals a process dies of when its own code faults (native code, or an abort()). */
const CRASH_SIGNALS = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGTRAP']);

/**
 * Windows has no signals: a process that faults exits with its exception's NTSTATUS code, which Node reports
 * unsigned (and some callers signed).
 */
const WINDOWS_CRASH_CODES: Record<number, string> = {
  0xc0000005: 'access violation',
  0xc000001d: 'illegal instruction',
  0xc0000094: 'integer division by zero',
  0xc00000fd: 'stack overflow',
  0xc0000409: 'abort or stack buffer overrun',
  0xc0000374: 'heap corruption',
};

/** "crashed (SIGSEGV)", "was killed (SIGKILL, ...)", "exited (code 1)": the words after "engine process". */
export function describeExit(how: HostExit): string {
  const windowsCrash = how.code === null ? undefined : WINDOWS_CRASH_CODES[how.code >>> 0];
  if (windowsCrash) return `crashed (${windowsCrash}, 0x${(how.code! >>> 0).toString(16).toUpperCase()})`;
  const signal = how.signal ?? null;
  if (signal && CRASH_SIGNALS.has(signal)) return `crashed (${signal})`;
  // Linux's out-of-memory killer sends SIGKILL, and nothing else in FlowStudio does.
  if (signal === 'SIGKILL') return 'was killed (SIGKILL; the system may have run out of memory)';
  if (signal) return `was stopped (${signal})`;
  return `exited (code ${how.code})`;
}
