/**
 * The raw outputs of the last few runs, so the debug views can read tensors and trajectories after a run
 * (run summaries carry only statistics). Bounded by run count: each kept run pins its values in memory
 * even after the executor's cache evicts them.
 */
import { outputValueOf, type OutputValue } from './summary.ts';

export const DEFAULT_KEPT_RUNS = 4;

export class RecentOutputs {
  private readonly runs = new Map<string, ReadonlyMap<string, Record<string, unknown>>>();

  constructor(private readonly keep = DEFAULT_KEPT_RUNS) {
    if (!Number.isInteger(keep) || keep < 1) throw new Error(`RecentOutputs: keep must be a positive integer, got ${keep}`);
  }

  /** Records a run's outputs (node id -> port -> value), dropping the oldest run beyond `keep`. */
  remember(runId: string, outputs: ReadonlyMap<string, Record<string, unknown>>): void {
    this.runs.delete(runId);
    this.runs.set(runId, outputs);
    while (this.runs.size > this.keep) this.runs.delete(this.runs.keys().next().value as string);
  }

  /** null when the run is not among the kept ones, or it produced no such node/port. */
  read(runId: string, nodeId: string, port: string): OutputValue | null {
    const ports = this.runs.get(runId)?.get(nodeId);
    if (!ports || !Object.hasOwn(ports, port)) return null;
    return outputValueOf(ports[port], `${nodeId}.${port}`);
  }

  clear(): void {
    this.runs.clear();
  }
}
