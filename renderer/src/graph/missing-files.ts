/**
 * What the Missing files dialog lists: the engine's checkFiles answer grouped by file (one shared model
 * folder read by three nodes is one row, located once), with the content hash a shared graph recorded for
 * a model (Export PNG's `model-hash:` tags). Pure: no client, no DOM.
 */
import type { MissingFile } from '../../../electron/engine/api.ts';
import type { ListedFile } from '../../../electron/engine/app-api.ts';
import type { GraphDocument } from '../../../electron/engine/graph/schema.ts';
import { modelHashesFromTags } from '../io/sanitize.ts';

export interface MissingGroup {
  /** Stable per file kind and value. */
  key: string;
  fileKind: MissingFile['fileKind'];
  value: string;
  /** The node params that read it, in graph order. */
  uses: { nodeId: string; nodeType: string; param: string }[];
  /** The first use's reason (they share the file, so they share the reason). */
  message: string;
  /** The sha256 the graph's author had for this model, when the graph records it. */
  expectedSha256?: string;
}

/** The last path segment: what a shared graph keeps of a path, and what its hash tags are keyed by. */
export function fileNameOf(value: string): string {
  return value.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? value;
}

export function groupMissingFiles(missing: readonly MissingFile[], doc: GraphDocument): MissingGroup[] {
  const hashes = modelHashesFromTags(doc.metadata.tags);
  const groups = new Map<string, MissingGroup>();
  for (const m of missing) {
    const key = `${m.fileKind}\u0000${m.value}`;
    let group = groups.get(key);
    if (!group) {
      const expected = m.fileKind === 'model' ? hashes[fileNameOf(m.value)] : undefined;
      group = { key, fileKind: m.fileKind, value: m.value, uses: [], message: m.message, ...(expected ? { expectedSha256: expected } : {}) };
      groups.set(key, group);
    }
    group.uses.push({ nodeId: m.nodeId, nodeType: m.nodeType, param: m.param });
  }
  return [...groups.values()];
}

/** Whether a located model is the one the graph was made with, in words for a toast. */
export function describeHashCheck(group: Pick<MissingGroup, 'value' | 'expectedSha256'>, found: { sha256: string } | { error: string }): { ok: boolean; text: string } {
  const name = fileNameOf(group.value);
  if ('error' in found) return { ok: false, text: `Could not check ${name} against the graph's model: ${found.error}` };
  if (!group.expectedSha256) return { ok: true, text: `${name} located` };
  if (found.sha256.toLowerCase() === group.expectedSha256.toLowerCase()) return { ok: true, text: `${name}: the same model the graph was made with (sha256 matches)` };
  return {
    ok: false,
    text: `${name}: not the model the graph was made with (sha256 ${found.sha256.slice(0, 12)}… here, ${group.expectedSha256.slice(0, 12)}… in the graph); results may differ`,
  };
}

/** How many files of the missing one's name the dialog offers. */
export const MAX_CANDIDATES = 3;

/**
 * Files under the folders FlowStudio reads from that carry the missing file's name (a shared graph keeps
 * only names): where the file may already be. Names compare without case, as macOS and Windows do.
 */
export function candidatesFor(group: Pick<MissingGroup, 'value'>, listed: readonly ListedFile[]): ListedFile[] {
  const wanted = fileNameOf(group.value).toLowerCase();
  return listed.filter((f) => fileNameOf(f.path).toLowerCase() === wanted && f.path !== group.value).slice(0, MAX_CANDIDATES);
}
