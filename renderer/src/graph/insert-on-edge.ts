/** Which ports a node type would use when dropped onto an edge, or why it cannot go there. */
import type { PortDescription } from '../../../electron/engine/graph/describe.ts';
import type { GraphDocument, GraphEdge } from '../../../electron/engine/graph/schema.ts';
import { inputOf, outputOf, type NodeTypeIndex } from './node-types.ts';

export type InsertPlan =
  | { ok: true; edge: GraphEdge; input: PortDescription; output: PortDescription }
  | { ok: false; reason: string };

/**
 * The new node takes the edge's value on its first input of that type (required inputs before optional
 * ones) and feeds the edge's target from its first output of the type the target takes.
 */
export function planInsertOnEdge(doc: Pick<GraphDocument, 'nodes' | 'edges'>, types: NodeTypeIndex, edgeId: string, type: string): InsertPlan {
  const edge = doc.edges.find((e) => e.id === edgeId);
  if (!edge) return { ok: false, reason: `Cannot insert: edge "${edgeId}" does not exist` };
  const desc = types[type];
  if (!desc) return { ok: false, reason: `Cannot insert: unknown node type "${type}"` };
  const source = doc.nodes.find((n) => n.id === edge.source);
  const target = doc.nodes.find((n) => n.id === edge.target);
  const carried = outputOf(source && types[source.type], edge.sourcePort)?.type;
  const wanted = inputOf(target && types[target.type], edge.targetPort)?.type;
  if (!carried || !wanted) return { ok: false, reason: `Cannot insert: edge "${edgeId}" joins ports that do not exist` };
  const inputs = [...desc.inputs.filter((p) => !p.optional), ...desc.inputs.filter((p) => p.optional)];
  const input = inputs.find((p) => p.type === carried);
  const output = desc.outputs.find((p) => p.type === wanted);
  if (!input || !output) {
    const missing = [!input && `no ${carried} input`, !output && `no ${wanted} output`].filter(Boolean).join(' and ');
    return { ok: false, reason: `Cannot insert ${desc.title} on this ${carried} edge: it has ${missing}` };
  }
  return { ok: true, edge, input, output };
}
