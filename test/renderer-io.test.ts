import { deflateSync, crc32 as zlibCrc32 } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeRegistry } from '../electron/engine/graph/describe.ts';
import type { GraphDocument } from '../electron/engine/graph/schema.ts';
import { decodePng, encodePng } from '../nodes/core/io/png.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { createDefaultRegistry } from '../nodes/index.ts';
import { emptyDocument } from '../renderer/src/graph/document.ts';
import { autosaveStore, createAutosaver } from '../renderer/src/io/autosave.ts';
import { crc32, readPngChunks, writePngChunks } from '../renderer/src/io/png-chunks.ts';
import { embedGraphInPng, GRAPH_PNG_KEYWORD, readGraphFromPng, readPngText } from '../renderer/src/io/png-graph.ts';
import { looksLikeAbsolutePath, modelHashesFromTags, sanitizeForExport, shareablePath } from '../renderer/src/io/sanitize.ts';
import { createEditorStore } from '../renderer/src/state/store.ts';

const NODE_TYPES = describeRegistry(createDefaultRegistry());
const UNICODE = 'Ein Kätzchen 猫 🐱 — naïve café, «ñ» ∑';

function image(): Tensor {
  const t = new Tensor([1, 3, 4, 5]);
  for (let i = 0; i < t.data.length; i++) t.data[i] = ((i * 37) % 256) / 255;
  return t;
}

function unicodeGraph(paddingChars = 0): GraphDocument {
  return {
    ...emptyDocument(UNICODE),
    metadata: { name: UNICODE, description: 'x'.repeat(paddingChars), author: '', tags: ['ünïcode'] },
    nodes: [{ id: 'save', type: 'SaveImage', params: { filename: `${UNICODE}.png` }, position: { x: 0, y: 0 } }],
  };
}

describe('PNG chunks', () => {
  it('CRC-32 matches zlib and the IEND constant', () => {
    expect(crc32(new TextEncoder().encode('IEND'))).toBe(0xae426082);
    const bytes = new Uint8Array(1000).map((_, i) => (i * 131) & 0xff);
    expect(crc32(bytes)).toBe(zlibCrc32(bytes));
  });

  it('read -> write reproduces an engine-written PNG byte for byte', () => {
    const png = encodePng(image());
    expect(writePngChunks(readPngChunks(png))).toEqual(new Uint8Array(png));
  });

  it('refuses non-PNG and truncated data with a clear message', () => {
    expect(() => readPngChunks(new TextEncoder().encode('GIF89a...'))).toThrow(/not a PNG/i);
    const png = encodePng(image());
    expect(() => readPngChunks(png.subarray(0, png.length - 20))).toThrow(/truncated/);
  });
});

