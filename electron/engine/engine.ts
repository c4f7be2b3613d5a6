/**
 * The engine as a library: registry + session pool + model service + executor behind the EngineAPI.
 * Transports (CLI, local server, Electron IPC) wrap one Engine; they add nothing but framing.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { EngineAPI, FreeMemoryRequest, MemoryReport, MemoryStatus, MissingFile, ModelInfo, RunRequest, RunSummary, SystemInfo } from './api.ts';
import type { EngineEvent, EngineEventListener } from './events.ts';
import { GraphValidationError, type GraphError } from './graph/errors.ts';
import { describeRegistry } from './graph/describe.ts';
import { parseGraphValue } from './graph/io.ts';
import type { GraphDocument } from './graph/schema.ts';
import { validateGraph } from './graph/validate.ts';
import { Executor, type RunResult } from './executor/executor.ts';
import type { PreparedRun } from './executor/prepare-run.ts';
import { PreparedRuns } from './executor/prepared-runs.ts';
import { createFileService } from './files.ts';
import { EMBEDDED_MODELS, ensureEmbeddedModel } from './models/embedded.ts';
import { OnnxModelService } from './models/model-service.ts';
import { SessionPool, useClockNow } from './onnx/session-pool.ts';
import { defaultCacheDir, EXAMPLES_DIR } from './paths.ts';
import type { NodeRegistry } from './registry.ts';
import { createDefaultRegistry } from '../../nodes/index.ts';
import { summarizeValue, type OutputValue, type ValueSummary } from './summary.ts';
import { RecentOutputs } from './recent-outputs.ts';
import { sweepStaleSpillDirsOnce } from './executor/spill-sweep.ts';
import { systemInfoOnce } from './system-info.ts';
import { abbreviate } from '../../nodes/core/quote.ts';
import type { ParamSpec } from '../../nodes/core/types.ts';

export interface EngineOptions {
  /** Generated models and spilled cache entries. Default: FLOWSTUDIO_CACHE_DIR or ~/.cache/flowstudio. */
  cacheDir?: string;
  /** Where runs write outputs. Default: ./out. */
  outDir?: string;
  /** Execution-provider preference, e.g. ['cuda', 'cpu']. Default: every available one, GPU first. */
  providers?: string[];
  /** Folders graphs may read files from (besides the examples and the cache). */
  readRoots?: string[];
  /** Extra folders graphs may write to (besides outDir). */
  writeRoots?: string[];
  /** In-memory output cache bound. */
  cacheMaxBytes?: number;
  /** ONNX sessions kept loaded at most; the least recently run idle ones are unloaded past it (default 16). */
  maxLoadedModels?: number;
  /** Model bytes (files on disk) kept loaded at most, with the same rule (default half the machine's memory). */
  maxLoadedModelBytes?: number;
  /** How many recent runs keep their outputs for readOutput (default 4). */
  keptRuns?: number;
  /** Bytes those runs may hold together (default 1 GiB); the latest run is kept whatever its size. */
  keptRunsMaxBytes?: number;
  registry?: NodeRegistry;
}

export class Engine implements EngineAPI {
  readonly registry: NodeRegistry;
  readonly pool: SessionPool;
  readonly models: OnnxModelService;
  readonly executor: Executor;
  readonly cacheDir: string;
  readonly outDir: string;
  /** Grows by allowReadFolder; every file service reads it afresh. */
  private readonly readRoots: string[];
  private readonly writeRoots: string[];
  private readonly listeners = new Set<EngineEventListener>();
  private readonly running = new Map<string, AbortController>();
  /** Per run in progress (or queued), the session clock when it was asked for: freeMemory keeps what it ran. */
  private readonly runsSince = new Map<string, number>();
  private readonly system: () => Promise<SystemInfo>;
  private readonly recent: RecentOutputs;
  private readonly prepared = new PreparedRuns();

