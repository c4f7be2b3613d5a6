/**
 * The React Flow canvas, fully controlled by the editor store: nodes and edges are derived from the document
 * (state/selectors.ts) and every change goes back through store actions (state/flow-changes.ts), so undo,
 * autosave and runs see one truth. Adds what React Flow does not do by itself: refused connections with the
 * reason next to the cursor, the add-node palette (double-click, right-click, Tab, or a connection dropped on
 * empty canvas), dropping a node onto an edge to splice it in, and file drops (graph JSON or FlowStudio PNG).
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  Background,
  BackgroundVariant,
  Controls,
  MiniMap,
  ReactFlow,
  SelectionMode,
  useReactFlow,
  useStore as useFlowStore,
  type Connection,
  type Edge,
  type FinalConnectionState,
  type IsValidConnection,
  type Node,
  type OnConnectEnd,
} from '@xyflow/react';
import { canConnect, type ConnectionRequest } from '../../graph/connect.ts';
import { planInsertOnEdge } from '../../graph/insert-on-edge.ts';
import { applyFlowEdgeChanges, applyFlowNodeChanges } from '../../state/flow-changes.ts';
import {
  createFlowEdgesSelector,
  createFlowNodesSelector,
  GRAPH_NODE_TYPE,
  GROUP_NODE_TYPE,
  type FlowEdge,
  type FlowNode,
} from '../../state/selectors.ts';
import { useController, useEditor, useEditorStore, useSession } from '../app-context.tsx';
import { toast } from '../common/toasts.ts';
import { categoryColor, portColor } from '../theme.ts';
import { ConnectionLine } from './ConnectionLine.tsx';
import { edgeAtPoint, spliceIntoEdge } from './edge-drop.ts';
import { FlowNode as FlowNodeView } from './FlowNode.tsx';
import { GroupNode } from './GroupNode.tsx';

const NODE_TYPES = { [GRAPH_NODE_TYPE]: FlowNodeView, [GROUP_NODE_TYPE]: GroupNode };
const SNAP_GRID: [number, number] = [20, 20];
const MULTI_SELECT_KEYS = ['Shift', 'Control', 'Meta'];
/** Above this many nodes only what is on screen is rendered (keeps panning smooth on big graphs). */
const VIRTUALIZE_FROM = 200;
/**
 * Zoom levels below which small text (then all text) is hidden: unreadable there anyway, and rasterizing
 * thousands of tiny glyphs is what makes panning a big graph stutter. Layout stays identical.
 */
const LOW_DETAIL_ZOOM = 0.5;
const NO_TEXT_ZOOM = 0.28;

