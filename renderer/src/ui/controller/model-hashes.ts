/**
 * Model content hashes for Export PNG: which refs a document uses, and how the backend's answers become
 * sanitizeForExport's `modelHashes` (tag `model-hash:<name>=<sha256 hex>`). Pure: no client, no DOM.
 */
import type { GraphDocument } from '../../../../electron/engine/graph/schema.ts';
import type { ModelHashResult } from '../../engine/app-client.ts';
import type { NodeTypeIndex } from '../../graph/node-types.ts';

/** The model refs the document's nodes use (params declared as model files), each once, in node order. */
export function modelRefsOf(doc: GraphDocument, types: NodeTypeIndex): string[] {
  const refs = new Set<string>();
  for (const node of doc.nodes) {
    for (const param of types[node.type]?.params ?? []) {
      if (param.kind !== 'file' || param.fileKind !== 'model') continue;
      const value = node.params[param.name] ?? param.default;
      if (typeof value === 'string' && value.trim() !== '') refs.add(value);
    }
  }
  return [...refs];
}

/**
 * Keyed by the model's name (what the tag shows: "gaussian-vp", a folder's name), so the tag never carries
 * a path; `failed` holds the backend's reason for each ref it could not hash.
 */
export function hashesForExport(results: Readonly<Record<string, ModelHashResult>>): { hashes: Record<string, string>; failed: string[] } {
  const hashes: Record<string, string> = {};
  const failed: string[] = [];
  for (const result of Object.values(results)) {
    if ('sha256' in result) hashes[result.name] = result.sha256;
    else failed.push(result.error);
  }
  return { hashes, failed };
}
