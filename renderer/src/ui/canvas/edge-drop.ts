/** Dropping a node onto an edge: find the edge under the pointer, then splice the node into it. */
import { planInsertOnEdge } from '../../graph/insert-on-edge.ts';
import type { EditorStore } from '../../state/store.ts';
import { toast } from '../common/toasts.ts';

/** The id of the edge under a screen point (its wide invisible hit path counts). */
export function edgeAtPoint(x: number, y: number): string | null {
  for (const el of document.elementsFromPoint(x, y)) {
    const edge = el.closest('.react-flow__edge');
    if (edge) return edge.getAttribute('data-id');
  }
  return null;
}

/** Splices an existing node into an edge: edge source -> node -> edge target, as one undo step. */
export function spliceIntoEdge(store: EditorStore, nodeId: string, edgeId: string): void {
  const s = store.getState();
  const node = s.doc.nodes.find((n) => n.id === nodeId);
  if (!node) return;
  const plan = planInsertOnEdge(s.doc, s.nodeTypes, edgeId, node.type);
  if (!plan.ok) {
    toast.warning(plan.reason);
    return;
  }
  const { edge, input, output } = plan;
  s.beginTransaction('splice', `Insert ${node.title || s.nodeTypes[node.type]?.title || node.type}`);
  try {
    const st = store.getState();
    st.disconnect([edge.id]);
    const a = st.connect(edge.source, edge.sourcePort, nodeId, input.name);
    const b = store.getState().connect(nodeId, output.name, edge.target, edge.targetPort);
    if (!a.ok || !b.ok) toast.warning((!a.ok && a.reason) || (!b.ok && b.reason) || 'Cannot insert the node here');
  } finally {
    store.getState().endTransaction();
  }
}

