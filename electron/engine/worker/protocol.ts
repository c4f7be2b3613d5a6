/** Messages between the app's main thread and the engine worker. */
import type { EngineEvent } from '../events.ts';
import type { EngineOptions } from '../engine.ts';

export type EngineMethod = 'listNodeTypes' | 'validate' | 'run' | 'cancel' | 'listModels' | 'readOutput' | 'freeMemory' | 'memoryStatus' | 'systemInfo';

export interface WorkerRequest {
  id: number;
  method: EngineMethod;
  args: unknown[];
}

export type WorkerMessage =
  | { kind: 'ready' }
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: { name: string; message: string; errors?: unknown } }
  | { kind: 'event'; event: WireEvent };

/** Events with tensors flattened to structured-clone-friendly data. */
export type WireEvent =
  | Exclude<EngineEvent, { type: 'node-preview' }>
  | (Omit<Extract<EngineEvent, { type: 'node-preview' }>, 'preview'> & { preview: { dims: number[]; data: Float32Array } });

export type WorkerInit = Omit<EngineOptions, 'registry'>;
