import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng } from '../nodes/core/io/png.ts';
import { Tensor } from '../nodes/core/tensor.ts';

// --- A minimal PNG chunk writer/reader written from the PNG spec, independent of the code under test. ---

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface Chunk {
  type: string;
  data: Uint8Array;
}

function chunkBytes({ type, data }: Chunk): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function buildPng(chunks: Chunk[]): Uint8Array {
  const parts = [new Uint8Array(SIGNATURE), ...chunks.map(chunkBytes)];
  return Buffer.concat(parts);
}

function listChunks(png: Uint8Array): Chunk[] {
  expect([...png.subarray(0, 8)]).toEqual(SIGNATURE);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: Chunk[] = [];
  for (let at = 8; at < png.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    expect(view.getUint32(at + 8 + length)).toBe(crc32(png.subarray(at + 4, at + 8 + length)));
    chunks.push({ type, data });
    at += 12 + length;
  }
  return chunks;
}

function ihdr(width: number, height: number, bitDepth: number, colorType: number): Chunk {
  const data = new Uint8Array(13);
  const view = new DataView(data.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  data[8] = bitDepth;
  data[9] = colorType; // compression, filter, interlace = 0
  return { type: 'IHDR', data };
}

/** Image data from packed scanlines (each gets filter type 0). */
function idat(rows: Uint8Array[]): Chunk {
  return { type: 'IDAT', data: deflateSync(Buffer.concat(rows.flatMap((r) => [new Uint8Array([0]), r]))) };
}

const IEND: Chunk = { type: 'IEND', data: new Uint8Array(0) };

const latin1 = (s: string) => Uint8Array.from([...s].map((c) => c.charCodeAt(0)));
const utf8 = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: (Uint8Array | number[])[]) => Buffer.concat(parts.map((p) => Uint8Array.from(p)));

/** A tiny 2x1 8-bit RGB PNG with the given extra chunks before IDAT. */
function rgbPngWith(extra: Chunk[]): Uint8Array {
  return buildPng([ihdr(2, 1, 8, 2), ...extra, idat([Uint8Array.from([255, 0, 0, 0, 128, 255])]), IEND]);
}

// ------------------------------------------------------------------------------------------------------

