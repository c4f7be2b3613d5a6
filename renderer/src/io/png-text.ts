/**
 * PNG text chunks: read tEXt (Latin-1), zTXt (compressed Latin-1) and iTXt (UTF-8, compressed or not);
 * write iTXt. Compression is zlib ("deflate" in the Compression Streams API), as the PNG spec requires.
 */
import type { PngChunk } from './png-chunks.ts';

/** Refuse text that inflates beyond this (zip bombs in PNGs from strangers). */
export const MAX_TEXT_BYTES = 64 * 1024 * 1024;

export interface PngText {
  keyword: string;
  text: string;
}

/** The keyword and text of a tEXt, zTXt or iTXt chunk; undefined for other chunks. */
export async function readTextChunk(chunk: PngChunk): Promise<PngText | undefined> {
  const data = chunk.data;
  if (chunk.type !== 'tEXt' && chunk.type !== 'zTXt' && chunk.type !== 'iTXt') return undefined;
  const keywordEnd = data.indexOf(0);
  if (keywordEnd < 1) throw new Error(`PNG ${chunk.type} chunk has no keyword`);
  const keyword = latin1(data.subarray(0, keywordEnd));
  if (chunk.type === 'tEXt') return { keyword, text: latin1(data.subarray(keywordEnd + 1)) };
  if (chunk.type === 'zTXt') {
    const method = data[keywordEnd + 1];
    if (method !== 0) throw new Error(`PNG zTXt chunk "${keyword}" uses unknown compression method ${method}`);
    return { keyword, text: latin1(await inflate(data.subarray(keywordEnd + 2))) };
  }
  // iTXt: keyword\0 flag method language\0 translated-keyword\0 text
  const compressed = data[keywordEnd + 1] === 1;
  const method = data[keywordEnd + 2];
  const languageEnd = data.indexOf(0, keywordEnd + 3);
  const translatedEnd = languageEnd < 0 ? -1 : data.indexOf(0, languageEnd + 1);
  if (translatedEnd < 0) throw new Error(`PNG iTXt chunk "${keyword}" is damaged (missing separators)`);
  if (compressed && method !== 0) throw new Error(`PNG iTXt chunk "${keyword}" uses unknown compression method ${method}`);
  const body = data.subarray(translatedEnd + 1);
  return { keyword, text: new TextDecoder('utf-8', { fatal: true }).decode(compressed ? await inflate(body) : body) };
}

/** An iTXt chunk holding `text` (UTF-8) under `keyword`, zlib-compressed when `compress`. */
export async function buildItxtChunk(keyword: string, text: string, compress: boolean): Promise<PngChunk> {
  if (!/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(keyword) || /^ | $|  /.test(keyword)) {
    throw new Error(`Invalid PNG text keyword "${keyword}" (1-79 printable Latin-1 characters, no leading, trailing or double spaces)`);
  }
  const utf8 = new TextEncoder().encode(text);
  const body = compress ? await deflate(utf8) : utf8;
  const head = [...keyword].map((c) => c.charCodeAt(0));
  // flag, method, empty language tag, empty translated keyword
  const data = new Uint8Array(head.length + 5 + body.length);
  data.set(head, 0);
  data.set([0, compress ? 1 : 0, 0, 0, 0], head.length);
  data.set(body, head.length + 5);
  return { type: 'iTXt', data };
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  return collect(new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('deflate')), MAX_TEXT_BYTES);
}

async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  return collect(new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream('deflate')), Infinity);
}

async function collect(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel();
        throw new Error(`PNG text is larger than ${limit} bytes when decompressed`);
      }
      parts.push(value);
    }
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('PNG text')) throw e;
    throw new Error(`PNG text chunk is damaged: it does not decompress (${(e as Error).message})`);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
