/**
 * EngineAPI over a worker thread: what the desktop app's main process (and the local server) use,
 * so a long sampler loop never stalls IPC or the UI.
 */
import { Worker } from 'node:worker_threads';
import type { EngineAPI, ReadFolderGrant, FreeMemoryRequest, MemoryReport, MemoryStatus, ModelInfo, RunRequest, RunSummary, SystemInfo } from '../api.ts';
import type { EngineEventListener } from '../events.ts';
import type { OutputValue } from '../summary.ts';
import type { NodeTypeDescription } from '../graph/describe.ts';
import type { GraphError } from '../graph/errors.ts';
import type { EngineMethod, WorkerInit, WorkerMessage } from './protocol.ts';
import { fromWireEvent } from '../wire-messages.ts';
import { disableOrtTelemetry } from '../onnx/telemetry.ts';

/** A worker that dies this many times within RESTART_WINDOW_MS is not started again (it cannot start). */
const MAX_QUICK_RESTARTS = 3;
const RESTART_WINDOW_MS = 10_000;

export class WorkerEngine implements EngineAPI, ReadFolderGrant {
  private worker!: Worker;
  private ready!: Promise<void>;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<EngineEventListener>();
  private nextId = 1;
  private exited = false;
  private closing = false;
  /** When the worker died unexpectedly, recently: the next call starts a fresh one unless these pile up. */
  private readonly crashes: number[] = [];

  /** A copy: allowReadFolder adds to its read roots. */
  private readonly init: WorkerInit;

  constructor(init: WorkerInit = {}) {
    this.init = { ...init };
    // The worker's sessions read the real process environment, which only this thread can set.
    disableOrtTelemetry();
    this.start();
  }

  /**
   * Starts a worker and wires it. Events of a worker that has been replaced are ignored. A worker that
   * dies unexpectedly (an exception nothing caught, out of memory) fails the calls in flight, and the next
   * call starts a fresh engine: models and cached outputs are gone, the app and the user's graphs are not.
   */
  private start(): void {
    const worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: this.init });
    this.worker = worker;
    this.exited = false;
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (m: WorkerMessage) => {
        if (m.kind === 'ready') resolve();
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`engine worker exited while starting (code ${code})`)));
    });
    this.ready.catch(() => undefined); // reported by the call that awaits it
    worker.on('message', (m: WorkerMessage) => {
      if (worker === this.worker) this.onMessage(m);
    });
    worker.on('error', (e) => {
      if (worker === this.worker) this.failAll(e);
    });
    worker.on('exit', (code) => {
      if (worker !== this.worker) return;
      this.exited = true;
      if (!this.closing) this.crashes.push(Date.now());
      const next = this.mayRestart() ? 'the next request starts a fresh engine' : `it died ${MAX_QUICK_RESTARTS} times within ${RESTART_WINDOW_MS / 1000} s and is not started again`;
      // terminate() exits with code 1 too: say which it was, so a run cut short by quitting is not read as a crash.
      this.failAll(new Error(this.closing ? 'the engine was closed' : `engine worker exited (code ${code}); ${next}`));
    });
  }

  private onMessage(m: WorkerMessage): void {
    if (m.kind === 'event') {
      const e = fromWireEvent(m.event);
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
    if (this.exited && !this.closing) this.restart();
    await this.ready;
    if (this.exited) throw new Error(this.closing ? 'engine worker has exited' : 'engine worker has exited and could not be started again');
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
  memoryStatus(): Promise<MemoryStatus> {
    return this.call('memoryStatus');
  }
  systemInfo(): Promise<SystemInfo> {
    return this.call('systemInfo');
  }
  /** ReadFolderGrant; remembered, so a worker started again after a crash has it too. */
  allowReadFolder(dir: string): Promise<void> {
    const roots = this.init.readRoots ?? [];
    if (!roots.includes(dir)) this.init.readRoots = [...roots, dir];
    return this.call('allowReadFolder', dir);
  }
  subscribe(listener: EngineEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Fewer than MAX_QUICK_RESTARTS deaths within the window. */
  private mayRestart(): boolean {
    const now = Date.now();
    while (this.crashes.length && now - this.crashes[0] > RESTART_WINDOW_MS) this.crashes.shift();
    return this.crashes.length < MAX_QUICK_RESTARTS;
  }

  private restart(): void {
    if (this.mayRestart()) this.start();
  }

  /** Stops the worker (its engine's sessions go with it). */
  async close(): Promise<void> {
    this.closing = true;
    if (!this.exited) await this.worker.terminate();
  }
}
