/**
 * PNG chunk walking and writing in the browser (no Node Buffer, no zlib): length, type, data, CRC-32.
 * Enough to read and splice metadata chunks; pixels are never decoded here.
 */
export const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface PngChunk {
  /** Four-letter chunk type, e.g. "IHDR", "iTXt". */
  type: string;
  data: Uint8Array;
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= PNG_SIGNATURE.length && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/**
 * The chunks of a PNG, in file order, up to and including IEND.
 * @throws Error when the bytes are not a PNG or a chunk runs past the end of the file.
 */
export function readPngChunks(bytes: Uint8Array): PngChunk[] {
  if (!isPng(bytes)) throw new Error('Not a PNG file (the PNG signature is missing)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: PngChunk[] = [];
  let at = PNG_SIGNATURE.length;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) throw new Error(`PNG is truncated: a chunk header at byte ${at} runs past the end`);
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const end = at + 12 + length;
    if (end > bytes.length) throw new Error(`PNG is truncated: chunk "${type}" at byte ${at} (${length} bytes) runs past the end`);
    chunks.push({ type, data: bytes.slice(at + 8, at + 8 + length) });
    at = end;
    if (type === 'IEND') break;
  }
  if (chunks[0]?.type !== 'IHDR') throw new Error('PNG is damaged: the first chunk is not IHDR');
  return chunks;
}

/** A PNG file from chunks (signature, then each chunk with its length and CRC-32). */
export function writePngChunks(chunks: readonly PngChunk[]): Uint8Array {
  const total = PNG_SIGNATURE.length + chunks.reduce((sum, c) => sum + 12 + c.data.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(PNG_SIGNATURE, 0);
  let at = PNG_SIGNATURE.length;
  for (const chunk of chunks) {
    if (!/^[A-Za-z]{4}$/.test(chunk.type)) throw new Error(`Invalid PNG chunk type "${chunk.type}"`);
    view.setUint32(at, chunk.data.length);
    for (let i = 0; i < 4; i++) out[at + 4 + i] = chunk.type.charCodeAt(i);
    out.set(chunk.data, at + 8);
    // The CRC covers the type and the data, not the length.
    view.setUint32(at + 8 + chunk.data.length, crc32(out.subarray(at + 4, at + 8 + chunk.data.length)));
    at += 12 + chunk.data.length;
  }
  return out;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO 3309, polynomial 0xEDB88320), as PNG and zlib's crc32 compute it. */
export function crc32(bytes: Uint8Array): number {
  crcTable ??= makeCrcTable();
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function makeCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}
