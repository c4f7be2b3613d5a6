/**
 * The editor store (zustand 5 vanilla store + immer 11 patches).
 *
 * - `doc` (GraphDocument v1) is the single source of truth for nodes, edges, groups, params, positions,
 *   titles and colours. React Flow nodes/edges are derived from it (see ./selectors.ts), never stored.
 * - Every document action is one undo step made of immer patches. `beginTransaction(key)` ...
 *   `endTransaction()` folds everything in between into one step (a drag); `setParam(..., { transactionKey })`
 *   calls for the same node + param with the same key coalesce into one step (typing in a field).
 *   History is unlimited and untouched by runs, previews, selection and viewport changes.
 * - `selection`, `ui` (viewport, panels, measured node sizes) and `run` (statuses, queue, previews,
 *   outputs: ./run-state.ts) live outside the history.
 * - Actions that can be refused return `{ ok: true, ... } | { ok: false, reason }`; the reason is a
 *   sentence for the user that names the node(s) and the cause. A refused action changes nothing.
 *
 * Use: `const store = createEditorStore({ nodeTypes })`; read with `store.getState()`, subscribe with
 * `store.subscribe`, or in React `useEditor(selector)` from ./use-editor.ts (bound to `editorStore`).
 */
import { applyPatches, enablePatches, produceWithPatches, type Draft } from 'immer';
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { NodeTypeDescription } from '../../../electron/engine/graph/describe.ts';
import type { GraphDocument, GraphGroup, GraphNode, GraphParamValue } from '../../../electron/engine/graph/schema.ts';
import { alignRects, type AlignMode } from '../graph/align.ts';
import { parseClipboard, placeFragment, serializeSelection, type GraphFragment } from '../graph/clipboard.ts';
import { canConnect, type ConnectionRequest } from '../graph/connect.ts';
import { emptyDocument } from '../graph/document.ts';
import { centreInside, groupBoundsAround, nodeRect, type Rect, type Size, type XY } from '../graph/geometry.ts';
import { EDGE_ID_PREFIX, freshId, GROUP_ID_PREFIX, nodeIdPrefix, takenIds } from '../graph/ids.ts';
import { planInsertOnEdge } from '../graph/insert-on-edge.ts';
import { defaultParams, indexNodeTypes, nodeLabel, paramOf, paramValueProblem, type NodeTypeIndex } from '../graph/node-types.ts';
import { EMPTY_HISTORY, mergeIntoLast, pushEntry, sealLast, type History } from './history.ts';
import { metadataEditLabel, normalizeMetadataPatch, type MetadataPatch } from './metadata.ts';
import { INITIAL_RUN_STATE, runReducer, type RunAction, type RunState } from './run-state.ts';

export type { MetadataPatch } from './metadata.ts';

enablePatches();

export type Result<T extends object = object> = ({ ok: true } & T) | { ok: false; reason: string };

export interface Selection {
  nodes: readonly string[];
  edges: readonly string[];
  groups: readonly string[];
}

export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

export interface UiState {
  viewport: Viewport;
  /** Open/closed panels by name ('inspector', 'outputs', 'presets', 'palette', ...). */
  panels: Readonly<Record<string, boolean>>;
  /** Node sizes React Flow measured (for align and groups); unmeasured nodes use DEFAULT_NODE_SIZE. */
  nodeSizes: Readonly<Record<string, Size>>;
}

export interface GroupPatch {
  title?: string;
  color?: string | null;
  bounds?: GraphGroup['bounds'];
}

