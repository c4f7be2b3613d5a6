/**
 * React Flow nodes and edges derived from the document (never stored). Each selector factory keeps its
 * last result and per-item results, so unchanged nodes keep their object identity (React Flow and
 * React.memo skip them) and zustand's useSyncExternalStore sees a stable snapshot.
 */
import type { Edge, Node } from '@xyflow/react';
import type { NodeTypeDescription } from '../../../electron/engine/graph/describe.ts';
import type { GraphEdge, GraphGroup, GraphNode } from '../../../electron/engine/graph/schema.ts';
import { outputOf } from '../graph/node-types.ts';
import { portColor } from '../graph/port-colors.ts';
import type { Size } from '../graph/geometry.ts';
import type { EditorState } from './store.ts';

export const GRAPH_NODE_TYPE = 'flowstudio';
export const GROUP_NODE_TYPE = 'flowstudio-group';
const GROUP_FLOW_PREFIX = 'group:';

export interface GraphNodeData extends Record<string, unknown> {
  node: GraphNode;
  /** undefined when the type is unknown to this build (the node is shown as a placeholder). */
  description: NodeTypeDescription | undefined;
}
export interface GroupNodeData extends Record<string, unknown> {
  group: GraphGroup;
}
export type GraphFlowNode = Node<GraphNodeData, typeof GRAPH_NODE_TYPE>;
export type GroupFlowNode = Node<GroupNodeData, typeof GROUP_NODE_TYPE>;
export type FlowNode = GraphFlowNode | GroupFlowNode;

export interface FlowEdgeData extends Record<string, unknown> {
  /** The port type the edge carries (from the source output), undefined when unknown. */
  portType: string | undefined;
  color: string;
}
export type FlowEdge = Edge<FlowEdgeData>;

/** React Flow id of a group's frame node; groups share the canvas with nodes, so their ids are prefixed. */
export function groupFlowId(groupId: string): string {
  return `${GROUP_FLOW_PREFIX}${groupId}`;
}
/** The group id behind a React Flow node id, or undefined for graph nodes. */
export function groupIdOfFlowId(flowId: string): string | undefined {
  return flowId.startsWith(GROUP_FLOW_PREFIX) ? flowId.slice(GROUP_FLOW_PREFIX.length) : undefined;
}

/** Group frames first (drawn underneath), then graph nodes in document order. */
export function createFlowNodesSelector(): (state: EditorState) => FlowNode[] {
  const nodeCache = new WeakMap<GraphNode, { selected: boolean; size: Size | undefined; description: NodeTypeDescription | undefined; flow: GraphFlowNode }>();
  const groupCache = new WeakMap<GraphGroup, { selected: boolean; flow: GroupFlowNode }>();
  let last: { nodes: unknown; groups: unknown; selection: unknown; sizes: unknown; types: unknown; result: FlowNode[] } | undefined;

  return (state) => {
    const { doc, selection, ui, nodeTypes } = state;
    if (last && last.nodes === doc.nodes && last.groups === doc.groups && last.selection === selection && last.sizes === ui.nodeSizes && last.types === nodeTypes) {
      return last.result;
    }
    const selectedNodes = new Set(selection.nodes);
    const selectedGroups = new Set(selection.groups);
    const groups = doc.groups.map((group) => {
      const selected = selectedGroups.has(group.id);
      const hit = groupCache.get(group);
      if (hit && hit.selected === selected) return hit.flow;
      const flow: GroupFlowNode = {
        id: groupFlowId(group.id),
        type: GROUP_NODE_TYPE,
        position: { x: group.bounds.x, y: group.bounds.y },
        width: group.bounds.width,
        height: group.bounds.height,
        measured: { width: group.bounds.width, height: group.bounds.height },
        zIndex: -1,
        selected,
        connectable: false,
        data: { group },
      };
      groupCache.set(group, { selected, flow });
      return flow;
    });
    const nodes = doc.nodes.map((node) => {
      const selected = selectedNodes.has(node.id);
      const size = ui.nodeSizes[node.id];
      const description = nodeTypes[node.type];
      const hit = nodeCache.get(node);
      if (hit && hit.selected === selected && hit.size === size && hit.description === description) return hit.flow;
      const flow: GraphFlowNode = {
        id: node.id,
        type: GRAPH_NODE_TYPE,
        position: node.position,
        selected,
        data: { node, description },
        ...(size ? { measured: { width: size.width, height: size.height } } : {}),
      };
      nodeCache.set(node, { selected, size, description, flow });
      return flow;
    });
    const result: FlowNode[] = [...groups, ...nodes];
    last = { nodes: doc.nodes, groups: doc.groups, selection, sizes: ui.nodeSizes, types: nodeTypes, result };
    return result;
  };
}

/** Edges with their port type's colour; sourceHandle/targetHandle are the port names. */
export function createFlowEdgesSelector(): (state: EditorState) => FlowEdge[] {
  const cache = new WeakMap<GraphEdge, { selected: boolean; portType: string | undefined; flow: FlowEdge }>();
  let last: { edges: unknown; nodes: unknown; selection: unknown; types: unknown; result: FlowEdge[] } | undefined;

  return (state) => {
    const { doc, selection, nodeTypes } = state;
    if (last && last.edges === doc.edges && last.nodes === doc.nodes && last.selection === selection && last.types === nodeTypes) return last.result;
    const typeOfNode = new Map(doc.nodes.map((n) => [n.id, n.type]));
    const selected = new Set(selection.edges);
    const result = doc.edges.map((edge) => {
      const isSelected = selected.has(edge.id);
      const portType = outputOf(nodeTypes[typeOfNode.get(edge.source) ?? ''], edge.sourcePort)?.type;
      const hit = cache.get(edge);
      if (hit && hit.selected === isSelected && hit.portType === portType) return hit.flow;
      const color = portType ? portColor(portType) : portColor('');
      const flow: FlowEdge = {
        id: edge.id,
        source: edge.source,
        sourceHandle: edge.sourcePort,
        target: edge.target,
        targetHandle: edge.targetPort,
        selected: isSelected,
        style: { stroke: color },
        data: { portType, color },
      };
      cache.set(edge, { selected: isSelected, portType, flow });
      return flow;
    });
    last = { edges: doc.edges, nodes: doc.nodes, selection, types: nodeTypes, result };
    return result;
  };
}

/** The one selected graph node (for the inspector), or undefined when none or several are selected. */
export function selectInspectedNode(state: EditorState): GraphNode | undefined {
  if (state.selection.nodes.length !== 1) return undefined;
  const id = state.selection.nodes[0];
  return state.doc.nodes.find((n) => n.id === id);
}

/** Input port names of a node that have an edge into them. */
export function connectedInputs(state: Pick<EditorState, 'doc'>, nodeId: string): Set<string> {
  return new Set(state.doc.edges.filter((e) => e.target === nodeId).map((e) => e.targetPort));
}

/** Labels for a history panel: `undo` oldest first (the last is what undo() reverts), `redo` next-first. */
export function createHistoryLabelsSelector(): (state: EditorState) => { undo: string[]; redo: string[] } {
  let last: { history: unknown; result: { undo: string[]; redo: string[] } } | undefined;
  return (state) => {
    if (last?.history === state.history) return last.result;
    const result = { undo: state.history.past.map((e) => e.label), redo: [...state.history.future].reverse().map((e) => e.label) };
    last = { history: state.history, result };
    return result;
  };
}
