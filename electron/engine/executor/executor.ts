/**
 * The executor: runs what a graph's targets need, in topological order, reusing cached outputs.
 *
 * A run has three phases:
 *   1. keys: every node of the targets' upstream closure gets its cache key (type, version, params, salt
 *      and the keys of its sources; never its id), computed in topological order;
 *   2. plan: walking back from the targets, a node is needed when it is a target or a node that will
 *      execute reads it; a needed node is served from the cache when it can be, otherwise it executes
 *      (side-effect and forced nodes always execute). Cached values are fetched here, so nothing planned
 *      as a hit can be evicted before use, and upstream of a hit is skipped entirely;
 *   3. execute: needed nodes in order, with events, cancellation checks between nodes and output checks.
 * Runs on one executor are queued, one at a time: they share the cache and the models.
 */
import { randomUUID } from 'node:crypto';
import type { NodeRegistry } from '../registry.ts';
import type { EngineEventListener } from '../events.ts';
import { GraphValidationError, type GraphError } from '../graph/errors.ts';
import type { GraphDocument, GraphNode, GraphParamValue } from '../graph/schema.ts';
import { topologicalOrder, upstreamClosure, validateGraph } from '../graph/validate.ts';
import { resolveParams } from '../../../nodes/core/params.ts';
import { NodeInputError, type AnyNodeDefinition, type FileService, type InputSpec, type ModelService } from '../../../nodes/core/types.ts';
import { computeCacheKey, type InputSource } from './cache-key.ts';
import { OutputCache, type CachedOutputs } from './output-cache.ts';
import { createEmitter, type Emit } from './emitter.ts';
import { createNodeContext, lazy, type RunServices } from './run-context.ts';
import { checkOutputs } from './output-check.ts';

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
  onEvent?: EngineEventListener;
  runId?: string;
}

export type NodeOutcome = 'cached' | 'done' | 'failed' | 'cancelled' | 'skipped';

export interface RunResult {
  runId: string;
  status: 'finished' | 'cancelled' | 'failed';
  /** Node id -> port -> value, for the nodes executed or served from the cache. */
  outputs: Map<string, Record<string, unknown>>;
  error?: { nodeId?: string; nodeType?: string; message: string };
  /** Every node of the targets' upstream closure; 'skipped' when it was not needed or not reached. */
  nodes: Record<string, { state: NodeOutcome; ms: number }>;
}

/** One node of a prepared run: everything known before anything executes. */
interface PreparedNode {
  node: GraphNode;
  def: AnyNodeDefinition;
  /** Resolved params: every declared param, defaults filled in (JSON scalars, as stored in graphs). */
  params: Record<string, GraphParamValue>;
  /** Declared input port -> the connected source (node id, port), or null when unconnected. */
  inputs: Record<string, { node: string; port: string } | null>;
  /** Nodes of the closure that read this node's outputs. */
  consumers: Set<string>;
}

