/**
 * Node outputs outlive their node, so they must not pin more memory than they hold: small tensors come
 * from shared 64 KiB slabs and slices share their parent's buffer (compact-outputs.ts), the cache's byte
 * estimate counts what a view keeps alive, and the runs kept for the debug views are bounded in bytes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compactOutputs } from '../electron/engine/executor/compact-outputs.ts';
import { estimateOutputsBytes, estimateValueBytes } from '../electron/engine/executor/value-size.ts';
import { isTensor, POOLED_MAX_BYTES, Tensor } from '../nodes/core/tensor.ts';
import { createTestEngine, graph } from './helpers/engine.ts';

/** A small tensor, carved from a slab as solvers' temporaries are. */
function pooled(n: number, value = 1): Tensor {
  expect(4 * n).toBeLessThanOrEqual(POOLED_MAX_BYTES);
  return Tensor.full([n], value);
}

/** Every tensor reachable from a value, through plain objects, arrays and Maps. */
function tensorsIn(v: unknown, out: Tensor[] = []): Tensor[] {
  if (isTensor(v)) out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => tensorsIn(x, out));
  else if (v instanceof Map) for (const x of v.values()) tensorsIn(x, out);
  else if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) Object.values(v).forEach((x) => tensorsIn(x, out));
  return out;
}

describe('compactOutputs', () => {
  it('copies a slab tensor into a buffer of its own, with the same values and shape', () => {
    const t = pooled(12, 2.5).reshape([3, 4]);
    expect(t.data.buffer.byteLength).toBeGreaterThan(2 * t.byteLength);
    const out = compactOutputs({ latent: t }).latent as Tensor;
    expect(out).not.toBe(t);
    expect(out.data.buffer.byteLength).toBe(t.byteLength);
    expect(out.dims).toEqual([3, 4]);
    expect(Array.from(out.data)).toEqual(Array.from(t.data));
  });

  it('copies a small slice of a big tensor, and keeps a tensor that owns its buffer as it is', () => {
    const big = new Tensor([4, 1000]);
    const slice = new Tensor([1000], big.data.subarray(1000, 2000));
    const out = compactOutputs({ big, slice });
    expect(out.big).toBe(big);
    expect(out.slice).not.toBe(slice);
    expect((out.slice as Tensor).data.buffer.byteLength).toBe(4000);
    // Half of its buffer or more: the copy would cost as much as it frees.
    const half = new Tensor([2000], big.data.subarray(0, 2000));
    expect(compactOutputs({ half }).half).toBe(half);
  });

  it('keeps aliases aliased, re-freezes frozen containers, and leaves untouched containers and class instances alone', () => {
    const x = pooled(8, 3);
    const session = new (class Session {
      readonly inner = pooled(8);
    })();
    const sigmas = Object.freeze({ sigmas: Object.freeze([1, 0]), timesteps: Object.freeze([999, 0]) });
    const trajectory = Object.freeze({ sigmas: [1, 0], states: Object.freeze([x, pooled(8, 4)]), denoised: [x] });
    const outputs = { latent: x, trajectory, sigmas, model: session, n: 3 };
    const out = compactOutputs(outputs) as typeof outputs;
    expect(out).not.toBe(outputs);
    expect(out.trajectory.states[0]).toBe(out.latent);
    expect(out.trajectory.denoised[0]).toBe(out.latent);
    expect(Object.isFrozen(out.trajectory)).toBe(true);
    expect(Object.isFrozen(out.trajectory.states)).toBe(true);
    expect(Object.isFrozen(out.trajectory.denoised)).toBe(false);
    expect(out.sigmas).toBe(sigmas);
    expect(out.model).toBe(session);
    expect(out.n).toBe(3);
    const plain = { a: new Tensor([2000]), list: [1, 2] };
    expect(compactOutputs(plain)).toBe(plain);
    // A list is copied from its first changed item on, the items before it kept.
    const own = new Tensor([2000]);
    const mixed = [1, 'a', own, pooled(4, 7), null];
    const out2 = compactOutputs({ mixed }).mixed as unknown[];
    expect(out2).not.toBe(mixed);
    expect(out2.slice(0, 3)).toEqual([1, 'a', own]);
    expect(out2[2]).toBe(own);
    expect(out2[3]).not.toBe(mixed[3]);
    expect(Array.from((out2[3] as Tensor).data)).toEqual([7, 7, 7, 7]);
    expect(out2[4]).toBeNull();
    expect(out2.length).toBe(5);
  });

  it('copies bare typed arrays and Node Buffers out of shared buffers too', () => {
    const pooledBytes = Buffer.from('small bytes'); // from Node's shared 8 KiB pool
    expect(pooledBytes.buffer.byteLength).toBeGreaterThan(2 * pooledBytes.length);
    const floats = new Float32Array(1000).subarray(10, 20);
    const out = compactOutputs({ bytes: pooledBytes, floats });
    const bytes = out.bytes as Buffer;
    expect(Buffer.isBuffer(bytes)).toBe(true);
    expect(bytes.toString()).toBe('small bytes');
    expect(bytes.buffer.byteLength).toBe(pooledBytes.length);
    expect((out.floats as Float32Array).buffer.byteLength).toBe(40);
  });

  it('keeps the finite mark (the copy is not scanned again)', () => {
    // A deliberately wrong mark shows whether it was carried over: a scan would find the NaN.
    const t = pooled(4);
    t.data[2] = NaN;
    t.markFinite();
    expect((compactOutputs({ t }).t as Tensor).firstNonFinite()).toBe(-1);
    const unmarked = pooled(4);
    unmarked.data[1] = NaN;
    expect((compactOutputs({ unmarked }).unmarked as Tensor).firstNonFinite()).toBe(1);
  });
});

