import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GraphValidationError } from '../electron/engine/graph/errors.ts';
import { parseGraph, serializeGraph } from '../electron/engine/graph/io.ts';
import { detectVersion, migrateGraph, MIGRATIONS, type Migration } from '../electron/engine/graph/migrate.ts';
import { GRAPH_SCHEMA_VERSION } from '../electron/engine/graph/schema.ts';
import { validateGraph } from '../electron/engine/graph/validate.ts';
import { fakeRegistry } from './fixtures/graphs/fake-nodes.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/graphs/${name}`, import.meta.url), 'utf8');
const json = (name: string): unknown => JSON.parse(fixture(name));

function thrown(fn: () => unknown): GraphValidationError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GraphValidationError) return e;
    throw e;
  }
  throw new Error('expected a GraphValidationError');
}

describe('detectVersion', () => {
  it('reads schemaVersion of FlowStudio graphs and recognises the v0 draft', () => {
    expect(detectVersion(json('v0-draft.json'))).toBe(0);
    expect(detectVersion(json('v1-full.flowstudio'))).toBe(1);
    expect(detectVersion(json('v99-future.flowstudio'))).toBe(99);
  });

  it('refuses other files clearly', () => {
    expect(thrown(() => detectVersion([1, 2])).errors[0]).toMatchObject({ code: 'schema', path: '' });
    expect(thrown(() => detectVersion({ format: 'comfyui', nodes: [] })).message).toContain('not a FlowStudio graph');
    expect(thrown(() => detectVersion({ last_node_id: 3, nodes: [], links: [] })).message).toContain('"format": "flowstudio-graph"');
    expect(thrown(() => detectVersion({ format: 'flowstudio-graph', schemaVersion: 1.5, nodes: [] })).errors[0].path).toBe('schemaVersion');
    expect(thrown(() => detectVersion({ format: 'flowstudio-graph', nodes: [] })).errors[0].path).toBe('schemaVersion');
  });
});

describe('migrateGraph', () => {
  it('the built-in chain ends at the current schema version', () => {
    const last = MIGRATIONS[MIGRATIONS.length - 1];
    expect(last.to).toBe(GRAPH_SCHEMA_VERSION);
    MIGRATIONS.forEach((m, i) => expect(m.from).toBe(i)); // one step per version, starting at the v0 draft
  });

  it('migrates the saved v0 draft file to exactly the hand-written v1 file', () => {
    const raw = json('v0-draft.json');
    const before = structuredClone(raw);
    const { applied } = migrateGraph(raw);
    expect(applied).toEqual(['v0-draft-to-v1']);
    expect(raw).toEqual(before); // the input is not modified

    const doc = parseGraph(fixture('v0-draft.json'));
    expect(doc).toEqual(json('v0-draft.expected.flowstudio'));
    expect(serializeGraph(doc)).toBe(fixture('v0-draft.expected.flowstudio'));
    expect(validateGraph(doc, fakeRegistry())).toEqual([]);
  });

  it('leaves a current-version document alone', () => {
    const raw = json('v1-full.flowstudio');
    const { doc, applied } = migrateGraph(raw);
    expect(applied).toEqual([]);
    expect(doc).toBe(raw);
  });

  it('runs an injected chain in version order, v0 -> v1 -> v2', () => {
    const calls: string[] = [];
    const v1ToV2: Migration = {
      from: 1,
      to: 2,
      name: 'v1-to-v2-rename-edges',
      up(raw) {
        calls.push(this.name);
        const doc = raw as Record<string, unknown>;
        const { edges, ...rest } = doc;
        return { ...rest, schemaVersion: 2, links: edges };
      },
    };
    const spy = (m: Migration): Migration => ({ ...m, up: (d) => (calls.push(m.name), m.up(d)) });
    // Listed out of order on purpose: the chain follows `from`, not array position.
    const { doc, applied } = migrateGraph(json('v0-draft.json'), [v1ToV2, ...MIGRATIONS.map(spy)]);
    expect(applied).toEqual(['v0-draft-to-v1', 'v1-to-v2-rename-edges']);
    expect(calls).toEqual(applied);
    const d = doc as { schemaVersion: number; links: { id: string }[]; edges?: unknown };
    expect(d.schemaVersion).toBe(2);
    expect(d.links.map((e) => e.id)).toEqual(['e0', 'e1', 'e2']); // v0 links became v1 edges, then v2 links
    expect(d.edges).toBeUndefined();

    // a v1 file enters the same chain half-way
    expect(migrateGraph(json('v1-full.flowstudio'), [v1ToV2, ...MIGRATIONS]).applied).toEqual(['v1-to-v2-rename-edges']);
  });

  it('refuses a version newer than the chain knows, telling to update the app', () => {
    const e = thrown(() => migrateGraph(json('v99-future.flowstudio')));
    expect(e.errors).toMatchObject([{ code: 'unsupported_version' }]);
    expect(e.message).toContain('99');
    expect(e.message).toContain('update the app');
  });

  it('catches broken chains and migrations that lie about their result', () => {
    const v0 = json('v0-draft.json');
    const gap: Migration = { from: 1, to: 3, name: 'skip', up: (d) => ({ ...(d as object), schemaVersion: 3 }) };
    expect(() => migrateGraph(v0, [gap])).toThrow(/No graph migration from schema version 0/);
    const liar: Migration = { from: 1, to: 2, name: 'liar', up: (d) => d };
    expect(() => migrateGraph(v0, [...MIGRATIONS, liar])).toThrow(/"liar" produced version 1, expected 2/);
  });

  it('reports malformed v0 files with paths', () => {
    const bad = { version: 0, nodes: [{ id: 'a', type: 'Decode' }, 7], links: [['a', 'x', 'b', 'y'], ['a', 'x', 'b']] };
    const e = thrown(() => migrateGraph(bad));
    expect(e.errors.map((x) => [x.code, x.path])).toEqual([
      ['schema', 'nodes[1]'],
      ['schema', 'links[1]'],
    ]);
    // field types inside v0 nodes are reported by the v1 schema, with the v1 path
    const badType = parseGraphError({ version: 0, nodes: [{ id: 'a', type: 'Decode', x: 'left' }], links: [] });
    expect(badType.errors[0]).toMatchObject({ code: 'schema', path: 'nodes[0].position.x', nodeId: 'a' });
  });
});

function parseGraphError(raw: unknown): GraphValidationError {
  return thrown(() => parseGraph(JSON.stringify(raw)));
}
