/**
 * EngineAPI over an engine worker: what the desktop app's main process and the local server use, so a long
 * sampler loop never stalls IPC or the UI. The worker is a process of its own by default (processHost;
 * the desktop app passes Electron's utilityProcessHost), so a native crash ends the engine, not the app.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { EngineAPI, EngineCrash, EngineRestart, ReadFolderGrant, FreeMemoryRequest, MemoryReport, MemoryStatus, MissingFile, ModelInfo, RunRequest, RunSummary, SystemInfo } from '../api.ts';
import type { EngineEventListener, EngineEvent } from '../events.ts';
import type { OutputValue } from '../summary.ts';
import type { NodeTypeDescription } from '../graph/describe.ts';
import type { GraphError } from '../graph/errors.ts';
import type { EngineMethod, WorkerInit, WorkerMessage } from './protocol.ts';
import { fromWireEvent, type WireError } from '../wire-messages.ts';
import { disableOrtTelemetry } from '../onnx/telemetry.ts';
import { describeExit, type EngineHost, type EngineHostFactory, type HostExit } from './engine-host.ts';
import { processHost } from './process-host.ts';
import { RunsInFlight } from './runs-in-flight.ts';

/** A worker that dies this many times within RESTART_WINDOW_MS is not started again (it cannot start). */
const MAX_QUICK_RESTARTS = 3;
const RESTART_WINDOW_MS = 10_000;

export interface WorkerEngineOptions {
  /** Where the worker runs. Default: a child process (processHost). */
  host?: EngineHostFactory;
  /** Told each death of the worker (the app keeps a log of them for bug reports). */
  onCrash?: (crash: EngineCrash) => void;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  /** For run calls: a worker that dies mid-run ends the run as failed instead of rejecting. */
  runId?: string;
}

function wireToError(error: WireError): Error {
  return Object.assign(new Error(error.message), { name: error.name, errors: error.errors });
}

export class WorkerEngine implements EngineAPI, ReadFolderGrant, EngineRestart {
  private host!: EngineHost;
  private ready!: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<EngineEventListener>();
  private readonly runs = new RunsInFlight();
  private nextId = 1;
  private exited = false;
  private closing = false;
  /** Set while restart() ends the worker on purpose: its runs end as cancelled, and it is no crash. */
  private restarting = false;
  private restartUnderWay?: Promise<number>;
  /** When the worker died unexpectedly, recently: the next call starts a fresh one unless these pile up. */
  private readonly crashes: number[] = [];
  private readonly hostFactory: EngineHostFactory;
  private readonly onCrash?: (crash: EngineCrash) => void;
  /** This session's deaths: how many, and the last. */
  private crashCount = 0;
  private lastCrash?: EngineCrash;

  /** A copy: allowReadFolder adds to its read roots. */
  private readonly init: WorkerInit;

  constructor(init: WorkerInit = {}, options: WorkerEngineOptions = {}) {
    this.init = { ...init };
    this.hostFactory = options.host ?? processHost;
    this.onCrash = options.onCrash;
    // The worker's sessions read the environment this process gives them.
    disableOrtTelemetry();
    this.start();
  }

  /** The worker process's id while one runs (undefined for a thread): for diagnostics and tests. */
  get pid(): number | undefined {
    return this.exited ? undefined : this.host.pid;
  }

