/**
 * Clipboard: a selection as JSON text (nodes, the edges between them, selected groups), and the reverse:
 * text (a clipboard fragment or a whole graph document) placed into a document with fresh ids.
 * Plain text so copy/paste works between windows and with a text editor in between.
 */
import { z } from 'zod';
import {
  GraphEdgeSchema,
  GraphGroupSchema,
  GraphNodeSchema,
  type GraphDocument,
  type GraphEdge,
  type GraphGroup,
  type GraphNode,
} from '../../../electron/engine/graph/schema.ts';
import { parseDocument } from './document.ts';
import type { XY } from './geometry.ts';
import { EDGE_ID_PREFIX, freshId, GROUP_ID_PREFIX, nodeIdPrefix, takenIds } from './ids.ts';

export const CLIPBOARD_FORMAT = 'flowstudio-clipboard';

export interface GraphFragment {
  nodes: GraphNode[];
  edges: GraphEdge[];
  groups: GraphGroup[];
}

const ClipboardSchema = z.object({
  format: z.literal(CLIPBOARD_FORMAT),
  version: z.literal(1),
  nodes: z.array(GraphNodeSchema),
  edges: z.array(GraphEdgeSchema).default([]),
  groups: z.array(GraphGroupSchema).default([]),
});

/** The chosen nodes, the edges with both ends among them, and the chosen groups, as clipboard JSON. */
export function serializeSelection(
  doc: Pick<GraphDocument, 'nodes' | 'edges' | 'groups'>,
  selection: { nodes: readonly string[]; groups?: readonly string[] },
): string {
  const ids = new Set(selection.nodes);
  const groupIds = new Set(selection.groups ?? []);
  const payload = {
    format: CLIPBOARD_FORMAT,
    version: 1,
    nodes: doc.nodes.filter((n) => ids.has(n.id)),
    edges: doc.edges.filter((e) => ids.has(e.source) && ids.has(e.target)),
    groups: doc.groups.filter((g) => groupIds.has(g.id)),
  };
  return JSON.stringify(payload, null, 2);
}

/** A fragment from clipboard text or from a whole graph document (text or value). */
export function parseClipboard(input: unknown): { ok: true; fragment: GraphFragment } | { ok: false; reason: string } {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      return { ok: false, reason: 'Nothing to paste: the clipboard does not hold FlowStudio nodes (not JSON)' };
    }
  }
  if (value && typeof value === 'object' && (value as { format?: unknown }).format === CLIPBOARD_FORMAT) {
    const parsed = ClipboardSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { ok: false, reason: `Cannot paste: the copied nodes are damaged (${issue.path.join('.') || 'clipboard'}: ${issue.message})` };
    }
    const { nodes, edges, groups } = parsed.data;
    return { ok: true, fragment: { nodes, edges, groups } };
  }
  const doc = parseDocument(value);
  if (!doc.ok) return { ok: false, reason: `Cannot paste: ${doc.reason}` };
  return { ok: true, fragment: { nodes: doc.doc.nodes, edges: doc.doc.edges, groups: doc.doc.groups } };
}

/**
 * The fragment with fresh ids (none taken in `doc`, none shared with each other) and shifted so its
 * top-left corner lands on `at` (or moved by `offset` when `at` is absent). Edges whose ends are not
 * both in the fragment are dropped. `idMap` maps old node ids to new ones.
 */
export function placeFragment(
  doc: Pick<GraphDocument, 'nodes' | 'edges' | 'groups'>,
  fragment: GraphFragment,
  place: { at?: XY; offset?: XY },
): GraphFragment & { idMap: Record<string, string> } {
  const taken = takenIds(doc);
  const corner = fragmentCorner(fragment);
  const shift = place.at ? { x: place.at.x - corner.x, y: place.at.y - corner.y } : (place.offset ?? { x: 0, y: 0 });
  const idMap: Record<string, string> = {};
  const nodes = fragment.nodes.map((n) => {
    const id = freshId(nodeIdPrefix(n.type), taken);
    idMap[n.id] = id;
    return { ...structuredClone(n), id, position: { x: n.position.x + shift.x, y: n.position.y + shift.y } };
  });
  const edges = fragment.edges
    .filter((e) => e.source in idMap && e.target in idMap)
    .map((e) => ({ ...e, id: freshId(EDGE_ID_PREFIX, taken), source: idMap[e.source], target: idMap[e.target] }));
  const groups = fragment.groups.map((g) => ({
    ...structuredClone(g),
    id: freshId(GROUP_ID_PREFIX, taken),
    bounds: { ...g.bounds, x: g.bounds.x + shift.x, y: g.bounds.y + shift.y },
  }));
  return { nodes, edges, groups, idMap };
}

function fragmentCorner(fragment: GraphFragment): XY {
  const xs = [...fragment.nodes.map((n) => n.position.x), ...fragment.groups.map((g) => g.bounds.x)];
  const ys = [...fragment.nodes.map((n) => n.position.y), ...fragment.groups.map((g) => g.bounds.y)];
  return xs.length ? { x: Math.min(...xs), y: Math.min(...ys) } : { x: 0, y: 0 };
}
