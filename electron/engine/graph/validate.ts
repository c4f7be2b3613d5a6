/**
 * Graph validation against the node registry, plus the graph walks the executor shares with it
 * (upstream closure, deterministic topological order). Validation collects every error it finds,
 * each tied to the node, edge, port or param it is about, so a UI can point at all of them at once.
 */
import { isConditionMet, resolveParams } from '../../../nodes/core/params.ts';
import type { AnyNodeDefinition, InputSpec, OutputSpec } from '../../../nodes/core/types.ts';
import type { NodeRegistry } from '../registry.ts';
import { GraphValidationError, type GraphError } from './errors.ts';
import type { GraphDocument, GraphEdge, GraphNode } from './schema.ts';

/** The parts of a document the graph walks need (so callers may pass partial or in-edit graphs). */
export interface GraphShape {
  nodes: readonly Pick<GraphNode, 'id'>[];
  edges: readonly Pick<GraphEdge, 'source' | 'target'>[];
}

export interface ValidateOptions {
  /**
   * Output nodes a run asks for. Then only the nodes they need (their upstream closure) must be
   * complete (inputs connected, params valid); structure (ids, types, ports, cycles) is checked everywhere.
   */
  targets?: string[];
}

export function validateGraph(doc: GraphDocument, registry: NodeRegistry, opts: ValidateOptions = {}): GraphError[] {
  const errors: GraphError[] = [];
  const nodes = firstNodeById(doc);

  errors.push(...duplicateIdErrors(doc));

  for (const node of doc.nodes) {
    if (!registry.has(node.type)) {
      errors.push({
        code: 'unknown_node_type',
        nodeId: node.id,
        nodeType: node.type,
        message: `${label(node)}: unknown node type "${node.type}"`,
      });
    }
  }

  errors.push(...edgeErrors(doc, nodes, registry));

  for (const cycle of findCycles(doc)) errors.push(cycleError(cycle));

  const targets = opts.targets;
  if (targets) {
    for (const target of targets) {
      if (!nodes.has(target)) errors.push({ code: 'unknown_target', nodeId: target, message: `requested output node "${target}" does not exist` });
    }
  }

  // Completeness: only nodes a run would execute need connected inputs and valid params.
  const inScope = targets ? upstreamClosure(doc, targets) : undefined;
  const connected = new Set(doc.edges.map((e) => inputKey(e.target, e.targetPort)));
  for (const node of doc.nodes) {
    if (inScope && !inScope.has(node.id)) continue;
    const def = registry.get(node.type);
    if (!def) continue;
    const { values, errors: paramErrors } = resolveParams(def, node.params ?? {});
    for (const e of paramErrors) errors.push({ ...e, nodeId: node.id, nodeType: node.type, message: `${label(node)}: ${e.message}` });
    for (const [name, spec] of Object.entries(def.inputs as Record<string, InputSpec>)) {
      if (spec.optional || !isConditionMet(spec.when, values) || connected.has(inputKey(node.id, name))) continue;
      errors.push({
        code: 'missing_input',
        nodeId: node.id,
        nodeType: node.type,
        port: name,
        message: `${label(node)}: required input "${name}" (${spec.type}) is not connected`,
      });
    }
  }

  return errors;
}

/**
 * The target nodes and every node they depend on, following edges backwards. Unknown targets and
 * dangling edges are skipped; visited-set traversal, so cycles cannot make it loop. Set order = doc order.
 */
export function upstreamClosure(doc: GraphShape, targets: Iterable<string>): Set<string> {
  const ids = new Set(doc.nodes.map((n) => n.id));
  const sourcesOf = new Map<string, string[]>();
  for (const e of doc.edges) {
    if (!ids.has(e.source) || !ids.has(e.target)) continue;
    const list = sourcesOf.get(e.target);
    if (list) list.push(e.source);
    else sourcesOf.set(e.target, [e.source]);
  }
  const seen = new Set<string>();
  const stack = [...targets].filter((t) => ids.has(t));
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const s of sourcesOf.get(id) ?? []) if (!seen.has(s)) stack.push(s);
  }
  return new Set([...ids].filter((id) => seen.has(id)));
}

/**
 * Execution order of the given nodes (all nodes when omitted): Kahn's algorithm, and among nodes that
 * are ready at the same time the one earlier in doc.nodes goes first, so the order is reproducible.
 * Only edges between the chosen nodes count; unknown ids are ignored.
 * @throws GraphValidationError with a 'cycle' error for each cycle among the chosen nodes.
 */