  constructor(opts: EngineOptions = {}) {
    this.cacheDir = path.resolve(opts.cacheDir ?? defaultCacheDir());
    this.outDir = path.resolve(opts.outDir ?? 'out');
    this.readRoots = [EXAMPLES_DIR, this.cacheDir, this.outDir, ...(opts.readRoots ?? []).map((p) => path.resolve(p))];
    this.writeRoots = (opts.writeRoots ?? []).map((p) => path.resolve(p));
    this.registry = opts.registry ?? createDefaultRegistry();
    this.recent = new RecentOutputs(opts.keptRuns, opts.keptRunsMaxBytes);
    this.pool = new SessionPool({ providers: opts.providers, maxLoadedSessions: opts.maxLoadedModels, maxLoadedBytes: opts.maxLoadedModelBytes });
    this.models = new OnnxModelService({
      pool: this.pool,
      cacheDir: this.cacheDir,
      providers: opts.providers,
      resolveRead: (p) => this.fileService(this.outDir).resolveRead(p),
    });
    this.executor = new Executor({
      registry: this.registry,
      models: this.models,
      files: () => this.fileService(this.outDir),
      cache: { maxBytes: opts.cacheMaxBytes, spillDir: path.join(this.cacheDir, 'spill', String(process.pid)) },
    });
    sweepStaleSpillDirsOnce(path.join(this.cacheDir, 'spill'), (message, e) => console.warn(`[engine] ${message}:`, e));
    this.system = systemInfoOnce({ cacheDir: this.cacheDir, outDir: this.outDir });
  }

  /** ReadFolderGrant: for the app's own code only (see api.ts); no transport exposes it. */
  async allowReadFolder(dir: string): Promise<void> {
    const resolved = path.resolve(dir);
    if (!this.readRoots.includes(resolved)) this.readRoots.push(resolved);
  }

  private fileService(outDir: string) {
    return createFileService({ outDir, readRoots: this.readRoots, writeRoots: this.writeRoots });
  }

  async listNodeTypes() {
    return describeRegistry(this.registry);
  }

  async validate(graph: unknown): Promise<GraphError[]> {
    try {
      return validateGraph(parseGraphValue(graph), this.registry);
    } catch (e) {
      if (e instanceof GraphValidationError) return e.errors;
      throw e;
    }
  }

  async checkFiles(graph: unknown): Promise<MissingFile[]> {
    const doc = parseGraphValue(graph);
    const files = this.fileService(this.outDir);
    const missing: MissingFile[] = [];
    for (const node of doc.nodes) {
      const def = this.registry.get(node.type);
      if (!def) continue; // validation's to report
      for (const [param, spec] of Object.entries(def.params as Record<string, ParamSpec>)) {
        if (spec.kind !== 'file' || spec.mode !== 'read') continue;
        const value = node.params[param] ?? spec.default;
        // An empty file param is the node's own error ("no model given"), not a missing file.
        if (typeof value !== 'string' || value.trim() === '') continue;
        try {
          // A model is located and its layout checked (no session is loaded); any other file through the path check.
          if (spec.fileKind === 'model') await this.models.stamp(value);
          else files.resolveRead(value);
        } catch (e) {
          missing.push({ nodeId: node.id, nodeType: node.type, param, value, fileKind: spec.fileKind, message: e instanceof Error ? e.message : String(e) });
        }
      }
    }
    return missing;
  }

  /** Parses and migrates a graph, throwing GraphValidationError on any error. */
  load(graph: unknown): GraphDocument {
    return parseGraphValue(graph);
  }

