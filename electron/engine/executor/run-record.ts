/**
 * What one run reports: per-node outcomes and timings, the outputs produced, and the run-level events
 * (started exactly once, then exactly one of finished / cancelled / failed).
 */
import type { Emit } from './emitter.ts';

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

export class RunRecord {
  readonly outputs = new Map<string, Record<string, unknown>>();
  private readonly states: Map<string, { state: NodeOutcome; ms: number }>;
  private readonly t0 = performance.now();
  private started = false;

  constructor(
    readonly runId: string,
    private readonly closure: readonly string[],
    private readonly emit: Emit,
  ) {
    this.states = new Map(closure.map((id) => [id, { state: 'skipped', ms: 0 }]));
  }

  /** Emits run-started once; `order` lists the nodes that will execute or come from the cache. */
  start(order: string[]): void {
    if (this.started) return;
    this.started = true;
    this.emit({ type: 'run-started', runId: this.runId, at: Date.now(), order });
  }

  setNode(id: string, state: NodeOutcome, ms: number): void {
    this.states.set(id, { state, ms });
  }

  finished(): RunResult {
    this.emit({ type: 'run-finished', runId: this.runId, ms: this.elapsed() });
    return this.result('finished');
  }

  cancelled(nodeId?: string): RunResult {
    this.start([...this.closure]);
    this.emit({ type: 'run-cancelled', runId: this.runId, ms: this.elapsed(), ...(nodeId !== undefined ? { nodeId } : {}) });
    return this.result('cancelled');
  }

  /** A node failed: node-failed then run-failed. Without a node, an executor fault: run-failed only. */
  failed(message: string, node?: { id: string; type: string; ms: number }): RunResult {
    this.start([...this.closure]);
    if (node) {
      this.setNode(node.id, 'failed', node.ms);
      this.emit({ type: 'node-failed', runId: this.runId, nodeId: node.id, nodeType: node.type, message });
    }
    this.emit({ type: 'run-failed', runId: this.runId, ms: this.elapsed(), ...(node ? { nodeId: node.id } : {}), message });
    return this.result('failed', node ? { nodeId: node.id, nodeType: node.type, message } : { message });
  }

  private elapsed(): number {
    return performance.now() - this.t0;
  }

  private result(status: RunResult['status'], error?: RunResult['error']): RunResult {
    return { runId: this.runId, status, outputs: this.outputs, ...(error ? { error } : {}), nodes: Object.fromEntries(this.states) };
  }
}