export interface EditorActions {
  // --- document (each call is one undo step unless inside a transaction) ---
  /** Replaces the document; clears history, selection and per-node run state. */
  loadDocument(doc: GraphDocument): void;
  /** Node type declarations (from EngineAPI.listNodeTypes()); not part of the history. */
  setNodeTypes(types: readonly NodeTypeDescription[]): void;
  /** Adds a node with its declared defaults (overridden by `params`); id like "sampler_1". Selects it. */
  addNode(type: string, position: XY, params?: Record<string, GraphParamValue>): Result<{ nodeId: string }>;
  /** Removes nodes and every edge touching them. */
  removeNodes(ids: readonly string[]): void;
  /** Removes the selected nodes, edges and groups as one step. */
  deleteSelection(): void;
  /** Absolute top-left positions by node id. Wrap a drag in begin/endTransaction. */
  moveNodes(positions: Readonly<Record<string, XY>>): void;
  /** Connects an output to an input; an edge already feeding that input is replaced. */
  connect(source: string, sourcePort: string, target: string, targetPort: string): Result<{ edgeId: string }>;
  disconnect(edgeIds: readonly string[]): void;
  /** Sets a param (undefined: back to its default). Same `transactionKey` + node + param in a row: one step. */
  setParam(nodeId: string, name: string, value: GraphParamValue | undefined, opts?: { transactionKey?: string }): Result;
  /** Empty title: back to the type's title. */
  setTitle(nodeId: string, title: string): void;
  /** null: no colour. */
  setColor(nodeId: string, color: string | null): Result;
  /** A group framing the nodes (padded); returns its id. */
  createGroup(nodeIds: readonly string[], title: string, color?: string): Result<{ groupId: string }>;
  updateGroup(groupId: string, patch: GroupPatch): Result;
  /** Removes the group frame; its nodes stay. */
  removeGroup(groupId: string): void;
  /** Moves a group and the nodes whose centre lies inside it. */
  moveGroup(groupId: string, delta: XY): void;
  /** Copies of the nodes (and the edges between them, and the selected groups) offset by `offset`; selects them. */
  duplicate(ids: readonly string[], offset?: XY): Result<{ nodeIds: string[] }>;
  /** Pastes clipboard JSON or a whole graph document with fresh ids; top-left at `at` (default: +40,+40). */
  paste(json: string, at?: XY): Result<{ nodeIds: string[] }>;
  align(ids: readonly string[], mode: AlignMode): void;
  /** Splices a new node into an edge: edge source -> new node -> edge target. */
  insertNodeOnEdge(edgeId: string, type: string, position: XY): Result<{ nodeId: string }>;
  /** Name, description, author and/or tags of the document (trimmed; an empty name is refused); one step. */
  setMetadata(patch: MetadataPatch): Result;

  // --- history ---
  beginTransaction(key: string, label?: string): void;
  endTransaction(): void;
  /** Ends coalescing on the newest step (e.g. when a field loses focus). */
  sealHistory(): void;
  undo(): boolean;
  redo(): boolean;
  canUndo(): boolean;
  canRedo(): boolean;
  /** Label of the step undo() would revert / redo() would reapply. */
  undoLabel(): string | undefined;
  redoLabel(): string | undefined;

  // --- selection and UI (outside the history) ---
  setSelection(selection: Partial<Selection>): void;
  /** Adds or (with `toggle`) flips ids in the selection. */
  select(kind: keyof Selection, ids: readonly string[], mode?: 'replace' | 'add' | 'toggle'): void;
  selectAll(): void;
  clearSelection(): void;
  /** Clipboard JSON of the selected nodes (and groups). */
  copySelection(): string;
  setViewport(viewport: Viewport): void;
  setPanel(name: string, open: boolean): void;
  setNodeSizes(sizes: Readonly<Record<string, Size>>): void;

  // --- runs (outside the history) ---
  dispatchRun(action: RunAction): void;

  // --- saving ---
  /** The document as it should be saved: the current viewport included. */
  documentForSave(): GraphDocument;
  /** Marks the current revision as saved (isDirty() becomes false). */
  markSaved(): void;
  isDirty(): boolean;
}

export interface EditorData {
  doc: GraphDocument;
  nodeTypes: NodeTypeIndex;
  selection: Selection;
  ui: UiState;
  history: History;
  /** Bumped on every document change (actions, undo, redo, load): autosave and dirty checks key off it. */
  revision: number;
  savedRevision: number;
  /** The open transaction, if any (nested begin/end pairs share it). */
  transaction: { id: string; key: string; label?: string; depth: number } | null;
  run: RunState;
}

export type EditorState = EditorData & EditorActions;
export type EditorStore = StoreApi<EditorState>;

export interface EditorStoreOptions {
  nodeTypes?: readonly NodeTypeDescription[];
  doc?: GraphDocument;
}

