/**
 * Drives runs: the user queues runs (a snapshot of the graph at that moment), this hands them to the engine
 * one at a time, feeds engine events and summaries into the run-state reducer, fetches output images, and
 * re-validates while validation errors are on screen so they clear as soon as the user fixes them.
 */
import type { AppClient, RunSummary } from '../../engine/app-client.ts';
import { EngineRequestError } from '../../engine/app-client.ts';
import type { GraphDocument } from '../../../../electron/engine/graph/schema.ts';
import { nextQueuedRun, type RunEvent } from '../../state/run-state.ts';
import type { EditorStore } from '../../state/store.ts';
import { toast } from '../common/toasts.ts';
import { describeFreedMemory } from '../common/format.ts';
import { randomSeed } from '../inspector/fields/SeedField.tsx';
import { MAX_OUTPUT_IMAGES, seedModeKey, type OutputImage, type SessionStore } from './session.ts';

const REVALIDATE_DELAY_MS = 300;

export class RunController {
  private readonly graphs = new Map<string, GraphDocument>();
  /** Runs this window asked for: events of other windows' runs (the server broadcasts) are ignored. */
  private readonly ownRuns = new Set<string>();
  private inFlight: string | null = null;
  private revalidateTimer: ReturnType<typeof setTimeout> | undefined;
  private validatedRevision = -1;
  private readonly disposers: (() => void)[] = [];

  constructor(
    private readonly client: AppClient,
    private readonly store: EditorStore,
    private readonly session: SessionStore,
  ) {}

  start(): void {
    this.disposers.push(
      this.client.subscribe((event) => {
        if (this.ownRuns.has(event.runId)) this.store.getState().dispatchRun({ type: 'event', event: event as RunEvent });
      }),
    );
    this.disposers.push(this.store.subscribe((s, prev) => s.revision !== prev.revision && this.scheduleRevalidate()));
  }

  dispose(): void {
    for (const d of this.disposers.splice(0)) d();
    clearTimeout(this.revalidateTimer);
  }

  /** Queues a run of the whole graph, or of what `targets` need ("Run to here"). Returns its id. */
  run(targets?: string[], label = targets ? `Run to ${targets.join(', ')}` : 'Run'): string {
    this.drawRandomSeeds();
    const runId = newRunId();
    this.ownRuns.add(runId);
    this.graphs.set(runId, this.store.getState().documentForSave());
    this.store.getState().dispatchRun({ type: 'enqueue', run: { runId, label, ...(targets ? { targets } : {}) } });
    this.pump();
    return runId;
  }

  /** Cancels the given run, else the active one (queued runs are just dropped). */
  async cancel(runId?: string): Promise<void> {
    const { run } = this.store.getState();
    const id = runId ?? run.active?.runId ?? this.inFlight ?? undefined;
    if (!id) return;
    this.store.getState().dispatchRun({ type: 'cancel', runId: id });
    if (id === this.inFlight || id === run.active?.runId) {
      try {
        await this.client.cancel(id);
      } catch (e) {
        toast.error(`Cancel failed: ${messageOf(e)}`);
      }
    } else {
      this.graphs.delete(id);
      this.ownRuns.delete(id);
    }
  }

  /** Unloads idle models and (unless `modelsOnly`) drops cached results, then says what was freed. */
  async freeMemory(modelsOnly = false): Promise<void> {
    try {
      toast.success(describeFreedMemory(await this.client.freeMemory(modelsOnly ? { cache: false } : {})));
    } catch (e) {
      toast.error(`Free memory failed: ${messageOf(e)}`);
    }
    await this.refreshMemory();
  }

