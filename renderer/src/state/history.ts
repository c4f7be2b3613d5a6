/**
 * Undo history as immer patch pairs. Pure functions over a plain `History` value; the store decides
 * when entries merge (transactions, coalesced typing). Unlimited depth: patches are small.
 */
import type { Patch } from 'immer';

export interface HistoryEntry {
  /** Shown in menus and tooltips: "Move 3 nodes", "Change steps". */
  label: string;
  patches: Patch[];
  inversePatches: Patch[];
  /**
   * Set while a later action may still join this entry: the open transaction's id, or a coalescing tag
   * (`key + node + param`) for typing. Cleared (sealed) by undo/redo or an unrelated action.
   */
  mergeTag?: string;
}

export interface History {
  past: readonly HistoryEntry[];
  future: readonly HistoryEntry[];
}

export const EMPTY_HISTORY: History = { past: [], future: [] };

/** Records a new step; a new step always drops the redo branch. */
export function pushEntry(history: History, entry: HistoryEntry): History {
  return { past: [...history.past, entry], future: [] };
}

/** Folds `next` into the newest entry (same step), keeping the newest entry's label unless `label` is given. */
export function mergeIntoLast(history: History, next: Pick<HistoryEntry, 'patches' | 'inversePatches'>, label?: string): History {
  const last = history.past[history.past.length - 1];
  if (!last) throw new Error('mergeIntoLast: history is empty');
  const merged: HistoryEntry = { ...last, ...combinePatches(last, next), label: label ?? last.label };
  return { past: [...history.past.slice(0, -1), merged], future: [] };
}

/** Forgets any pending merge on the newest entry, so the next action starts a new step. */
export function sealLast(history: History): History {
  const last = history.past[history.past.length - 1];
  if (!last || last.mergeTag === undefined) return history;
  const { mergeTag: _sealed, ...sealed } = last;
  return { past: [...history.past.slice(0, -1), sealed], future: history.future };
}

/**
 * Patches of step A followed by step B, as one step. When both are pure `replace` ops on paths none of
 * which is a prefix of another (a drag: positions replaced again and again), they commute, so one op per
 * path is enough: B's value forwards, A's value backwards. That keeps a long drag to a handful of patches.
 */
export function combinePatches(
  a: Pick<HistoryEntry, 'patches' | 'inversePatches'>,
  b: Pick<HistoryEntry, 'patches' | 'inversePatches'>,
): Pick<HistoryEntry, 'patches' | 'inversePatches'> {
  const all = [...a.patches, ...b.patches, ...a.inversePatches, ...b.inversePatches];
  // `length` replaces come from array truncation: their order against element ops matters.
  const mergeable = all.every((p) => p.op === 'replace' && p.path[p.path.length - 1] !== 'length');
  if (mergeable && pathsIndependent(all.map((p) => p.path))) {
    const forward = new Map<string, Patch>();
    for (const p of [...a.patches, ...b.patches]) forward.set(pathKey(p.path), p);
    const backward = new Map<string, Patch>();
    for (const p of [...b.inversePatches, ...a.inversePatches]) backward.set(pathKey(p.path), p);
    return { patches: [...forward.values()], inversePatches: [...backward.values()] };
  }
  return { patches: [...a.patches, ...b.patches], inversePatches: [...b.inversePatches, ...a.inversePatches] };
}

function pathKey(path: readonly (string | number)[]): string {
  return JSON.stringify(path);
}

/** True when no path is a strict prefix of another (equal paths are fine). */
function pathsIndependent(paths: readonly (string | number)[][]): boolean {
  const keys = new Set(paths.map(pathKey));
  for (const path of paths) {
    for (let len = 1; len < path.length; len++) if (keys.has(pathKey(path.slice(0, len)))) return false;
  }
  return true;
}
