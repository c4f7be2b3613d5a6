/**
 * The executor: runs what a graph's targets need, in topological order, reusing cached outputs.
 *
 * A run has three phases:
 *   1. keys: every node of the targets' upstream closure gets its cache key (type, version, params, salt
 *      and the keys of its sources; never its id), computed in topological order;
 *   2. plan: walking back from the targets, a node is needed when it is a target or a node that will
 *      execute reads it; a needed node is served from the cache when it can be, otherwise it executes
 *      (side-effect and forced nodes always execute). Cached values are fetched here, so nothing planned
 *      as a hit can be evicted before use, and the upstream of a hit is not run at all;
 *   3. execute: needed nodes in order, with events, cancellation checks between nodes and output checks.
 * Runs on one executor are queued, one at a time: they share the cache and the models.
 */
import { randomUUID } from 'node:crypto';
import type { NodeRegistry } from '../registry.ts';
import type { EngineEventListener } from '../events.ts';
import type { GraphDocument } from '../graph/schema.ts';
import { NodeInputError, type FileService, type ModelService } from '../../../nodes/core/types.ts';
import { cacheKeyFromBase, type InputSource } from './cache-key.ts';
import { OutputCache, type CachedOutputs } from './output-cache.ts';
import { createEmitter, type Emit } from './emitter.ts';
import { createNodeContext, lazy, type RunServices } from './run-context.ts';
import { checkOutputs } from './output-check.ts';
import { compactOutputs } from './compact-outputs.ts';
import { prepareRun, type PreparedRun } from './prepare-run.ts';
import { RunRecord, type RunResult } from './run-record.ts';
import { abortError } from '../abort.ts';

/** The reason a finished run's signal fires with, for work a node left behind. */
const RUN_OVER = abortError('The run is over');

export type { NodeOutcome, RunResult } from './run-record.ts';

export interface ExecutorOptions {
  registry: NodeRegistry;
  models: ModelService;
  /** The file service of one run (its output folder); called at most once per run, on first use. */
  files: (runId: string) => FileService;
  cache?: {
    /** Default 2 GiB. */
    maxBytes?: number;
    spillDir?: string;
    /** Default 64 MiB. */
    spillThresholdBytes?: number;
    /** Default 4 x maxBytes. */
    maxDiskBytes?: number;
  };
  /** Problems that must not fail a run (a throwing event listener, a failed spill). Default console.warn. */
  log?: (message: string, error: unknown) => void;
}

export interface RunOptions {
  /** Node ids to produce; default: every node. */
  targets?: string[];
  /** Re-execute these node ids (or all) even if cached; their fresh outputs replace the cached ones. */
  force?: boolean | string[];
  signal?: AbortSignal;
  /**
   * The run's own controller, from a caller that made one for this run alone (the engine): the executor
   * cancels through it and aborts it when the run ends, with no second controller forwarding `signal`.
   */
  controller?: AbortController;
  onEvent?: EngineEventListener;
  runId?: string;
}

/** A node's failure, carried out of the phases to the one place that reports it. */
class NodeFailure {
  constructor(
    readonly nodeId: string,
    readonly error: unknown,
    readonly ms: number,
  ) {}
}

/** The run's signal fired; `nodeId` is the node it interrupted, if one was executing. */
class RunCancelled {
  constructor(readonly nodeId?: string) {}
}

interface Plan {
  keys: Map<string, string>;
  executes: Set<string>;
  hits: Map<string, { outputs: CachedOutputs; ms: number }>;
}

export class Executor {
  readonly cache: OutputCache;
  private readonly registry: NodeRegistry;
  private readonly models: ModelService;
  private readonly files: (runId: string) => FileService;
  private readonly log: (message: string, error: unknown) => void;
  private queue: Promise<unknown> = Promise.resolve();
  /** Internal abort controllers of queued and running runs, by run id. */
  private readonly live = new Map<string, AbortController>();

  constructor(o: ExecutorOptions) {
    this.registry = o.registry;
    this.models = o.models;
    this.files = o.files;
    this.log = o.log ?? ((message, error) => console.warn(`[executor] ${message}:`, error));
    this.cache = new OutputCache({ ...o.cache, onError: this.log });
  }

