/** Messages between the app's main thread and the engine worker. */
import type { EngineOptions } from '../engine.ts';
import type { WireError, WireEvent } from '../wire-messages.ts';

export type EngineMethod = 'listNodeTypes' | 'validate' | 'run' | 'cancel' | 'listModels' | 'readOutput' | 'freeMemory' | 'memoryStatus' | 'systemInfo' | 'allowReadFolder';

export interface WorkerRequest {
  id: number;
  method: EngineMethod;
  args: unknown[];
}

export type WorkerMessage =
  | { kind: 'ready' }
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: WireError }
  | { kind: 'event'; event: WireEvent };

export type WorkerInit = Omit<EngineOptions, 'registry'>;
