import { describe, expect, it } from 'vitest';
import { describeRegistry } from '../electron/engine/graph/describe.ts';
import type { EngineEvent } from '../electron/engine/events.ts';
import type { GraphDocument } from '../electron/engine/graph/schema.ts';
import { createDefaultRegistry } from '../nodes/index.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { emptyDocument } from '../renderer/src/graph/document.ts';
import { applyFlowNodeChanges } from '../renderer/src/state/flow-changes.ts';
import { describeFreedMemory, describeMemory, describeProgress, formatBytes, formatNumber, formatProgress } from '../renderer/src/ui/common/format.ts';
import { outputChips } from '../renderer/src/ui/canvas/output-chips.ts';
import { describeEngineHost, describeProvider } from '../renderer/src/ui/run/system-info.ts';
import { INITIAL_RUN_STATE, nextQueuedRun, runReducer, type RunAction, type RunState } from '../renderer/src/state/run-state.ts';
import { createFlowEdgesSelector, createFlowNodesSelector, createHistoryLabelsSelector, groupFlowId } from '../renderer/src/state/selectors.ts';
import { createEditorStore, type EditorStore } from '../renderer/src/state/store.ts';

const NODE_TYPES = describeRegistry(createDefaultRegistry());

function newStore(): EditorStore {
  return createEditorStore({ nodeTypes: NODE_TYPES });
}

/** model -> sampler <- latent, sampler.latent -> save. */
function pipeline(store: EditorStore) {
  const s = store.getState;
  const model = ok(s().addNode('LoadModel', { x: 0, y: 0 })).nodeId;
  const latent = ok(s().addNode('EmptyLatent', { x: 0, y: 200 })).nodeId;
  const sampler = ok(s().addNode('Sampler', { x: 300, y: 0 })).nodeId;
  const save = ok(s().addNode('SaveLatent', { x: 600, y: 0 })).nodeId;
  ok(s().connect(model, 'model', sampler, 'model'));
  ok(s().connect(latent, 'latent', sampler, 'latent'));
  ok(s().connect(sampler, 'latent', save, 'latent'));
  return { model, latent, sampler, save };
}

function ok<T extends { ok: boolean }>(result: T): Extract<T, { ok: true }> {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result as Extract<T, { ok: true }>;
}

/** The action adds exactly one undo step; undo restores the document exactly; redo restores the result. */
function expectUndoRoundTrip(store: EditorStore, action: () => void): { before: GraphDocument; after: GraphDocument } {
  const before = structuredClone(store.getState().doc);
  const steps = store.getState().history.past.length;
  action();
  const after = structuredClone(store.getState().doc);
  expect(after).not.toEqual(before);
  expect(store.getState().history.past.length).toBe(steps + 1);
  expect(store.getState().undo()).toBe(true);
  expect(store.getState().doc).toEqual(before);
  expect(store.getState().redo()).toBe(true);
  expect(store.getState().doc).toEqual(after);
  return { before, after };
}