describe('estimateValueBytes and views', () => {
  it('counts the buffer a view keeps alive, once however many views share it', () => {
    const big = new Tensor([4, 1000]);
    const a = new Tensor([1000], big.data.subarray(0, 1000));
    const b = new Tensor([1000], big.data.subarray(1000, 2000));
    expect(estimateValueBytes(a)).toBeGreaterThanOrEqual(16000);
    const both = estimateOutputsBytes({ a, b });
    expect(both).toBeGreaterThanOrEqual(16000);
    expect(both).toBeLessThan(16000 + 1024);
  });
});

describe('the executor compacts what nodes return', () => {
  const engine = createTestEngine();
  afterAll(() => engine.dispose());

  it('a recorded trajectory on the small analytic model pins no slab, and the cache counts what is held', async () => {
    const doc = graph(
      [
        { id: 'model', type: 'LoadModel', params: { model: 'embedded:gaussian-vp' } },
        { id: 'latent', type: 'EmptyLatent' },
        { id: 'sampler', type: 'Sampler', params: { solver: 'euler', steps: 20, seed: 3, record_trajectory: true } },
      ],
      ['model.model->sampler.model', 'latent.latent->sampler.latent'],
    );
    const before = engine.executor.cache.stats.bytesInMemory;
    const { result } = await engine.execute({ graph: doc });
    expect(result?.status).toBe('finished');
    const outputs = result!.outputs.get('sampler')!;
    const tensors = tensorsIn(outputs);
    // states (21) and x0 predictions (20), the latent and denoised among them.
    expect(tensors.length).toBeGreaterThanOrEqual(43);
    expect(tensors[0].byteLength).toBeLessThanOrEqual(POOLED_MAX_BYTES);
    const buffers = new Set<ArrayBufferLike>();
    for (const t of tensors) {
      expect(t.data.buffer.byteLength).toBeLessThanOrEqual(2 * t.byteLength);
      buffers.add(t.data.buffer);
    }
    const held = [...buffers].reduce((s, b) => s + b.byteLength, 0);
    const counted = engine.executor.cache.stats.bytesInMemory - before;
    // The Sampler's entry and the two small ones upstream (EmptyLatent's latent, the model handle).
    expect(counted).toBeGreaterThanOrEqual(held);
    expect(counted).toBeLessThan(held + 16 * 1024);
  });
});

describe('runs kept for readOutput', () => {
  it('honour the engine\'s keptRunsMaxBytes, always keeping the latest run', async () => {
    const engine = createTestEngine({ keptRunsMaxBytes: 1 });
    try {
      const doc = (seed: number) => graph([{ id: 'noise', type: 'RandomNoise', params: { seed } }], []);
      const first = await engine.run({ graph: doc(1) });
      expect(await engine.readOutput(first.runId, 'noise', 'noise')).toMatchObject({ kind: 'tensor' });
      const second = await engine.run({ graph: doc(2) });
      expect(await engine.readOutput(second.runId, 'noise', 'noise')).toMatchObject({ kind: 'tensor' });
      expect(await engine.readOutput(first.runId, 'noise', 'noise')).toBeNull();
    } finally {
      await engine.dispose();
    }
  });
});
