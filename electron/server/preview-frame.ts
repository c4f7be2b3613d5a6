/**
 * Binary WebSocket frame for a node-preview event, so tensors cross the socket as raw float32 rather
 * than base64 JSON:
 *
 *   [uint32 LE: header byte length][UTF-8 JSON header {type, runId, nodeId, step, dims}]
 *   [zero padding to a 4-byte boundary][float32 little-endian data, C order]
 *
 * The padding lets the receiver view the data as a Float32Array without copying.
 * renderer/src/engine/preview-frame.ts decodes it.
 */
import { writeFloat32LE } from '../../nodes/core/io/float32-le.ts';
import type { EngineEvent } from '../engine/events.ts';

type PreviewEvent = Extract<EngineEvent, { type: 'node-preview' }>;

export function encodePreviewFrame(e: PreviewEvent): Buffer {
  const header = Buffer.from(
    JSON.stringify({ type: e.type, runId: e.runId, nodeId: e.nodeId, step: e.step, dims: [...e.preview.dims] }),
    'utf8',
  );
  const dataOffset = align4(4 + header.length);
  const data = e.preview.data;
  const frame = Buffer.alloc(dataOffset + data.byteLength); // zero-filled: the padding is zeros
  frame.writeUInt32LE(header.length, 0);
  header.copy(frame, 4);
  writeFloat32LE(frame, dataOffset, data);
  return frame;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