describe('editor store: document actions with undo/redo', () => {
  it('addNode fills declared defaults and makes unique ids', () => {
    const store = newStore();
    const { after } = expectUndoRoundTrip(store, () => store.getState().addNode('Sampler', { x: 10, y: 20 }, { steps: 7 }));
    const node = after.nodes[0];
    const declared = NODE_TYPES.find((t) => t.type === 'Sampler')!;
    for (const p of declared.params) expect(node.params[p.name]).toEqual(p.name === 'steps' ? 7 : p.default);
    expect(node.position).toEqual({ x: 10, y: 20 });
    const second = ok(store.getState().addNode('Sampler', { x: 0, y: 0 })).nodeId;
    expect(second).not.toBe(node.id);
    expect(node.id).toMatch(/^sampler_\d+$/);
    expect(store.getState().selection.nodes).toEqual([second]);
  });

  it('addNode refuses unknown types and bad param values, naming them', () => {
    const store = newStore();
    const unknown = store.getState().addNode('NoSuchNode', { x: 0, y: 0 });
    expect(unknown).toEqual({ ok: false, reason: expect.stringContaining('NoSuchNode') });
    const bad = store.getState().addNode('Sampler', { x: 0, y: 0 }, { steps: 'many' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.reason).toMatch(/steps.*integer/);
    expect(store.getState().doc.nodes).toEqual([]);
    expect(store.getState().canUndo()).toBe(false);
  });

  it('removeNodes removes their edges too, and undo brings both back', () => {
    const store = newStore();
    const ids = pipeline(store);
    const { after } = expectUndoRoundTrip(store, () => store.getState().removeNodes([ids.sampler]));
    expect(after.nodes.map((n) => n.id)).not.toContain(ids.sampler);
    expect(after.edges).toEqual([]);
  });

  it('deleteSelection removes selected nodes, edges and groups as one step', () => {
    const store = newStore();
    const ids = pipeline(store);
    ok(store.getState().createGroup([ids.model], 'G'));
    const edge = store.getState().doc.edges.find((e) => e.target === ids.save)!;
    store.getState().setSelection({ nodes: [ids.latent], edges: [edge.id], groups: [store.getState().doc.groups[0].id] });
    const { after } = expectUndoRoundTrip(store, () => store.getState().deleteSelection());
    expect(after.nodes.map((n) => n.id).sort()).toEqual([ids.model, ids.sampler, ids.save].sort());
    expect(after.edges.map((e) => `${e.source}>${e.target}`)).toEqual([`${ids.model}>${ids.sampler}`]);
    expect(after.groups).toEqual([]);
  });

  it('moveNodes, setTitle, setColor, setParam each round-trip', () => {
    const store = newStore();
    const ids = pipeline(store);
    expectUndoRoundTrip(store, () => store.getState().moveNodes({ [ids.model]: { x: -50, y: 12.5 }, [ids.save]: { x: 1, y: 2 } }));
    expectUndoRoundTrip(store, () => store.getState().setTitle(ids.sampler, '  Main sampler '));
    expect(store.getState().doc.nodes.find((n) => n.id === ids.sampler)!.title).toBe('Main sampler');
    expectUndoRoundTrip(store, () => ok(store.getState().setColor(ids.sampler, '#AA00ff')));
    expect(store.getState().doc.nodes.find((n) => n.id === ids.sampler)!.color).toBe('#aa00ff');
    expectUndoRoundTrip(store, () => ok(store.getState().setParam(ids.sampler, 'steps', 12)));
    expectUndoRoundTrip(store, () => ok(store.getState().setParam(ids.sampler, 'steps', undefined)));
    expect('steps' in store.getState().doc.nodes.find((n) => n.id === ids.sampler)!.params).toBe(false);
  });

  it('setParam refuses unknown params and wrong kinds with the node and param named', () => {
    const store = newStore();
    const { sampler } = pipeline(store);
    const unknown = store.getState().setParam(sampler, 'stepz', 3);
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.reason).toContain(`"${sampler}"`), expect(unknown.reason).toContain('stepz');
    const wrongEnum = store.getState().setParam(sampler, 'solver', 'rk99');
    expect(wrongEnum.ok).toBe(false);
    if (!wrongEnum.ok) expect(wrongEnum.reason).toMatch(/solver.*rk99/);
    expect(store.getState().setColor(sampler, 'red').ok).toBe(false);
  });

  it('setMetadata: name, description, author and tags in one undo step, tidied; bad input refused', () => {
    const store = newStore();
    const { before, after } = expectUndoRoundTrip(store, () =>
      ok(store.getState().setMetadata({ name: '  My graph ', description: ' Tests ', author: 'Ada', tags: [' vp ', 'ddim', 'vp', ''] })),
    );
    expect(after.metadata).toEqual({ ...before.metadata, name: 'My graph', description: 'Tests', author: 'Ada', tags: ['vp', 'ddim'] });
    expect(after.nodes).toEqual(before.nodes);
    expect(store.getState().isDirty()).toBe(true);
    expect(store.getState().history.past.at(-1)?.label).toBe('Edit document info');

    // A rename alone is labelled so; only the given fields change.
    ok(store.getState().setMetadata({ name: 'Renamed' }));
    expect(store.getState().history.past.at(-1)?.label).toBe('Rename document');
    expect(store.getState().doc.metadata).toMatchObject({ name: 'Renamed', description: 'Tests', author: 'Ada', tags: ['vp', 'ddim'] });

    // Same values again: no step. Refusals change nothing and say why.
    const steps = store.getState().history.past.length;
    ok(store.getState().setMetadata({ name: 'Renamed ', tags: ['vp', 'ddim'] }));
    const empty = store.getState().setMetadata({ name: '   ' });
    expect(empty.ok).toBe(false);
    if (!empty.ok) expect(empty.reason).toMatch(/name is empty/);
    const badTags = store.getState().setMetadata({ tags: 'vp' as unknown as string[] });
    expect(badTags.ok).toBe(false);
    if (!badTags.ok) expect(badTags.reason).toMatch(/tags/);
    expect(store.getState().history.past.length).toBe(steps);
    expect(store.getState().doc.metadata.name).toBe('Renamed');
    expect(store.getState().setMetadata({ name: 'x'.repeat(500) }).ok).toBe(true);
    expect(store.getState().doc.metadata.name).toHaveLength(200);
  });

  it('a no-op action records no step', () => {
    const store = newStore();
    const { model } = pipeline(store);
    const steps = store.getState().history.past.length;
    const pos = store.getState().doc.nodes.find((n) => n.id === model)!.position;
    store.getState().moveNodes({ [model]: { ...pos } });
    store.getState().setParam(model, 'model', store.getState().doc.nodes.find((n) => n.id === model)!.params.model);
    expect(store.getState().history.past.length).toBe(steps);
  });

  it('groups: create, update, move (with the nodes inside), remove', () => {
    const store = newStore();
    const ids = pipeline(store);
    const { after } = expectUndoRoundTrip(store, () => ok(store.getState().createGroup([ids.model, ids.latent], 'Inputs', '#336699')));
    const group = after.groups[0];
    expect(group.title).toBe('Inputs');
    expect(group.color).toBe('#336699');
    // The frame encloses both nodes' rectangles (default size 240x120).
    expect(group.bounds.x).toBeLessThan(0);
    expect(group.bounds.y + group.bounds.height).toBeGreaterThan(200 + 120);
    expectUndoRoundTrip(store, () => ok(store.getState().updateGroup(group.id, { title: 'Sources', color: null })));
    const moved = expectUndoRoundTrip(store, () => store.getState().moveGroup(group.id, { x: 100, y: -10 })).after;
    expect(moved.nodes.find((n) => n.id === ids.model)!.position).toEqual({ x: 100, y: -10 });
    expect(moved.nodes.find((n) => n.id === ids.sampler)!.position).toEqual({ x: 300, y: 0 }); // outside: stays
    expectUndoRoundTrip(store, () => store.getState().removeGroup(group.id));
    expect(store.getState().updateGroup('nope', { title: 'x' }).ok).toBe(false);
  });

  it('align left/top/center/distribute sets exact positions and undoes', () => {
    const store = newStore();
    const ids = pipeline(store);
    store.getState().setNodeSizes({ [ids.model]: { width: 100, height: 50 }, [ids.latent]: { width: 200, height: 50 }, [ids.sampler]: { width: 100, height: 80 } });
    const sel = [ids.model, ids.latent, ids.sampler];
    const pos = (id: string) => store.getState().doc.nodes.find((n) => n.id === id)!.position;
    expectUndoRoundTrip(store, () => store.getState().align(sel, 'right'));
    // Right edges line up at the rightmost edge: sampler at x=300, width 100 -> 400.
    expect(pos(ids.model).x + 100).toBe(400);
    expect(pos(ids.latent).x + 200).toBe(400);
    store.getState().undo();
    expectUndoRoundTrip(store, () => store.getState().align(sel, 'center-y'));
    // Bounding box y from 0 to 250: centre 125.
    expect(pos(ids.latent).y + 25).toBe(125);
    expect(pos(ids.sampler).y + 40).toBe(125);
    store.getState().undo();
    // x: model [0,100], latent [0,200], sampler [300,400]: sorted by centre model(50), latent(100), sampler(350).
    expectUndoRoundTrip(store, () => store.getState().align(sel, 'distribute-x'));
    // span 400, widths 400 -> gap 0: model 0, latent 100, sampler 300.
    expect([pos(ids.model).x, pos(ids.latent).x, pos(ids.sampler).x]).toEqual([0, 100, 300]);
  });

  it('loadDocument resets history and selection, and keeps the document as given', () => {
    const store = newStore();
    pipeline(store);
    const doc = { ...emptyDocument('Other'), viewport: { x: 5, y: 6, zoom: 2 } };
    store.getState().loadDocument(doc);
    expect(store.getState().doc).toBe(doc);
    expect(store.getState().canUndo()).toBe(false);
    expect(store.getState().selection.nodes).toEqual([]);
    expect(store.getState().ui.viewport).toEqual({ x: 5, y: 6, zoom: 2 });
    expect(store.getState().isDirty()).toBe(false);
    store.getState().addNode('LoadModel', { x: 0, y: 0 });
    expect(store.getState().isDirty()).toBe(true);
  });
});

