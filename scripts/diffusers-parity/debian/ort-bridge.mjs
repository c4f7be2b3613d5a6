/**
 * Serves onnxruntime-node to the Python stand-in for the `onnxruntime` package (onnxruntime/__init__.py
 * here), for machines whose Python has torch (Debian's python3-torch) but no onnxruntime wheel. The same
 * native runtime FlowStudio uses runs the models, on CPU.
 *
 * Frames on stdin/stdout: u32 LE header length, UTF-8 JSON header, u32 buffer count, then per buffer a
 * u32 length and its bytes. Requests: {op: 'open', file} -> {id, inputs, outputs};
 * {op: 'run', id, feeds: [{name, type, dims}]} + one buffer per feed -> {outputs: [{name, type, dims}]} +
 * one buffer per output. A failure answers {error}.
 */
import * as ort from 'onnxruntime-node';

// As the engine does (electron/engine/onnx/telemetry.ts): no ORT telemetry. ORT reads it at the first session.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

const ARRAYS = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array, float16: Uint16Array };
const sessions = [];

function meta(list) {
  return list.map((m) => ({ name: m.name, type: m.type, shape: m.isTensor ? m.shape : [] }));
}

async function handle(header, buffers) {
  if (header.op === 'open') {
    const session = await ort.InferenceSession.create(header.file, { executionProviders: ['cpu'], logSeverityLevel: 3 });
    sessions.push(session);
    return [{ id: sessions.length - 1, inputs: meta(session.inputMetadata), outputs: meta(session.outputMetadata) }, []];
  }
  if (header.op === 'run') {
    const session = sessions[header.id];
    const feeds = {};
    header.feeds.forEach((f, k) => {
      const Arr = ARRAYS[f.type];
      if (!Arr) throw new Error(`unsupported feed type ${f.type}`);
      const b = buffers[k];
      // Copied into a fresh, aligned buffer: the frame's slice may start at any byte.
      const data = new Arr(b.byteLength / Arr.BYTES_PER_ELEMENT);
      new Uint8Array(data.buffer).set(b);
      feeds[f.name] = new ort.Tensor(f.type, data, f.dims);
    });
    const out = await session.run(feeds);
    const names = session.outputNames;
    return [{ outputs: names.map((n) => ({ name: n, type: out[n].type, dims: out[n].dims })) }, names.map((n) => new Uint8Array(out[n].data.buffer, out[n].data.byteOffset, out[n].data.byteLength))];
  }
  throw new Error(`unknown op ${header.op}`);
}

function frame(header, buffers) {
  const h = Buffer.from(JSON.stringify(header));
  const parts = [u32(h.length), h, u32(buffers.length)];
  for (const b of buffers) parts.push(u32(b.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  return Buffer.concat(parts);
}

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** Splits complete frames off the front of `buf`; returns them and the unread rest. */
function parse(buf) {
  const frames = [];
  let at = 0;
  for (;;) {
    if (buf.length < at + 4) break;
    const hl = buf.readUInt32LE(at);
    if (buf.length < at + 8 + hl) break;
    const header = JSON.parse(buf.subarray(at + 4, at + 4 + hl).toString());
    let p = at + 4 + hl;
    const count = buf.readUInt32LE(p);
    p += 4;
    const buffers = [];
    let complete = true;
    for (let k = 0; k < count; k++) {
      if (buf.length < p + 4) { complete = false; break; }
      const len = buf.readUInt32LE(p);
      if (buf.length < p + 4 + len) { complete = false; break; }
      buffers.push(buf.subarray(p + 4, p + 4 + len));
      p += 4 + len;
    }
    if (!complete) break;
    frames.push([header, buffers]);
    at = p;
  }
  return [frames, buf.subarray(at)];
}

let pending = Buffer.alloc(0);
let queue = Promise.resolve();
process.stdin.on('data', (chunk) => {
  const [frames, rest] = parse(Buffer.concat([pending, chunk]));
  pending = Buffer.from(rest);
  for (const [header, buffers] of frames) {
    queue = queue.then(async () => {
      let reply;
      try {
        reply = frame(...(await handle(header, buffers)));
      } catch (e) {
        reply = frame({ error: e instanceof Error ? e.message : String(e) }, []);
      }
      process.stdout.write(reply);
    });
  }
});
process.stdin.on('end', () => queue.then(() => process.exit(0)));
