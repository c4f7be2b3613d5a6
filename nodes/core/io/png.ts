/**
 * PNG <-> IMAGE tensors, with text metadata. Pixels go through pngjs; metadata chunks are spliced with
 * png-chunks-extract/encode. We write text as iTXt (UTF-8: graphs hold Unicode prompts, tEXt is Latin-1)
 * before the first IDAT, and read tEXt, zTXt and iTXt so images from other tools load too.
 */
import { createRequire } from 'node:module';
import { deflateSync, inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { Tensor } from '../tensor.ts';

interface PngChunk {
  name: string;
  data: Uint8Array;
}
// CommonJS packages without type declarations: typed here at the one place they enter.
const require = createRequire(import.meta.url);
const extractChunks = require('png-chunks-extract') as (data: Uint8Array) => PngChunk[];
const encodeChunks = require('png-chunks-encode') as (chunks: PngChunk[]) => Uint8Array;

/** iTXt text at least this long (UTF-8 bytes) is zlib-compressed; shorter text stays readable in a hex dump. */
const COMPRESS_TEXT_FROM = 1024;
/** Refuse images whose decoded RGBA would not sensibly fit in memory (untrusted files). */
const MAX_PIXELS = 1 << 26;
/** Refuse text chunks that inflate beyond this (zip bombs in untrusted files). */
const MAX_TEXT_BYTES = 64 * 1024 * 1024;

export interface EncodePngOptions {
  /** keyword -> text, written as iTXt chunks in this order. */
  text?: Record<string, string>;
}

export interface DecodedPng {
  /** [1, 3, H, W] RGB in [0, 1]; alpha is dropped. */
  image: Tensor;
  /** Text from tEXt, zTXt and iTXt chunks; a later chunk with the same keyword wins. */
  text: Record<string, string>;
}

/** 8-bit RGB PNG from a [1,3,H,W] or [3,H,W] tensor in [0, 1] (clamped, rounded to nearest). */
export function encodePng(image: Tensor, opts: EncodePngOptions = {}): Uint8Array {
  const dims = image.dims;
  const isChw = dims.length === 3 && dims[0] === 3;
  const isNchw = dims.length === 4 && dims[0] === 1 && dims[1] === 3;
  if (!isChw && !isNchw) {
    throw new Error(`encodePng expects an RGB image of shape [1, 3, H, W] or [3, H, W], got ${image.shapeString()}`);
  }
  const height = dims[dims.length - 2];
  const width = dims[dims.length - 1];
  if (width === 0 || height === 0) throw new Error(`encodePng: image ${image.shapeString()} has no pixels`);
  const bad = image.firstNonFinite();
  if (bad >= 0) throw new Error(`encodePng: image has a non-finite value (${image.data[bad]}) at element ${bad}`);

  const plane = width * height;
  const src = image.data;
  const rgb = Buffer.alloc(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = src[c * plane + p];
      rgb[3 * p + c] = Math.round((v <= 0 ? 0 : v >= 1 ? 1 : v) * 255);
    }
  }
  const png = new PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false, bitDepth: 8 });
  png.data = rgb;
  const bytes = PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false, bitDepth: 8 });

  const entries = Object.entries(opts.text ?? {});
  if (entries.length === 0) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks = extractChunks(bytes);
  const firstIdat = chunks.findIndex((c) => c.name === 'IDAT');
  const textChunks = entries.map(([keyword, text]) => ({ name: 'iTXt', data: buildItxt(keyword, text) }));
  chunks.splice(firstIdat, 0, ...textChunks);
  return encodeChunks(chunks);
}

/** Decodes any PNG pngjs reads (8/16-bit, palette, grayscale, with or without alpha) to RGB in [0, 1]. */
export function decodePng(bytes: Uint8Array): DecodedPng {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  checkChunkBounds(buffer);
  const chunks = extractChunks(buffer);
  const header = readIhdr(chunks[0]);
  if (header.width * header.height > MAX_PIXELS) {
    throw new Error(`PNG is ${header.width}x${header.height}, larger than the ${MAX_PIXELS}-pixel limit`);
  }

  // skipRescale keeps 16-bit samples (Uint16Array) instead of rounding them to 8 bits; we scale ourselves.
  const decoded = PNG.sync.read(buffer, { skipRescale: true });
  // Palette entries are always 8-bit; other samples span the file's bit depth.
  const maxSample = header.colorType === 3 ? 255 : 2 ** header.bitDepth - 1;
  const { width, height } = decoded;
  const plane = width * height;
  const rgba = decoded.data as unknown as ArrayLike<number>;
  const image = new Tensor([1, 3, height, width]);
  const out = image.data;
  for (let p = 0; p < plane; p++) {
    out[p] = rgba[4 * p] / maxSample;
    out[plane + p] = rgba[4 * p + 1] / maxSample;
    out[2 * plane + p] = rgba[4 * p + 2] / maxSample;
  }

  const text: Record<string, string> = {};
  for (const chunk of chunks) {
    if (chunk.name === 'tEXt') Object.assign(text, readText(chunk.data));
    else if (chunk.name === 'zTXt') Object.assign(text, readZtxt(chunk.data));
    else if (chunk.name === 'iTXt') Object.assign(text, readItxt(chunk.data));
  }
  return { image, text };
}