describe('editor store: connections', () => {
  it('connect round-trips; an input that already has an edge gets it replaced', () => {
    const store = newStore();
    const ids = pipeline(store);
    const other = ok(store.getState().addNode('EmptyLatent', { x: 0, y: 400 })).nodeId;
    const { after } = expectUndoRoundTrip(store, () => ok(store.getState().connect(other, 'latent', ids.sampler, 'latent')));
    const into = after.edges.filter((e) => e.target === ids.sampler && e.targetPort === 'latent');
    expect(into).toHaveLength(1);
    expect(into[0].source).toBe(other);
  });

  it('refuses a type mismatch naming both types, and records nothing', () => {
    const store = newStore();
    const ids = pipeline(store);
    const before = store.getState().doc;
    const result = store.getState().connect(ids.latent, 'latent', ids.sampler, 'model');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toContain('LATENT');
      expect(result.reason).toContain('MODEL');
    }
    expect(store.getState().doc).toBe(before);
  });

  it('refuses self-loops and cycles', () => {
    const store = newStore();
    const ids = pipeline(store);
    const second = ok(store.getState().addNode('Sampler', { x: 900, y: 0 })).nodeId;
    ok(store.getState().connect(ids.sampler, 'latent', second, 'latent'));
    const self = store.getState().connect(ids.sampler, 'latent', ids.sampler, 'latent');
    expect(self.ok).toBe(false);
    if (!self.ok) expect(self.reason).toMatch(/itself/);
    const cycle = store.getState().connect(second, 'latent', ids.sampler, 'latent');
    expect(cycle.ok).toBe(false);
    if (!cycle.ok) expect(cycle.reason).toContain(`"${ids.sampler}" -> "${second}" -> "${ids.sampler}"`);
  });

  it('disconnect round-trips; connecting the same edge twice is a no-op', () => {
    const store = newStore();
    const ids = pipeline(store);
    const steps = store.getState().history.past.length;
    const edge = store.getState().doc.edges[0];
    expect(store.getState().connect(edge.source, edge.sourcePort, edge.target, edge.targetPort)).toEqual({ ok: true, edgeId: edge.id });
    expect(store.getState().history.past.length).toBe(steps);
    expectUndoRoundTrip(store, () => store.getState().disconnect([edge.id]));
    expect(ids).toBeTruthy();
  });

  it('insertNodeOnEdge splices a compatible node and refuses an incompatible one', () => {
    const store = newStore();
    const ids = pipeline(store);
    const edge = store.getState().doc.edges.find((e) => e.target === ids.save)!;
    const refused = store.getState().insertNodeOnEdge(edge.id, 'LoadModel', { x: 0, y: 0 });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.reason).toMatch(/no LATENT input/);
    let nodeId = '';
    const { after } = expectUndoRoundTrip(store, () => {
      nodeId = ok(store.getState().insertNodeOnEdge(edge.id, 'Sampler', { x: 450, y: 0 })).nodeId;
    });
    expect(after.edges.find((e) => e.id === edge.id)).toBeUndefined();
    expect(after.edges).toContainEqual(expect.objectContaining({ source: ids.sampler, sourcePort: 'latent', target: nodeId, targetPort: 'latent' }));
    expect(after.edges).toContainEqual(expect.objectContaining({ source: nodeId, sourcePort: 'latent', target: ids.save, targetPort: 'latent' }));
  });
});

