/**
 * The raw outputs of the last few runs, so the debug views can read tensors and trajectories after a run
 * (run summaries carry only statistics). Bounded by run count and by bytes: each kept run pins its values
 * in memory even after the executor's cache evicts them, and one run's trajectory can be gigabytes. The
 * latest run is always kept, whatever its size: it is the one the views are about to read.
 */
import { outputValueOf, type OutputValue } from './summary.ts';
import { estimateValueBytes } from './executor/value-size.ts';

export const DEFAULT_KEPT_RUNS = 4;
export const DEFAULT_KEPT_BYTES = 1024 ** 3;

export class RecentOutputs {
  private readonly runs = new Map<string, { outputs: ReadonlyMap<string, Record<string, unknown>>; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly keep = DEFAULT_KEPT_RUNS,
    private readonly maxBytes = DEFAULT_KEPT_BYTES,
  ) {
    if (!Number.isInteger(keep) || keep < 1) throw new Error(`RecentOutputs: keep must be a positive integer, got ${keep}`);
    if (!(maxBytes >= 0)) throw new Error(`RecentOutputs: maxBytes must be a number of bytes, got ${maxBytes}`);
  }

  /** Records a run's outputs (node id -> port -> value), dropping the oldest runs beyond `keep` runs or `maxBytes`. */
  remember(runId: string, outputs: ReadonlyMap<string, Record<string, unknown>>): void {
    this.forget(runId);
    // One seen-set per run: a tensor on several ports (the Sampler's latent is also its last state) counts once.
    const seen = new Set<object>();
    let bytes = 0;
    for (const ports of outputs.values()) for (const v of Object.values(ports)) bytes += estimateValueBytes(v, seen);
    this.runs.set(runId, { outputs, bytes });
    this.bytes += bytes;
    while (this.runs.size > 1 && (this.runs.size > this.keep || this.bytes > this.maxBytes)) this.forget(this.runs.keys().next().value as string);
  }

  /** Bytes the kept runs hold (estimated as the cache estimates them; values shared between runs count in each). */
  get heldBytes(): number {
    return this.bytes;
  }

  /** Ids of the kept runs, oldest first. */
  get runIds(): string[] {
    return [...this.runs.keys()];
  }

  private forget(runId: string): void {
    const run = this.runs.get(runId);
    if (!run) return;
    this.bytes -= run.bytes;
    this.runs.delete(runId);
  }

  /** null when the run is not among the kept ones, or it produced no such node/port. */
  read(runId: string, nodeId: string, port: string): OutputValue | null {
    const ports = this.runs.get(runId)?.outputs.get(nodeId);
    if (!ports || !Object.hasOwn(ports, port)) return null;
    return outputValueOf(ports[port], `${nodeId}.${port}`);
  }

  clear(): void {
    this.runs.clear();
    this.bytes = 0;
  }
}
