/**
 * Binary body of GET /api/output: an OutputValue with its float data raw, not as JSON numbers.
 *
 *   [uint32 LE: header byte length][UTF-8 JSON header][zero padding to a 4-byte boundary][float32 LE data]
 *
 * The header is the OutputValue without its Float32Arrays, plus `arrays`: one { role, dims } per array in
 * the order their data is concatenated (role 'data' for a tensor; 'state' then 'denoised' entries, in step
 * order, for a trajectory; none for metrics and scalars). renderer/src/engine/output-frame.ts decodes it.
 */
import { toWireJson } from '../engine/wire-json.ts';
import { writeFloat32LE } from '../../nodes/core/io/float32-le.ts';
import type { OutputValue, TensorData } from '../engine/summary.ts';

export type OutputArrayRole = 'data' | 'state' | 'denoised';

export function encodeOutputFrame(value: OutputValue): Buffer {
  const arrays: { role: OutputArrayRole; t: TensorData }[] = [];
  let meta: Record<string, unknown>;
  switch (value.kind) {
    case 'tensor':
      arrays.push({ role: 'data', t: value });
      meta = { kind: 'tensor', dims: value.dims };
      break;
    case 'trajectory':
      for (const t of value.states) arrays.push({ role: 'state', t });
      for (const t of value.denoised) arrays.push({ role: 'denoised', t });
      meta = { kind: 'trajectory', sigmas: value.sigmas };
      break;
    default:
      meta = value;
  }
  const header = Buffer.from(toWireJson({ ...meta, arrays: arrays.map((a) => ({ role: a.role, dims: a.t.dims })) }), 'utf8');
  const dataOffset = (4 + header.length + 3) & ~3;
  const dataBytes = arrays.reduce((n, a) => n + a.t.data.byteLength, 0);
  const frame = Buffer.alloc(dataOffset + dataBytes); // zero-filled: the padding is zeros
  frame.writeUInt32LE(header.length, 0);
  header.copy(frame, 4);
  let at = dataOffset;
  for (const { t } of arrays) {
    writeFloat32LE(frame, at, t.data);
    at += t.data.byteLength;
  }
  return frame;
}