interface PreparedRun {
  doc: GraphDocument;
  order: string[];
  nodes: Map<string, PreparedNode>;
  targets: Set<string>;
  force: true | Set<string>;
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
    const prepared = this.prepare(doc, o);
    const runId = o.runId ?? randomUUID();
    if (this.live.has(runId)) throw new Error(`run id "${runId}" is already in use by a queued or running run`);
    const internal = new AbortController();
    this.live.set(runId, internal);
    const signal = o.signal ? AbortSignal.any([o.signal, internal.signal]) : internal.signal;
    const emit = createEmitter(o.onEvent, this.log);
    const turn = this.queue.then(() => this.execute(prepared, runId, signal, emit));
    this.queue = turn.catch(() => undefined);
    try {
      return await turn;
    } finally {
      this.live.delete(runId);
      // Anything a node left behind that still watches the signal learns the run is over.
      internal.abort();
    }
  }

  /** Cancels one queued or running run, or all of them. Returns whether any was cancelled. */
  cancel(runId?: string): boolean {
    const controllers = runId === undefined ? [...this.live.values()] : [this.live.get(runId)].filter((c) => c !== undefined);
    for (const c of controllers) c.abort();
    return controllers.length > 0;
  }

  /** Empties the output cache (memory and spill files). */
  clearCache(): Promise<void> {
    return this.cache.clear();
  }

  /** Validates and snapshots the graph; throws GraphValidationError with every problem found. */
  private prepare(input: GraphDocument, o: RunOptions): PreparedRun {
    const doc = structuredClone(input);
    const errors: GraphError[] = validateGraph(doc, this.registry, { targets: o.targets });
    const ids = new Set(doc.nodes.map((n) => n.id));
    const forced = Array.isArray(o.force) ? o.force : [];
    for (const id of forced) {
      if (!ids.has(id)) errors.push({ code: 'unknown_target', nodeId: id, message: `node "${id}" named in force does not exist` });
    }
    if (errors.length) throw new GraphValidationError(errors);

    const targets = new Set(o.targets ?? ids);
    const order = topologicalOrder(doc, upstreamClosure(doc, targets));
    const inClosure = new Set(order);
    const byId = new Map(doc.nodes.map((n) => [n.id, n]));
    const nodes = new Map<string, PreparedNode>();
    for (const id of order) {
      const node = byId.get(id)!;
      const def = this.registry.get(node.type)!;
      const resolved = resolveParams(def, node.params ?? {});
      if (resolved.errors.length) {
        throw new GraphValidationError(resolved.errors.map((e) => ({ ...e, nodeId: id, nodeType: node.type, message: `node "${id}" (${node.type}): ${e.message}` })));
      }
      const inputs: PreparedNode['inputs'] = {};
      for (const port of Object.keys(def.inputs as Record<string, InputSpec>).sort()) inputs[port] = null;
      nodes.set(id, { node, def, params: resolved.values as Record<string, GraphParamValue>, inputs, consumers: new Set() });
    }
    for (const e of doc.edges) {
      const target = nodes.get(e.target);
      if (!target || !inClosure.has(e.source)) continue;
      target.inputs[e.targetPort] = { node: e.source, port: e.sourcePort };
      nodes.get(e.source)!.consumers.add(e.target);
    }
    return { doc, order, nodes, targets, force: o.force === true ? true : new Set(forced) };
  }

  private async execute(run: PreparedRun, runId: string, signal: AbortSignal, emit: Emit): Promise<RunResult> {
    const t0 = performance.now();
    const states = new Map<string, { state: NodeOutcome; ms: number }>(run.order.map((id) => [id, { state: 'skipped', ms: 0 }]));
    const outputs = new Map<string, Record<string, unknown>>();
    let started = false;
    const start = (order: string[]) => {
      if (started) return;
      started = true;
      emit({ type: 'run-started', runId, at: Date.now(), order });
    };
    const result = (status: RunResult['status'], error?: RunResult['error']): RunResult => ({
      runId,
      status,
      outputs,
      ...(error ? { error } : {}),
      nodes: Object.fromEntries(states),
    });
    const elapsed = () => performance.now() - t0;
    const cancelled = (nodeId?: string): RunResult => {
      start(run.order);
      emit({ type: 'run-cancelled', runId, ms: elapsed(), ...(nodeId !== undefined ? { nodeId } : {}) });
      return result('cancelled');
    };
    const failed = (nodeId: string, e: unknown, ms: number): RunResult => {
      start(run.order);
      const nodeType = run.nodes.get(nodeId)!.node.type;
      const message = errorMessage(e);
      states.set(nodeId, { state: 'failed', ms });
      emit({ type: 'node-failed', runId, nodeId, nodeType, message });
      emit({ type: 'run-failed', runId, ms: elapsed(), nodeId, message });
      return result('failed', { nodeId, nodeType, message });
    };

    try {
      const services: RunServices = {
        runId,
        signal,
        models: this.models,
        files: lazy(() => this.files(runId)),
        graph: run.doc,
        emit,
      };

      // 1. Keys, in topological order so every source's key is known first.
      const saltContext = {
        models: services.models,
        get files() {
          return services.files();
        },
      };
      const keys = new Map<string, string>();
      for (const id of run.order) {
        if (signal.aborted) return cancelled();
        const p = run.nodes.get(id)!;
        let salt: string | undefined;
        if (p.def.cacheSalt) {
          const t = performance.now();
          try {
            salt = String(await p.def.cacheSalt(p.params, saltContext));
          } catch (e) {
            return failed(id, e, performance.now() - t);
          }
        }
        const inputs: Record<string, InputSource | null> = {};
        for (const [port, src] of Object.entries(p.inputs)) inputs[port] = src ? { key: keys.get(src.node)!, port: src.port } : null;
        keys.set(id, computeCacheKey({ type: p.node.type, version: p.def.version, params: p.params, salt, inputs }));
      }

      // 2. Plan, from the targets back: which nodes execute, which come from the cache, which are not needed.
      const mustExecute = (id: string) => run.force === true || run.force.has(id) || run.nodes.get(id)!.def.kind === 'side-effect';
      const executes = new Set<string>();
      const hits = new Map<string, { outputs: CachedOutputs; ms: number }>();
      for (let i = run.order.length - 1; i >= 0; i--) {
        if (signal.aborted) return cancelled();
        const id = run.order[i];
        const p = run.nodes.get(id)!;
        const needed = run.targets.has(id) || [...p.consumers].some((c) => executes.has(c));
        if (!needed) continue;
        if (mustExecute(id)) {
          executes.add(id);
          continue;
        }
        const t = performance.now();
        const cached = await this.cache.get(keys.get(id)!);
        if (cached) hits.set(id, { outputs: cached, ms: performance.now() - t });
        else executes.add(id);
      }
      start(run.order.filter((id) => executes.has(id) || hits.has(id)));

      // 3. Execute. Identical nodes in one run (same key) execute once.
      const fresh = new Map<string, Record<string, unknown>>();
      for (const id of run.order) {
        if (!executes.has(id) && !hits.has(id)) continue;
        if (signal.aborted) return cancelled();
        const p = run.nodes.get(id)!;
        const key = keys.get(id)!;
        const nodeType = p.node.type;
        const hit = hits.get(id) ?? (!mustExecute(id) && fresh.has(key) ? { outputs: fresh.get(key)!, ms: 0 } : undefined);
        if (hit) {
          outputs.set(id, hit.outputs);
          states.set(id, { state: 'cached', ms: hit.ms });
          emit({ type: 'node-cached', runId, nodeId: id, nodeType });
          continue;
        }

        emit({ type: 'node-started', runId, nodeId: id, nodeType });
        const t = performance.now();
        const inputs: Record<string, unknown> = {};
        for (const [port, src] of Object.entries(p.inputs)) {
          if (!src) continue;
          const from = outputs.get(src.node);
          if (!from) throw new Error(`internal: node "${id}" runs before its source "${src.node}" produced outputs`);
          inputs[port] = from[src.port];
        }
        const node = createNodeContext(services, id, nodeType);
        let returned: unknown;
        let thrown: { error: unknown } | undefined;
        try {
          returned = await p.def.execute(node.ctx, inputs, p.params);
        } catch (e) {
          thrown = { error: e };
        } finally {
          node.close();
        }
        // Whatever a node returns after the run was cancelled may be partial: never keep it.
        if (signal.aborted) {
          states.set(id, { state: 'cancelled', ms: performance.now() - t });
          return cancelled(id);
        }
        if (thrown) return failed(id, thrown.error, performance.now() - t);
        let checked: Record<string, unknown>;
        try {
          checked = checkOutputs(p.def, returned);
        } catch (e) {
          return failed(id, e, performance.now() - t);
        }
        const ms = performance.now() - t;
        if (p.def.kind !== 'side-effect') {
          fresh.set(key, checked);
          await this.cache.set(key, checked).catch((e) => this.log(`could not cache the outputs of node "${id}"`, e));
        }
        outputs.set(id, checked);
        states.set(id, { state: 'done', ms });
        emit({ type: 'node-finished', runId, nodeId: id, nodeType, ms });
      }

      emit({ type: 'run-finished', runId, ms: elapsed() });
      return result('finished');
    } catch (e) {
      // Executor bugs, not node failures: still a result, never an unhandled rejection.
      const message = errorMessage(e);
      start(run.order);
      emit({ type: 'run-failed', runId, ms: elapsed(), message });
      return result('failed', { message });
    }
  }
}

function errorMessage(e: unknown): string {
  const text = e instanceof Error ? e.message || e.name : String(e);
  if (e instanceof NodeInputError && e.port) return `input "${e.port}": ${text}`;
  return text;
}