describe('editor store: clipboard', () => {
  it('paste gives fresh ids, remaps internal edges, places at the point, selects the copies', () => {
    const store = newStore();
    const ids = pipeline(store);
    store.getState().setSelection({ nodes: [ids.model, ids.sampler] });
    const json = store.getState().copySelection();
    let pasted: string[] = [];
    let selected: readonly string[] = [];
    const { before, after } = expectUndoRoundTrip(store, () => {
      pasted = ok(store.getState().paste(json, { x: 1000, y: 500 })).nodeIds;
      selected = store.getState().selection.nodes;
    });
    const oldIds = new Set(before.nodes.map((n) => n.id));
    expect(pasted).toHaveLength(2);
    for (const id of pasted) expect(oldIds.has(id)).toBe(false);
    const copies = after.nodes.filter((n) => pasted.includes(n.id));
    // Top-left of the copied set lands on the paste point; relative layout kept (model 0,0; sampler 300,0).
    expect(copies.map((n) => n.position).sort((a, b) => a.x - b.x)).toEqual([{ x: 1000, y: 500 }, { x: 1300, y: 500 }]);
    const newEdges = after.edges.filter((e) => pasted.includes(e.target));
    expect(newEdges).toHaveLength(1); // only the model -> sampler edge was internal
    expect(pasted).toContain(newEdges[0].source);
    expect(new Set(after.edges.map((e) => e.id)).size).toBe(after.edges.length);
    expect(selected).toEqual(pasted);
  });

  it('paste accepts a whole graph document, and refuses junk with a reason', () => {
    const store = newStore();
    pipeline(store);
    const doc = JSON.stringify(store.getState().doc);
    const n = store.getState().doc.nodes.length;
    ok(store.getState().paste(doc));
    expect(store.getState().doc.nodes).toHaveLength(2 * n);
    const junk = store.getState().paste('hello');
    expect(junk.ok).toBe(false);
    const damaged = store.getState().paste(JSON.stringify({ format: 'flowstudio-clipboard', version: 1, nodes: [{ id: '' }] }));
    expect(damaged.ok).toBe(false);
  });

  it('duplicate copies with an offset as one step', () => {
    const store = newStore();
    const ids = pipeline(store);
    const { after } = expectUndoRoundTrip(store, () => ok(store.getState().duplicate([ids.latent, ids.sampler], { x: 10, y: 20 })));
    const copies = after.nodes.slice(-2);
    expect(copies.map((n) => n.position)).toEqual([{ x: 10, y: 220 }, { x: 310, y: 20 }]);
    expect(copies.map((n) => n.type)).toEqual(['EmptyLatent', 'Sampler']);
  });
});

describe('editor store: transactions and coalescing', () => {
  it('a drag (many moveNodes inside a transaction) is one step with compact patches', () => {
    const store = newStore();
    const ids = pipeline(store);
    const before = structuredClone(store.getState().doc);
    const steps = store.getState().history.past.length;
    store.getState().beginTransaction('drag');
    for (let i = 1; i <= 60; i++) store.getState().moveNodes({ [ids.model]: { x: i, y: 2 * i }, [ids.latent]: { x: -i, y: 200 } });
    store.getState().endTransaction();
    expect(store.getState().history.past.length).toBe(steps + 1);
    const entry = store.getState().history.past.at(-1)!;
    expect(entry.patches.length).toBeLessThanOrEqual(2);
    const after = structuredClone(store.getState().doc);
    expect(after.nodes.find((n) => n.id === ids.model)!.position).toEqual({ x: 60, y: 120 });
    store.getState().undo();
    expect(store.getState().doc).toEqual(before);
    store.getState().redo();
    expect(store.getState().doc).toEqual(after);
    // The next drag is a separate step.
    store.getState().beginTransaction('drag');
    store.getState().moveNodes({ [ids.model]: { x: 0, y: 0 } });
    store.getState().endTransaction();
    expect(store.getState().history.past.length).toBe(steps + 2);
  });

  it('a transaction mixing structural changes still undoes exactly', () => {
    const store = newStore();
    const ids = pipeline(store);
    const before = structuredClone(store.getState().doc);
    store.getState().beginTransaction('compound', 'Rewire');
    store.getState().moveNodes({ [ids.save]: { x: 5, y: 5 } });
    store.getState().removeNodes([ids.latent]);
    store.getState().addNode('EmptyLatent', { x: 1, y: 1 });
    store.getState().moveNodes({ [ids.save]: { x: 9, y: 9 } });
    store.getState().endTransaction();
    expect(store.getState().undoLabel()).toBe('Rewire');
    store.getState().undo();
    expect(store.getState().doc).toEqual(before);
  });

  it('typing: setParam with the same key, node and param coalesces; another param or a seal starts a new step', () => {
    const store = newStore();
    const { sampler } = pipeline(store);
    const steps = store.getState().history.past.length;
    for (const v of [1, 12, 123]) ok(store.getState().setParam(sampler, 'steps', v, { transactionKey: 'field-1' }));
    expect(store.getState().history.past.length).toBe(steps + 1);
    ok(store.getState().setParam(sampler, 'seed', 5, { transactionKey: 'field-1' }));
    expect(store.getState().history.past.length).toBe(steps + 2);
    ok(store.getState().setParam(sampler, 'seed', 55, { transactionKey: 'field-1' }));
    expect(store.getState().history.past.length).toBe(steps + 2);
    store.getState().sealHistory();
    ok(store.getState().setParam(sampler, 'seed', 555, { transactionKey: 'field-1' }));
    expect(store.getState().history.past.length).toBe(steps + 3);
    // Without a key every call is its own step.
    ok(store.getState().setParam(sampler, 'seed', 1));
    ok(store.getState().setParam(sampler, 'seed', 2));
    expect(store.getState().history.past.length).toBe(steps + 5);
    // Undo of the coalesced typing restores the value before typing began.
    store.getState().undo();
    store.getState().undo();
    store.getState().undo();
    store.getState().undo();
    expect(store.getState().doc.nodes.find((n) => n.id === sampler)!.params.steps).toBe(123);
    store.getState().undo();
    const declared = NODE_TYPES.find((t) => t.type === 'Sampler')!.params.find((p) => p.name === 'steps')!.default;
    expect(store.getState().doc.nodes.find((n) => n.id === sampler)!.params.steps).toBe(declared);
  });

  it('after an undo, typing with the same key starts a new step instead of joining an undone one', () => {
    const store = newStore();
    const { sampler } = pipeline(store);
    ok(store.getState().setParam(sampler, 'steps', 3, { transactionKey: 'k' }));
    store.getState().undo();
    const steps = store.getState().history.past.length;
    ok(store.getState().setParam(sampler, 'steps', 4, { transactionKey: 'k' }));
    ok(store.getState().setParam(sampler, 'steps', 5, { transactionKey: 'k' }));
    expect(store.getState().history.past.length).toBe(steps + 1);
    expect(store.getState().canRedo()).toBe(false);
  });

  it('history is unlimited and untouched by selection, viewport, panels and runs', () => {
    const store = newStore();
    const { sampler } = pipeline(store);
    for (let i = 0; i < 300; i++) ok(store.getState().setParam(sampler, 'steps', i + 1));
    const history = store.getState().history;
    store.getState().setSelection({ nodes: [sampler] });
    store.getState().setViewport({ x: 1, y: 2, zoom: 3 });
    store.getState().setPanel('inspector', true);
    store.getState().dispatchRun({ type: 'enqueue', run: { runId: 'r1' } });
    store.getState().dispatchRun({ type: 'event', event: { type: 'run-started', runId: 'r1', at: 0, order: [sampler] } });
    store.getState().dispatchRun({ type: 'event', event: { type: 'run-finished', runId: 'r1', ms: 1 } });
    expect(store.getState().history).toBe(history);
    let undone = 0;
    while (store.getState().undo()) undone++;
    expect(undone).toBe(history.past.length);
    expect(store.getState().doc.nodes).toEqual([]);
  });

  it('undo in the middle of a drag reverts the drag so far; the rest of the drag is one new step', () => {
    const store = newStore();
    const { model } = pipeline(store);
    const steps = store.getState().history.past.length;
    store.getState().beginTransaction('drag');
    store.getState().moveNodes({ [model]: { x: 1, y: 1 } });
    store.getState().moveNodes({ [model]: { x: 2, y: 2 } });
    store.getState().undo();
    expect(store.getState().doc.nodes.find((n) => n.id === model)!.position).toEqual({ x: 0, y: 0 });
    store.getState().moveNodes({ [model]: { x: 3, y: 3 } });
    store.getState().moveNodes({ [model]: { x: 4, y: 4 } });
    store.getState().endTransaction();
    expect(store.getState().history.past.length).toBe(steps + 1);
    store.getState().undo();
    expect(store.getState().doc.nodes.find((n) => n.id === model)!.position).toEqual({ x: 0, y: 0 });
  });

  it('history labels name the action', () => {
    const store = newStore();
    const { sampler } = pipeline(store);
    store.getState().removeNodes([sampler]);
    expect(store.getState().undoLabel()).toBe('Delete Sampler');
    store.getState().undo();
    expect(store.getState().redoLabel()).toBe('Delete Sampler');
    expect(store.getState().undoLabel()).toMatch(/^Connect /);
    const labels = createHistoryLabelsSelector();
    const all = labels(store.getState());
    expect(all.undo.slice(0, 2)).toEqual(['Add Load Model', 'Add Empty Latent']);
    expect(all.redo).toEqual(['Delete Sampler']);
    expect(labels(store.getState())).toBe(all);
  });
});