  /**
   * Engine ▸ Restart engine: ends the engine now (a run stops at once, even inside a long model call, and
   * ends as cancelled) and starts a fresh one, with nothing loaded or cached.
   */
  async restartEngine(): Promise<void> {
    try {
      const report = await this.client.restartEngine();
      if (!report.restarted) toast.warning(`Cannot restart the engine: ${report.reason}`);
      else toast.success(`Engine restarted${report.runsStopped ? ` (stopped ${report.runsStopped === 1 ? 'the run' : `${report.runsStopped} runs`} in progress)` : ''}: models unloaded, cached results dropped.`);
    } catch (e) {
      toast.error(`Restart failed: ${messageOf(e)}`);
    }
    await this.refreshMemory();
  }

  /** Asks the engine what it holds, for the status bar; a failure leaves the last answer (it is only a display). */
  async refreshMemory(): Promise<void> {
    try {
      this.session.setState({ memory: await this.client.memoryStatus() });
    } catch {
      // The engine is away (reconnecting): the next run or Free memory asks again.
    }
  }

  /** Cancels the active run and empties the queue. */
  async cancelAll(): Promise<void> {
    for (const queued of this.store.getState().run.queue) if (queued.runId !== this.inFlight) await this.cancel(queued.runId);
    await this.cancel();
  }

  private pump(): void {
    if (this.inFlight) return;
    const next = nextQueuedRun(this.store.getState().run);
    if (!next) return;
    const graph = this.graphs.get(next.runId);
    if (!graph) {
      this.store.getState().dispatchRun({ type: 'cancel', runId: next.runId });
      return this.pump();
    }
    this.inFlight = next.runId;
    this.client
      .run({ graph, runId: next.runId, ...(next.targets ? { targets: next.targets } : {}) })
      .then(
        (summary) => this.finish(summary),
        (error: unknown) => this.fail(next.runId, error),
      )
      .finally(() => {
        this.graphs.delete(next.runId);
        this.ownRuns.delete(next.runId);
        this.inFlight = null;
        this.pump();
        if (!this.inFlight) void this.refreshMemory();
      });
  }

  private async finish(summary: RunSummary): Promise<void> {
    // The summary is final: later (trailing) events of this run must not reopen it.
    this.ownRuns.delete(summary.runId);
    const s = this.store.getState();
    s.dispatchRun({ type: 'summary', summary });
    // A summary that overtook its events (or came with the event stream down) settles the nodes and the run.
    const { run } = this.store.getState();
    if (run.active?.runId === summary.runId || run.queue.some((r) => r.runId === summary.runId)) {
      for (const event of nodeEventsFromSummary(summary)) s.dispatchRun({ type: 'event', event });
      s.dispatchRun({ type: 'event', event: endEvent(summary) });
    }
    if (summary.status === 'invalid') {
      this.validatedRevision = s.revision;
      const n = summary.errors?.length ?? 0;
      toast.error(n === 1 ? `Cannot run: ${summary.errors![0].message}` : `Cannot run: ${n} problems in the graph (marked on the nodes)`);
    } else if (summary.status === 'failed') {
      toast.error(`Run failed${summary.error?.nodeId ? ` at "${summary.error.nodeId}"` : ''}: ${summary.error?.message ?? 'unknown error'}`);
    }
    await this.collectImages(summary);
  }

  private fail(runId: string, error: unknown): void {
    const s = this.store.getState();
    if (error instanceof EngineRequestError && error.errors?.length) s.dispatchRun({ type: 'validation', errors: error.errors });
    s.dispatchRun({ type: 'cancel', runId });
    if (this.store.getState().run.active?.runId === runId) {
      s.dispatchRun({ type: 'event', event: { type: 'run-failed', runId, ms: 0, message: messageOf(error) } });
    }
    toast.error(`Run failed: ${messageOf(error)}`);
  }