describe('encodePng / decodePng pixels', () => {
  it('round-trips 8-bit values exactly and writes R, G, B planes to interleaved pixels', () => {
    const [h, w] = [5, 7];
    const levels = Array.from({ length: 3 * h * w }, (_, i) => (i * 37) % 256);
    const image = Tensor.from([1, 3, h, w], levels.map((k) => k / 255));
    const bytes = encodePng(image);

    // Read back with pngjs directly: pixel (x, y) channel c is plane c at y * w + x.
    const raw = PNG.sync.read(Buffer.from(bytes));
    expect([raw.width, raw.height]).toEqual([w, h]);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) expect(raw.data[4 * (y * w + x) + c]).toBe(levels[c * h * w + y * w + x]);
      }
    }
    const ihdrChunk = listChunks(bytes)[0];
    expect([ihdrChunk.data[8], ihdrChunk.data[9]]).toEqual([8, 2]); // 8-bit truecolor

    const decoded = decodePng(bytes).image;
    expect(decoded.dims).toEqual([1, 3, h, w]);
    expect([...decoded.data]).toEqual(levels.map((k) => Math.fround(k / 255)));
  });

  it('rounds to the nearest level, clamps out-of-range values and accepts [3, H, W]', () => {
    const values = [-0.5, 0, 0.5 / 255 - 1e-6, 0.5 / 255 + 1e-6, 0.3, 0.999, 1, 1.7, 100];
    const image = Tensor.from([3, 1, 3], values);
    const back = decodePng(encodePng(image)).image;
    const expected = values.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255) / 255);
    expect([...back.data]).toEqual(expected.map(Math.fround));
    for (let i = 0; i < values.length; i++) {
      if (values[i] >= 0 && values[i] <= 1) expect(Math.abs(back.data[i] - values[i])).toBeLessThanOrEqual(0.5 / 255 + 1e-7);
    }
  });

  it('rejects shapes that are not one RGB image, and non-finite values', () => {
    expect(() => encodePng(Tensor.zeros([2, 3, 4, 4]))).toThrow(/\[1, 3, H, W\].*\[2, 3, 4, 4\]/);
    expect(() => encodePng(Tensor.zeros([1, 4, 4, 4]))).toThrow(/got \[1, 4, 4, 4\]/);
    expect(() => encodePng(Tensor.zeros([1, 3, 0, 4]))).toThrow(/no pixels/);
    const nan = Tensor.zeros([1, 3, 2, 2]);
    nan.data[5] = NaN;
    expect(() => encodePng(nan)).toThrow(/non-finite value \(NaN\) at element 5/);
  });

  it('decodes 16-bit RGB without losing precision', () => {
    const samples = [0, 65535, 1, 32768, 65534, 12345];
    const row = new Uint8Array(12);
    samples.forEach((s, i) => new DataView(row.buffer).setUint16(2 * i, s));
    const png = buildPng([ihdr(2, 1, 16, 2), idat([row]), IEND]);
    const t = decodePng(png).image;
    // planes: R = [s0, s3], G = [s1, s4], B = [s2, s5]
    expect([...t.data]).toEqual([0, 32768, 65535, 65534, 1, 12345].map((s) => Math.fround(s / 65535)));
  });

  it('decodes grayscale (8-bit, 1-bit, with alpha) to equal R, G, B planes', () => {
    const gray8 = decodePng(buildPng([ihdr(3, 1, 8, 0), idat([Uint8Array.from([0, 51, 255])]), IEND])).image;
    expect([...gray8.data]).toEqual([0, 51, 255, 0, 51, 255, 0, 51, 255].map((k) => Math.fround(k / 255)));

    const gray1 = decodePng(buildPng([ihdr(3, 1, 1, 0), idat([Uint8Array.from([0b10100000])]), IEND])).image;
    expect([...gray1.data]).toEqual([1, 0, 1, 1, 0, 1, 1, 0, 1]);

    const grayAlpha = decodePng(buildPng([ihdr(2, 1, 8, 4), idat([Uint8Array.from([102, 0, 204, 255])]), IEND])).image;
    expect([...grayAlpha.data]).toEqual([102, 204, 102, 204, 102, 204].map((k) => Math.fround(k / 255)));
  });

  it('decodes palette images and drops alpha from RGBA', () => {
    const plte = { type: 'PLTE', data: Uint8Array.from([10, 20, 30, 200, 100, 0]) };
    const palette = decodePng(buildPng([ihdr(3, 1, 8, 3), plte, idat([Uint8Array.from([1, 0, 1])]), IEND])).image;
    expect([...palette.data]).toEqual([200, 10, 200, 100, 20, 100, 0, 30, 0].map((k) => Math.fround(k / 255)));

    const rgba = decodePng(buildPng([ihdr(1, 1, 8, 6), idat([Uint8Array.from([9, 99, 199, 0])]), IEND])).image;
    expect(rgba.dims).toEqual([1, 3, 1, 1]);
    expect([...rgba.data]).toEqual([9, 99, 199].map((k) => Math.fround(k / 255)));
  });

  it('refuses a chunk whose length runs past the end before reading it (one damaged byte claimed 369 MB)', () => {
    const good = encodePng(new Tensor([1, 3, 4, 5], new Float32Array(60).fill(0.25)), { text: { flowstudio: '{"a":1}' } });
    const bad = good.slice();
    bad[8] = 0x16; // IHDR's length, high byte: 0x1600000d
    expect(() => decodePng(bad)).toThrow('PNG is damaged or truncated: chunk "IHDR" at byte 8 claims 369098765 bytes, but the file has');
    const cut = good.slice(0, 60);
    expect(() => decodePng(cut)).toThrow(/PNG is damaged or truncated: chunk "iTXt" at byte 33 claims \d+ bytes, but the file has 15 left/);
    // A chunk header cut short, its length damaged: png-chunks-extract took 48 s on these 40 bytes.
    const header = good.slice(0, 40);
    header[35] = 0xff;
    expect(() => decodePng(header)).toThrow('PNG is truncated: the chunk header at byte 33 runs past the end');
    expect(decodePng(good).text).toEqual({ flowstudio: '{"a":1}' });
  });

  it('rejects bytes that are not a PNG', () => {
    expect(() => decodePng(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))).toThrow(/header/);
  });
});