  /**
   * Runs the graph (or what `targets` need). Invalid graphs reject with GraphValidationError before
   * anything runs; everything that goes wrong later resolves as a 'failed' or 'cancelled' RunResult.
   */
  async run(doc: GraphDocument, o: RunOptions = {}): Promise<RunResult> {
    return this.runPrepared(this.prepare(doc, o), o);
  }

  /** Validates and plans a document for `run`'s targets and force (see prepareRun); throws GraphValidationError. */
  prepare(doc: GraphDocument, o: Pick<RunOptions, 'targets' | 'force'> = {}): PreparedRun {
    return prepareRun(doc, this.registry, o);
  }

  /**
   * Runs a prepared document. A prepared run is immutable and may be run any number of times; its targets
   * and force come from prepare(), not from `o`.
   */
  async runPrepared(prepared: PreparedRun, o: Omit<RunOptions, 'targets' | 'force'> = {}): Promise<RunResult> {
    const runId = o.runId ?? randomUUID();
    if (this.live.has(runId)) throw new Error(`run id "${runId}" is already in use by a queued or running run`);
    const internal = o.controller ?? new AbortController();
    this.live.set(runId, internal);
    // The caller's signal is forwarded into the run's own (cheaper per run than AbortSignal.any).
    const outer = o.controller ? undefined : o.signal;
    const forward = () => internal.abort(outer?.reason);
    if (outer?.aborted) forward();
    else outer?.addEventListener('abort', forward, { once: true });
    const signal = internal.signal;
    const emit = createEmitter(o.onEvent, this.log);
    const record = new RunRecord(runId, prepared.order, emit);
    const turn = this.queue.then(() => this.execute(prepared, record, signal, emit));
    this.queue = turn.catch(() => undefined);
    try {
      return await turn;
    } finally {
      this.live.delete(runId);
      outer?.removeEventListener('abort', forward);
      // Anything a node left behind that still watches the signal learns the run is over (one shared
      // reason: a fresh DOMException per run costs a stack capture on every run).
      internal.abort(RUN_OVER);
    }
  }

  /** Cancels one queued or running run, or all of them. Returns whether any was cancelled. */
  cancel(runId?: string): boolean {
    const controllers = runId === undefined ? [...this.live.values()] : [this.live.get(runId)].filter((c) => c !== undefined);
    for (const c of controllers) c.abort();
    return controllers.length > 0;
  }

  /** Empties the output cache (memory and spill files). Never rejects. */
  clearCache(): Promise<void> {
    return this.cache.clear();
  }

  private async execute(run: PreparedRun, record: RunRecord, signal: AbortSignal, emit: Emit): Promise<RunResult> {
    const services: RunServices = {
      runId: record.runId,
      signal,
      models: this.models,
      files: lazy(() => this.files(record.runId)),
      graph: run.doc,
      emit,
    };
    try {
      const keys = await this.computeKeys(run, services, signal);
      const plan = await this.plan(run, keys, signal);
      record.start(run.order.filter((id) => plan.executes.has(id) || plan.hits.has(id)));
      await this.executePlan(run, plan, record, services);
      return record.finished();
    } catch (e) {
      if (e instanceof RunCancelled) return record.cancelled(e.nodeId);
      if (e instanceof NodeFailure) {
        const node = { id: e.nodeId, type: run.nodes.get(e.nodeId)!.node.type, ms: e.ms };
        return record.failed(errorMessage(e.error), node);
      }
      // Executor faults, not node failures: still a result, never an unhandled rejection.
      return record.failed(errorMessage(e));
    }
  }

  /** Phase 1: cache keys in topological order, so every source's key is known before its consumers'. */
  private async computeKeys(run: PreparedRun, services: RunServices, signal: AbortSignal): Promise<Map<string, string>> {
    const saltContext = {
      models: services.models,
      get files() {
        return services.files();
      },
    };
    const keys = new Map<string, string>();
    for (const id of run.order) {
      if (signal.aborted) throw new RunCancelled();
      const p = run.nodes.get(id)!;
      let salt: string | undefined;
      if (p.def.cacheSalt) {
        const t = performance.now();
        try {
          salt = String(await p.def.cacheSalt(p.params, saltContext));
        } catch (e) {
          throw new NodeFailure(id, e, performance.now() - t);
        }
      }
      const inputs: Record<string, InputSource | null> = {};
      for (const [port, src] of Object.entries(p.inputs)) inputs[port] = src ? { key: keys.get(src.node)!, port: src.port } : null;
      keys.set(id, cacheKeyFromBase(p.keyBase, salt, inputs));
    }
    return keys;
  }