  /** PNG paths among the run's string outputs (what SaveImage returns), fetched as images for the UI. */
  private async collectImages(summary: RunSummary): Promise<void> {
    const found: { nodeId: string; path: string }[] = [];
    for (const [nodeId, ports] of Object.entries(summary.outputs ?? {})) {
      for (const value of Object.values(ports)) {
        if (value.kind === 'scalar' && typeof value.value === 'string' && /\.png$/i.test(value.value)) found.push({ nodeId, path: value.value });
      }
    }
    const images: OutputImage[] = [];
    for (const { nodeId, path } of found) {
      try {
        const bytes = await this.client.readFile(path);
        const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
        images.push({ url, path, nodeId, runId: summary.runId, at: Date.now(), bytes });
      } catch (e) {
        toast.warning(`Could not load output image ${path}: ${messageOf(e)}`);
      }
    }
    if (!images.length) return;
    const all = [...images, ...this.session.getState().images];
    for (const dropped of all.slice(MAX_OUTPUT_IMAGES)) URL.revokeObjectURL(dropped.url);
    this.session.setState({ images: all.slice(0, MAX_OUTPUT_IMAGES) });
  }

  /** Seeds in "random each run" mode get a fresh value before the graph is snapshotted (one undo step). */
  private drawRandomSeeds(): void {
    const modes = this.session.getState().seedModes;
    const s = this.store.getState();
    const changes: { nodeId: string; param: string; max?: number }[] = [];
    for (const node of s.doc.nodes) {
      for (const param of s.nodeTypes[node.type]?.params ?? []) {
        if (param.kind === 'seed' && modes[seedModeKey(node.id, param.name)] === 'randomize') changes.push({ nodeId: node.id, param: param.name, max: param.max });
      }
    }
    if (!changes.length) return;
    s.beginTransaction('random-seeds', 'New random seeds');
    for (const c of changes) this.store.getState().setParam(c.nodeId, c.param, randomSeed(c.max));
    this.store.getState().endTransaction();
  }

  /** While validation errors are shown, re-check after edits so fixed problems disappear. */
  private scheduleRevalidate(): void {
    clearTimeout(this.revalidateTimer);
    const { run } = this.store.getState();
    const showing = run.graphIssues.length > 0 || Object.keys(run.edgeIssues).length > 0 || Object.values(run.nodes).some((n) => n.source === 'validation');
    if (!showing) return;
    this.revalidateTimer = setTimeout(() => void this.revalidate(), REVALIDATE_DELAY_MS);
  }

  async revalidate(): Promise<void> {
    const s = this.store.getState();
    if (s.revision === this.validatedRevision) return;
    const revision = s.revision;
    try {
      const errors = await this.client.validate(s.documentForSave());
      // A newer edit will validate again; an outdated answer would flash stale marks.
      if (this.store.getState().revision !== revision) return;
      this.validatedRevision = revision;
      this.store.getState().dispatchRun({ type: 'validation', errors });
    } catch {
      // Validation is advisory here; the next run reports problems anyway.
    }
  }
}

/** The node outcomes a summary reports, as the events that would have carried them. */
function nodeEventsFromSummary(summary: RunSummary): RunEvent[] {
  const events: RunEvent[] = [];
  for (const [nodeId, { state, ms }] of Object.entries(summary.nodes ?? {})) {
    const base = { runId: summary.runId, nodeId, nodeType: '' };
    if (state === 'done') events.push({ type: 'node-finished', ...base, ms });
    else if (state === 'cached') events.push({ type: 'node-cached', ...base });
    else if (state === 'failed' && summary.error?.nodeId === nodeId) events.push({ type: 'node-failed', ...base, message: summary.error.message });
  }
  return events;
}

function endEvent(summary: RunSummary): RunEvent {
  switch (summary.status) {
    case 'finished':
      return { type: 'run-finished', runId: summary.runId, ms: summary.ms };
    case 'cancelled':
      return { type: 'run-cancelled', runId: summary.runId, ms: summary.ms };
    default:
      return { type: 'run-failed', runId: summary.runId, ms: summary.ms, message: summary.error?.message ?? summary.status, nodeId: summary.error?.nodeId };
  }
}

function newRunId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `run-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