describe('React Flow derivation and changes', () => {
  it('flow nodes/edges are derived with stable identities for unchanged items', () => {
    const store = newStore();
    const ids = pipeline(store);
    ok(store.getState().createGroup([ids.model], 'G'));
    const nodesOf = createFlowNodesSelector();
    const edgesOf = createFlowEdgesSelector();
    const first = nodesOf(store.getState());
    expect(nodesOf(store.getState())).toBe(first); // same snapshot for the same state
    expect(first[0].id).toBe(groupFlowId(store.getState().doc.groups[0].id));
    expect(first.slice(1).map((n) => n.id)).toEqual(store.getState().doc.nodes.map((n) => n.id));
    const edges = edgesOf(store.getState());
    expect(edges.find((e) => e.target === ids.sampler && e.targetHandle === 'model')!.data!.portType).toBe('MODEL');
    store.getState().moveNodes({ [ids.save]: { x: 1, y: 1 } });
    const second = nodesOf(store.getState());
    expect(second).not.toBe(first);
    const unchanged = second.find((n) => n.id === ids.model);
    expect(unchanged).toBe(first.find((n) => n.id === ids.model));
    expect(second.find((n) => n.id === ids.save)!.position).toEqual({ x: 1, y: 1 });
  });

  it('a React Flow drag (dragging true ... false) is one undo step; sizes become measured', () => {
    const store = newStore();
    const ids = pipeline(store);
    const steps = store.getState().history.past.length;
    applyFlowNodeChanges(store, [{ type: 'dimensions', id: ids.model, dimensions: { width: 111, height: 77 } }]);
    expect(store.getState().ui.nodeSizes[ids.model]).toEqual({ width: 111, height: 77 });
    for (let i = 1; i <= 10; i++) applyFlowNodeChanges(store, [{ type: 'position', id: ids.model, position: { x: i, y: i }, dragging: true }]);
    applyFlowNodeChanges(store, [{ type: 'position', id: ids.model, dragging: false }]);
    expect(store.getState().transaction).toBeNull();
    expect(store.getState().history.past.length).toBe(steps + 1);
    const flow = createFlowNodesSelector()(store.getState()).find((n) => n.id === ids.model)!;
    expect(flow.measured).toEqual({ width: 111, height: 77 });
    store.getState().undo();
    expect(store.getState().doc.nodes.find((n) => n.id === ids.model)!.position).toEqual({ x: 0, y: 0 });
  });
});

