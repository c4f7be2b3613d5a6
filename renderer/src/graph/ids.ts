/** Fresh ids for nodes, edges and groups: readable, stable prefixes, never reusing one in the document. */
import type { GraphDocument } from '../../../electron/engine/graph/schema.ts';

/** `${prefix}${n}` with the smallest n >= 1 not in `taken`; the new id is added to `taken`. */
export function freshId(prefix: string, taken: Set<string>): string {
  let n = 1;
  while (taken.has(`${prefix}${n}`)) n++;
  const id = `${prefix}${n}`;
  taken.add(id);
  return id;
}

/** Node id prefix for a type: "LoadModel" -> "loadmodel_". Characters outside [a-z0-9] become "_". */
export function nodeIdPrefix(type: string): string {
  const stem = type.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return `${stem || 'node'}_`;
}

/** Ids taken by nodes, edges or groups (one namespace each would allow clashes in React Flow, which mixes them). */
export function takenIds(doc: Pick<GraphDocument, 'nodes' | 'edges' | 'groups'>): Set<string> {
  return new Set([...doc.nodes.map((n) => n.id), ...doc.edges.map((e) => e.id), ...doc.groups.map((g) => g.id)]);
}

export const EDGE_ID_PREFIX = 'e';
export const GROUP_ID_PREFIX = 'group_';