  /**
   * Starts a worker and wires it. Messages of a worker that has been replaced are ignored. A worker that
   * dies unexpectedly (a native crash, an exception nothing caught, out of memory) ends the runs in flight
   * as failed at the node that was running and fails the other calls, and the next call starts a fresh
   * engine: models and cached outputs are gone, the app and the user's graphs are not.
   */
  private start(): void {
    let current = false;
    let fatal: string | undefined;
    let settleReady: { resolve: () => void; reject: (e: Error) => void } | undefined;
    this.ready = new Promise<void>((resolve, reject) => (settleReady = { resolve, reject }));
    this.ready.catch(() => undefined); // reported by the call that awaits it
    const host = this.hostFactory({
      message: (m: WorkerMessage) => {
        if (!current) return;
        if (m.kind === 'ready') settleReady?.resolve();
        else if (m.kind === 'start-failed') settleReady?.reject(wireToError(m.error));
        else if (m.kind === 'fatal') fatal = m.error.message;
        else this.onMessage(m);
      },
      error: (e) => {
        if (current) fatal ??= e.message;
      },
      exit: (how: HostExit) => {
        if (!current) return;
        current = false;
        this.exited = true;
        const label = host.label;
        settleReady?.reject(new Error(`engine ${label} ${describeExit(how)} while starting${fatal ? `: ${fatal}` : ''}`));
        if (this.closing) return this.failAll(new Error('the engine was closed'));
        if (this.restarting) {
          this.endRunsInFlight();
          return this.failAll(new Error('the engine was restarted'));
        }
        this.crashes.push(Date.now());
        const what = `engine ${label} ${describeExit(how)}${fatal ? ` after an error nothing caught (${fatal})` : ''}`;
        const next = this.mayRestart() ? 'the next request starts a fresh engine' : `it died ${MAX_QUICK_RESTARTS} times within ${RESTART_WINDOW_MS / 1000} s and is not started again`;
        const ended = this.endRunsInFlight(`the ${what}`);
        this.failAll(new Error(`${what}; ${next}`));
        this.recordCrash(`the ${what}`, ended);
      },
    });
    current = true;
    this.host = host;
    this.exited = false;
    host.post({ kind: 'init', init: this.init });
  }

  private onMessage(m: Exclude<WorkerMessage, { kind: 'ready' | 'start-failed' | 'fatal' }>): void {
    if (m.kind === 'event') {
      const e = fromWireEvent(m.event);
      this.runs.observe(e);
      this.emit(e);
    } else {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (p.runId !== undefined) this.runs.end(p.runId);
      if (m.ok) p.resolve(m.value);
      else p.reject(wireToError(m.error));
    }
  }