describe('run state reducer', () => {
  const preview = new Tensor([1, 3, 2, 2], new Float32Array(12).fill(0.5));
  // Recorded from a run of the default example (ids shortened), plus a second run that fails.
  const events: EngineEvent[] = [
    { type: 'run-started', runId: 'r1', at: 1000, order: ['model', 'latent', 'sampler', 'save'] },
    { type: 'node-cached', runId: 'r1', nodeId: 'model', nodeType: 'LoadModel' },
    { type: 'node-started', runId: 'r1', nodeId: 'latent', nodeType: 'EmptyLatent' },
    { type: 'node-finished', runId: 'r1', nodeId: 'latent', nodeType: 'EmptyLatent', ms: 2 },
    { type: 'node-started', runId: 'r1', nodeId: 'sampler', nodeType: 'Sampler' },
    { type: 'node-progress', runId: 'r1', nodeId: 'sampler', step: 1, total: 50 },
    { type: 'node-preview', runId: 'r1', nodeId: 'sampler', step: 1, preview },
    { type: 'node-progress', runId: 'r1', nodeId: 'sampler', step: 2, total: 50 },
  ];

  function replay(state: RunState, actions: RunAction[]): RunState {
    return actions.reduce(runReducer, state);
  }

  it('tracks queue, active run, statuses, progress and previews', () => {
    let s = replay(INITIAL_RUN_STATE, [
      { type: 'enqueue', run: { runId: 'r1', label: 'Run' } },
      { type: 'enqueue', run: { runId: 'r2', targets: ['latent'] } },
    ]);
    expect(nextQueuedRun(s)?.runId).toBe('r1');
    s = replay(s, events.map((event) => ({ type: 'event', event })));
    expect(s.active).toMatchObject({ runId: 'r1', label: 'Run', order: ['model', 'latent', 'sampler', 'save'], cancelling: false });
    expect(s.queue.map((r) => r.runId)).toEqual(['r2']);
    expect(nextQueuedRun(s)).toBeUndefined();
    expect(s.nodes.model).toEqual({ state: 'cached' });
    expect(s.nodes.latent).toEqual({ state: 'done', ms: 2 });
    expect(s.nodes.sampler).toEqual({ state: 'running', progress: { step: 2, total: 50 } });
    expect(s.nodes.save).toEqual({ state: 'queued' });
    expect(s.previews.sampler.dims).toEqual([1, 3, 2, 2]);
    expect(s.previews.sampler.data).toBe(preview.data);

    // Cancel the queued one, then the active one; the engine confirms.
    s = runReducer(s, { type: 'cancel', runId: 'r2' });
    expect(s.queue).toEqual([]);
    s = runReducer(s, { type: 'cancel', runId: 'r1' });
    expect(s.active?.cancelling).toBe(true);
    s = runReducer(s, { type: 'event', event: { type: 'run-cancelled', runId: 'r1', ms: 50, nodeId: 'sampler' } });
    expect(s.active).toBeNull();
    expect(s.last).toEqual({ runId: 'r1', status: 'cancelled', ms: 50, nodeId: 'sampler' });
    // The interrupted node keeps the step it reached; nodes that never started go back to idle.
    expect(s.nodes.sampler).toEqual({ state: 'cancelled', progress: { step: 2, total: 50 } });
    expect(s.nodes.save.state).toBe('idle');
    expect(s.nodes.latent.state).toBe('done'); // finished work keeps its status
    expect(s.previews.sampler).toBeDefined(); // the last preview stays visible
  });

  it('keeps a percent unit (an adaptive solver\'s progress), shown as percent on the badge and in the inspector', () => {
    const s = replay(INITIAL_RUN_STATE, [
      { type: 'event', event: { type: 'run-started', runId: 'p', at: 0, order: ['sampler'] } },
      { type: 'event', event: { type: 'node-started', runId: 'p', nodeId: 'sampler', nodeType: 'Sampler' } },
      { type: 'event', event: { type: 'node-progress', runId: 'p', nodeId: 'sampler', step: 37, total: 100, unit: 'percent' } },
    ]);
    const progress = s.nodes.sampler.progress!;
    expect(progress).toEqual({ step: 37, total: 100, unit: 'percent' });
    expect([formatProgress(progress), describeProgress(progress)]).toEqual(['37%', '37% done']);
    expect([formatProgress({ step: 3, total: 20 }), describeProgress({ step: 3, total: 20 })]).toEqual(['3/20', 'step 3 of 20']);
    expect([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 0.000123, 41.987654].map(formatNumber)).toEqual(['∞', '−∞', 'NaN', '1.23e-4', '41.99']);
  });

  it('a cancelled mark survives validation and is cleared by the next run, even one that skips the node', () => {
    let s = replay(INITIAL_RUN_STATE, [
      ...events.map((event): RunAction => ({ type: 'event', event })),
      { type: 'event', event: { type: 'run-cancelled', runId: 'r1', ms: 50, nodeId: 'sampler' } },
    ]);
    expect(s.nodes.sampler.state).toBe('cancelled');
    s = runReducer(s, { type: 'validation', errors: [] });
    expect(s.nodes.sampler.state).toBe('cancelled');
    // A node cancelled before it started (named by the event, still queued) is marked too, without a step.
    const early = replay(INITIAL_RUN_STATE, [
      { type: 'event', event: { type: 'run-started', runId: 'q', at: 0, order: ['a', 'b'] } },
      { type: 'event', event: { type: 'run-cancelled', runId: 'q', ms: 1, nodeId: 'a' } },
    ]);
    expect(early.nodes).toEqual({ a: { state: 'cancelled' }, b: { state: 'idle' } });
    // The next run (here only "latent") clears it everywhere.
    s = runReducer(s, { type: 'event', event: { type: 'run-started', runId: 'r2', at: 2000, order: ['latent'] } });
    expect(s.nodes.sampler).toBeUndefined();
    expect(s.nodes.latent.state).toBe('queued');
    expect(s.nodes.model.state).toBe('cached');
  });

  it('a queued run that ends does not touch the active run\'s statuses; finished and failed runs leave nothing cancelled', () => {
    let s = replay(INITIAL_RUN_STATE, events.map((event): RunAction => ({ type: 'event', event })));
    s = runReducer(s, { type: 'event', event: { type: 'run-cancelled', runId: 'other', ms: 1 } });
    expect(s.active?.runId).toBe('r1');
    expect(s.nodes.sampler.state).toBe('running');
    s = runReducer(s, { type: 'event', event: { type: 'run-failed', runId: 'r1', ms: 9, message: 'worker died' } });
    expect(Object.values(s.nodes).some((n) => n.state === 'cancelled' || n.state === 'running' || n.state === 'queued')).toBe(false);
  });

  it('node failure, run failure and output summaries', () => {
    let s = replay(INITIAL_RUN_STATE, [
      { type: 'event', event: { type: 'run-started', runId: 'r3', at: 0, order: ['a', 'b'] } },
      { type: 'event', event: { type: 'node-started', runId: 'r3', nodeId: 'a', nodeType: 'X' } },
      { type: 'event', event: { type: 'node-failed', runId: 'r3', nodeId: 'a', nodeType: 'X', message: 'boom' } },
      { type: 'event', event: { type: 'run-failed', runId: 'r3', ms: 4, nodeId: 'a', message: 'boom' } },
    ]);
    expect(s.nodes.a).toEqual({ state: 'error', message: 'boom', source: 'run' });
    expect(s.nodes.b.state).toBe('idle');
    expect(s.last?.status).toBe('failed');
    s = runReducer(s, {
      type: 'summary',
      summary: { runId: 'r3', status: 'failed', ms: 4, outDir: '/o', nodes: {}, outputs: { b: { out: { kind: 'scalar', value: 3 } } } },
    });
    expect(s.outputs.b.out).toEqual({ kind: 'scalar', value: 3 });
  });

  it('validation errors land on nodes, ports, params and edges, and are replaced by the next validation', () => {
    let s = runReducer(INITIAL_RUN_STATE, {
      type: 'validation',
      errors: [
        { code: 'missing_input', nodeId: 'sampler', port: 'model', message: 'sampler: model not connected' },
        { code: 'param_out_of_range', nodeId: 'sampler', param: 'steps', message: 'sampler: steps too big' },
        { code: 'type_mismatch', edgeId: 'e1', nodeId: 'save', port: 'latent', message: 'e1: LATENT vs IMAGE' },
        { code: 'cycle', nodeId: 'x', cycle: ['x', 'y'], message: 'cycle x -> y -> x' },
        { code: 'schema', path: 'nodes', message: 'bad document' },
      ],
    });
    expect(s.nodes.sampler).toEqual({
      state: 'error',
      source: 'validation',
      message: 'sampler: model not connected\nsampler: steps too big',
      errorPorts: ['model'],
      errorParams: ['steps'],
    });
    expect(s.nodes.save.errorPorts).toEqual(['latent']);
    expect(s.edgeIssues.e1.message).toContain('LATENT');
    expect(s.nodes.y.state).toBe('error');
    expect(s.graphIssues).toEqual(['bad document']);
    s = runReducer(s, { type: 'validation', errors: [] });
    expect(s.nodes).toEqual({});
    expect(s.graphIssues).toEqual([]);
  });

  it('an invalid run summary records the errors and leaves the queue', () => {
    let s = runReducer(INITIAL_RUN_STATE, { type: 'enqueue', run: { runId: 'r9' } });
    s = runReducer(s, {
      type: 'summary',
      summary: {
        runId: 'r9',
        status: 'invalid',
        ms: 0,
        outDir: '',
        nodes: {},
        outputs: {},
        errors: [{ code: 'missing_input', nodeId: 'n', port: 'p', message: 'n: p missing' }],
      },
    });
    expect(s.queue).toEqual([]);
    expect(s.last?.status).toBe('invalid');
    expect(s.nodes.n.errorPorts).toEqual(['p']);
  });
});

