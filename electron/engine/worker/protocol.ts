/** Messages between the app and the engine worker (a thread or a process, see engine-host.ts). */
import type { EngineOptions } from '../engine.ts';
import type { WireError, WireEvent } from '../wire-messages.ts';

export type EngineMethod = 'listNodeTypes' | 'validate' | 'checkFiles' | 'run' | 'cancel' | 'listModels' | 'readOutput' | 'freeMemory' | 'memoryStatus' | 'systemInfo' | 'allowReadFolder';

export type WorkerInit = Omit<EngineOptions, 'registry'>;

export interface WorkerRequest {
  kind: 'call';
  id: number;
  method: EngineMethod;
  args: unknown[];
}

/** To the worker: its options once, first, then calls; 'stop' ends it between two model calls. */
export type WorkerInbound = { kind: 'init'; init: WorkerInit } | WorkerRequest | { kind: 'stop' };

/** From the worker. */
export type WorkerMessage =
  | { kind: 'ready' }
  | { kind: 'start-failed'; error: WireError }
  /** An exception nothing caught, just before a worker process exits (a thread's 'error' event says it). */
  | { kind: 'fatal'; error: WireError }
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: WireError }
  | { kind: 'event'; event: WireEvent };
