/**
 * The ExecContext a node runs with: its identity, the run's signal and services, and progress reporting
 * that turns into node-progress / node-preview events. Once the node has settled its context goes quiet,
 * so late progress calls from stray work cannot produce events after node-finished.
 */
import { Tensor } from '../../../nodes/core/tensor.ts';
import type { ExecContext, FileService, ModelService, ProgressUnit } from '../../../nodes/core/types.ts';
import { throwIfAborted } from '../abort.ts';
import type { Emit } from './emitter.ts';

/** Minimum time between two previews of one node (the final step's preview is always sent). */
export const PREVIEW_INTERVAL_MS = 100;

export interface RunServices {
  runId: string;
  signal: AbortSignal;
  models: ModelService;
  /** The run's file service, created on first use (a fully cached run never makes an output folder). */
  files: () => FileService;
  graph: unknown;
  emit: Emit;
}

export interface NodeContext {
  ctx: ExecContext;
  /** Stops event delivery for this node. */
  close(): void;
}

export function createNodeContext(run: RunServices, nodeId: string, nodeType: string): NodeContext {
  let open = true;
  let lastStep = NaN;
  let lastTotal = NaN;
  let lastUnit: ProgressUnit = 'steps';
  let lastPreviewStep = NaN;
  let lastPreviewAt = -Infinity;
  const ctx: ExecContext = {
    nodeId,
    nodeType,
    signal: run.signal,
    models: run.models,
    get files() {
      return run.files();
    },
    graph: run.graph,
    progress(step: number, total: number, preview?: Tensor | (() => Tensor | undefined), unit: ProgressUnit = 'steps') {
      if (!open || !Number.isFinite(step) || !Number.isFinite(total)) return;
      if (step !== lastStep || total !== lastTotal || unit !== lastUnit) {
        lastStep = step;
        lastTotal = total;
        lastUnit = unit;
        run.emit({ type: 'node-progress', runId: run.runId, nodeId, step, total, ...(unit === 'percent' ? { unit } : {}) });
      }
      // At most one preview per step and about PREVIEW_INTERVAL_MS apart (the last step always), so a fast
      // sampler does not flood transports; copied, because the node may keep writing into its buffer.
      if (preview && step !== lastPreviewStep && (step === total || performance.now() - lastPreviewAt >= PREVIEW_INTERVAL_MS)) {
        const tensor = typeof preview === 'function' ? preview() : preview;
        if (!tensor) return;
        lastPreviewStep = step;
        lastPreviewAt = performance.now();
        run.emit({ type: 'node-preview', runId: run.runId, nodeId, step, preview: firstItem(tensor) });
      }
    },
    throwIfAborted() {
      throwIfAborted(run.signal);
    },
  };
  return {
    ctx,
    close() {
      open = false;
    },
  };
}

/**
 * A copy of the first batch item (the node may keep writing into its buffer, and a whole batch would
 * make every preview frame batch-times larger for a picture the UI shows one of).
 */
function firstItem(t: Tensor): Tensor {
  if (t.rank < 2 || t.dims[0] <= 1) return t.clone();
  const per = t.size / t.dims[0];
  return new Tensor([1, ...t.dims.slice(1)], t.data.slice(0, per));
}

/** Calls `make` once, on first use, and remembers the result (or the error, which is rethrown each time). */
export function lazy<T>(make: () => T): () => T {
  let done = false;
  let value: T;
  let error: unknown;
  let failed = false;
  return () => {
    if (!done) {
      done = true;
      try {
        value = make();
      } catch (e) {
        failed = true;
        error = e;
      }
    }
    if (failed) throw error;
    return value;
  };
}
