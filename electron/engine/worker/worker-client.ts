/**
 * EngineAPI over a worker thread: what the desktop app's main process (and the local server) use,
 * so a long sampler loop never stalls IPC or the UI.
 */
import { Worker } from 'node:worker_threads';
import { Tensor } from '../../../nodes/core/tensor.ts';
import type { EngineAPI, FreeMemoryRequest, MemoryReport, ModelInfo, RunRequest, RunSummary } from '../api.ts';
import type { EngineEvent, EngineEventListener } from '../events.ts';
import type { OutputValue } from '../summary.ts';
import type { NodeTypeDescription } from '../graph/describe.ts';
import type { GraphError } from '../graph/errors.ts';
import type { EngineMethod, WireEvent, WorkerInit, WorkerMessage } from './protocol.ts';
import { disableOrtTelemetry } from '../onnx/telemetry.ts';

function fromWire(e: WireEvent): EngineEvent {
  if (e.type !== 'node-preview') return e;
  return { ...e, preview: new Tensor(e.preview.dims, e.preview.data) };
}

export class WorkerEngine implements EngineAPI {
  private readonly worker: Worker;
  private readonly ready: Promise<void>;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<EngineEventListener>();
  private nextId = 1;
  private exited = false;
  private closing = false;

  constructor(init: WorkerInit = {}) {
    // The worker's sessions read the real process environment, which only this thread can set.
    disableOrtTelemetry();
    this.worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: init });
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (m: WorkerMessage) => {
        if (m.kind === 'ready') resolve();
      };
      this.worker.on('message', onMessage);
      this.worker.once('error', reject);
    });
    this.worker.on('message', (m: WorkerMessage) => this.onMessage(m));
    this.worker.on('error', (e) => this.failAll(e));
    this.worker.on('exit', (code) => {
      this.exited = true;
      // terminate() exits with code 1 too: say which it was, so a run cut short by quitting is not read as a crash.
      this.failAll(new Error(this.closing ? 'the engine was closed' : `engine worker exited (code ${code})`));
    });
  }

  private onMessage(m: WorkerMessage): void {
    if (m.kind === 'event') {
      const e = fromWire(m.event);
      for (const l of this.listeners) {
        try {
          l(e);
        } catch {
          // a broken listener must not break the stream
        }
      }
    } else if (m.kind === 'reply') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(Object.assign(new Error(m.error.message), { name: m.error.name, errors: m.error.errors }));
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private async call<T>(method: EngineMethod, ...args: unknown[]): Promise<T> {
    await this.ready;
    if (this.exited) throw new Error('engine worker has exited');
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, method, args });
    });
  }

  listNodeTypes(): Promise<NodeTypeDescription[]> {
    return this.call('listNodeTypes');
  }
  validate(graph: unknown): Promise<GraphError[]> {
    return this.call('validate', graph);
  }
  run(request: RunRequest): Promise<RunSummary> {
    return this.call('run', request);
  }
  cancel(runId: string): Promise<boolean> {
    return this.call('cancel', runId);
  }
  listModels(): Promise<ModelInfo[]> {
    return this.call('listModels');
  }
  /** Float32Arrays arrive by structured clone (a copy made by the worker). */
  readOutput(runId: string, nodeId: string, port: string): Promise<OutputValue | null> {
    return this.call('readOutput', runId, nodeId, port);
  }
  freeMemory(request?: FreeMemoryRequest): Promise<MemoryReport> {
    return this.call('freeMemory', request);
  }
  subscribe(listener: EngineEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops the worker (its engine's sessions go with it). */
  async close(): Promise<void> {
    this.closing = true;
    if (!this.exited) await this.worker.terminate();
  }
}
