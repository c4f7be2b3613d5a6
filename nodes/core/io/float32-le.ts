/**
 * Float32 data as little-endian bytes, the layout of the local server's binary frames (previews and
 * outputs): the server writes it, the renderer reads it. On little-endian hosts both are plain copies.
 */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Writes `data` into `bytes` at `offset` as float32 LE. */
export function writeFloat32LE(bytes: Uint8Array, offset: number, data: Float32Array): void {
  if (HOST_IS_LITTLE_ENDIAN) {
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, data.byteLength);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
}

/** `count` float32 LE values from `bytes` at `offset`, as a copy (which also frees the frame and fixes alignment). */
export function readFloat32LE(bytes: Uint8Array, offset: number, count: number): Float32Array {
  if (HOST_IS_LITTLE_ENDIAN) return new Float32Array(bytes.slice(offset, offset + count * 4).buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 4);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}