export function topologicalOrder(doc: GraphShape, nodeIds?: Iterable<string>): string[] {
  const index = nodeIndex(doc);
  const chosen = nodeIds ? new Set([...nodeIds].filter((id) => index.has(id))) : new Set(index.keys());
  const successors = adjacency(doc, chosen, index);
  const indegree = new Map<string, number>([...chosen].map((id) => [id, 0]));
  for (const targets of successors.values()) for (const t of targets) indegree.set(t, indegree.get(t)! + 1);

  // Ready nodes kept sorted by doc index, earliest last so pop() takes it.
  const byIndexDesc = (a: string, b: string) => index.get(b)! - index.get(a)!;
  const ready = [...chosen].filter((id) => indegree.get(id) === 0).sort(byIndexDesc);
  const order: string[] = [];
  while (ready.length) {
    const id = ready.pop()!;
    order.push(id);
    for (const t of successors.get(id) ?? []) {
      const d = indegree.get(t)! - 1;
      indegree.set(t, d);
      if (d === 0) {
        ready.push(t);
        ready.sort(byIndexDesc);
      }
    }
  }
  if (order.length < chosen.size) {
    const done = new Set(order);
    const rest = [...chosen].filter((id) => !done.has(id));
    throw new GraphValidationError(findCycles(doc, rest).map(cycleError));
  }
  return order;
}

/**
 * One cycle per strongly connected component that has one (self-loops included), each listed in edge
 * direction starting from its earliest node in doc order: [a, b, c] means a -> b -> c -> a.
 */
export function findCycles(doc: GraphShape, nodeIds?: Iterable<string>): string[][] {
  const index = nodeIndex(doc);
  const chosen = nodeIds ? new Set([...nodeIds].filter((id) => index.has(id))) : new Set(index.keys());
  const successors = adjacency(doc, chosen, index);
  const ordered = [...chosen].sort((a, b) => index.get(a)! - index.get(b)!);

  const cycles: string[][] = [];
  for (const component of stronglyConnectedComponents(ordered, successors)) {
    const start = component.reduce((a, b) => (index.get(a)! <= index.get(b)! ? a : b));
    const members = new Set(component);
    const cycle = shortestCycleThrough(start, members, successors);
    if (cycle) cycles.push(cycle);
  }
  return cycles.sort((a, b) => index.get(a[0])! - index.get(b[0])!);
}

/** Nodes of a cycle a message spells out; a longer one shows its start and end (the `cycle` field has them all). */
const CYCLE_SHOWN = 8;

function cycleError(cycle: string[]): GraphError {
  const quote = (ids: string[]) => ids.map((id) => `"${id}"`).join(' -> ');
  const path =
    cycle.length <= CYCLE_SHOWN
      ? quote([...cycle, cycle[0]])
      : `${quote(cycle.slice(0, CYCLE_SHOWN - 2))} -> ... -> ${quote([cycle[cycle.length - 1], cycle[0]])} (${cycle.length} nodes)`;
  return { code: 'cycle', nodeId: cycle[0], cycle, message: `the graph has a cycle: ${path}` };
}

function duplicateIdErrors(doc: GraphDocument): GraphError[] {
  const errors: GraphError[] = [];
  const nodeAt = new Map<string, number>();
  doc.nodes.forEach((node, i) => {
    const first = nodeAt.get(node.id);
    if (first === undefined) nodeAt.set(node.id, i);
    else {
      errors.push({
        code: 'duplicate_id',
        nodeId: node.id,
        nodeType: node.type,
        message: `node id "${node.id}" is used more than once (nodes[${first}] and nodes[${i}])`,
      });
    }
  });
  const edgeAt = new Map<string, number>();
  doc.edges.forEach((edge, i) => {
    const first = edgeAt.get(edge.id);
    if (first === undefined) edgeAt.set(edge.id, i);
    else errors.push({ code: 'duplicate_id', edgeId: edge.id, message: `edge id "${edge.id}" is used more than once (edges[${first}] and edges[${i}])` });
  });
  return errors;
}

