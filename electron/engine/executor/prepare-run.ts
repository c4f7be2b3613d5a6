/**
 * Turning a graph document into a runnable plan skeleton: validation (every problem at once, before
 * anything runs), a private snapshot of the document (edits during a run cannot reach it), the targets'
 * upstream closure in topological order, resolved params and each node's wiring.
 *
 * A prepared run is frozen (document and params): nothing in a run may change it, so the engine can reuse
 * one for every run of the same request.
 */
import type { NodeRegistry } from '../registry.ts';
import { GraphValidationError, type GraphError } from '../graph/errors.ts';
import type { GraphDocument, GraphNode, GraphParamValue } from '../graph/schema.ts';
import { topologicalOrder, upstreamClosure, validateGraph } from '../graph/validate.ts';
import { resolveParams } from '../../../nodes/core/params.ts';
import { cacheKeyBase } from './cache-key.ts';
import type { AnyNodeDefinition, InputSpec } from '../../../nodes/core/types.ts';

export interface PreparedNode {
  node: GraphNode;
  def: AnyNodeDefinition;
  /** Resolved params: every declared param, defaults filled in (JSON scalars, as stored in graphs). */
  params: Record<string, GraphParamValue>;
  /** Every declared input port (sorted) -> the connected source node and port, or null when unconnected. */
  inputs: Record<string, { node: string; port: string } | null>;
  /** Nodes of the closure that read this node's outputs. */
  consumers: Set<string>;
  /** The fixed part of the node's cache key (type, version, params): see cacheKeyBase. */
  keyBase: string;
}

export interface PreparedRun {
  doc: GraphDocument;
  /** The targets' upstream closure, in execution order. */
  order: string[];
  nodes: Map<string, PreparedNode>;
  targets: Set<string>;
  /** Nodes to re-execute even when cached: all, or these ids. */
  force: true | Set<string>;
}

/** @throws GraphValidationError listing every problem found. */
export function prepareRun(input: GraphDocument, registry: NodeRegistry, o: { targets?: string[]; force?: boolean | string[] }): PreparedRun {
  const doc = structuredClone(input);
  const errors: GraphError[] = validateGraph(doc, registry, { targets: o.targets });
  const ids = new Set(doc.nodes.map((n) => n.id));
  const forced = Array.isArray(o.force) ? o.force : [];
  for (const id of forced) {
    if (!ids.has(id)) errors.push({ code: 'unknown_target', nodeId: id, message: `node "${id}" named in force does not exist` });
  }
  if (errors.length) throw new GraphValidationError(errors);

  const targets = new Set(o.targets ?? ids);
  const order = topologicalOrder(doc, upstreamClosure(doc, targets));
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));
  const nodes = new Map<string, PreparedNode>();
  for (const id of order) {
    const node = byId.get(id)!;
    const def = registry.get(node.type)!;
    const resolved = resolveParams(def, node.params ?? {});
    if (resolved.errors.length) {
      // validateGraph reports these already; kept so a plan can never run with unchecked params.
      throw new GraphValidationError(resolved.errors.map((e) => ({ ...e, nodeId: id, nodeType: node.type, message: `node "${id}" (${node.type}): ${e.message}` })));
    }
    const inputs: PreparedNode['inputs'] = {};
    for (const port of Object.keys(def.inputs as Record<string, InputSpec>).sort()) inputs[port] = null;
    const params = resolved.values as Record<string, GraphParamValue>;
    const keyBase = cacheKeyBase({ type: node.type, version: def.version, params });
    nodes.set(id, { node, def, params: deepFreeze(params), inputs, consumers: new Set(), keyBase });
  }
  for (const e of doc.edges) {
    const target = nodes.get(e.target);
    const source = nodes.get(e.source);
    if (!target || !source) continue;
    target.inputs[e.targetPort] = { node: e.source, port: e.sourcePort };
    source.consumers.add(e.target);
  }
  return { doc: deepFreeze(doc), order, nodes, targets, force: o.force === true ? true : new Set(forced) };
}

/** Freezes plain JSON data at every depth (documents and params are nothing else). */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
