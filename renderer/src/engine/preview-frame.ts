/**
 * Decodes the server's binary node-preview frames (format in electron/server/preview-frame.ts and
 * docs/local-server.md): [uint32 LE header length][JSON header][pad to 4][float32 LE data].
 */
import { readFloat32LE } from '../../../nodes/core/io/float32-le.ts';
import { Tensor } from '../../../nodes/core/tensor.ts';
import type { EngineEvent } from './app-client.ts';

export type PreviewEvent = Extract<EngineEvent, { type: 'node-preview' }>;

export function decodePreviewFrame(frame: ArrayBuffer | ArrayBufferView): PreviewEvent {
  const bytes = frame instanceof ArrayBuffer ? new Uint8Array(frame) : new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
  if (bytes.byteLength < 4) throw new Error(`Preview frame too short (${bytes.byteLength} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(0, true);
  if (4 + headerLength > bytes.byteLength) throw new Error(`Preview frame header (${headerLength} bytes) runs past the frame`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + headerLength))) as {
    type?: unknown;
    runId?: unknown;
    nodeId?: unknown;
    step?: unknown;
    dims?: unknown;
  };
  const dims = header.dims;
  if (header.type !== 'node-preview' || !Array.isArray(dims) || !dims.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`Not a node-preview frame header: ${JSON.stringify(header).slice(0, 200)}`);
  }
  const dataOffset = (4 + headerLength + 3) & ~3;
  const count = (dims as number[]).reduce((a, b) => a * b, 1);
  if (bytes.byteLength - dataOffset !== count * 4) {
    throw new Error(`Preview frame for dims [${dims.join(', ')}] should carry ${count * 4} data bytes, has ${bytes.byteLength - dataOffset}`);
  }
  return {
    type: 'node-preview',
    runId: String(header.runId),
    nodeId: String(header.nodeId),
    step: Number(header.step),
    preview: new Tensor(dims as number[], readFloat32LE(bytes, dataOffset, count)),
  };
}