/**
 * Every chunk's length against the bytes left, before png-chunks-extract reads them: it allocates and fills
 * whatever length a chunk header claims, so one damaged length byte cost seconds and gigabytes.
 */
function checkChunkBounds(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  while (at < bytes.length) {
    // A header cut short: png-chunks-extract reads the missing bytes as 0 and goes on.
    if (at + 12 > bytes.length) throw new Error(`PNG is truncated: the chunk header at byte ${at} runs past the end`);
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (type === 'IEND') return;
    if (at + 12 + length > bytes.length) {
      throw new Error(`PNG is damaged or truncated: chunk "${type.replace(/[^\x20-\x7e]/g, '?')}" at byte ${at} claims ${length} bytes, but the file has ${Math.max(0, bytes.length - at - 12)} left`);
    }
    at += 12 + length;
  }
}

function readIhdr(chunk: PngChunk | undefined): { width: number; height: number; bitDepth: number; colorType: number } {
  if (!chunk || chunk.name !== 'IHDR' || chunk.data.length < 13) throw new Error('PNG has no valid IHDR chunk');
  const view = new DataView(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength);
  return { width: view.getUint32(0), height: view.getUint32(4), bitDepth: chunk.data[8], colorType: chunk.data[9] };
}

/** iTXt payload: keyword\0 flag method language\0 translated-keyword\0 text (UTF-8). */
function buildItxt(keyword: string, text: string): Uint8Array {
  checkKeyword(keyword);
  const utf8 = new TextEncoder().encode(text);
  const compress = utf8.length >= COMPRESS_TEXT_FROM;
  const body = compress ? deflateSync(utf8) : utf8;
  const head = [...latin1Bytes(keyword), 0, compress ? 1 : 0, 0, /* language */ 0, /* translated keyword */ 0];
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

/** PNG keywords: 1-79 printable Latin-1 characters, no leading, trailing or double spaces. */
function checkKeyword(keyword: string): void {
  const printable = [...keyword].every((ch) => {
    const code = ch.charCodeAt(0);
    return ch.length === 1 && ((code >= 32 && code <= 126) || (code >= 161 && code <= 255));
  });
  if (keyword.length < 1 || keyword.length > 79 || !printable || /^ | $| {2}/.test(keyword)) {
    throw new Error(
      `Invalid PNG text keyword ${JSON.stringify(keyword)}: it must be 1-79 printable Latin-1 characters without leading, trailing or double spaces`,
    );
  }
}

function latin1Bytes(s: string): number[] {
  return [...s].map((ch) => ch.charCodeAt(0));
}

/** Latin-1 by hand: per the WHATWG spec TextDecoder('latin1') means windows-1252 (0x80-0x9f remapped); runtimes differ. */
function latin1String(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

function inflateText(data: Uint8Array, keyword: string, chunk: string): Uint8Array {
  try {
    return inflateSync(data, { maxOutputLength: MAX_TEXT_BYTES });
  } catch (e) {
    throw new Error(`PNG ${chunk} chunk "${keyword}" could not be decompressed: ${(e as Error).message}`);
  }
}

function splitAtNull(data: Uint8Array, from: number, chunk: string): number {
  const at = data.indexOf(0, from);
  if (at < 0) throw new Error(`Malformed PNG ${chunk} chunk: missing null separator`);
  return at;
}

function readText(data: Uint8Array): Record<string, string> {
  const k = splitAtNull(data, 0, 'tEXt');
  return { [latin1String(data.subarray(0, k))]: latin1String(data.subarray(k + 1)) };
}

function readZtxt(data: Uint8Array): Record<string, string> {
  const k = splitAtNull(data, 0, 'zTXt');
  const keyword = latin1String(data.subarray(0, k));
  if (data[k + 1] !== 0) throw new Error(`PNG zTXt chunk "${keyword}" uses unknown compression method ${data[k + 1]}`);
  return { [keyword]: latin1String(inflateText(data.subarray(k + 2), keyword, 'zTXt')) };
}

function readItxt(data: Uint8Array): Record<string, string> {
  const k = splitAtNull(data, 0, 'iTXt');
  const keyword = latin1String(data.subarray(0, k));
  const compressed = data[k + 1] === 1;
  if (compressed && data[k + 2] !== 0) {
    throw new Error(`PNG iTXt chunk "${keyword}" uses unknown compression method ${data[k + 2]}`);
  }
  const languageEnd = splitAtNull(data, k + 3, 'iTXt');
  const translatedEnd = splitAtNull(data, languageEnd + 1, 'iTXt');
  const body = data.subarray(translatedEnd + 1);
  const utf8 = compressed ? inflateText(body, keyword, 'iTXt') : body;
  return { [keyword]: new TextDecoder('utf-8').decode(utf8) };
}