const EMPTY_SELECTION: Selection = { nodes: [], edges: [], groups: [] };
const DEFAULT_PASTE_OFFSET: XY = { x: 40, y: 40 };

export function createEditorStore(options: EditorStoreOptions = {}): EditorStore {
  let transactionCounter = 0;

  return createStore<EditorState>()((set, get) => {
    /**
     * Applies a recipe to the document as one undo step (or part of the open transaction / coalesced
     * step). Returns false when the recipe changed nothing (no step recorded).
     */
    function commit(label: string, recipe: (draft: Draft<GraphDocument>) => void, coalesceTag?: string): boolean {
      const state = get();
      const [doc, patches, inversePatches] = produceWithPatches(state.doc, recipe);
      if (patches.length === 0) return false;
      const tx = state.transaction;
      const tag = tx ? `tx\u0000${tx.id}` : coalesceTag;
      const last = state.history.past[state.history.past.length - 1];
      const history =
        tag !== undefined && last?.mergeTag === tag
          ? mergeIntoLast(state.history, { patches, inversePatches })
          : pushEntry(sealLast(state.history), { label: tx?.label ?? label, patches, inversePatches, mergeTag: tag });
      set({ doc, history, revision: state.revision + 1, selection: pruneSelection(state.selection, doc) });
      return true;
    }

    function types(): NodeTypeIndex {
      return get().nodeTypes;
    }

    function nodeById(id: string): GraphNode | undefined {
      return get().doc.nodes.find((n) => n.id === id);
    }

    function rectsOf(ids: readonly string[]): (Rect & { id: string })[] {
      const { doc, ui } = get();
      const wanted = new Set(ids);
      return doc.nodes.filter((n) => wanted.has(n.id)).map((n) => ({ id: n.id, ...nodeRect(n, ui.nodeSizes[n.id]) }));
    }

    function insertFragment(label: string, fragment: GraphFragment, place: { at?: XY; offset?: XY }): Result<{ nodeIds: string[] }> {
      if (fragment.nodes.length === 0 && fragment.groups.length === 0) return { ok: false, reason: 'Nothing to paste: no nodes were copied' };
      const unknown = fragment.nodes.find((n) => Object.keys(types()).length > 0 && !types()[n.type]);
      if (unknown) return { ok: false, reason: `Cannot paste: ${nodeLabel(unknown)} has unknown type "${unknown.type}"` };
      const placed = placeFragment(get().doc, fragment, place);
      commit(label, (d) => {
        d.nodes.push(...placed.nodes);
        d.edges.push(...placed.edges);
        d.groups.push(...placed.groups);
      });
      const nodeIds = placed.nodes.map((n) => n.id);
      set({ selection: { nodes: nodeIds, edges: placed.edges.map((e) => e.id), groups: placed.groups.map((g) => g.id) } });
      return { ok: true, nodeIds };
    }

    function removeFromDoc(d: Draft<GraphDocument>, sel: Partial<Selection>): void {
      const nodes = new Set(sel.nodes ?? []);
      const edges = new Set(sel.edges ?? []);
      const groups = new Set(sel.groups ?? []);
      if (nodes.size) d.nodes = d.nodes.filter((n) => !nodes.has(n.id));
      if (nodes.size || edges.size) d.edges = d.edges.filter((e) => !edges.has(e.id) && !nodes.has(e.source) && !nodes.has(e.target));
      if (groups.size) d.groups = d.groups.filter((g) => !groups.has(g.id));
    }

    return {
      doc: options.doc ?? emptyDocument(),
      nodeTypes: indexNodeTypes(options.nodeTypes ?? []),
      selection: EMPTY_SELECTION,
      ui: { viewport: { ...(options.doc?.viewport ?? { x: 0, y: 0, zoom: 1 }) }, panels: {}, nodeSizes: {} },
      history: EMPTY_HISTORY,
      revision: 0,
      savedRevision: 0,
      transaction: null,
      run: INITIAL_RUN_STATE,

      loadDocument(doc) {
        const revision = get().revision + 1;
        set({
          doc,
          history: EMPTY_HISTORY,
          selection: EMPTY_SELECTION,
          transaction: null,
          revision,
          savedRevision: revision,
          ui: { ...get().ui, viewport: { ...doc.viewport }, nodeSizes: {} },
          run: runReducer(get().run, { type: 'reset-nodes' }),
        });
      },

      setNodeTypes(list) {
        set({ nodeTypes: indexNodeTypes(list) });
      },

      addNode(type, position, params = {}) {
        const desc = types()[type];
        if (!desc) return { ok: false, reason: `Cannot add a node of unknown type "${type}"` };
        for (const [name, value] of Object.entries(params)) {
          const problem = checkParam(desc, desc.title, name, value);
          if (problem) return { ok: false, reason: problem };
        }
        const nodeId = freshId(nodeIdPrefix(type), takenIds(get().doc));
        const node: GraphNode = { id: nodeId, type, params: { ...defaultParams(desc), ...params }, position: { x: position.x, y: position.y }, typeVersion: desc.version };
        commit(`Add ${desc.title}`, (d) => {
          d.nodes.push(node);
        });
        set({ selection: { nodes: [nodeId], edges: [], groups: [] } });
        return { ok: true, nodeId };
      },

      removeNodes(ids) {
        if (ids.length === 0) return;
        commit(ids.length === 1 ? `Delete ${labelOf(nodeById(ids[0]), ids[0])}` : `Delete ${ids.length} nodes`, (d) => removeFromDoc(d, { nodes: ids }));
      },

      deleteSelection() {
        const sel = get().selection;
        const count = sel.nodes.length + sel.edges.length + sel.groups.length;
        if (count === 0) return;
        const what = sel.nodes.length ? plural(sel.nodes.length, 'node') : sel.edges.length ? plural(sel.edges.length, 'connection') : plural(sel.groups.length, 'group');
        commit(`Delete ${what}`, (d) => removeFromDoc(d, sel));
      },

      moveNodes(positions) {
        const ids = Object.keys(positions);
        if (ids.length === 0) return;
        // Find the moved nodes on the plain array: touching every draft would proxy all nodes each drag frame.
        const moved: number[] = [];
        get().doc.nodes.forEach((node, i) => {
          const p = positions[node.id];
          if (p && (node.position.x !== p.x || node.position.y !== p.y)) moved.push(i);
        });
        if (moved.length === 0) return;
        commit(ids.length === 1 ? `Move ${labelOf(nodeById(ids[0]), ids[0])}` : `Move ${ids.length} nodes`, (d) => {
          for (const i of moved) {
            const p = positions[d.nodes[i].id];
            d.nodes[i].position = { x: p.x, y: p.y };
          }
        });
      },

      connect(source, sourcePort, target, targetPort) {
        const req: ConnectionRequest = { source, sourcePort, target, targetPort };
        const check = canConnect(get().doc, types(), req);
        if (!check.ok) return { ok: false, reason: check.reason };
        if (check.existing) return { ok: true, edgeId: check.existing.id };
        const edgeId = freshId(EDGE_ID_PREFIX, takenIds(get().doc));
        commit(`Connect ${source}.${sourcePort} to ${target}.${targetPort}`, (d) => {
          if (check.replaces) d.edges = d.edges.filter((e) => e.id !== check.replaces!.id);
          d.edges.push({ id: edgeId, ...req });
        });
        return { ok: true, edgeId };
      },

      disconnect(edgeIds) {
        if (edgeIds.length === 0) return;
        commit(edgeIds.length === 1 ? 'Disconnect' : `Disconnect ${edgeIds.length} connections`, (d) => removeFromDoc(d, { edges: edgeIds }));
      },

      setParam(nodeId, name, value, opts = {}) {
        const node = nodeById(nodeId);
        if (!node) return { ok: false, reason: `Cannot set "${name}": node "${nodeId}" does not exist` };
        const desc = types()[node.type];
        if (desc && value !== undefined) {
          const problem = checkParam(desc, nodeLabel(node), name, value);
          if (problem) return { ok: false, reason: problem };
        } else if (desc && !paramOf(desc, name)) {
          return { ok: false, reason: `${nodeLabel(node)} has no param "${name}"` };
        }
        const label = `Change ${paramOf(desc, name)?.label ?? name}`;
        const tag = opts.transactionKey === undefined ? undefined : `param\u0000${opts.transactionKey}\u0000${nodeId}\u0000${name}`;
        commit(
          label,
          (d) => {
            const n = d.nodes.find((x) => x.id === nodeId)!;
            if (value === undefined) delete n.params[name];
            else if (n.params[name] !== value) n.params[name] = value;
          },
          tag,
        );
        return { ok: true };
      },

      setTitle(nodeId, title) {
        const node = nodeById(nodeId);
        if (!node) return;
        const trimmed = title.trim();
        commit(`Rename ${labelOf(node, nodeId)}`, (d) => {
          const n = d.nodes.find((x) => x.id === nodeId)!;
          if (trimmed) n.title = trimmed.slice(0, 200);
          else delete n.title;
        });
      },

      setMetadata(patch) {
        const checked = normalizeMetadataPatch(patch);
        if (!checked.ok) return checked;
        const clean = checked.patch;
        commit(metadataEditLabel(clean), (d) => {
          if (clean.name !== undefined && d.metadata.name !== clean.name) d.metadata.name = clean.name;
          if (clean.description !== undefined && d.metadata.description !== clean.description) d.metadata.description = clean.description;
          if (clean.author !== undefined && d.metadata.author !== clean.author) d.metadata.author = clean.author;
          const tags = clean.tags;
          if (tags !== undefined && (tags.length !== d.metadata.tags.length || tags.some((t, i) => t !== d.metadata.tags[i]))) d.metadata.tags = [...tags];
        });
        return { ok: true };
      },

      setColor(nodeId, color) {
        const node = nodeById(nodeId);
        if (!node) return { ok: false, reason: `Cannot colour node "${nodeId}": it does not exist` };
        if (color !== null && !isColor(color)) return { ok: false, reason: `Cannot colour ${nodeLabel(node)}: "${color}" is not a #rrggbb colour` };
        commit(`Colour ${labelOf(node, nodeId)}`, (d) => {
          const n = d.nodes.find((x) => x.id === nodeId)!;
          if (color === null) delete n.color;
          else n.color = color.toLowerCase();
        });
        return { ok: true };
      },

      createGroup(nodeIds, title, color) {
        if (color !== undefined && !isColor(color)) return { ok: false, reason: `Cannot create group: "${color}" is not a #rrggbb colour` };
        const bounds = groupBoundsAround(rectsOf(nodeIds));
        if (!bounds) return { ok: false, reason: 'Cannot create a group: select at least one node' };
        const groupId = freshId(GROUP_ID_PREFIX, takenIds(get().doc));
        const group: GraphGroup = { id: groupId, title: title.slice(0, 200), bounds, ...(color ? { color: color.toLowerCase() } : {}) };
        commit(`Group ${plural(nodeIds.length, 'node')}`, (d) => {
          d.groups.push(group);
        });
        set({ selection: { ...get().selection, groups: [groupId] } });
        return { ok: true, groupId };
      },

      updateGroup(groupId, patch) {
        const group = get().doc.groups.find((g) => g.id === groupId);
        if (!group) return { ok: false, reason: `Group "${groupId}" does not exist` };
        if (patch.color != null && !isColor(patch.color)) return { ok: false, reason: `Cannot colour group "${group.title || groupId}": "${patch.color}" is not a #rrggbb colour` };
        if (patch.bounds && !(patch.bounds.width >= 0 && patch.bounds.height >= 0 && [patch.bounds.x, patch.bounds.y].every(Number.isFinite))) {
          return { ok: false, reason: `Group "${group.title || groupId}": bounds must be finite with a non-negative size` };
        }
        const label = patch.bounds && patch.title === undefined && patch.color === undefined ? 'Resize group' : 'Edit group';
        commit(label, (d) => {
          const g = d.groups.find((x) => x.id === groupId)!;
          if (patch.title !== undefined) g.title = patch.title.slice(0, 200);
          if (patch.color === null) delete g.color;
          else if (patch.color !== undefined) g.color = patch.color.toLowerCase();
          if (patch.bounds) g.bounds = { ...patch.bounds };
        });
        return { ok: true };
      },

      removeGroup(groupId) {
        commit('Delete group', (d) => removeFromDoc(d, { groups: [groupId] }));
      },

      moveGroup(groupId, delta) {
        const { doc, ui } = get();
        const group = doc.groups.find((g) => g.id === groupId);
        if (!group || (delta.x === 0 && delta.y === 0)) return;
        const inside = new Set(doc.nodes.filter((n) => centreInside(nodeRect(n, ui.nodeSizes[n.id]), group.bounds)).map((n) => n.id));
        commit(`Move group ${group.title}`.trim(), (d) => {
          const g = d.groups.find((x) => x.id === groupId)!;
          g.bounds = { ...g.bounds, x: g.bounds.x + delta.x, y: g.bounds.y + delta.y };
          for (const n of d.nodes) if (inside.has(n.id)) n.position = { x: n.position.x + delta.x, y: n.position.y + delta.y };
        });
      },

      duplicate(ids, offset = DEFAULT_PASTE_OFFSET) {
        const { doc, selection } = get();
        const fragment = parseClipboard(serializeSelection(doc, { nodes: ids, groups: selection.groups }));
        if (!fragment.ok) return fragment;
        if (fragment.fragment.nodes.length === 0) return { ok: false, reason: 'Nothing to duplicate: select at least one node' };
        return insertFragment(`Duplicate ${plural(fragment.fragment.nodes.length, 'node')}`, fragment.fragment, { offset });
      },

      paste(json, at) {
        const parsed = parseClipboard(json);
        if (!parsed.ok) return parsed;
        return insertFragment(`Paste ${plural(parsed.fragment.nodes.length, 'node')}`, parsed.fragment, at ? { at } : { offset: DEFAULT_PASTE_OFFSET });
      },

      align(ids, mode) {
        const positions = alignRects(rectsOf(ids), mode);
        if (Object.keys(positions).length === 0) return;
        commit(`Align ${plural(Object.keys(positions).length, 'node')} (${mode})`, (d) => {
          for (const node of d.nodes) {
            const p = positions[node.id];
            if (p && (node.position.x !== p.x || node.position.y !== p.y)) node.position = p;
          }
        });
      },

      insertNodeOnEdge(edgeId, type, position) {
        const plan = planInsertOnEdge(get().doc, types(), edgeId, type);
        if (!plan.ok) return plan;
        const desc = types()[type];
        const taken = takenIds(get().doc);
        const nodeId = freshId(nodeIdPrefix(type), taken);
        const { edge, input, output } = plan;
        const node: GraphNode = { id: nodeId, type, params: defaultParams(desc), position: { x: position.x, y: position.y }, typeVersion: desc.version };
        commit(`Insert ${desc.title}`, (d) => {
          d.nodes.push(node);
          d.edges = d.edges.filter((e) => e.id !== edge.id);
          d.edges.push(
            { id: freshId(EDGE_ID_PREFIX, taken), source: edge.source, sourcePort: edge.sourcePort, target: nodeId, targetPort: input.name },
            { id: freshId(EDGE_ID_PREFIX, taken), source: nodeId, sourcePort: output.name, target: edge.target, targetPort: edge.targetPort },
          );
        });
        set({ selection: { nodes: [nodeId], edges: [], groups: [] } });
        return { ok: true, nodeId };
      },

      beginTransaction(key, label) {
        const tx = get().transaction;
        if (tx) {
          set({ transaction: { ...tx, depth: tx.depth + 1 } });
          return;
        }
        set({ transaction: { id: String(++transactionCounter), key, label, depth: 1 } });
      },

      endTransaction() {
        const tx = get().transaction;
        if (!tx) return;
        if (tx.depth > 1) {
          set({ transaction: { ...tx, depth: tx.depth - 1 } });
          return;
        }
        set({ transaction: null, history: sealLast(get().history) });
      },

      sealHistory() {
        set({ history: sealLast(get().history) });
      },

      undo() {
        const state = get();
        const history = sealLast(state.history);
        const entry = history.past[history.past.length - 1];
        if (!entry) return false;
        const doc = applyPatches(state.doc, entry.inversePatches);
        set({
          doc,
          history: { past: history.past.slice(0, -1), future: [...history.future, entry] },
          revision: state.revision + 1,
          selection: pruneSelection(state.selection, doc),
        });
        return true;
      },

      redo() {
        const state = get();
        const entry = state.history.future[state.history.future.length - 1];
        if (!entry) return false;
        const doc = applyPatches(state.doc, entry.patches);
        set({
          doc,
          history: { past: [...sealLast(state.history).past, entry], future: state.history.future.slice(0, -1) },
          revision: state.revision + 1,
          selection: pruneSelection(state.selection, doc),
        });
        return true;
      },

      canUndo: () => get().history.past.length > 0,
      canRedo: () => get().history.future.length > 0,
      undoLabel: () => get().history.past[get().history.past.length - 1]?.label,
      redoLabel: () => get().history.future[get().history.future.length - 1]?.label,

      setSelection(selection) {
        set({ selection: pruneSelection({ ...get().selection, ...selection }, get().doc) });
      },

      select(kind, ids, mode = 'replace') {
        const current = get().selection;
        let next: string[];
        if (mode === 'replace') next = [...ids];
        else if (mode === 'add') next = [...new Set([...current[kind], ...ids])];
        else {
          const flip = new Set(ids);
          next = [...current[kind].filter((id) => !flip.has(id)), ...ids.filter((id) => !current[kind].includes(id))];
        }
        const base = mode === 'replace' ? EMPTY_SELECTION : current;
        set({ selection: pruneSelection({ ...base, [kind]: next }, get().doc) });
      },

      selectAll() {
        const { doc } = get();
        set({ selection: { nodes: doc.nodes.map((n) => n.id), edges: doc.edges.map((e) => e.id), groups: doc.groups.map((g) => g.id) } });
      },

      clearSelection() {
        set({ selection: EMPTY_SELECTION });
      },

      copySelection() {
        const { doc, selection } = get();
        return serializeSelection(doc, selection);
      },

      setViewport(viewport) {
        set({ ui: { ...get().ui, viewport: { ...viewport } } });
      },

      setPanel(name, open) {
        set({ ui: { ...get().ui, panels: { ...get().ui.panels, [name]: open } } });
      },

      setNodeSizes(sizes) {
        set({ ui: { ...get().ui, nodeSizes: { ...get().ui.nodeSizes, ...sizes } } });
      },

      dispatchRun(action) {
        const run = runReducer(get().run, action);
        if (run !== get().run) set({ run });
      },

      documentForSave() {
        const { doc, ui } = get();
        return { ...doc, viewport: { ...ui.viewport } };
      },

      markSaved() {
        set({ savedRevision: get().revision });
      },

      isDirty: () => get().revision !== get().savedRevision,
    };
  });
}

