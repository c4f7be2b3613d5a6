/**
 * Debounced autosave of the working graph: a save `delayMs` after the last change, never two writes
 * at once, and the newest document always written last. `flush()` writes what is pending right away
 * (window closing); a failed write keeps the document pending for the next try, so no change is lost.
 */
import type { GraphDocument } from '../../../electron/engine/graph/schema.ts';
import type { EditorStore } from '../state/store.ts';

export interface AutosaveOptions {
  write(doc: GraphDocument): Promise<void>;
  /** Quiet time after the last change before saving (default 1000 ms). */
  delayMs?: number;
  onError?(error: unknown): void;
}

export interface Autosaver {
  /** A change happened: save this document after the quiet time. */
  schedule(doc: GraphDocument): void;
  /** Saves the pending document now; resolves when the newest scheduled document is written (or failed). */
  flush(): Promise<void>;
  /** True while a document waits to be written or is being written. */
  pending(): boolean;
  /** Stops the timer; pending changes are dropped unless flush() was awaited first. */
  dispose(): void;
}

export function createAutosaver(opts: AutosaveOptions): Autosaver {
  const delay = opts.delayMs ?? 1000;
  let waiting: GraphDocument | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> | undefined;

  async function writeWaiting(): Promise<void> {
    // One write at a time: wait for the one in flight, then write whatever is newest.
    while (writing) await writing;
    const doc = waiting;
    if (!doc) return;
    waiting = undefined;
    writing = (async () => {
      try {
        await opts.write(doc);
      } catch (e) {
        // Keep it for the next try unless a newer document arrived meanwhile.
        waiting ??= doc;
        opts.onError?.(e);
      }
    })();
    try {
      await writing;
    } finally {
      writing = undefined;
    }
  }

  function clearTimer(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  }

  return {
    schedule(doc) {
      waiting = doc;
      clearTimer();
      timer = setTimeout(() => {
        timer = undefined;
        void writeWaiting();
      }, delay);
    },
    async flush() {
      clearTimer();
      await writeWaiting();
    },
    pending: () => waiting !== undefined || writing !== undefined,
    dispose() {
      clearTimer();
    },
  };
}

/** Schedules an autosave whenever the store's document changes (actions, undo, redo). Returns unsubscribe. */
export function autosaveStore(store: EditorStore, autosaver: Autosaver): () => void {
  return store.subscribe((state, prev) => {
    if (state.revision !== prev.revision) autosaver.schedule(state.documentForSave());
  });
}