describe('graph in PNG', () => {
  for (const compress of [false, true]) {
    it(`embeds as iTXt (${compress ? 'compressed' : 'plain'}) before the first IDAT; engine decodePng reads it; pixels unchanged`, async () => {
      const png = encodePng(image());
      const graph = unicodeGraph();
      const out = await embedGraphInPng(png, graph, { compress });
      const types = readPngChunks(out).map((c) => c.type);
      expect(types.indexOf('iTXt')).toBeLessThan(types.indexOf('IDAT'));
      expect(types.indexOf('iTXt')).toBeGreaterThan(0);
      const decoded = decodePng(out);
      expect(JSON.parse(decoded.text[GRAPH_PNG_KEYWORD])).toEqual(graph);
      expect(decoded.image.data).toEqual(decodePng(png).image.data);
      const back = await readGraphFromPng(out);
      expect(back).toEqual({ ok: true, doc: graph });
    });
  }

  it('reads what the engine writes (its iTXt is zlib-compressed above 1 KiB)', async () => {
    const graph = unicodeGraph(3000);
    const png = encodePng(image(), { text: { [GRAPH_PNG_KEYWORD]: JSON.stringify(graph), other: 'ok' } });
    expect(await readPngText(png)).toEqual({ [GRAPH_PNG_KEYWORD]: JSON.stringify(graph), other: 'ok' });
    expect(await readGraphFromPng(png)).toEqual({ ok: true, doc: graph });
  });

  it('reads tEXt and zTXt (Latin-1) as other tools write them', async () => {
    const chunks = readPngChunks(encodePng(image()));
    const latin1 = (s: string) => Uint8Array.from([...s].map((c) => c.charCodeAt(0)));
    const doc = JSON.stringify({ ...emptyDocument('café') });
    const tEXt = { type: 'tEXt', data: latin1(`comment\0caf\xe9 au lait`) };
    const zTXt = { type: 'zTXt', data: new Uint8Array([...latin1('flowstudio\0\0'), ...deflateSync(Buffer.from(doc, 'latin1'))]) };
    const png = writePngChunks([chunks[0], tEXt, zTXt, ...chunks.slice(1)]);
    const text = await readPngText(png);
    expect(text).toEqual(decodePng(png).text); // same answer as the engine's reader
    expect(text.comment).toBe('café au lait');
    const back = await readGraphFromPng(png);
    expect(back.ok && back.doc.metadata.name).toBe('café');
  });

  it('embedding again replaces the old graph chunk', async () => {
    const once = await embedGraphInPng(encodePng(image()), emptyDocument('one'));
    const twice = await embedGraphInPng(once, emptyDocument('two'));
    expect(readPngChunks(twice).filter((c) => c.type === 'iTXt')).toHaveLength(1);
    const back = await readGraphFromPng(twice);
    expect(back.ok && back.doc.metadata.name).toBe('two');
  });

  it('explains why a PNG has no usable graph', async () => {
    const plain = await readGraphFromPng(encodePng(image()));
    expect(plain).toEqual({ ok: false, reason: expect.stringMatching(/no FlowStudio graph/) });
    const junk = await readGraphFromPng(encodePng(image(), { text: { [GRAPH_PNG_KEYWORD]: '{"format":"other"}' } }));
    expect(junk.ok).toBe(false);
    if (!junk.ok) expect(junk.reason).toMatch(/cannot be opened.*not a FlowStudio graph/);
    const notPng = await readGraphFromPng(new Uint8Array([1, 2, 3]));
    expect(notPng.ok).toBe(false);
  });
});

describe('sanitizeForExport', () => {
  const doc: GraphDocument = {
    ...emptyDocument('share me'),
    metadata: { name: 'share me', description: '', author: 'jdoe', tags: [] },
    nodes: [
      { id: 'm1', type: 'LoadModel', params: { model: '/home/jdoe/models/sd-turbo-onnx/' }, position: { x: 0, y: 0 } },
      { id: 'm2', type: 'LoadModel', params: { model: 'embedded:gaussian-vp' }, position: { x: 0, y: 0 } },
      { id: 'img', type: 'LoadImage', params: { path: 'C:\\Users\\Jane Doe\\Pictures\\cat 1.png' }, position: { x: 0, y: 0 } },
      { id: 'rel', type: 'LoadImage', params: { path: 'inputs/cat.png' }, position: { x: 0, y: 0 } },
      { id: 'esc', type: 'LoadImage', params: { path: '../../secret/cat.png' }, position: { x: 0, y: 0 } },
      { id: 'out', type: 'SaveImage', params: { filename: '~/out/final.png' }, position: { x: 0, y: 0 } },
      { id: 'unk', type: 'FutureNode', params: { file: '/Users/jane/x.bin', prompt: '/imagine a cat' }, position: { x: 0, y: 0 } },
    ],
  };

  it('strips absolute and escaping paths, keeps embedded refs and plain relative paths, clears the author', () => {
    const { doc: out, changes } = sanitizeForExport(doc, NODE_TYPES);
    const param = (id: string, name: string) => out.nodes.find((n) => n.id === id)!.params[name];
    expect(param('m1', 'model')).toBe('sd-turbo-onnx');
    expect(param('m2', 'model')).toBe('embedded:gaussian-vp');
    expect(param('img', 'path')).toBe('cat 1.png');
    expect(param('rel', 'path')).toBe('inputs/cat.png');
    expect(param('esc', 'path')).toBe('cat.png');
    expect(param('out', 'filename')).toBe('final.png');
    expect(param('unk', 'file')).toBe('x.bin');
    expect(param('unk', 'prompt')).toBe('/imagine a cat');
    expect(out.metadata.author).toBe('');
    expect(JSON.stringify(out)).not.toMatch(/jdoe|Jane|jane|home|Users/);
    expect(changes.length).toBe(5 + 1); // m1, img, esc, out, unk.file; author
    expect(doc.nodes[0].params.model).toBe('/home/jdoe/models/sd-turbo-onnx/'); // input untouched
  });

  it('keeps the author on request and records model hashes as tags', () => {
    const kept = { ...doc, metadata: { ...doc.metadata, tags: ['keep-author'] } };
    const { doc: out } = sanitizeForExport(kept, NODE_TYPES, { modelHashes: { '/home/jdoe/models/sd-turbo-onnx/': 'sha256:abc123' } });
    expect(out.metadata.author).toBe('jdoe');
    expect(modelHashesFromTags(out.metadata.tags)).toEqual({ 'sd-turbo-onnx': 'sha256:abc123' });
  });

  it('a model folder the backend knows becomes its shareable ref', () => {
    const models = [
      { ref: 'embedded:gaussian-vp', folder: '/home/jdoe/.cache/flowstudio/gaussian-vp' },
      { ref: '/home/jdoe/models/sd-turbo-onnx', folder: '/home/jdoe/models/sd-turbo-onnx' },
    ];
    const local = { ...doc, nodes: [
      { id: 'a', type: 'LoadModel', params: { model: '/home/jdoe/.cache/flowstudio/gaussian-vp/' }, position: { x: 0, y: 0 } },
      { id: 'b', type: 'LoadModel', params: { model: '/home/jdoe/models/sd-turbo-onnx' }, position: { x: 0, y: 0 } },
    ] };
    const { doc: out } = sanitizeForExport(local, NODE_TYPES, { models });
    expect(out.nodes.map((n) => n.params.model)).toEqual(['embedded:gaussian-vp', 'sd-turbo-onnx']);
  });

  it('path helpers', () => {
    for (const p of ['/a', '~/a', 'C:\\a', 'd:/a', '\\\\server\\share\\a', 'file:///a']) expect(looksLikeAbsolutePath(p), p).toBe(true);
    for (const p of ['a/b', 'model.onnx', 'embedded:x', '']) expect(looksLikeAbsolutePath(p), p).toBe(false);
    expect(shareablePath('C:\\')).toBe('');
    expect(shareablePath('/')).toBe('');
  });
});

