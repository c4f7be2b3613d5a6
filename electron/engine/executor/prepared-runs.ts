/**
 * Prepared runs remembered by the exact request that produced them. The editor re-runs the same graph
 * over and over (Run after a param tweak elsewhere, Run to here, a queue of seeds...): a repeat skips
 * parsing, migration, validation and param resolution, which for a small graph cost as much as the JS of
 * a whole 50-step sampler. The key is the request's JSON text, so any edit (even a moved node) is a miss;
 * a prepared run is frozen, so sharing it between runs is safe.
 */
import type { PreparedRun } from './prepare-run.ts';

export interface PreparedRunRequest {
  graph: unknown;
  targets?: string[];
  force?: boolean | string[];
}

export class PreparedRuns {
  private readonly entries = new Map<string, PreparedRun>();

  constructor(private readonly capacity = 16) {}

  /** The request's key, or undefined when it is not plain JSON (it is then prepared every time). */
  keyOf(request: PreparedRunRequest): string | undefined {
    try {
      return JSON.stringify([request.graph, request.targets ?? null, request.force ?? false]);
    } catch {
      return undefined; // BigInt, cycles: the parser reports what is wrong
    }
  }

  get(key: string): PreparedRun | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, prepared: PreparedRun): void {
    this.entries.delete(key);
    this.entries.set(key, prepared);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}