  subscribe(listener: EngineEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: EngineEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a broken listener must not break a run
      }
    }
  }

  async cancel(runId: string): Promise<boolean> {
    const c = this.running.get(runId);
    if (!c) return false;
    c.abort();
    return true;
  }

  /** Runs and returns the live result (tensors included): for in-process callers such as the CLI and tests. */
  async execute(request: RunRequest & { signal?: AbortSignal }): Promise<{ summary: RunSummary; result?: RunResult }> {
    const runId = request.runId ?? randomUUID();
    const started = performance.now();
    let prepared: PreparedRun;
    try {
      prepared = this.prepare(request);
    } catch (e) {
      if (e instanceof GraphValidationError) return { summary: this.invalid(runId, started, e.errors) };
      throw e;
    }
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    request.signal?.addEventListener('abort', onAbort);
    if (request.signal?.aborted) controller.abort();
    this.running.set(runId, controller);
    this.runsSince.set(runId, useClockNow());
    try {
      const result = await this.executor.runPrepared(prepared, {
        runId,
        controller,
        onEvent: (e) => this.emit(e),
      });
      this.recent.remember(result.runId, result.outputs);
      return { summary: this.summarize(result, started), result };
    } catch (e) {
      if (e instanceof GraphValidationError) return { summary: this.invalid(runId, started, e.errors) };
      throw e;
    } finally {
      this.running.delete(runId);
      this.runsSince.delete(runId);
      request.signal?.removeEventListener('abort', onAbort);
    }
  }

  async run(request: RunRequest): Promise<RunSummary> {
    return (await this.execute(request)).summary;
  }

  async readOutput(runId: string, nodeId: string, port: string): Promise<OutputValue | null> {
    for (const [name, v] of [['runId', runId], ['nodeId', nodeId], ['port', port]]) {
      if (typeof v !== 'string' || v === '') throw Object.assign(new Error(`readOutput: ${name} must be a non-empty string`), { name: 'BadRequestError' });
    }
    return this.recent.read(runId, nodeId, port);
  }

  async listModels(): Promise<ModelInfo[]> {
    return Promise.all(
      EMBEDDED_MODELS.map(async (m) => ({
        ref: `embedded:${m.name}`,
        name: m.name,
        description: m.description,
        kind: m.kind,
        folder: await ensureEmbeddedModel(m.name, this.cacheDir),
      })),
    );
  }

  async freeMemory(request: FreeMemoryRequest = {}): Promise<MemoryReport> {
    const what = checkFreeMemoryRequest(request);
    const held = this.executor.cache.stats;
    if (what.cache) await this.executor.clearCache();
    // Models a run in progress has called stay: it would only load them again at its next step.
    const modelsUnloaded = what.models ? this.pool.unloadIdle(undefined, Math.min(...this.runsSince.values())) : 0;
    return {
      modelsUnloaded,
      modelsLoaded: this.pool.loadedNow().count,
      cacheBytesFreed: what.cache ? held.bytesInMemory + held.bytesOnDisk : 0,
    };
  }

  async memoryStatus(): Promise<MemoryStatus> {
    const models = this.pool.loadedNow();
    const cache = this.executor.cache.stats;
    return { modelsLoaded: models.count, modelBytes: models.bytes, cacheBytes: cache.bytesInMemory, cacheBytesOnDisk: cache.bytesOnDisk };
  }

  systemInfo(): Promise<SystemInfo> {
    return this.system();
  }

  async dispose(): Promise<void> {
    for (const c of this.running.values()) c.abort();
    this.executor.clearCache();
    this.recent.clear();
    await this.pool.dispose();
  }

  /** Parses, validates and plans a request, or reuses the plan of an identical earlier request. */
  private prepare(request: RunRequest): PreparedRun {
    const key = this.prepared.keyOf(request);
    const hit = key === undefined ? undefined : this.prepared.get(key);
    if (hit) return hit;
    const plan = this.executor.prepare(parseGraphValue(request.graph), { targets: request.targets, force: request.force });
    if (key !== undefined) this.prepared.set(key, plan);
    return plan;
  }

  private invalid(runId: string, started: number, errors: GraphError[]): RunSummary {
    return { runId, status: 'invalid', ms: performance.now() - started, outDir: this.outDir, errors, nodes: {}, outputs: {} };
  }

  private summarize(r: RunResult, started: number): RunSummary {
    const outputs: Record<string, Record<string, ValueSummary>> = {};
    for (const [nodeId, ports] of r.outputs) {
      outputs[nodeId] = {};
      for (const [port, v] of Object.entries(ports)) outputs[nodeId][port] = summarizeValue(v);
    }
    return {
      runId: r.runId,
      status: r.status,
      ms: performance.now() - started,
      outDir: this.outDir,
      error: r.error,
      nodes: r.nodes,
      outputs,
    };
  }
}

/** A freeMemory request from any transport: an object whose keys, when given, are booleans. */
function checkFreeMemoryRequest(request: unknown): Required<FreeMemoryRequest> {
  const bad = (why: string) => Object.assign(new Error(`freeMemory: ${why}`), { name: 'BadRequestError' });
  if (request === undefined || request === null) return { models: true, cache: true };
  if (typeof request !== 'object' || Array.isArray(request)) throw bad('the request must be an object like {"models": true, "cache": false}');
  const r = request as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (key !== 'models' && key !== 'cache') throw bad(`unknown option "${abbreviate(key, 60)}" (known: models, cache)`);
    if (typeof r[key] !== 'boolean') throw bad(`"${key}" must be true or false`);
  }
  return { models: r.models !== false, cache: r.cache !== false };
}