/** Why `value` cannot go into param `name` of this node type, naming the node and the param; undefined if it can. */
function checkParam(desc: NodeTypeDescription, who: string, name: string, value: GraphParamValue): string | undefined {
  const param = paramOf(desc, name);
  if (!param) return `${who} has no param "${name}" (params: ${desc.params.map((p) => p.name).join(', ') || 'none'})`;
  const problem = paramValueProblem(param, value);
  return problem ? `${who}: param "${name}" ${problem}` : undefined;
}

/** Drops selected ids that no longer exist; keeps the same object when nothing changed (stable for React). */
function pruneSelection(selection: Selection, doc: GraphDocument): Selection {
  const nodes = new Set(doc.nodes.map((n) => n.id));
  const edges = new Set(doc.edges.map((e) => e.id));
  const groups = new Set(doc.groups.map((g) => g.id));
  const next = {
    nodes: selection.nodes.filter((id) => nodes.has(id)),
    edges: selection.edges.filter((id) => edges.has(id)),
    groups: selection.groups.filter((id) => groups.has(id)),
  };
  const same = next.nodes.length === selection.nodes.length && next.edges.length === selection.edges.length && next.groups.length === selection.groups.length;
  return same ? selection : next;
}

function labelOf(node: GraphNode | undefined, id: string): string {
  return node?.title || node?.type || id;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function isColor(value: string): boolean {
  return /^#[0-9a-fA-F]{6}$/.test(value);
}
