import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, GraphBuilder, onnxDataType, type ElementType } from '../electron/engine/onnx/builder.ts';
import { fromFloat16Bits, toFloat16Bits } from '../electron/engine/onnx/float16.ts';
import {
  classifyProviderFailure,
  createSessionWithFallback,
  DEFAULT_PROVIDER_PREFERENCE,
  parseProviderList,
  resetUnavailableProviders,
  resolveProviders,
  sessionOptionsFor,
} from '../electron/engine/onnx/providers.ts';
import { OrtModelSession, SessionPool } from '../electron/engine/onnx/session-pool.ts';
import { allocFloat32 } from '../nodes/core/tensor.ts';
import * as ort from '../electron/engine/onnx/ort.ts';
import { summarizeValue } from '../electron/engine/summary.ts';

let dir: string;

/** out = Cast(x to float32) * 2 for an input of the given element type and shape. */
function doubleModel(type: ElementType, dims: (number | string)[]): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('x', type, dims);
  const xf = type === 'float32' ? x : g.op('Cast', [x], { to: attr.int(onnxDataType('float32')) });
  g.op('Mul', [xf, g.constFloat([2], [])], {}, 'out');
  g.output('out', 'float32', dims);
  return g.toBytes();
}

/** Two inputs sharing the symbolic dim 'batch', plus a float16 output. */
function twoInputModel(): Uint8Array {
  const g = new GraphBuilder();
  const a = g.input('a', 'float32', ['batch', 4]);
  const b = g.input('b', 'float32', ['batch', 4]);
  const sum = g.op('Add', [a, b], {}, 'sum');
  g.op('Cast', [sum], { to: attr.int(onnxDataType('float16')) }, 'sum_half');
  g.output('sum', 'float32', ['batch', 4]);
  g.output('sum_half', 'float16', ['batch', 4]);
  return g.toBytes();
}

async function writeModel(name: string, bytes: Uint8Array): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, bytes);
  return file;
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'flowstudio-pool-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('providers', () => {
  it('filters the preference by platform and by what the ORT build supports', () => {
    const supported = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml'];
    // WebGPU on Linux (needs Vulkan) is tried only when asked for.
    expect(resolveProviders(DEFAULT_PROVIDER_PREFERENCE, { platform: 'linux', supported })).toEqual(['cuda', 'cpu']);
    expect(resolveProviders(['webgpu', 'cpu'], { platform: 'linux', supported })).toEqual(['webgpu', 'cpu']);
    expect(resolveProviders(DEFAULT_PROVIDER_PREFERENCE, { platform: 'win32', supported })).toEqual(['cuda', 'dml', 'webgpu', 'cpu']);
    expect(resolveProviders(DEFAULT_PROVIDER_PREFERENCE, { platform: 'darwin', supported })).toEqual(['coreml', 'webgpu', 'cpu']);
    expect(resolveProviders(DEFAULT_PROVIDER_PREFERENCE, { platform: 'linux', supported: ['cpu'] })).toEqual(['cpu']);
    expect(resolveProviders(['cpu', 'cuda'], { platform: 'linux', supported })).toEqual(['cpu', 'cuda']);
    expect(() => resolveProviders(['dml'], { platform: 'linux', supported })).toThrow(/none of the execution providers dml is available on linux/);
    // CUDA asked for where it could run but is not installed: say how to install it, and where to look.
    expect(() => resolveProviders(['cuda'], { platform: 'linux', supported: ['cpu', 'webgpu'] })).toThrow(
      'none of the execution providers cuda is available on linux (this build supports: cpu, webgpu; npm run setup:cuda installs CUDA; `flowstudio providers` shows what this machine has)',
    );
    expect(() => resolveProviders(['cuda'], { platform: 'darwin', supported: ['cpu'] })).toThrow(/\(this build supports: cpu; `flowstudio providers`/);
  });

  it('parses CLI lists and rejects unknown names', () => {
    expect(parseProviderList('CUDA, cpu')).toEqual(['cuda', 'cpu']);
    expect(parseProviderList(['cuda', 'cpu,cuda'])).toEqual(['cuda', 'cpu']);
    expect(() => parseProviderList('cuda,tpu')).toThrow(/unknown execution provider "tpu"/);
  });

  it('gives DirectML its required session options', () => {
    expect(sessionOptionsFor('dml')).toMatchObject({ enableMemPattern: false, executionMode: 'sequential', executionProviders: ['dml'] });
    expect(sessionOptionsFor('cpu', { intraOpNumThreads: 1 })).toEqual({ intraOpNumThreads: 1, executionProviders: ['cpu'] });
  });

  it.skipIf(process.platform === 'darwin')('falls back to the next provider when one cannot start, and says which one ran', async () => {
    const { session, provider, failed } = await createSessionWithFallback(doubleModel('float32', [2]), ['coreml', 'cpu']);
    expect(provider).toBe('cpu');
    expect(failed.map((f) => f.provider)).toEqual(['coreml']);
    await session.release();
    // The failed provider is remembered and skipped next time; forgetting it tries it again.
    const again = await createSessionWithFallback(doubleModel('float32', [2]), ['coreml', 'cpu']);
    expect(again.failed).toEqual([]);
    await again.session.release();
    resetUnavailableProviders();
    const fresh = await createSessionWithFallback(doubleModel('float32', [2]), ['coreml', 'cpu']);
    expect(fresh.failed.map((f) => f.provider)).toEqual(['coreml']);
    await fresh.session.release();
    // When every provider is known to fail, they are tried anyway (and the error says why).
    await expect(createSessionWithFallback(doubleModel('float32', [2]), ['coreml'])).rejects.toThrow(/coreml/);
    resetUnavailableProviders();
  });
});