describe('memory figures', () => {
  it('formats bytes in binary units with three significant digits', () => {
    expect([0, 512, 1023, 1024, 3481, 340 * 1024 ** 2, 1.25 * 1024 ** 3, 5 * 1024 ** 5].map(formatBytes)).toEqual(['0 B', '512 B', '1023 B', '1 KiB', '3.4 KiB', '340 MiB', '1.25 GiB', '5120 TiB']);
  });

  it('puts what the engine holds in one status-bar line, the breakdown in its tooltip', () => {
    const m = describeMemory({ modelsLoaded: 2, modelBytes: 3 * 1024 ** 3, cacheBytes: 300 * 1024 ** 2, cacheBytesOnDisk: 40 * 1024 ** 2 });
    expect(m.text).toBe('2 models loaded · 340 MiB cached');
    expect(m.title.split('\n')).toEqual(['Models loaded: 2 (3 GiB on disk)', 'Cached node outputs: 300 MiB in memory, 40 MiB on disk', 'Engine ▸ Free memory releases them.']);
    expect(describeMemory({ modelsLoaded: 0, modelBytes: 0, cacheBytes: 0, cacheBytesOnDisk: 0 }).text).toBe('no model loaded · nothing cached');
    expect(describeMemory({ modelsLoaded: 1, modelBytes: 10, cacheBytes: 512, cacheBytesOnDisk: 0 }).text).toBe('1 model loaded · 512 B cached');
  });

  it('says what Free memory did in one sentence', () => {
    expect(describeFreedMemory({ modelsUnloaded: 2, modelsLoaded: 0, cacheBytesFreed: 340 * 1024 ** 2 })).toBe('Unloaded 2 models and dropped 340 MiB of cached results.');
    expect(describeFreedMemory({ modelsUnloaded: 1, modelsLoaded: 0, cacheBytesFreed: 0 })).toBe('Unloaded 1 model.');
    expect(describeFreedMemory({ modelsUnloaded: 0, modelsLoaded: 0, cacheBytesFreed: 2048 })).toBe('Dropped 2 KiB of cached results.');
    expect(describeFreedMemory({ modelsUnloaded: 0, modelsLoaded: 1, cacheBytesFreed: 0 })).toBe('Nothing to free. 1 model in use by a run stays loaded.');
    expect(describeFreedMemory({ modelsUnloaded: 1, modelsLoaded: 2, cacheBytesFreed: 0 })).toBe('Unloaded 1 model. 2 models in use by a run stay loaded.');
  });
});

