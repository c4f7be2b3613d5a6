/**
 * scripts/diffusers-parity/debian/ort-bridge.mjs: the onnxruntime-node server behind the Python stand-in
 * for `onnxruntime` that check.py uses on Debian-only machines. Driven here over its framed stdin/stdout
 * protocol, as the Python side drives it, and compared with the same model run in-process.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureEmbeddedModel } from '../electron/engine/models/embedded.ts';
import { testCacheDir } from './helpers/engine.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BRIDGE = path.join(ROOT, 'scripts/diffusers-parity/debian/ort-bridge.mjs');

interface Reply {
  header: Record<string, unknown>;
  buffers: Buffer[];
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function frame(header: object, buffers: Uint8Array[] = []): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const parts = [u32(h.length), h, u32(buffers.length)];
  for (const b of buffers) parts.push(u32(b.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  return Buffer.concat(parts);
}

/** A client that writes one frame and reads one reply at a time, as the Python module does. */
class BridgeClient {
  private pending = Buffer.alloc(0);
  private waiter?: () => void;

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      this.waiter?.();
    });
  }

  private async take(n: number): Promise<Buffer> {
    while (this.pending.length < n) await new Promise<void>((resolve) => (this.waiter = resolve));
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return out;
  }

  async call(header: object, buffers: Uint8Array[] = []): Promise<Reply> {
    // Written in two pieces, so the server must join a frame split across reads.
    const bytes = frame(header, buffers);
    this.child.stdin.write(bytes.subarray(0, 7));
    this.child.stdin.write(bytes.subarray(7));
    const h = JSON.parse((await this.take((await this.take(4)).readUInt32LE(0))).toString()) as Record<string, unknown>;
    const count = (await this.take(4)).readUInt32LE(0);
    const out: Buffer[] = [];
    for (let k = 0; k < count; k++) out.push(Buffer.from(await this.take((await this.take(4)).readUInt32LE(0))));
    return { header: h, buffers: out };
  }
}

let child: ChildProcessWithoutNullStreams;
let client: BridgeClient;
let modelFile: string;

beforeAll(async () => {
  modelFile = path.join(await ensureEmbeddedModel('gaussian-vp', testCacheDir()), 'unet/model.onnx');
  child = spawn(process.execPath, [BRIDGE], { cwd: ROOT });
  client = new BridgeClient(child);
});

afterAll(() => {
  child.stdin.end();
});

describe('ort-bridge.mjs', () => {
  it('opens a model and reports its inputs and outputs as onnxruntime-node declares them', async () => {
    const { header } = await client.call({ op: 'open', file: modelFile });
    expect(header.error).toBeUndefined();
    const direct = await ort.InferenceSession.create(modelFile);
    const inputs = header.inputs as { name: string; type: string; shape: unknown[] }[];
    expect(inputs.map((i) => i.name)).toEqual([...direct.inputNames]);
    expect(inputs.map((i) => i.type)).toEqual(direct.inputMetadata.map((m) => (m.isTensor ? m.type : 'non-tensor')));
    expect((header.outputs as { name: string }[]).map((o) => o.name)).toEqual([...direct.outputNames]);
    await direct.release();
  });

  it('runs the model with the same result as an in-process session', async () => {
    const { header: opened } = await client.call({ op: 'open', file: modelFile });
    const [sampleInfo, timestepInfo] = opened.inputs as { name: string; type: string }[];
    const sample = Float32Array.from({ length: 3 * 16 * 16 }, (_, k) => Math.sin(k));
    const timestep = timestepInfo.type === 'int64' ? BigInt64Array.of(500n) : Float32Array.of(500);
    const { header, buffers } = await client.call(
      {
        op: 'run',
        id: opened.id,
        feeds: [
          { name: sampleInfo.name, type: 'float32', dims: [1, 3, 16, 16] },
          { name: timestepInfo.name, type: timestepInfo.type, dims: [1] },
        ],
      },
      [new Uint8Array(sample.buffer), new Uint8Array(timestep.buffer)],
    );
    expect(header.error).toBeUndefined();
    const outputs = header.outputs as { name: string; type: string; dims: number[] }[];
    expect(outputs[0].dims).toEqual([1, 3, 16, 16]);
    const got = new Float32Array(buffers[0].buffer.slice(buffers[0].byteOffset, buffers[0].byteOffset + buffers[0].byteLength));

    const direct = await ort.InferenceSession.create(modelFile);
    const want = (
      await direct.run({
        [sampleInfo.name]: new ort.Tensor('float32', sample, [1, 3, 16, 16]),
        [timestepInfo.name]: new ort.Tensor(timestepInfo.type as 'int64' | 'float32', timestep, [1]),
      })
    )[outputs[0].name].data as Float32Array;
    await direct.release();
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  it('answers a failure with an error message and keeps serving', async () => {
    const missing = await client.call({ op: 'open', file: path.join(ROOT, 'no-such-model.onnx') });
    expect(String(missing.header.error)).toMatch(/no-such-model|load|exist|file/i);
    const unknown = await client.call({ op: 'teleport' });
    expect(unknown.header.error).toBe('unknown op teleport');
    const { header } = await client.call({ op: 'open', file: modelFile });
    expect(header.error).toBeUndefined();
  });
});