function edgeErrors(doc: GraphDocument, nodes: Map<string, GraphNode>, registry: NodeRegistry): GraphError[] {
  const errors: GraphError[] = [];
  const firstEdgeInto = new Map<string, GraphEdge>();
  for (const edge of doc.edges) {
    const source = nodes.get(edge.source);
    const target = nodes.get(edge.target);
    const where = `edge "${edge.id}" (${edge.source}.${edge.sourcePort} -> ${edge.target}.${edge.targetPort})`;
    if (!source || !target) {
      const missing = [!source && `source node "${edge.source}"`, !target && `target node "${edge.target}"`].filter(Boolean).join(' and ');
      const present = source ? { nodeId: source.id, nodeType: source.type, port: edge.sourcePort } : target ? { nodeId: target.id, nodeType: target.type, port: edge.targetPort } : {};
      errors.push({ code: 'dangling_edge', edgeId: edge.id, ...present, message: `${where}: ${missing} does not exist` });
    }

    const sourceDef = source && registry.get(source.type);
    const targetDef = target && registry.get(target.type);
    const output = sourceDef ? portOf(sourceDef.outputs, edge.sourcePort) : undefined;
    const input = targetDef ? portOf(targetDef.inputs, edge.targetPort) : undefined;
    if (source && sourceDef && !output) {
      errors.push({
        code: 'unknown_port',
        edgeId: edge.id,
        nodeId: source.id,
        nodeType: source.type,
        port: edge.sourcePort,
        message: `${where}: ${label(source)} has no output "${edge.sourcePort}" (outputs: ${portList(sourceDef.outputs)})`,
      });
    }
    if (target && targetDef && !input) {
      errors.push({
        code: 'unknown_port',
        edgeId: edge.id,
        nodeId: target.id,
        nodeType: target.type,
        port: edge.targetPort,
        message: `${where}: ${label(target)} has no input "${edge.targetPort}" (inputs: ${portList(targetDef.inputs)})`,
      });
    }
    if (output && input && output.type !== input.type) {
      errors.push({
        code: 'type_mismatch',
        edgeId: edge.id,
        nodeId: target!.id,
        nodeType: target!.type,
        port: edge.targetPort,
        message: `${where}: output "${edge.sourcePort}" of ${label(source!)} is ${output.type} but input "${edge.targetPort}" of ${label(target!)} takes ${input.type}`,
      });
    }

    if (target) {
      const key = inputKey(edge.target, edge.targetPort);
      const first = firstEdgeInto.get(key);
      if (!first) firstEdgeInto.set(key, edge);
      else {
        errors.push({
          code: 'duplicate_input',
          edgeId: edge.id,
          nodeId: target.id,
          nodeType: target.type,
          port: edge.targetPort,
          message: `input "${edge.targetPort}" of ${label(target)} has more than one incoming edge ("${first.id}" and "${edge.id}")`,
        });
      }
    }
  }
  return errors;
}

/** Tarjan's algorithm; returns only components that contain a cycle. Iterative, so deep graphs cannot overflow the stack. */
function stronglyConnectedComponents(ordered: string[], successors: Map<string, string[]>): string[][] {
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;

  for (const root of ordered) {
    if (indexOf.has(root)) continue;
    const work: { id: string; next: number }[] = [{ id: root, next: 0 }];
    indexOf.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1];
      const succ = successors.get(frame.id) ?? [];
      if (frame.next < succ.length) {
        const w = succ[frame.next++];
        if (!indexOf.has(w)) {
          indexOf.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          work.push({ id: w, next: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.id, Math.min(low.get(frame.id)!, indexOf.get(w)!));
        }
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1].id;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.id)!));
      }
      if (low.get(frame.id) === indexOf.get(frame.id)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== frame.id);
        const selfLoop = component.length === 1 && succ.includes(frame.id);
        if (component.length > 1 || selfLoop) components.push(component);
      }
    }
  }
  return components;
}

/** Breadth-first search from start back to start inside one component: the shortest cycle through start. */
function shortestCycleThrough(start: string, members: Set<string>, successors: Map<string, string[]>): string[] | undefined {
  const parent = new Map<string, string>();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head];
    for (const next of successors.get(id) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [id];
        while (path[0] !== start) path.unshift(parent.get(path[0])!);
        return path;
      }
      if (!parent.has(next) && next !== start) {
        parent.set(next, id);
        queue.push(next);
      }
    }
  }
  return undefined;
}

/** Successor lists between chosen nodes, deduplicated and sorted by doc index for determinism. */
function adjacency(doc: GraphShape, chosen: Set<string>, index: Map<string, number>): Map<string, string[]> {
  const sets = new Map<string, Set<string>>();
  for (const e of doc.edges) {
    if (!chosen.has(e.source) || !chosen.has(e.target)) continue;
    let set = sets.get(e.source);
    if (!set) sets.set(e.source, (set = new Set()));
    set.add(e.target);
  }
  const out = new Map<string, string[]>();
  for (const [id, set] of sets) out.set(id, [...set].sort((a, b) => index.get(a)! - index.get(b)!));
  return out;
}

/** Position of each node id in doc.nodes (first occurrence wins for duplicated ids). */
function nodeIndex(doc: GraphShape): Map<string, number> {
  const index = new Map<string, number>();
  doc.nodes.forEach((n, i) => {
    if (!index.has(n.id)) index.set(n.id, i);
  });
  return index;
}

function firstNodeById(doc: GraphDocument): Map<string, GraphNode> {
  const map = new Map<string, GraphNode>();
  for (const n of doc.nodes) if (!map.has(n.id)) map.set(n.id, n);
  return map;
}

function portOf<S extends InputSpec | OutputSpec>(ports: AnyNodeDefinition['inputs'], name: string): S | undefined {
  return Object.hasOwn(ports, name) ? (ports as Record<string, S>)[name] : undefined;
}

function portList(ports: Record<string, unknown>): string {
  const names = Object.keys(ports);
  return names.length ? names.join(', ') : 'none';
}

function inputKey(nodeId: string, port: string): string {
  return `${nodeId}\u0000${port}`;
}

function label(node: Pick<GraphNode, 'id' | 'type'>): string {
  return `node "${node.id}" (${node.type})`;
}