describe('output chips on a node', () => {
  it('show metrics, numbers and where a model runs; a model that fell back is flagged with the refusals', () => {
    expect(
      outputChips({
        m: { kind: 'metrics', values: { mse: 0.000123, psnr: Infinity } },
        n: { kind: 'scalar', value: 3.14159 },
        s: { kind: 'scalar', value: 'text' },
        t: { kind: 'tensor', dims: [1], min: 0, max: 0, mean: 0 },
        model: { kind: 'model', name: 'vp', folder: '/m', provider: 'cuda' },
      }),
    ).toEqual([
      { key: 'm.mse', text: 'mse 1.23e-4' },
      { key: 'm.psnr', text: 'psnr ∞' },
      { key: 'n', text: 'n 3.142' },
      { key: 'model', text: 'on cuda' },
    ]);
    const fell = outputChips({
      model: {
        kind: 'model',
        name: 'sdxl',
        folder: '/m',
        provider: 'cpu',
        fallbackFrom: [
          { provider: 'cuda', error: 'CUDA failure 2: out of memory' },
          { provider: 'dml', error: 'x'.repeat(1000) },
        ],
      },
    });
    expect(fell).toHaveLength(1);
    expect(fell[0].text).toBe('on cpu (cuda, dml refused)');
    expect(fell[0].warn?.split('\n')[0]).toBe('cuda could not load this model: CUDA failure 2: out of memory');
    expect(fell[0].warn?.split('\n')[1]).toMatch(/^dml could not load this model: x{280}… \(1000 characters\)$/);
  });
});

describe('the System dialog', () => {
  it('words each provider check: works, fails and why, missing (CUDA: how to add it), not on this platform', () => {
    expect(describeProvider({ provider: 'cuda', state: 'works', defaultRank: 1 })).toEqual({ text: 'works, tried first', tone: 'ok' });
    expect(describeProvider({ provider: 'webgpu', state: 'works' })).toEqual({ text: 'works (only when a run asks for it)', tone: 'ok' });
    expect(describeProvider({ provider: 'cpu', state: 'works', defaultRank: 2 }).text).toBe('works, tried second');
    expect(describeProvider({ provider: 'webgpu', state: 'fails', error: 'No supported adapters', kind: 'setup' })).toEqual({ text: 'present but does not start: its library or device is missing', tone: 'warn' });
    expect(describeProvider({ provider: 'cuda', state: 'fails', defaultRank: 1, error: 'out of memory', kind: 'memory' }).text).toBe('present but does not start: out of memory, tried first');
    expect(describeProvider({ provider: 'dml', state: 'fails', error: 'x', kind: 'model' }).text).toBe('present but does not start: it refused a test model');
    expect(describeProvider({ provider: 'cuda', state: 'not-installed' })).toEqual({ text: 'not installed (npm run setup:cuda adds it)', tone: 'dim' });
    expect(describeProvider({ provider: 'webgpu', state: 'fails', kind: 'setup', error: 'No supported adapters', hint: 'install libvulkan1' })).toEqual({
      text: 'present but does not start: its library or device is missing (install libvulkan1)',
      tone: 'warn',
    });
    expect(describeProvider({ provider: 'tensorrt', state: 'not-installed' }).text).toBe('not in this build');
    expect(describeProvider({ provider: 'coreml', state: 'not-on-platform', defaultRank: undefined })).toEqual({ text: 'not on this platform', tone: 'dim' });
  });

  it('says where the engine runs, and what a crash there costs', () => {
    expect(describeEngineHost({ runsIn: 'process', pid: 42 })).toBe('its own process (pid 42): a crash there restarts the engine, the editor keeps your graph');
    expect(describeEngineHost({ runsIn: 'thread', pid: 7 })).toBe('a worker thread of the app (pid 7)');
    expect(describeEngineHost({ runsIn: 'app', pid: 7 })).toBe("the app's own process (pid 7)");
    expect(describeEngineHost(undefined)).toBe('unknown (an older engine)');
    const at = new Date(2026, 10, 29, 14, 5, 9).toISOString();
    const crashed = describeEngineHost({ runsIn: 'process', pid: 42, crashes: 2, lastCrash: { at, cause: 'the engine process crashed (SIGSEGV)', runs: [{ runId: 'r', nodeId: 'sampler', nodeType: 'Sampler' }] } });
    expect(crashed).toBe(`its own process (pid 42): a crash there restarts the engine, the editor keeps your graph. Crashed 2 times this session; last at ${new Date(at).toLocaleTimeString()}: the engine process crashed (SIGSEGV) (node sampler, Sampler)`);
    expect(describeEngineHost({ runsIn: 'process', pid: 42, crashes: 0 })).toBe('its own process (pid 42): a crash there restarts the engine, the editor keeps your graph');
  });
});