describe('PNG text chunks', () => {
  const prompt = 'a red fox 🦊 in snow, 雪の中の狐, Straße — "quotes" \\ and\nnewlines';

  it('writes text as iTXt before the first IDAT, and Unicode survives', () => {
    const bytes = encodePng(Tensor.full([1, 3, 4, 4], 0.5), { text: { flowstudio: prompt, Software: 'FlowStudio' } });
    const chunks = listChunks(bytes);
    const types = chunks.map((c) => c.type);
    const itxt = types.flatMap((t, i) => (t === 'iTXt' ? [i] : []));
    expect(itxt).toHaveLength(2);
    expect(Math.max(...itxt)).toBeLessThan(types.indexOf('IDAT'));
    expect(types[0]).toBe('IHDR');
    expect(types.at(-1)).toBe('IEND');

    // Short text is stored uncompressed: keyword \0 flag=0 method=0 "" \0 "" \0 UTF-8 text.
    const first = chunks[itxt[0]].data;
    expect(Buffer.from(first).equals(cat(latin1('flowstudio'), [0, 0, 0, 0, 0], utf8(prompt)))).toBe(true);

    expect(decodePng(bytes).text).toEqual({ flowstudio: prompt, Software: 'FlowStudio' });
  });

  it('compresses long text in iTXt and reads it back', () => {
    const graph = JSON.stringify({ nodes: Array.from({ length: 200 }, (_, i) => ({ id: `n${i}`, prompt })) });
    const bytes = encodePng(Tensor.zeros([1, 3, 2, 2]), { text: { flowstudio: graph } });
    const chunk = listChunks(bytes).find((c) => c.type === 'iTXt')!;
    const k = chunk.data.indexOf(0);
    expect([chunk.data[k + 1], chunk.data[k + 2]]).toEqual([1, 0]); // compressed with zlib
    expect(chunk.data.length).toBeLessThan(utf8(graph).length);
    expect(decodePng(bytes).text.flowstudio).toBe(graph);
  });

  it('rejects invalid keywords', () => {
    const img = Tensor.zeros([1, 3, 1, 1]);
    expect(() => encodePng(img, { text: { '': 'x' } })).toThrow(/Invalid PNG text keyword/);
    expect(() => encodePng(img, { text: { ['x'.repeat(80)]: 'x' } })).toThrow(/1-79/);
    expect(() => encodePng(img, { text: { ' lead': 'x' } })).toThrow(/leading/);
    expect(() => encodePng(img, { text: { 'émoji🦊': 'x' } })).toThrow(/Latin-1/);
  });

  it('reads a hand-written tEXt chunk as Latin-1 (bytes 0x80-0x9f are not windows-1252)', () => {
    const text = 'caf\u00e9 \u0093x\u0094 \u00ff';
    const png = rgbPngWith([{ type: 'tEXt', data: cat(latin1('Comment'), [0], latin1(text)) }]);
    const decoded = decodePng(png);
    expect(decoded.text).toEqual({ Comment: text });
    expect([...decoded.image.data]).toEqual([1, 0, 0, 0.501960813999176, 0, 1].map(Math.fround));
  });

  it('reads hand-written zTXt and compressed iTXt with language tags', () => {
    const png = rgbPngWith([
      { type: 'zTXt', data: cat(latin1('Title'), [0, 0], deflateSync(latin1('Gr\u00fc\u00dfe'))) },
      {
        type: 'iTXt',
        data: cat(latin1('Description'), [0, 1, 0], latin1('ja'), [0], utf8('説明'), [0], deflateSync(utf8('狐 🦊'))),
      },
      { type: 'iTXt', data: cat(latin1('Author'), [0, 0, 0], latin1('en-GB'), [0], [0], utf8('Zoë')) },
    ]);
    expect(decodePng(png).text).toEqual({ Title: 'Gr\u00fc\u00dfe', Description: '狐 🦊', Author: 'Zoë' });
  });

  it('lets a later chunk override an earlier one with the same keyword', () => {
    const png = rgbPngWith([
      { type: 'tEXt', data: cat(latin1('k'), [0], latin1('old')) },
      { type: 'iTXt', data: cat(latin1('k'), [0, 0, 0, 0, 0], utf8('new')) },
    ]);
    expect(decodePng(png).text).toEqual({ k: 'new' });
  });

  it('names the chunk when text is malformed or cannot be decompressed', () => {
    const noSeparator = rgbPngWith([{ type: 'tEXt', data: latin1('nonull') }]);
    expect(() => decodePng(noSeparator)).toThrow(/tEXt chunk: missing null separator/);
    const badZlib = rgbPngWith([{ type: 'iTXt', data: cat(latin1('k'), [0, 1, 0, 0, 0], [1, 2, 3, 4]) }]);
    expect(() => decodePng(badZlib)).toThrow(/iTXt chunk "k" could not be decompressed/);
  });
});
