/**
 * Connection rules for the editor: a port type must match exactly, no self-loops, no cycles. Every
 * refusal carries a sentence the canvas can show as is.
 */
import type { GraphDocument, GraphEdge } from '../../../electron/engine/graph/schema.ts';
import { inputOf, nodeLabel, outputOf, type NodeTypeIndex } from './node-types.ts';

export interface ConnectionRequest {
  source: string;
  sourcePort: string;
  target: string;
  targetPort: string;
}

export type ConnectRefusal = 'unknown_node' | 'unknown_node_type' | 'unknown_port' | 'self_loop' | 'type_mismatch' | 'cycle';

export type ConnectCheck =
  | { ok: true; /** The edge already feeding that input, which the new one replaces. */ replaces?: GraphEdge; /** Exactly this edge exists already. */ existing?: GraphEdge }
  | { ok: false; code: ConnectRefusal; reason: string };

type DocEdges = Pick<GraphDocument, 'nodes' | 'edges'>;

export function canConnect(doc: DocEdges, types: NodeTypeIndex, req: ConnectionRequest): ConnectCheck {
  const source = doc.nodes.find((n) => n.id === req.source);
  const target = doc.nodes.find((n) => n.id === req.target);
  if (!source || !target) {
    const missing = !source ? req.source : req.target;
    return { ok: false, code: 'unknown_node', reason: `Cannot connect: node "${missing}" does not exist` };
  }
  if (source.id === target.id) {
    return { ok: false, code: 'self_loop', reason: `Cannot connect ${nodeLabel(source)} to itself` };
  }
  const sourceType = types[source.type];
  const targetType = types[target.type];
  if (!sourceType || !targetType) {
    const unknown = !sourceType ? source : target;
    return { ok: false, code: 'unknown_node_type', reason: `Cannot connect: ${nodeLabel(unknown)} has unknown type "${unknown.type}"` };
  }
  const output = outputOf(sourceType, req.sourcePort);
  if (!output) {
    return { ok: false, code: 'unknown_port', reason: `Cannot connect: ${nodeLabel(source)} has no output "${req.sourcePort}"` };
  }
  const input = inputOf(targetType, req.targetPort);
  if (!input) {
    return { ok: false, code: 'unknown_port', reason: `Cannot connect: ${nodeLabel(target)} has no input "${req.targetPort}"` };
  }
  if (output.type !== input.type) {
    return {
      ok: false,
      code: 'type_mismatch',
      reason:
        `Cannot connect ${output.type} to ${input.type}: output "${output.name}" of ${nodeLabel(source)} is ${output.type} ` +
        `but input "${input.name}" of ${nodeLabel(target)} takes ${input.type}`,
    };
  }
  const path = pathBetween(doc, target.id, source.id);
  if (path) {
    return {
      ok: false,
      code: 'cycle',
      reason: `Cannot connect: it would make a cycle (${[...path, target.id].map((id) => `"${id}"`).join(' -> ')})`,
    };
  }
  const into = doc.edges.find((e) => e.target === req.target && e.targetPort === req.targetPort);
  if (into && into.source === req.source && into.sourcePort === req.sourcePort) return { ok: true, existing: into };
  return into ? { ok: true, replaces: into } : { ok: true };
}

/** A chain of node ids from `from` to `to` following edges (breadth first, so the shortest), or undefined. */
export function pathBetween(doc: DocEdges, from: string, to: string): string[] | undefined {
  const successors = new Map<string, string[]>();
  for (const e of doc.edges) {
    const list = successors.get(e.source);
    if (list) list.push(e.target);
    else successors.set(e.source, [e.target]);
  }
  const cameFrom = new Map<string, string | null>([[from, null]]);
  const queue = [from];
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    if (id === to) {
      const path: string[] = [];
      for (let at: string | null = id; at !== null; at = cameFrom.get(at)!) path.push(at);
      return path.reverse();
    }
    for (const next of successors.get(id) ?? []) {
      if (!cameFrom.has(next)) {
        cameFrom.set(next, id);
        queue.push(next);
      }
    }
  }
  return undefined;
}