  private emit(e: EngineEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a broken listener must not break the stream
      }
    }
  }

  /**
   * Each run in flight ends with its events and summary: as failed at its running node (`cause`: the worker
   * died), or as cancelled (no cause: a restart stopped it), as runs ending so in the engine do.
   */
  private endRunsInFlight(cause?: string): RunSummary[] {
    const outDir = path.resolve(this.init.outDir ?? 'out');
    const ended: RunSummary[] = [];
    for (const [id, p] of this.pending) {
      if (p.runId === undefined) continue;
      this.pending.delete(id);
      const { events, summary } = cause === undefined ? this.runs.cancel(p.runId, outDir) : this.runs.fail(p.runId, cause, outDir);
      for (const e of events) this.emit(e);
      p.resolve(summary);
      ended.push(summary);
    }
    return ended;
  }

  /** Remembers a death for Engine ▸ System, and tells the app (its crash log). */
  private recordCrash(cause: string, ended: RunSummary[]): void {
    const runs = ended.map((s) => ({ runId: s.runId, ...(s.error?.nodeId !== undefined ? { nodeId: s.error.nodeId } : {}), ...(s.error?.nodeType ? { nodeType: s.error.nodeType } : {}) }));
    this.lastCrash = { at: new Date().toISOString(), cause, runs };
    this.crashCount++;
    try {
      this.onCrash?.(this.lastCrash);
    } catch {
      // a broken log must not break the engine's recovery
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) {
      if (p.runId !== undefined) this.runs.end(p.runId);
      p.reject(e);
    }
    this.pending.clear();
  }

  private async call<T>(method: EngineMethod, args: unknown[], runId?: string): Promise<T> {
    for (;;) {
      if (this.exited && !this.closing) this.startAgainAfterCrash();
      const ready = this.ready;
      try {
        await ready;
      } catch (e) {
        // A worker restarted while this call waited for it to start: the call goes to the fresh one.
        if (this.restartUnderWay) {
          await this.restartUnderWay.catch(() => undefined);
          continue;
        }
        // One that died while starting is started again (by this call or one before it), within the crash
        // rule: a worker that cannot start dies each time, and the third death within the window ends the tries.
        if (this.ready !== ready || (this.exited && !this.closing && this.mayRestart())) continue;
        throw e;
      }
      // Nor is a call sent to a worker being ended by a restart.
      if (!this.restarting) break;
      await this.restartUnderWay?.catch(() => undefined);
    }
    if (this.exited) throw new Error(this.closing ? `engine ${this.host.label} has exited` : `engine ${this.host.label} has exited and could not be started again`);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, runId });
      if (runId !== undefined) this.runs.begin(runId);
      try {
        this.host.post({ kind: 'call', id, method, args });
      } catch (e) {
        // Arguments that cannot be copied across (a function, a class instance in a graph): nothing was sent.
        this.pending.delete(id);
        if (runId !== undefined) this.runs.end(runId);
        reject(e);
      }
    });
  }

  listNodeTypes(): Promise<NodeTypeDescription[]> {
    return this.call('listNodeTypes', []);
  }
  validate(graph: unknown): Promise<GraphError[]> {
    return this.call('validate', [graph]);
  }
  checkFiles(graph: unknown): Promise<MissingFile[]> {
    return this.call('checkFiles', [graph]);
  }
  /** The run id is chosen here when the request has none, so a run cut short by a dying worker is still reported under it. */
  run(request: RunRequest): Promise<RunSummary> {
    // Anything else is the engine's to refuse, with its own words.
    if (request === null || typeof request !== 'object' || Array.isArray(request)) return this.call('run', [request]);
    const withId = request.runId === undefined ? { ...request, runId: randomUUID() } : request;
    return this.call('run', [withId], typeof withId.runId === 'string' ? withId.runId : undefined);
  }
  cancel(runId: string): Promise<boolean> {
    return this.call('cancel', [runId]);
  }
  listModels(): Promise<ModelInfo[]> {
    return this.call('listModels', []);
  }
  /** Float32Arrays arrive copied: by structured clone from a thread, by V8 serialization from a process (a view into the message). */
  readOutput(runId: string, nodeId: string, port: string): Promise<OutputValue | null> {
    return this.call('readOutput', [runId, nodeId, port]);
  }
  freeMemory(request?: FreeMemoryRequest): Promise<MemoryReport> {
    return this.call('freeMemory', [request]);
  }
  memoryStatus(): Promise<MemoryStatus> {
    return this.call('memoryStatus', []);
  }
  /** The engine's report, with where it runs: this worker's kind and process. */
  async systemInfo(): Promise<SystemInfo> {
    const info = await this.call<SystemInfo>('systemInfo', []);
    const runsIn = this.host.label === 'process' ? 'process' : 'thread';
    return { ...info, engine: { runsIn, pid: this.host.pid ?? process.pid, crashes: this.crashCount, ...(this.lastCrash ? { lastCrash: this.lastCrash } : {}) } };
  }
  /** ReadFolderGrant; remembered, so a worker started again after a crash has it too. */
  allowReadFolder(dir: string): Promise<void> {
    const roots = this.init.readRoots ?? [];
    if (!roots.includes(dir)) this.init.readRoots = [...roots, dir];
    return this.call('allowReadFolder', [dir]);
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

  private startAgainAfterCrash(): void {
    if (this.mayRestart()) this.start();
  }

  /**
   * Ends the worker now and starts a fresh one. A process ends at once, even inside a model call; a thread
   * ends after its current model call. Runs in flight end as cancelled; other calls in flight are rejected.
   * Resolves with the number of runs stopped, once the fresh engine takes requests. Not counted as a crash.
   */
  restart(): Promise<number> {
    // One at a time: a second request while one is under way is the same restart.
    this.restartUnderWay ??= this.restartNow().finally(() => (this.restartUnderWay = undefined));
    return this.restartUnderWay;
  }

  private async restartNow(): Promise<number> {
    if (this.closing) throw new Error('the engine was closed');
    const stopped = [...this.pending.values()].filter((p) => p.runId !== undefined).length;
    if (!this.exited) {
      this.restarting = true;
      try {
        await this.host.terminate();
      } finally {
        this.restarting = false;
      }
    }
    // A call made meanwhile may have started the fresh worker already.
    if (this.exited && !this.closing) this.start();
    await this.ready;
    return stopped;
  }

  /** Stops the worker (its engine's sessions go with it). */
  async close(): Promise<void> {
    this.closing = true;
    if (!this.exited) await this.host.terminate();
  }
}
