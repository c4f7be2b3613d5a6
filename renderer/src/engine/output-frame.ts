/**
 * Decodes GET /api/output bodies (format in electron/server/output-frame.ts and docs/local-server.md):
 * [uint32 LE header length][JSON header: OutputValue less its arrays, plus `arrays: {role, dims}[]`]
 * [pad to 4][float32 LE data of each array, concatenated].
 */
import { fromWireJson } from '../../../electron/engine/wire-json.ts';
import type { OutputValue } from '../../../electron/engine/summary.ts';
import { readFloat32LE } from '../../../nodes/core/io/float32-le.ts';

interface ArrayLayout {
  role: 'data' | 'state' | 'denoised';
  dims: number[];
}

export function decodeOutputFrame(frame: ArrayBuffer | ArrayBufferView): OutputValue {
  const bytes = frame instanceof ArrayBuffer ? new Uint8Array(frame) : new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
  if (bytes.byteLength < 4) throw new Error(`Output frame too short (${bytes.byteLength} bytes)`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + headerLength > bytes.byteLength) throw new Error(`Output frame header (${headerLength} bytes) runs past the frame`);
  const header = fromWireJson(new TextDecoder().decode(bytes.subarray(4, 4 + headerLength))) as Record<string, unknown> & { arrays?: unknown };
  const layout = header.arrays;
  const dimsOk = (d: unknown) => Array.isArray(d) && d.every((x) => Number.isInteger(x) && x >= 0);
  if (!Array.isArray(layout) || !layout.every((a: ArrayLayout) => a && typeof a.role === 'string' && dimsOk(a.dims))) {
    throw new Error(`Not an output frame header: ${JSON.stringify(header).slice(0, 200)}`);
  }
  let at = (4 + headerLength + 3) & ~3;
  const arrays = (layout as ArrayLayout[]).map((a) => {
    const count = a.dims.reduce((x, y) => x * y, 1);
    if (at + count * 4 > bytes.byteLength) throw new Error(`Output frame ends inside its ${a.role} array [${a.dims.join(', ')}]`);
    const t = { role: a.role, dims: a.dims, data: readFloat32LE(bytes, at, count) };
    at += count * 4;
    return t;
  });
  if (at !== bytes.byteLength) throw new Error(`Output frame has ${bytes.byteLength - at} bytes past its arrays`);
  const { arrays: _layout, ...meta } = header;
  const plain = (role: ArrayLayout['role']) => arrays.filter((a) => a.role === role).map(({ dims, data }) => ({ dims, data }));
  switch (meta.kind) {
    case 'tensor': {
      const [t] = plain('data');
      if (!t) throw new Error('Output frame of kind tensor carries no data array');
      return { kind: 'tensor', dims: t.dims, data: t.data };
    }
    case 'trajectory':
      return { kind: 'trajectory', sigmas: meta.sigmas as number[], states: plain('state'), denoised: plain('denoised') };
    case 'metrics':
    case 'scalar':
      return meta as OutputValue;
    default:
      throw new Error(`Output frame of unknown kind ${JSON.stringify(meta.kind)}`);
  }
}