describe('autosave', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes once, 1 s after the last change, with the newest document', async () => {
    vi.useFakeTimers();
    const written: string[] = [];
    const saver = createAutosaver({ write: async (d) => void written.push(d.metadata.name) });
    for (const name of ['a', 'b', 'c']) {
      saver.schedule(emptyDocument(name));
      await vi.advanceTimersByTimeAsync(600);
    }
    expect(written).toEqual([]);
    await vi.advanceTimersByTimeAsync(500);
    expect(written).toEqual(['c']);
    expect(saver.pending()).toBe(false);
  });

  it('flush writes the pending change now, after an in-flight write, newest last', async () => {
    vi.useFakeTimers();
    const written: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const saver = createAutosaver({
      write: async (d) => {
        if (d.metadata.name === 'first') await slow;
        written.push(d.metadata.name);
      },
    });
    saver.schedule(emptyDocument('first'));
    await vi.advanceTimersByTimeAsync(1000); // 'first' write in flight
    saver.schedule(emptyDocument('last'));
    const flushed = saver.flush();
    release();
    await flushed;
    expect(written).toEqual(['first', 'last']);
  });

  it('a failed write keeps the change for the next flush', async () => {
    const errors: unknown[] = [];
    let fail = true;
    const written: string[] = [];
    const saver = createAutosaver({
      delayMs: 10_000,
      write: async (d) => {
        if (fail) throw new Error('disk full');
        written.push(d.metadata.name);
      },
      onError: (e) => errors.push(e),
    });
    saver.schedule(emptyDocument('keep me'));
    await saver.flush();
    expect(errors).toHaveLength(1);
    expect(saver.pending()).toBe(true);
    fail = false;
    await saver.flush();
    expect(written).toEqual(['keep me']);
    saver.dispose();
  });

  it('autosaveStore schedules on document changes only (not selection)', async () => {
    const store = createEditorStore({ nodeTypes: NODE_TYPES });
    const scheduled: GraphDocument[] = [];
    const off = autosaveStore(store, { schedule: (d) => void scheduled.push(d), flush: async () => {}, pending: () => false, dispose: () => {} });
    store.getState().addNode('LoadModel', { x: 0, y: 0 });
    store.getState().clearSelection();
    store.getState().setViewport({ x: 1, y: 1, zoom: 1 });
    store.getState().undo();
    off();
    store.getState().redo();
    expect(scheduled.map((d) => d.nodes.length)).toEqual([1, 0]);
  });
});
