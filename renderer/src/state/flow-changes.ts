/**
 * Turns React Flow's change lists into store actions, so the canvas can run fully controlled:
 * `<ReactFlow nodes={...} onNodesChange={(c) => applyFlowNodeChanges(store, c)} ...>`.
 * A drag (position changes with `dragging: true` ... `dragging: false`) becomes one undo step;
 * measured sizes go to `ui.nodeSizes` (React Flow only shows nodes whose size it was given back).
 */
import type { EdgeChange, NodeChange } from '@xyflow/react';
import type { Size, XY } from '../graph/geometry.ts';
import { groupIdOfFlowId, type FlowEdge, type FlowNode } from './selectors.ts';
import type { EditorStore, Selection } from './store.ts';

export const DRAG_TRANSACTION_KEY = 'drag';

export function applyFlowNodeChanges(store: EditorStore, changes: readonly NodeChange<FlowNode>[]): void {
  const state = store.getState();
  const positions: Record<string, XY> = {};
  const sizes: Record<string, Size> = {};
  const removed: string[] = [];
  const removedGroups: string[] = [];
  const select = { nodes: new Map<string, boolean>(), groups: new Map<string, boolean>() };
  let dragStarted = false;
  let dragEnded = false;

  for (const change of changes) {
    switch (change.type) {
      case 'position': {
        if (change.dragging === true) dragStarted = true;
        if (change.dragging === false) dragEnded = true;
        if (!change.position) break;
        const groupId = groupIdOfFlowId(change.id);
        if (groupId === undefined) positions[change.id] = change.position;
        else {
          const group = state.doc.groups.find((g) => g.id === groupId);
          if (group) {
            if (dragStarted && !store.getState().transaction) store.getState().beginTransaction(DRAG_TRANSACTION_KEY, `Move group ${group.title}`.trim());
            store.getState().moveGroup(groupId, { x: change.position.x - group.bounds.x, y: change.position.y - group.bounds.y });
          }
        }
        break;
      }
      case 'dimensions': {
        if (!change.dimensions) break;
        const groupId = groupIdOfFlowId(change.id);
        if (groupId === undefined) {
          const known = state.ui.nodeSizes[change.id];
          if (!known || known.width !== change.dimensions.width || known.height !== change.dimensions.height) sizes[change.id] = { ...change.dimensions };
        } else if (change.resizing !== undefined) {
          // A group frame resized by the user (NodeResizer); measurements of the frame itself are ignored.
          const group = state.doc.groups.find((g) => g.id === groupId);
          if (group) store.getState().updateGroup(groupId, { bounds: { ...group.bounds, ...change.dimensions } });
        }
        break;
      }
      case 'select': {
        const groupId = groupIdOfFlowId(change.id);
        if (groupId === undefined) select.nodes.set(change.id, change.selected);
        else select.groups.set(groupId, change.selected);
        break;
      }
      case 'remove': {
        const groupId = groupIdOfFlowId(change.id);
        if (groupId === undefined) removed.push(change.id);
        else removedGroups.push(groupId);
        break;
      }
      default:
        break;
    }
  }

  const s = store.getState();
  if (Object.keys(sizes).length) s.setNodeSizes(sizes);
  if (Object.keys(positions).length) {
    if (dragStarted && !s.transaction) s.beginTransaction(DRAG_TRANSACTION_KEY);
    s.moveNodes(positions);
  }
  if (dragEnded && store.getState().transaction?.key === DRAG_TRANSACTION_KEY) store.getState().endTransaction();
  if (removed.length || removedGroups.length) {
    const { selection } = store.getState();
    store.getState().setSelection({ ...selection, nodes: removed, groups: removedGroups, edges: [] });
    store.getState().deleteSelection();
  }
  if (select.nodes.size || select.groups.size) {
    const current = store.getState().selection;
    store.getState().setSelection({ nodes: applySelect(current.nodes, select.nodes), groups: applySelect(current.groups, select.groups) });
  }
}

export function applyFlowEdgeChanges(store: EditorStore, changes: readonly EdgeChange<FlowEdge>[]): void {
  const removed: string[] = [];
  const select = new Map<string, boolean>();
  for (const change of changes) {
    if (change.type === 'remove') removed.push(change.id);
    else if (change.type === 'select') select.set(change.id, change.selected);
  }
  if (removed.length) store.getState().disconnect(removed);
  if (select.size) {
    const current: Selection = store.getState().selection;
    store.getState().setSelection({ edges: applySelect(current.edges, select) });
  }
}

function applySelect(current: readonly string[], changes: Map<string, boolean>): string[] {
  const next = new Set(current);
  for (const [id, selected] of changes) {
    if (selected) next.add(id);
    else next.delete(id);
  }
  return [...next];
}