  /** Phase 2: from the targets back, which nodes execute and which are served (fetched now) from the cache. */
  private async plan(run: PreparedRun, keys: Map<string, string>, signal: AbortSignal): Promise<Plan> {
    const executes = new Set<string>();
    const hits = new Map<string, { outputs: CachedOutputs; ms: number }>();
    for (let i = run.order.length - 1; i >= 0; i--) {
      if (signal.aborted) throw new RunCancelled();
      const id = run.order[i];
      const needed = run.targets.has(id) || [...run.nodes.get(id)!.consumers].some((c) => executes.has(c));
      if (!needed) continue;
      if (this.mustExecute(run, id)) {
        executes.add(id);
        continue;
      }
      const t = performance.now();
      const cached = await this.cache.get(keys.get(id)!);
      if (cached) hits.set(id, { outputs: cached, ms: performance.now() - t });
      else executes.add(id);
    }
    return { keys, executes, hits };
  }

  /** Phase 3: the planned nodes in order. Identical nodes in one run (same key) execute once. */
  private async executePlan(run: PreparedRun, plan: Plan, record: RunRecord, services: RunServices): Promise<void> {
    const fresh = new Map<string, Record<string, unknown>>();
    for (const id of run.order) {
      if (!plan.executes.has(id) && !plan.hits.has(id)) continue;
      if (services.signal.aborted) throw new RunCancelled();
      const p = run.nodes.get(id)!;
      const key = plan.keys.get(id)!;
      const nodeType = p.node.type;
      const hit = plan.hits.get(id) ?? (!this.mustExecute(run, id) && fresh.has(key) ? { outputs: fresh.get(key)!, ms: 0 } : undefined);
      if (hit) {
        record.outputs.set(id, hit.outputs);
        record.setNode(id, 'cached', hit.ms);
        services.emit({ type: 'node-cached', runId: record.runId, nodeId: id, nodeType });
        continue;
      }

      services.emit({ type: 'node-started', runId: record.runId, nodeId: id, nodeType });
      const t = performance.now();
      const outputs = await this.executeNode(run, id, record, services);
      const ms = performance.now() - t;
      if (p.def.kind !== 'side-effect') {
        fresh.set(key, outputs);
        await this.cache.set(key, outputs).catch((e) => this.log(`could not cache the outputs of node "${id}"`, e));
      }
      record.outputs.set(id, outputs);
      record.setNode(id, 'done', ms);
      services.emit({ type: 'node-finished', runId: record.runId, nodeId: id, nodeType, ms });
    }
  }

  /** Runs one node to completion (never leaving its work running) and returns its checked outputs. */
  private async executeNode(run: PreparedRun, id: string, record: RunRecord, services: RunServices): Promise<Record<string, unknown>> {
    const p = run.nodes.get(id)!;
    const inputs: Record<string, unknown> = {};
    for (const [port, src] of Object.entries(p.inputs)) {
      if (!src) continue;
      const from = record.outputs.get(src.node);
      if (!from) throw new Error(`internal: node "${id}" is about to run before its source "${src.node}" produced outputs`);
      inputs[port] = from[src.port];
    }
    const t = performance.now();
    const node = createNodeContext(services, id, p.node.type);
    let returned: unknown;
    let thrown: { error: unknown } | undefined;
    try {
      returned = await p.def.execute(node.ctx, inputs, p.params);
    } catch (e) {
      thrown = { error: e };
    } finally {
      node.close();
    }
    // Whatever a node returns or throws once the run is cancelled may be partial: never keep it.
    if (services.signal.aborted) {
      record.setNode(id, 'cancelled', performance.now() - t);
      throw new RunCancelled(id);
    }
    if (thrown) throw new NodeFailure(id, thrown.error, performance.now() - t);
    try {
      return compactOutputs(checkOutputs(p.def, returned));
    } catch (e) {
      throw new NodeFailure(id, e, performance.now() - t);
    }
  }

  private mustExecute(run: PreparedRun, id: string): boolean {
    return run.force === true || run.force.has(id) || run.nodes.get(id)!.def.kind === 'side-effect';
  }
}

function errorMessage(e: unknown): string {
  const text = e instanceof Error ? e.message || e.name : String(e);
  if (e instanceof NodeInputError && e.port) return `input "${e.port}": ${text}`;
  return text;
}