describe('provider failures', () => {
  it('are sorted into setup, memory and model failures by what ORT says', () => {
    // What this machine's onnxruntime-node said for providers it lacks.
    expect(classifyProviderFailure('no available backend found. ERR: [coreml] backend not found.')).toBe('setup');
    expect(classifyProviderFailure('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library')).toBe('setup');
    expect(classifyProviderFailure('webgpu_context.cc:136 ... Failed to get a WebGPU adapter: No supported adapters')).toBe('setup');
    expect(classifyProviderFailure('FAIL : LoadLibrary failed with error 126 "" when trying to load "onnxruntime_providers_cuda.dll"')).toBe('setup');
    expect(classifyProviderFailure('CUDA failure 100: no CUDA-capable device is detected ; GPU=0')).toBe('setup');
    expect(classifyProviderFailure('CUDA failure 2: out of memory ; GPU=0 ; hostname=x')).toBe('memory');
    expect(classifyProviderFailure('BFCArena::AllocateRawInternal Failed to allocate memory for requested buffer of size 1073741824')).toBe('memory');
    expect(classifyProviderFailure('The parameter is incorrect. 0x8007000E E_OUTOFMEMORY')).toBe('memory');
    expect(classifyProviderFailure('Not enough memory resources are available to complete this operation.')).toBe('memory');
    expect(classifyProviderFailure('Could not find an implementation for ConvInteger(10) node with name conv')).toBe('model');
  });

  /** A stand-in for a GPU provider: fails as told, else creates a CPU session. */
  function device(script: (provider: string, call: number) => string | undefined) {
    const calls: string[] = [];
    const create = async (model: string | Uint8Array, options: ort.InferenceSession.SessionOptions) => {
      const provider = String(options.executionProviders?.[0]);
      calls.push(provider);
      const error = script(provider, calls.filter((p) => p === provider).length);
      if (error) throw new Error(error);
      const cpu = { ...options, executionProviders: ['cpu'] };
      return typeof model === 'string' ? ort.InferenceSession.create(model, cpu) : ort.InferenceSession.create(model, cpu);
    };
    return { calls, create };
  }

  it('out of memory: the provider is tried once more after memory is freed, and never skipped later', async () => {
    resetUnavailableProviders();
    const model = doubleModel('float32', [2]);
    const full = device((p, n) => (p === 'cuda' && n === 1 ? 'CUDA failure 2: out of memory' : undefined));
    let freed = 0;
    const ok = await createSessionWithFallback(model, ['cuda', 'cpu'], {}, { create: full.create, onOutOfMemory: () => (freed++, true) });
    expect(ok.provider).toBe('cuda');
    expect(ok.failed).toEqual([]);
    expect(full.calls).toEqual(['cuda', 'cuda']);
    expect(freed).toBe(1);
    await ok.session.release();
    // Nothing to free: CPU this time, with the reason; the next model still tries the GPU first.
    const stuck = device((p) => (p === 'cuda' ? 'CUDA failure 2: out of memory' : undefined));
    const cpu = await createSessionWithFallback(model, ['cuda', 'cpu'], {}, { create: stuck.create, onOutOfMemory: () => false });
    expect(cpu.provider).toBe('cpu');
    expect(cpu.failed).toEqual([{ provider: 'cuda', error: 'CUDA failure 2: out of memory', kind: 'memory' }]);
    expect(stuck.calls).toEqual(['cuda', 'cpu']);
    await cpu.session.release();
    const later = device(() => undefined);
    await (await createSessionWithFallback(model, ['cuda', 'cpu'], {}, { create: later.create })).session.release();
    expect(later.calls).toEqual(['cuda']);
  });

  it('a model one provider cannot run falls back for that model only; a missing provider is skipped from then on', async () => {
    resetUnavailableProviders();
    const model = doubleModel('float32', [2]);
    const noOp = device((p) => (p === 'cuda' ? 'Could not find an implementation for ConvInteger(10) node with name c' : undefined));
    expect((await createSessionWithFallback(model, ['cuda', 'cpu'], {}, { create: noOp.create })).provider).toBe('cpu');
    const next = device(() => undefined);
    await (await createSessionWithFallback(model, ['cuda', 'cpu'], {}, { create: next.create })).session.release();
    expect(next.calls).toEqual(['cuda']);
    const missing = device((p) => (p === 'cuda' ? 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library' : undefined));
    await (await createSessionWithFallback(model, ['cuda', 'cpu'], {}, { create: missing.create })).session.release();
    const after = device(() => undefined);
    await (await createSessionWithFallback(model, ['cuda', 'cpu'], {}, { create: after.create })).session.release();
    expect(after.calls).toEqual(['cpu']);
    resetUnavailableProviders();
  });

  it('the model summary names the preferred providers that could not load the model, and why', async () => {
    const refuse = device((p) => (p === 'webgpu' ? 'Could not find an implementation for ConvInteger(10) node with name c' : undefined));
    const pool = new SessionPool({ providers: ['webgpu', 'cpu'], createSession: refuse.create });
    const session = await pool.get(await writeModel('fallback.onnx', doubleModel('float32', [2])));
    expect(session.provider).toBe('cpu');
    const failures = [{ provider: 'webgpu', error: 'Could not find an implementation for ConvInteger(10) node with name c' }];
    expect(session.providerFailures).toEqual(failures);
    expect(summarizeValue({ name: 'm', folder: '/m', denoiser: session })).toEqual({ kind: 'model', name: 'm', folder: '/m', provider: 'cpu', fallbackFrom: failures });
    const plain = new SessionPool({ providers: ['cpu'] });
    const direct = await plain.get(await writeModel('direct.onnx', doubleModel('float32', [2])));
    expect(summarizeValue({ name: 'm', folder: '/m', denoiser: direct })).toEqual({ kind: 'model', name: 'm', folder: '/m', provider: 'cpu' });
    await Promise.all([pool.dispose(), plain.dispose()]);
  });

  it('a pool whose device is full unloads its idle sessions and loads the new model there', async () => {
    // The "device" holds one session: creating another while one lives fails with out of memory.
    let live = 0;
    const createSession = async (model: string | Uint8Array, options: ort.InferenceSession.SessionOptions) => {
      if (live > 0) throw new Error('CUDA failure 2: out of memory ; GPU=0');
      const session = await ort.InferenceSession.create(model as string, options);
      live++;
      const release = session.release.bind(session);
      session.release = () => (live--, release());
      return session;
    };
    const pool = new SessionPool({ providers: ['cpu'], createSession });
    const a = (await pool.get(await writeModel('oom-a.onnx', doubleModel('float32', ['n'])))) as OrtModelSession;
    const b = (await pool.get(await writeModel('oom-b.onnx', doubleModel('float32', ['n'])))) as OrtModelSession;
    expect(a.loaded).toBe(false);
    expect(b.loaded).toBe(true);
    // a's next run finds the device full again: b, idle, makes way.
    expect((await a.run({ x: { dims: [1], data: Float32Array.of(3), type: 'float32' } })).out.data[0]).toBe(6);
    expect(a.loaded).toBe(true);
    expect(b.loaded).toBe(false);
    expect(live).toBe(1);
    await pool.dispose();
    expect(live).toBe(0);
  });

  it('a run out of memory unloads the other idle sessions and runs once more; alone, it fails saying why', async () => {
    // The "device" can run a model only while it holds no other session.
    let live = 0;
    const createSession = async (model: string | Uint8Array, options: ort.InferenceSession.SessionOptions) => {
      const session = await ort.InferenceSession.create(model as string, options);
      live++;
      const release = session.release.bind(session);
      session.release = () => (live--, release());
      const run = session.run.bind(session);
      session.run = ((feeds: ort.InferenceSession.FeedsType) =>
        live > 1 ? Promise.reject(new Error('CUDA failure 2: out of memory ; GPU=0')) : run(feeds)) as typeof session.run;
      return session;
    };
    const pool = new SessionPool({ providers: ['cpu'], createSession });
    const a = (await pool.get(await writeModel('run-oom-a.onnx', doubleModel('float32', ['n'])))) as OrtModelSession;
    const b = (await pool.get(await writeModel('run-oom-b.onnx', doubleModel('float32', ['n'])))) as OrtModelSession;
    expect(live).toBe(2);
    const x = (v: number) => ({ x: { dims: [1], data: Float32Array.of(v), type: 'float32' as const } });
    expect((await a.run(x(5))).out.data[0]).toBe(10);
    expect(b.loaded).toBe(false);
    expect(a.stats.runs).toBe(1);
    // b loads again and its run finds a idle: a goes.
    expect((await b.run(x(1))).out.data[0]).toBe(2);
    expect(a.loaded).toBe(false);
    // Nothing else to free: the error is the device's, with the model named.
    live = 5;
    await expect(b.run(x(1))).rejects.toThrow(`running model ${b.file} failed: CUDA failure 2: out of memory ; GPU=0 (out of memory on cpu: lower the batch or the image size)`);
    live = 1;
    await pool.dispose();
  });
});

describe('SessionPool', () => {
  it('shares one session per file and provider list, reports metadata, and releases', async () => {
    const file = await writeModel('two.onnx', twoInputModel());
    const pool = new SessionPool({ providers: ['cpu'] });
    const [s1, s2] = await Promise.all([pool.get(file), pool.get(file)]);
    expect(s1).toBe(s2);
    expect(await pool.get(path.relative(process.cwd(), file))).toBe(s1);
    expect(pool.size).toBe(1);
    expect(s1.provider).toBe('cpu');
    expect(s1.file).toBe(file);
    expect(s1.inputs).toEqual([
      { name: 'a', type: 'float32', shape: ['batch', 4] },
      { name: 'b', type: 'float32', shape: ['batch', 4] },
    ]);
    expect(s1.outputs.map((o) => o.type)).toEqual(['float32', 'float16']);
    expect(await pool.release(file)).toBe(1);
    expect(pool.size).toBe(0);
    await expect(s1.run({})).rejects.toThrow(/released/);
    const s3 = await pool.get(file);
    expect(s3).not.toBe(s1);
    await pool.dispose();
    expect(pool.size).toBe(0);
  });

  it('reopens a model whose file changed on disk', async () => {
    const file = await writeModel('changing.onnx', doubleModel('float32', [2]));
    const pool = new SessionPool({ providers: ['cpu'] });
    const s1 = await pool.get(file);
    await fs.writeFile(file, doubleModel('float32', [3]));
    const later = new Date(Date.now() + 5000);
    await fs.utimes(file, later, later);
    const s2 = await pool.get(file);
    expect(s2).not.toBe(s1);
    expect(s2.inputs[0].shape).toEqual([3]);
    expect(pool.size).toBe(1);
    await pool.dispose();
  });

  it('reports a missing file and a corrupt file clearly, and does not keep failed loads', async () => {
    const pool = new SessionPool({ providers: ['cpu'] });
    const missing = path.join(dir, 'nope.onnx');
    await expect(pool.get(missing)).rejects.toThrow(`model file not found: ${missing}`);
    const corrupt = await writeModel('corrupt.onnx', Uint8Array.from({ length: 256 }, (_, i) => (i * 73 + 11) & 0xff));
    await expect(pool.get(corrupt)).rejects.toThrow(new RegExp(`^cannot load ONNX model ${corrupt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .+`));
    // An empty file (an interrupted download) is named as such, not by ORT's C++ signature.
    const empty = await writeModel('empty.onnx', new Uint8Array(0));
    await expect(pool.get(empty)).rejects.toThrow(`cannot load ONNX model ${empty}: the file is empty (0 bytes)`);
    expect(pool.size).toBe(0);
    await pool.dispose();
  });
});

describe('SessionPool bound on loaded sessions', () => {
  const feed = (v: number) => ({ x: { dims: [1], data: Float32Array.of(v), type: 'float32' as const } });
  const value = async (s: { run: OrtModelSession['run'] }, v: number) => (await s.run(feed(v))).out.data[0];
  /** out = x * factor, as its own file. */
  async function scaleModel(name: string, factor: number): Promise<string> {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['n']);
    g.op('Mul', [x, g.constFloat([factor], [])], {}, 'out');
    g.output('out', 'float32', ['n']);
    return writeModel(name, g.toBytes());
  }

  it('unloads the least recently run idle session past the count, and a held session loads itself again on its next run', async () => {
    const pool = new SessionPool({ providers: ['cpu'], maxLoadedSessions: 2 });
    const [a, b, c] = (await Promise.all([
      scaleModel('bound-a.onnx', 2).then((f) => pool.get(f)),
      scaleModel('bound-b.onnx', 3).then((f) => pool.get(f)),
      scaleModel('bound-c.onnx', 5).then((f) => pool.get(f)),
    ])) as OrtModelSession[];
    // Loading c made a third: the one run least recently (a or b, both only loaded) went.
    expect(pool.loadedNow().count).toBe(2);
    expect(await value(a, 1)).toBe(2); // a again (loads if it was the one unloaded)
    expect(await value(c, 1)).toBe(5);
    // b is now the least recently run: loading nothing new keeps it, but b's next run brings it back and a goes.
    expect(a.loaded && c.loaded).toBe(true);
    expect(b.loaded).toBe(false);
    expect(await value(b, 2)).toBe(6);
    expect(b.loaded && c.loaded).toBe(true);
    expect(a.loaded).toBe(false);
    expect(pool.size).toBe(3); // held, not forgotten: cached MODEL handles keep the same session objects
    expect(pool.loadedNow().count).toBe(2);
    expect((await pool.stats()).sessions).toBe(3);
    // Concurrent runs on an unloaded session share one reload and keep their order.
    expect(await Promise.all([1, 2, 3].map((v) => value(a, v)))).toEqual([2, 4, 6]);
    await pool.dispose();
  });

  it('never unloads a session with a run in flight, nor the one just loaded, whatever the byte bound', async () => {
    const pool = new SessionPool({ providers: ['cpu'], maxLoadedBytes: 1 });
    const a = (await pool.get(await scaleModel('busy-a.onnx', 2))) as OrtModelSession;
    expect(a.loaded).toBe(true); // over the bound on its own, but the newest stays
    // A run counts from the call: the session is busy until it settles.
    const running = a.run(feed(4));
    expect(a.idle).toBe(false);
    expect(a.unload()).toBe(false);
    expect((await running).out.data[0]).toBe(8);
    expect(a.idle).toBe(true);
    const b = (await pool.get(await scaleModel('busy-b.onnx', 3))) as OrtModelSession;
    expect(a.loaded).toBe(false); // idle, and b is over the bound by itself
    expect(b.loaded).toBe(true);
    // A's next run loads it again and b, idle, goes.
    expect(await value(a, 1)).toBe(2);
    expect(a.loaded).toBe(true);
    expect(b.loaded).toBe(false);
    await pool.dispose();
  });

  it('refuses to load again a model whose file changed while it was unloaded, naming the file and what to do', async () => {
    const pool = new SessionPool({ providers: ['cpu'], maxLoadedSessions: 1 });
    const fileA = await scaleModel('changed-a.onnx', 2);
    const a = (await pool.get(fileA)) as OrtModelSession;
    await pool.get(await scaleModel('changed-b.onnx', 3));
    expect(a.loaded).toBe(false);
    await fs.writeFile(fileA, doubleModel('float32', [3]));
    const later = new Date(Date.now() + 5000);
    await fs.utimes(fileA, later, later);
    await expect(a.run(feed(1))).rejects.toThrow(`model file ${fileA} changed on disk since it was loaded (it was unloaded to free memory): run again to load the new version`);
    // A get sees the change and opens the new file as a new session.
    const a2 = await pool.get(fileA);
    expect(a2).not.toBe(a);
    expect(a2.inputs[0].shape).toEqual([3]);
    await pool.dispose();
  });

  it('a released session stays released, even when a reload was under way', async () => {
    const pool = new SessionPool({ providers: ['cpu'], maxLoadedSessions: 1 });
    const a = (await pool.get(await scaleModel('rel-a.onnx', 2))) as OrtModelSession;
    await pool.get(await scaleModel('rel-b.onnx', 3));
    expect(a.loaded).toBe(false);
    const pending = a.run(feed(1));
    await a.release();
    await expect(pending).rejects.toThrow(/was released/);
    expect(a.loaded).toBe(false);
    expect(a.unload()).toBe(false);
    await pool.dispose();
  });

  it('a cancelled run does not wait for its session to load again; the load completes for the next run', async () => {
    // A load held at a gate the test opens, so "did not wait" is an order of events, not a time.
    let gated = false;
    let opened = false;
    let open = () => {};
    let started = () => {};
    const loadStarted = new Promise<void>((r) => (started = r));
    const gate = new Promise<void>((r) => (open = () => ((opened = true), r())));
    const createSession = async (model: string | Uint8Array, options: ort.InferenceSession.SessionOptions) => {
      if (gated) {
        started();
        await gate;
      }
      return ort.InferenceSession.create(model as string, options);
    };
    const pool = new SessionPool({ providers: ['cpu'], maxLoadedSessions: 1, createSession });
    const a = (await pool.get(await scaleModel('slow-a.onnx', 2))) as OrtModelSession;
    await pool.get(await scaleModel('slow-b.onnx', 3));
    expect(a.loaded).toBe(false);
    gated = true;
    const controller = new AbortController();
    const run = a.run(feed(1), controller.signal);
    await loadStarted;
    const fallback = setTimeout(open, 5000); // a wrong implementation fails below instead of hanging
    controller.abort();
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(opened).toBe(false); // rejected while the load was still held
    expect(a.idle).toBe(false); // the load goes on
    clearTimeout(fallback);
    gated = false;
    open();
    for (let i = 0; i < 200 && !a.loaded; i++) await new Promise((r) => setTimeout(r, 10));
    expect(a.loaded).toBe(true);
    expect(await value(a, 4)).toBe(8);
    await pool.dispose();
  });

  it('counts a model\'s bytes as its .onnx file and the external data next to it, not its neighbours', async () => {
    const folder = await fs.mkdtemp(path.join(dir, 'bytes-'));
    const file = path.join(folder, 'model.onnx');
    await fs.writeFile(file, doubleModel('float32', [2]));
    await fs.writeFile(path.join(folder, 'model.onnx_data'), new Uint8Array(1000)); // optimum's external data
    await fs.writeFile(path.join(folder, 'weights.pb'), new Uint8Array(500)); // diffusers' legacy export
    await fs.writeFile(path.join(folder, 'model2.onnx_data'), new Uint8Array(7000)); // another model's
    await fs.writeFile(path.join(folder, 'model.json'), '{}'); // a sidecar
    await fs.writeFile(path.join(folder, 'other.onnx'), doubleModel('float32', [3]));
    const pool = new SessionPool({ providers: ['cpu'] });
    await pool.get(file);
    expect(pool.loadedNow()).toEqual({ count: 1, bytes: (await fs.stat(file)).size + 1000 + 500 });
    await pool.dispose();
    expect(pool.loadedNow()).toEqual({ count: 0, bytes: 0 });
  });

  it('refuses bounds that are not positive counts or byte sizes', () => {
    expect(() => new SessionPool({ maxLoadedSessions: 0 })).toThrow(/maxLoadedSessions must be a positive integer, got 0/);
    expect(() => new SessionPool({ maxLoadedBytes: NaN })).toThrow(/maxLoadedBytes must be a number of bytes, got NaN/);
  });
});

describe('ModelSession.run', () => {
  const pool = new SessionPool({ providers: ['cpu'] });
  afterAll(() => pool.dispose());

  it('validates feed names, dims and data sizes with errors naming the input and file', async () => {
    const file = await writeModel('validate.onnx', twoInputModel());
    const s = await pool.get(file);
    const f = (dims: number[], n = dims.reduce((a, b) => a * b, 1)) => ({ dims, data: new Float32Array(n), type: 'float32' as const });
    await expect(s.run({ a: f([1, 4]) })).rejects.toThrow(`missing input "b" for model ${file}`);
    await expect(s.run({ a: f([1, 4]), b: f([1, 4]), c: f([1]) })).rejects.toThrow(`unknown input "c" for model ${file}`);
    await expect(s.run({ a: f([1, 5]), b: f([1, 4]) })).rejects.toThrow(
      `shape mismatch for input "a" of model ${file}: expected [batch, 4], got [1, 5]`,
    );
    await expect(s.run({ a: f([4]), b: f([1, 4]) })).rejects.toThrow(/shape mismatch for input "a".*expected \[batch, 4\], got \[4\]/);
    await expect(s.run({ a: f([2, 4]), b: f([3, 4]) })).rejects.toThrow(/dimension "batch" is 3 here but 2 in input "a"/);
    await expect(s.run({ a: f([2, 4], 7), b: f([2, 4]) })).rejects.toThrow(/input "a" .*7 elements but dims \[2, 4\] need 8/);
  });

  it('dynamic dims without a name are free each on its own (ORT reports them as \'\', not as one shared symbol)', async () => {
    const file = await writeModel('unnamed-dims.onnx', doubleModel('float32', [-1, 3, -1, -1]));
    const s = await pool.get(file);
    expect(s.inputs[0].shape).toEqual([-1, 3, -1, -1]);
    const out = await s.run({ x: { dims: [1, 3, 16, 8], data: new Float32Array(384).fill(1), type: 'float32' } });
    expect(out.out.dims).toEqual([1, 3, 16, 8]);
    expect(out.out.data[383]).toBe(2);
    await expect(s.run({ x: { dims: [1, 4, 16, 8], data: new Float32Array(512), type: 'float32' } })).rejects.toThrow(
      `shape mismatch for input "x" of model ${file}: expected [?, 3, ?, ?], got [1, 4, 16, 8]`,
    );
  });

  it('returns float32 and float16 outputs as Float32 tensors', async () => {
    const file = await writeModel('outputs.onnx', twoInputModel());
    const s = await pool.get(file);
    const a = Float32Array.from([0.1, 0.2, 0.3, 1000.7, -1, -2, -3, 60000]);
    const b = Float32Array.from([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5]);
    const out = await s.run({ a: { dims: [2, 4], data: a, type: 'float32' }, b: { dims: [2, 4], data: b, type: 'float32' } });
    const sum = Array.from(a, (v, i) => Math.fround(v + b[i]));
    expect(out.sum.dims).toEqual([2, 4]);
    expect(Array.from(out.sum.data)).toEqual(sum);
    expect(out.sum_half.data).toBeInstanceOf(Float32Array);
    expect(Array.from(out.sum_half.data)).toEqual(sum.map((v) => fromFloat16Bits(toFloat16Bits(v))));
  });

  it('converts feeds to the declared element type: int64/int32 truncate toward zero, float16 rounds to nearest', async () => {
    const values = [-2.7, -0.5, 0, 0.99, 2.5, 7.9999, -1e6, 123456.5];
    const want = values.map((v) => 2 * Math.trunc(v) + 0); // + 0 turns -0 into 0, as integers have no sign of zero
    for (const type of ['int64', 'int32'] as const) {
      const s = await pool.get(await writeModel(`${type}.onnx`, doubleModel(type, [8])));
      expect(s.inputs[0].type).toBe(type);
      for (const data of [Float32Array.from(values), Float64Array.from(values)]) {
        const out = await s.run({ x: { dims: [8], data, type } });
        expect(Array.from(out.out.data)).toEqual(want.map((v) => Math.fround(v)));
      }
      // Declared type wins over the feed's type tag.
      const out = await s.run({ x: { dims: [8], data: Float64Array.from(values), type: 'float32' } });
      expect(Array.from(out.out.data)).toEqual(want.map((v) => Math.fround(v)));
    }
    const s64 = await pool.get(path.join(dir, 'int64.onnx'));
    const big = await s64.run({ x: { dims: [8], data: BigInt64Array.from([1n, -2n, 3n, 4n, 5n, 6n, 7n, 8n]), type: 'int64' } });
    expect(Array.from(big.out.data)).toEqual([2, -4, 6, 8, 10, 12, 14, 16]);
    await expect(s64.run({ x: { dims: [8], data: Float32Array.from([NaN, 0, 0, 0, 0, 0, 0, 0]), type: 'int64' } })).rejects.toThrow(
      /input "x" .*element 0 is NaN/,
    );

    const half = await pool.get(await writeModel('half.onnx', doubleModel('float16', [5])));
    const hv = [0.1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 3.14159, -65504];
    const hout = await half.run({ x: { dims: [5], data: Float64Array.from(hv), type: 'float16' } });
    expect(Array.from(hout.out.data)).toEqual(hv.map((v) => Math.fround(2 * fromFloat16Bits(toFloat16Bits(v)))));
    // Ties to even: 1 + 2^-11 -> 1, 1 + 3*2^-11 -> 1 + 2^-9.
    expect(hout.out.data[1]).toBe(2);
    expect(hout.out.data[2]).toBe(2 * (1 + 2 ** -9));

    const dbl = await pool.get(await writeModel('double.onnx', doubleModel('float64', [2])));
    const dout = await dbl.run({ x: { dims: [2], data: Float32Array.from([1.5, -3]), type: 'float64' } });
    expect(Array.from(dout.out.data)).toEqual([3, -6]);
  });

  it('checks the abort signal before running', async () => {
    const s = await pool.get(await writeModel('abort.onnx', doubleModel('float32', [2])));
    const c = new AbortController();
    c.abort();
    await expect(s.run({ x: { dims: [2], data: new Float32Array(2), type: 'float32' } }, c.signal)).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('serializes concurrent runs on one session and keeps every result with its caller', async () => {
    const s = await pool.get(await writeModel('concurrent.onnx', doubleModel('float32', ['n'])));
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => s.run({ x: { dims: [3], data: Float32Array.of(i, i + 0.5, -i), type: 'float32' } })),
    );
    results.forEach((r, i) => expect(Array.from(r.out.data)).toEqual([2 * i, 2 * i + 1, -2 * i]));
    // A runtime failure names the model file; a failing run does not block the queue.
    const g = new GraphBuilder();
    const idx = g.input('i', 'int64', [1]);
    g.op('Gather', [g.constFloat([1, 2, 3]), idx], { axis: attr.int(0) }, 'y');
    g.output('y', 'float32', [1]);
    const gather = await pool.get(await writeModel('gather.onnx', g.toBytes()));
    await expect(gather.run({ i: { dims: [1], data: Float64Array.of(7), type: 'int64' } })).rejects.toThrow(
      new RegExp(`^running model .*gather\\.onnx failed: `),
    );
    expect(Array.from((await gather.run({ i: { dims: [1], data: Float64Array.of(2), type: 'int64' } })).y.data)).toEqual([3]);
    const bad = s.run({ x: { dims: [2], data: new Float32Array(3), type: 'float32' } });
    await expect(bad).rejects.toThrow(/3 elements/);
    const ok = await s.run({ x: { dims: [1], data: Float32Array.of(4), type: 'float32' } });
    expect(Array.from(ok.out.data)).toEqual([8]);
  });

  it('gives each output the dims of its own call when a symbolic dim changes, sharing one frozen dims array while it does not', async () => {
    const s = await pool.get(await writeModel('dims.onnx', doubleModel('float32', ['n'])));
    const run = (n: number) => s.run({ x: { dims: [n], data: new Float32Array(n).fill(1), type: 'float32' } });
    const first = await run(3);
    const same = await run(3);
    const shorter = await run(2);
    const longer = await run(5);
    expect([first, same, shorter, longer].map((r) => [...r.out.dims])).toEqual([[3], [3], [2], [5]]);
    expect(same.out.dims).toBe(first.out.dims);
    expect(Object.isFrozen(first.out.dims)).toBe(true);
    expect(Array.from(longer.out.data)).toEqual([2, 2, 2, 2, 2]);
  });

  it('release() waits for the run in progress; runs still waiting their turn, and new ones, are refused', async () => {
    const own = new SessionPool({ providers: ['cpu'] });
    const s = (await own.get(await writeModel('release.onnx', doubleModel('float32', ['n'])))) as OrtModelSession;
    const runs = [1, 2, 3].map((v) => s.run({ x: { dims: [1], data: Float32Array.of(v), type: 'float32' } }));
    await s.release();
    const settled = await Promise.allSettled(runs);
    expect(settled[0]).toMatchObject({ status: 'fulfilled', value: { out: { data: Float32Array.of(2) } } });
    for (const r of settled.slice(1)) expect(r).toMatchObject({ status: 'rejected', reason: { message: expect.stringMatching(/was released/) } });
    await expect(s.run({ x: { dims: [1], data: Float32Array.of(1), type: 'float32' } })).rejects.toThrow(/was released/);
    await own.dispose();
  });

  it('repeated calls on the same frozen dims and buffers see each call\'s current values, converted ones included', async () => {
    const s = await pool.get(await writeModel('reuse.onnx', twoInputModel()));
    const dims = Object.freeze([1, 4]);
    const a = Float32Array.from([1, 2, 3, 4]);
    const b = new Float64Array(4); // declared float32: converted on every call
    const run = () => s.run({ a: { dims, data: a, type: 'float32' }, b: { dims, data: b, type: 'float32' } });
    expect(Array.from((await run()).sum.data)).toEqual([1, 2, 3, 4]);
    a.set([10, 20, 30, 40]);
    b.fill(0.5);
    expect(Array.from((await run()).sum.data)).toEqual([10.5, 20.5, 30.5, 40.5]);
    // A new array object for one input, then a different shape: still right, and still validated.
    expect(Array.from((await s.run({ a: { dims, data: Float32Array.from([0, 0, 0, 1]), type: 'float32' }, b: { dims, data: b, type: 'float32' } })).sum.data)).toEqual([0.5, 0.5, 0.5, 1.5]);
    await expect(s.run({ a: { dims, data: new Float32Array(3), type: 'float32' }, b: { dims, data: b, type: 'float32' } })).rejects.toThrow(/3 elements but dims \[1, 4\] need 4/);
    await expect(s.run({ a: { dims, data: a, type: 'float32' } })).rejects.toThrow(/missing input "b"/);
    await expect(s.run({ a: { dims, data: a, type: 'float32' }, b: { dims, data: b, type: 'float32' }, c: { dims, data: a, type: 'float32' } })).rejects.toThrow(/unknown input "c"/);
    const two = Object.freeze([2, 4]);
    await expect(s.run({ a: { dims: two, data: new Float32Array(8), type: 'float32' }, b: { dims, data: b, type: 'float32' } })).rejects.toThrow(/dimension "batch" is 1 here but 2/);
    // Unfrozen dims are never trusted to stay the same: an edited dims array is validated again.
    const loose = [1, 4];
    await s.run({ a: { dims: loose, data: a, type: 'float32' }, b: { dims: loose, data: b, type: 'float32' } });
    loose[1] = 5;
    await expect(s.run({ a: { dims: loose, data: a, type: 'float32' }, b: { dims: loose, data: b, type: 'float32' } })).rejects.toThrow(/input "a" .*4 elements but dims \[1, 5\] need 5/);
  });

  it('a conversion failing part-way through the reuse path leaves nothing stale behind', async () => {
    const g = new GraphBuilder();
    const a = g.input('a', 'float32', [2]);
    const b = g.input('b', 'int64', [2]);
    g.op('Add', [a, g.op('Cast', [b], { to: attr.int(onnxDataType('float32')) })], {}, 'out');
    g.output('out', 'float32', [2]);
    const s = await pool.get(await writeModel('mixed.onnx', g.toBytes()));
    const dims = Object.freeze([2]);
    const b64 = Float64Array.from([10, 20]); // declared int64: converted on every call
    const call = (data: Float32Array) => s.run({ a: { dims, data, type: 'float32' }, b: { dims, data: b64, type: 'int64' } });
    expect(Array.from((await call(Float32Array.from([1, 2]))).out.data)).toEqual([11, 22]);
    const second = Float32Array.from([3, 4]);
    b64[0] = NaN;
    await expect(call(second)).rejects.toThrow(/input "b" .*element 0 is NaN/);
    b64[0] = 30;
    expect(Array.from((await call(second)).out.data)).toEqual([33, 24]);
  });

  it('feeds a view into a shared buffer (small tensors live in slabs) by its own bytes only', async () => {
    const s = await pool.get(await writeModel('view.onnx', doubleModel('float32', ['n'])));
    allocFloat32(3).fill(99); // a neighbour in the same slab
    const view = allocFloat32(5);
    allocFloat32(3).fill(-99);
    view.set([1, 2, 3, 4, 5]);
    expect(view.byteOffset).toBeGreaterThan(0); // really a view, not a buffer of its own
    const out = await s.run({ x: { dims: [5], data: view, type: 'float32' } });
    expect(Array.from(out.out.data)).toEqual([2, 4, 6, 8, 10]);
  });
});
