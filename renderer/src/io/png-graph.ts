/**
 * Graphs inside PNG files: FlowStudio writes the graph as an iTXt chunk with keyword "flowstudio"
 * before the first IDAT (the engine's image writer does the same), and reads it back from iTXt, tEXt
 * or zTXt so images re-saved by other tools still open.
 */
import type { GraphDocument } from '../../../electron/engine/graph/schema.ts';
import { parseDocument } from '../graph/document.ts';
import { readPngChunks, writePngChunks, type PngChunk } from './png-chunks.ts';
import { buildItxtChunk, readTextChunk } from './png-text.ts';

export const GRAPH_PNG_KEYWORD = 'flowstudio';
/** Text at least this long (UTF-8 bytes) is compressed, as the engine does. */
export const COMPRESS_TEXT_FROM = 1024;
const TEXT_CHUNKS = new Set(['tEXt', 'zTXt', 'iTXt']);

/** Every text entry of a PNG by keyword (a later chunk with the same keyword wins). */
export async function readPngText(bytes: Uint8Array): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const chunk of readPngChunks(bytes)) {
    if (!TEXT_CHUNKS.has(chunk.type)) continue;
    const entry = await readTextChunk(chunk);
    if (entry) out[entry.keyword] = entry.text;
  }
  return out;
}

/** The graph a FlowStudio PNG carries, or why there is none. */
export async function readGraphFromPng(bytes: Uint8Array): Promise<{ ok: true; doc: GraphDocument } | { ok: false; reason: string }> {
  let text: Record<string, string>;
  try {
    text = await readPngText(bytes);
  } catch (e) {
    return { ok: false, reason: `Cannot read the image: ${(e as Error).message}` };
  }
  const graph = text[GRAPH_PNG_KEYWORD];
  if (graph === undefined) return { ok: false, reason: 'This PNG holds no FlowStudio graph (no "flowstudio" text chunk)' };
  const parsed = parseDocument(graph);
  return parsed.ok ? parsed : { ok: false, reason: `The graph in this PNG cannot be opened: ${parsed.reason}` };
}

/**
 * The PNG with `graph` embedded as an iTXt "flowstudio" chunk placed before the first IDAT; any
 * earlier FlowStudio graph chunk is replaced. Pixels and other chunks are copied unchanged.
 */
export async function embedGraphInPng(png: Uint8Array, graph: GraphDocument | string, opts: { compress?: boolean } = {}): Promise<Uint8Array> {
  const text = typeof graph === 'string' ? graph : JSON.stringify(graph);
  const compress = opts.compress ?? new TextEncoder().encode(text).length >= COMPRESS_TEXT_FROM;
  const chunks: PngChunk[] = [];
  for (const chunk of readPngChunks(png)) {
    if (TEXT_CHUNKS.has(chunk.type) && keywordOf(chunk) === GRAPH_PNG_KEYWORD) continue;
    chunks.push(chunk);
  }
  const firstIdat = chunks.findIndex((c) => c.type === 'IDAT');
  if (firstIdat < 0) throw new Error('Cannot embed the graph: the PNG has no image data (IDAT chunk)');
  chunks.splice(firstIdat, 0, await buildItxtChunk(GRAPH_PNG_KEYWORD, text, compress));
  return writePngChunks(chunks);
}

function keywordOf(chunk: PngChunk): string | undefined {
  const end = chunk.data.indexOf(0);
  return end > 0 ? String.fromCharCode(...chunk.data.subarray(0, end)) : undefined;
}
