import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GraphValidationError } from '../electron/engine/graph/errors.ts';
import { formatJsonPath, locateJsonError } from '../electron/engine/graph/parse.ts';
import {
  parseGraph,
  parseGraphValue,
  readGraphFile,
  serializeGraph,
  writeGraphFile,
} from '../electron/engine/graph/io.ts';
import type { GraphDocument } from '../electron/engine/graph/schema.ts';

const fixturePath = (name: string) => fileURLToPath(new URL(`./fixtures/graphs/${name}`, import.meta.url));
const fixture = (name: string) => fs.readFileSync(fixturePath(name), 'utf8');

function thrown(fn: () => unknown): GraphValidationError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GraphValidationError) return e;
    throw e;
  }
  throw new Error('expected a GraphValidationError');
}

/** Same data, keys in reverse order at every level. */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]));
  return v;
}

describe('parseGraph / serializeGraph', () => {
  it('round-trips a canonical file byte for byte, whatever the key order it was given in', () => {
    const text = fixture('v1-full.flowstudio');
    const doc = parseGraph(text);
    expect(serializeGraph(doc)).toBe(text);
    expect(serializeGraph(parseGraph(JSON.stringify(reverseKeys(JSON.parse(text)))))).toBe(text);
    expect(doc.nodes[4].params.caption).toBe('Grüße, 世界');
  });

  it('fills defaults for a minimal file', () => {
    expect(serializeGraph(parseGraph(fixture('v1-minimal.json')))).toBe(fixture('v1-minimal.expected.flowstudio'));
  });

  it('serializes with 2-space indent and a trailing newline, changing nothing', () => {
    const doc = parseGraph(fixture('v1-full.flowstudio'));
    const copy = structuredClone(doc);
    const text = serializeGraph(doc);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.split('\n')[1]).toBe('  "format": "flowstudio-graph",');
    expect(doc).toEqual(copy);
    expect(JSON.parse(text)).toEqual(doc);
  });

  it('accepts a BOM, an already-parsed value, and text through parseGraphValue', () => {
    const text = fixture('v1-full.flowstudio');
    const doc = parseGraph(text);
    expect(parseGraph('\ufeff' + text)).toEqual(doc);
    expect(parseGraphValue(JSON.parse(text))).toEqual(doc);
    expect(parseGraphValue(text)).toEqual(doc);
    expect(parseGraphValue(JSON.parse(fixture('v0-draft.json')))).toEqual(parseGraph(fixture('v0-draft.expected.flowstudio')));
  });

  it('reports JSON syntax errors with line and column', () => {
    const text = '{\n  "format": "flowstudio-graph",\n  "nodes": [,]\n}';
    const e = thrown(() => parseGraph(text, 'g.flowstudio'));
    expect(e.errors).toHaveLength(1);
    expect(e.errors[0].code).toBe('schema');
    expect(e.message).toBe(`g.flowstudio: invalid JSON at line 3, column 13: unexpected ","`);
    expect(thrown(() => parseGraph('{"nodes": [1, 2\n')).message).toMatch(/line 2, column 1: unexpected end of input/);
    expect(thrown(() => parseGraph('{"a": 1,}')).message).toMatch(/line 1, column 9: expected a property name/);
    expect(thrown(() => parseGraph('   ')).message).toContain('empty');
  });

  it('locates JSON errors where JSON.parse fails, and finds none in valid JSON', () => {
    const samples = ['{"a": tru}', '[1 2]', '{"a" 1}', '"abc', '{"a": "x\ny"}', '[01]', '{"a": 1} x', '["\\q"]', '[1,]'];
    for (const s of samples) {
      expect(() => JSON.parse(s)).toThrow();
      expect(locateJsonError(s), s).toBeDefined();
    }
    for (const s of ['{}', '[]', ' {"a": [1, -2.5e3, true, null, "\\u00e9\\n"]} ', '0']) expect(locateJsonError(s)).toBeUndefined();
    expect(locateJsonError('[1 2]')).toEqual({ offset: 3, reason: `expected ',' or ']', found "2"` });
  });

  it('converts schema errors to JSON paths tied to node and edge ids', () => {
    const e = thrown(() => parseGraph(fixture('v1-invalid.flowstudio'), 'bad.flowstudio'));
    const byPath = Object.fromEntries(e.errors.map((x) => [x.path, x]));
    expect(Object.keys(byPath).sort()).toEqual(['edges[0].targetPort', 'nodes[1].position.x', 'nodes[2].color', 'nodes[2].params.factor']);
    expect(byPath['nodes[1].position.x']).toMatchObject({ code: 'schema', nodeId: 'n1', nodeType: 'Scale' });
    expect(byPath['edges[0].targetPort']).toMatchObject({ code: 'schema', edgeId: 'e0' });
    expect(byPath['edges[0].targetPort'].message).toContain('edges[0].targetPort: required field is missing (expected string)');
    expect(byPath['nodes[2].params.factor'].message).toContain('node "n2" (Scale): param "factor": expected number, string or boolean, got an array');
    expect(byPath['nodes[2].color'].message).toMatch(/^bad\.flowstudio: nodes\[2\]\.color: /);
    expect(e.message).toContain('4 graph errors');
  });

  it('names a bad param value by node and param, and says a non-finite number is one', () => {
    const doc = JSON.parse(fixture('v1-invalid.flowstudio'));
    doc.nodes = [{ id: 'blur', type: 'Scale', params: { factor: NaN, gain: Infinity, mode: null } }];
    doc.edges = [];
    const errors = thrown(() => parseGraphValue(doc)).errors;
    const messages = errors.map((x) => x.message).sort();
    expect(messages).toEqual([
      'node "blur" (Scale): param "factor": expected number, string or boolean, got NaN (not a finite number)',
      'node "blur" (Scale): param "gain": expected number, string or boolean, got Infinity (not a finite number)',
      'node "blur" (Scale): param "mode": expected number, string or boolean, got null',
    ]);
    expect(errors.every((x) => x.nodeId === 'blur' && x.path?.startsWith('nodes[0].params.'))).toBe(true);
  });

  it('refuses canvas coordinates a browser cannot draw, naming the node', () => {
    const doc = JSON.parse(fixture('v1-invalid.flowstudio'));
    doc.edges = [];
    doc.nodes = [
      { id: 'far', type: 'Scale', position: { x: 1e300, y: 0 } },
      { id: 'edge', type: 'Scale', position: { x: -10_000_000, y: 10_000_000 } },
    ];
    doc.groups = [{ id: 'g', bounds: { x: 0, y: 0, width: 3e7, height: 10 } }];
    const errors = thrown(() => parseGraphValue(doc)).errors;
    expect(errors.map((x) => x.message).sort()).toEqual([
      'groups[0].bounds.width: larger than the canvas (at most 20,000,000)',
      'nodes[0].position.x: outside the canvas (at most 10,000,000 from the origin)',
    ]);
    expect(errors.find((x) => x.path === 'nodes[0].position.x')?.nodeId).toBe('far');
  });

  it('refuses values nested deeper than any graph needs, instead of overflowing the stack later', () => {
    for (const depth of [100, 200_000]) {
      const text = `{"format":"flowstudio-graph","schemaVersion":1,"nodes":[],"subgraphs":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
      const e = thrown(() => parseGraph(text, 'deep.flowstudio'));
      expect(e.errors).toEqual([{ code: 'schema', path: 'subgraphs.a[0]', message: 'deep.flowstudio: subgraphs.a[0]: nested more than 64 levels deep (a graph never needs that)' }]);
    }
    // 64 levels are fine, and survive writing.
    const ok = `{"format":"flowstudio-graph","schemaVersion":1,"nodes":[],"subgraphs":{"a":${'['.repeat(62)}${']'.repeat(62)}}}`;
    expect(serializeGraph(parseGraph(ok))).toContain('"subgraphs"');
  });

  it('formats JSON paths, quoting keys that are not identifiers', () => {
    expect(formatJsonPath(['nodes', 2, 'position', 'x'])).toBe('nodes[2].position.x');
    expect(formatJsonPath(['nodes', 0, 'params', 'cfg scale'])).toBe('nodes[0].params["cfg scale"]');
    expect(formatJsonPath([])).toBe('');
  });

  it('refuses other formats and newer versions with clear messages', () => {
    expect(thrown(() => parseGraph('{"format": "comfyui-workflow", "nodes": []}')).errors[0]).toMatchObject({ code: 'schema', path: 'format' });
    const e = thrown(() => parseGraph(fixture('v99-future.flowstudio'), 'new.flowstudio'));
    expect(e.errors[0].code).toBe('unsupported_version');
    expect(e.message).toMatch(/^new\.flowstudio: .*update the app/);
  });
});

describe('long names and values in messages', () => {
  it('node types, port and param names are at most 200 characters, and a long name or value is quoted by its start', () => {
    const big = 'X'.repeat(1_000_000);
    const doc = (change: (d: Record<string, any>) => void) => {
      const d: Record<string, any> = {
        format: 'flowstudio-graph',
        schemaVersion: 1,
        nodes: [{ id: 'latent', type: 'EmptyLatent', params: {} }, { id: 'm', type: 'TensorMetrics', params: {} }],
        edges: [{ id: 'e0', source: 'latent', sourcePort: 'latent', target: 'm', targetPort: 'a' }],
      };
      change(d);
      return d;
    };
    const messages = (d: unknown) => thrown(() => parseGraphValue(d)).errors.map((e) => e.message);
    expect(messages(doc((d) => (d.nodes[0].type = big)))).toEqual(['nodes[0].type: Too big: expected string to have <=200 characters']);
    expect(messages(doc((d) => (d.edges[0].targetPort = big)))).toEqual(['edges[0].targetPort: Too big: expected string to have <=200 characters']);
    const [param] = messages(doc((d) => (d.nodes[0].params[big] = 1)));
    expect(param).toMatch(/^node "latent" \(EmptyLatent\): param "X{60}… \(1000000 characters\)": /);
    expect(param.length).toBeLessThan(200);
    // Names up to the limit are fine.
    expect(parseGraphValue(doc((d) => (d.nodes[0].params['p'.repeat(200)] = 1))).nodes[0].params).toHaveProperty('p'.repeat(200));
  });
});

describe('readGraphFile / writeGraphFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowstudio-io-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes canonical text atomically and reads it back', () => {
    const doc = parseGraph(fixture('v1-full.flowstudio'));
    const file = path.join(dir, 'blend.flowstudio');
    fs.writeFileSync(file, 'old contents');
    writeGraphFile(file, doc);
    expect(fs.readFileSync(file, 'utf8')).toBe(fixture('v1-full.flowstudio'));
    expect(readGraphFile(file)).toEqual(doc);
    expect(fs.readdirSync(dir)).toEqual(['blend.flowstudio']); // no temp file left behind
  });

  it('reads old versions and .json files through the migration chain', () => {
    expect(readGraphFile(fixturePath('v0-draft.json'))).toEqual(parseGraph(fixture('v0-draft.expected.flowstudio')));
  });

  it('refuses to write a document that would not read back, leaving the old file', () => {
    const file = path.join(dir, 'g.flowstudio');
    fs.writeFileSync(file, 'old contents');
    const doc = parseGraph(fixture('v1-full.flowstudio'));
    const bad = { ...doc, nodes: [{ ...doc.nodes[0], position: { x: Number.NaN, y: 0 } }] } as GraphDocument;
    const e = thrown(() => writeGraphFile(file, bad));
    expect(e.errors[0].path).toBe('nodes[0].position.x');
    expect(fs.readFileSync(file, 'utf8')).toBe('old contents');
  });

  it('cleans up its temp file when the final rename fails', () => {
    const target = path.join(dir, 'taken');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep'), 'x'); // a non-empty folder cannot be replaced by a file
    expect(() => writeGraphFile(target, parseGraph(fixture('v1-minimal.json')))).toThrow(/Cannot write graph file/);
    expect(fs.readdirSync(dir)).toEqual(['taken']);
    expect(fs.readdirSync(target)).toEqual(['keep']);
  });

  it('names the file on read errors, and says PNG graphs are not supported yet', () => {
    const missing = path.join(dir, 'missing.flowstudio');
    expect(() => readGraphFile(missing)).toThrow(missing);
    const png = path.join(dir, 'image.png');
    fs.writeFileSync(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]));
    expect(() => readGraphFile(png)).toThrow(/PNG.*not supported yet/);
    const broken = path.join(dir, 'broken.json');
    fs.writeFileSync(broken, '{\n  "nodes": [\n');
    expect(thrown(() => readGraphFile(broken)).message).toContain(`${broken}: invalid JSON at line 3`);
  });
});
