/**
 * The runs an engine worker is executing, followed through its events, so that when the worker dies
 * mid-run each run can still end as any failed run does: its running node failed with the cause,
 * node-failed and run-failed events for the editor, and a failed RunSummary for the caller. A run whose
 * ending the worker sent before it died ended that way: it keeps it, and gets no second ending.
 */
import type { RunSummary } from '../api.ts';
import type { EngineEvent } from '../events.ts';

interface RunState {
  started: number;
  /** run-started was seen: a run reports it exactly once, before how it ended. */
  announced: boolean;
  nodes: Record<string, { state: string; ms: number }>;
  /** Nodes running now, with when they started. */
  running: Map<string, { nodeType: string; since: number }>;
  /** Its ending event (run-finished, -cancelled, -failed), when the worker sent one; and the failed node's type. */
  ended?: Extract<EngineEvent, { type: 'run-finished' | 'run-cancelled' | 'run-failed' }>;
  failedType?: string;
}

export class RunsInFlight {
  private readonly runs = new Map<string, RunState>();

  /** A run call is being sent; its id is known before any of its events. */
  begin(runId: string): void {
    this.runs.set(runId, { started: performance.now(), announced: false, nodes: {}, running: new Map() });
  }

  /** The call returned (whatever the outcome). */
  end(runId: string): void {
    this.runs.delete(runId);
  }

  observe(e: EngineEvent): void {
    const run = this.runs.get(e.runId);
    if (!run) return;
    const now = performance.now();
    switch (e.type) {
      case 'run-started':
        run.announced = true;
        for (const id of e.order) run.nodes[id] ??= { state: 'skipped', ms: 0 };
        break;
      case 'node-started':
        run.running.set(e.nodeId, { nodeType: e.nodeType, since: now });
        run.nodes[e.nodeId] = { state: 'running', ms: 0 };
        break;
      case 'node-cached':
        run.nodes[e.nodeId] = { state: 'cached', ms: 0 };
        break;
      case 'node-finished':
        run.running.delete(e.nodeId);
        run.nodes[e.nodeId] = { state: 'done', ms: e.ms };
        break;
      case 'node-failed':
        run.running.delete(e.nodeId);
        run.nodes[e.nodeId] = { state: 'failed', ms: run.nodes[e.nodeId]?.ms ?? 0 };
        run.failedType = e.nodeType;
        break;
      case 'run-finished':
      case 'run-cancelled':
      case 'run-failed':
        run.ended = e;
        break;
      default:
        break;
    }
  }

  /**
   * Ends `runId` because its worker died: the events to send (the running node failed, then the run) and
   * the summary to return. `cause` is what happened ("the engine process crashed (SIGSEGV)").
   */
  fail(runId: string, cause: string, outDir: string): { events: EngineEvent[]; summary: RunSummary } {
    const { run, now, events, first } = this.take(runId);
    if (run.ended) return { events: [], summary: endedSummary(runId, run, outDir, run.ended) };
    const message = `${cause} ${first ? 'while this node ran' : 'during the run'}; loaded models and cached outputs are gone, and the next run starts a fresh engine`;
    for (const [nodeId, { nodeType, since }] of run.running) {
      run.nodes[nodeId] = { state: 'failed', ms: now - since };
      events.push({ type: 'node-failed', runId, nodeId, nodeType, message });
    }
    const ms = now - run.started;
    events.push({ type: 'run-failed', runId, ms, ...(first ? { nodeId: first[0] } : {}), message });
    const error = first ? { nodeId: first[0], nodeType: first[1].nodeType, message } : { message };
    return { events, summary: { runId, status: 'failed', ms, outDir, error, nodes: run.nodes, outputs: {} } };
  }

  /**
   * Ends `runId` because its worker was stopped on purpose (a restart): its running node and the run are
   * cancelled, as a cancel does, and the run-cancelled event names the node it stopped in.
   */
  cancel(runId: string, outDir: string): { events: EngineEvent[]; summary: RunSummary } {
    const { run, now, events, first } = this.take(runId);
    if (run.ended) return { events: [], summary: endedSummary(runId, run, outDir, run.ended) };
    for (const [nodeId, { since }] of run.running) run.nodes[nodeId] = { state: 'cancelled', ms: now - since };
    const ms = now - run.started;
    events.push({ type: 'run-cancelled', runId, ms, ...(first ? { nodeId: first[0] } : {}) });
    return { events, summary: { runId, status: 'cancelled', ms, outDir, nodes: run.nodes, outputs: {} } };
  }

  /** Removes a run for ending it: its state, the time, its first node running, and run-started if it never said so. */
  private take(runId: string) {
    const run: RunState = this.runs.get(runId) ?? { started: performance.now(), announced: false, nodes: {}, running: new Map() };
    this.runs.delete(runId);
    const events: EngineEvent[] = run.announced ? [] : [{ type: 'run-started', runId, at: Date.now(), order: [] }];
    const [first] = run.running;
    return { run, now: performance.now(), events, first };
  }

  /** Run ids still in flight. */
  ids(): string[] {
    return [...this.runs.keys()];
  }
}

/**
 * The summary of a run that ended before its worker died but whose reply never came: what its events said.
 * Its outputs' summaries came with the reply only, so there are none (files it wrote are on disk).
 */
function endedSummary(runId: string, run: RunState, outDir: string, ended: NonNullable<RunState['ended']>): RunSummary {
  const status = ended.type === 'run-finished' ? 'finished' : ended.type === 'run-cancelled' ? 'cancelled' : 'failed';
  const error =
    ended.type === 'run-failed' ? (ended.nodeId !== undefined ? { nodeId: ended.nodeId, ...(run.failedType ? { nodeType: run.failedType } : {}), message: ended.message } : { message: ended.message }) : undefined;
  // A node still marked running was stopped by the ending (no event says so for a cancel).
  const nodes = Object.fromEntries(Object.entries(run.nodes).map(([id, n]) => [id, n.state === 'running' ? { state: 'cancelled', ms: n.ms } : n]));
  return { runId, status, ms: ended.ms, outDir, ...(error ? { error } : {}), nodes, outputs: {} };
}