export function GraphCanvas() {
  const store = useEditorStore();
  const controller = useController();
  const flow = useReactFlow<FlowNode, FlowEdge>();
  const wrapperRef = useRef<HTMLDivElement>(null);
  const pointer = useRef<{ client: { x: number; y: number }; inside: boolean }>({ client: { x: 0, y: 0 }, inside: false });
  const [dropEdgeId, setDropEdgeId] = useState<string | null>(null);

  const selectNodes = useMemo(createFlowNodesSelector, []);
  const selectEdges = useMemo(createFlowEdgesSelector, []);
  const nodes = useEditor(selectNodes);
  const baseEdges = useEditor(selectEdges);
  const edgeIssues = useEditor((s) => s.run.edgeIssues);
  const snapToGrid = useSession((s) => s.snapToGrid);
  const showMinimap = useSession((s) => s.showMinimap);
  const selectMode = useSession((s) => s.selectMode);
  const docEpoch = useSession((s) => s.docEpoch);
  const detail = useFlowStore((s) => (s.transform[2] < NO_TEXT_ZOOM ? ' no-text' : s.transform[2] < LOW_DETAIL_ZOOM ? ' low-detail' : ''));

  // Edges flagged by validation or targeted by a node drag get a class; the rest keep their identity.
  const edges = useMemo(() => {
    if (!dropEdgeId && Object.keys(edgeIssues).length === 0) return baseEdges;
    return baseEdges.map((e): Edge =>
      e.id === dropEdgeId ? { ...e, className: 'drop-target', animated: true } : edgeIssues[e.id] ? { ...e, className: 'edge-error' } : e,
    ) as FlowEdge[];
  }, [baseEdges, dropEdgeId, edgeIssues]);

  // A newly opened document is fitted into view once React Flow has measured its nodes.
  useEffect(() => {
    if (docEpoch === 0) return;
    const t = setTimeout(() => void flow.fitView({ padding: 0.12, maxZoom: 1.2, duration: 0 }), 60);
    return () => clearTimeout(t);
  }, [docEpoch, flow]);

  const openPaletteAt = useCallback(
    (client: { x: number; y: number }, extra: { edgeId?: string; connectFrom?: NonNullable<ReturnType<typeof controller.session.getState>['palette']>['connectFrom'] } = {}) => {
      controller.session.setState({ palette: { flow: flow.screenToFlowPosition(client), screen: client, ...extra } });
    },
    [controller, flow],
  );

  useEffect(() => {
    controller.canvas = {
      fitView: () => void flow.fitView({ padding: 0.2, maxZoom: 1.2, duration: 200 }),
      pointerFlow: () => (pointer.current.inside ? flow.screenToFlowPosition(pointer.current.client) : null),
      openPalette: () => {
        const rect = wrapperRef.current?.getBoundingClientRect();
        if (!rect) return false;
        const at = pointer.current.inside ? pointer.current.client : { x: rect.left + rect.width / 2, y: rect.top + rect.height / 3 };
        openPaletteAt(at);
        return true;
      },
    };
    return () => {
      controller.canvas = null;
    };
  }, [controller, flow, openPaletteAt]);

  const isValidConnection: IsValidConnection<FlowEdge> = useCallback(
    (c) => {
      const s = store.getState();
      return canConnect(s.doc, s.nodeTypes, toRequest(c)).ok;
    },
    [store],
  );

  const onConnect = useCallback(
    (c: Connection) => {
      const r = toRequest(c);
      const result = store.getState().connect(r.source, r.sourcePort, r.target, r.targetPort);
      if (!result.ok) toast.error(result.reason, pointer.current.client);
    },
    [store],
  );

  const onConnectEnd: OnConnectEnd = useCallback(
    (event, state: FinalConnectionState) => {
      const client = clientPoint(event);
      if (!state.fromHandle || !state.fromNode) return;
      if (state.toHandle && state.toNode) {
        if (state.isValid !== false) return;
        if (state.toHandle.type === state.fromHandle.type) {
          toast.error(`Cannot connect two ${state.fromHandle.type === 'source' ? 'outputs' : 'inputs'}: drag from an output to an input`, client);
          return;
        }
        const from = { nodeId: state.fromNode.id, handleId: state.fromHandle.id ?? '' };
        const to = { nodeId: state.toNode.id, handleId: state.toHandle.id ?? '' };
        const request =
          state.fromHandle.type === 'source'
            ? { source: from.nodeId, sourcePort: from.handleId, target: to.nodeId, targetPort: to.handleId }
            : { source: to.nodeId, sourcePort: to.handleId, target: from.nodeId, targetPort: from.handleId };
        const s = store.getState();
        const check = canConnect(s.doc, s.nodeTypes, request);
        if (!check.ok) toast.error(check.reason, client);
        return;
      }
      // Dropped on empty canvas: offer the node types that can take (or give) this port.
      if (isOnPane(event.target)) {
        const s = store.getState();
        const node = s.doc.nodes.find((n) => n.id === state.fromNode!.id);
        const desc = node && s.nodeTypes[node.type];
        const side = state.fromHandle.type;
        const port = (side === 'source' ? desc?.outputs : desc?.inputs)?.find((p) => p.name === state.fromHandle!.id);
        if (node && port) openPaletteAt(client, { connectFrom: { nodeId: node.id, port: port.name, side, portType: port.type } });
      }
    },
    [store, openPaletteAt],
  );

  // Drag a node over an edge to splice it in (only nodes with no connections yet, like ComfyUI).
  const onNodeDrag = useCallback(
    (event: MouseEvent | TouchEvent, node: Node) => {
      if (node.type !== GRAPH_NODE_TYPE) return;
      const s = store.getState();
      if (s.doc.edges.some((e) => e.source === node.id || e.target === node.id)) return;
      const at = clientPoint(event);
      const edgeId = edgeAtPoint(at.x, at.y);
      const graphNode = s.doc.nodes.find((n) => n.id === node.id);
      const fits = edgeId && graphNode && planInsertOnEdge(s.doc, s.nodeTypes, edgeId, graphNode.type).ok;
      setDropEdgeId(fits ? edgeId : null);
    },
    [store],
  );

  const onNodeDragStop = useCallback(
    (_event: MouseEvent | TouchEvent, node: Node) => {
      const edgeId = dropEdgeId;
      setDropEdgeId(null);
      if (!edgeId) return;
      // After the drag's own undo step closes, the splice is one more step.
      setTimeout(() => spliceIntoEdge(store, node.id, edgeId), 0);
    },
    [store, dropEdgeId],
  );

  const onEdgeDoubleClick = useCallback((event: React.MouseEvent, edge: Edge) => openPaletteAt(clientPoint(event), { edgeId: edge.id }), [openPaletteAt]);

  return (
    <div
      ref={wrapperRef}
      className={`canvas-wrap${selectMode ? ' select-mode' : ''}${detail}`}
      data-testid="canvas"
      // Focusable, so a click on the canvas takes focus from toolbar buttons and Tab opens the palette.
      tabIndex={-1}
      onPointerMove={(e) => {
        pointer.current = { client: { x: e.clientX, y: e.clientY }, inside: true };
      }}
      onPointerLeave={() => {
        pointer.current.inside = false;
      }}
      onDoubleClick={(e) => {
        if (isOnPane(e.target)) openPaletteAt({ x: e.clientX, y: e.clientY });
      }}
      onDragOver={(e) => {
        if (e.dataTransfer.types.includes('Files')) {
          e.preventDefault();
          e.dataTransfer.dropEffect = 'copy';
        }
      }}
      onDrop={(e) => {
        const file = e.dataTransfer.files[0];
        if (!file) return;
        e.preventDefault();
        controller.docs.guard(() => void controller.docs.importFile(file), `Open ${file.name}`);
      }}
    >
      <ReactFlow<FlowNode, FlowEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        onNodesChange={(changes) => applyFlowNodeChanges(store, changes)}
        onEdgesChange={(changes) => applyFlowEdgeChanges(store, changes)}
        onConnect={onConnect}
        onConnectEnd={onConnectEnd}
        isValidConnection={isValidConnection}
        connectionLineComponent={ConnectionLine}
        onNodeDrag={onNodeDrag}
        onNodeDragStop={onNodeDragStop}
        onEdgeDoubleClick={onEdgeDoubleClick}
        onPaneContextMenu={(e) => {
          e.preventDefault();
          openPaletteAt(clientPoint(e));
        }}
        onMoveEnd={(_e, viewport) => store.getState().setViewport(viewport)}
        defaultViewport={store.getState().ui.viewport}
        minZoom={0.05}
        maxZoom={3}
        zoomOnDoubleClick={false}
        deleteKeyCode={null}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={MULTI_SELECT_KEYS}
        selectionOnDrag={selectMode}
        panOnDrag={selectMode ? [1, 2] : true}
        selectionMode={SelectionMode.Partial}
        snapToGrid={snapToGrid}
        snapGrid={SNAP_GRID}
        connectionRadius={24}
        onlyRenderVisibleElements={nodes.length > VIRTUALIZE_FROM}
        colorMode="dark"
        defaultEdgeOptions={{ interactionWidth: 18 }}
        attributionPosition="top-right"
      >
        {/* Zoomed far out the dot pattern gets so dense that painting it dominates every pan frame. */}
        {detail !== ' no-text' && <Background variant={BackgroundVariant.Dots} gap={SNAP_GRID[0]} size={1.4} color="#3a3f4b" />}
        <Controls position="bottom-left" showInteractive={false} />
        {showMinimap && (
          <MiniMap
            position="bottom-right"
            pannable
            zoomable
            nodeColor={(n) => minimapColor(n as FlowNode)}
            nodeStrokeWidth={0}
            maskColor="rgba(10, 12, 16, 0.65)"
            style={{ width: 168, height: 108 }}
            data-testid="minimap"
          />
        )}
      </ReactFlow>
    </div>
  );
}

function toRequest(c: Connection | Edge): ConnectionRequest {
  return { source: c.source, sourcePort: c.sourceHandle ?? '', target: c.target, targetPort: c.targetHandle ?? '' };
}

function clientPoint(event: MouseEvent | TouchEvent | React.MouseEvent): { x: number; y: number } {
  if ('changedTouches' in event && event.changedTouches.length) return { x: event.changedTouches[0].clientX, y: event.changedTouches[0].clientY };
  const m = event as MouseEvent;
  return { x: m.clientX, y: m.clientY };
}

function isOnPane(target: EventTarget | null): boolean {
  return target instanceof Element && target.classList.contains('react-flow__pane');
}

function minimapColor(n: FlowNode): string {
  if (n.type === GROUP_NODE_TYPE) return 'rgba(100, 116, 139, 0.25)';
  const desc = n.data.description;
  return n.data.node.color ?? (desc ? categoryColor(desc.category) : portColor(''));
}
