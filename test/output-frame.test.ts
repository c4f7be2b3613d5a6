/**
 * readOutput's pieces without a server: the kept-runs store (eviction, copies, clear errors) and the
 * binary /api/output frame (encode on the server, decode in the renderer) round-tripping every kind.
 */
import { readFloat32LE, writeFloat32LE } from '../nodes/core/io/float32-le.ts';
import { describe, expect, it } from 'vitest';
import { RecentOutputs } from '../electron/engine/recent-outputs.ts';
import { outputValueOf, type OutputValue } from '../electron/engine/summary.ts';
import { encodeOutputFrame } from '../electron/server/output-frame.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { decodeOutputFrame } from '../renderer/src/engine/output-frame.ts';

const tensor = (dims: number[], seed: number) => new Tensor(dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed + i * 1.7) * 1e3));
const outputs = (v: Record<string, unknown>) => new Map([['node', v]]);

describe('RecentOutputs', () => {
  it('keeps the outputs of the last `keep` runs and forgets older ones', () => {
    const store = new RecentOutputs(2);
    for (const id of ['a', 'b', 'c']) store.remember(id, outputs({ x: id.charCodeAt(0) }));
    expect(store.read('a', 'node', 'x')).toBeNull();
    expect(store.read('b', 'node', 'x')).toEqual({ kind: 'scalar', value: 98 });
    expect(store.read('c', 'node', 'x')).toEqual({ kind: 'scalar', value: 99 });
    expect(store.read('c', 'other', 'x')).toBeNull();
    expect(store.read('c', 'node', 'toString')).toBeNull(); // own ports only
  });

  it('drops the oldest runs once the kept ones pass the byte bound, but always keeps the latest', () => {
    const big = () => tensor([1000], 7); // 4,000 bytes and a little overhead
    const store = new RecentOutputs(4, 10_000);
    store.remember('a', outputs({ t: big() }));
    store.remember('b', outputs({ t: big() }));
    expect(store.runIds).toEqual(['a', 'b']);
    store.remember('c', outputs({ t: big() }));
    expect(store.runIds).toEqual(['b', 'c']);
    expect(store.read('a', 'node', 't')).toBeNull();
    expect(store.heldBytes).toBeGreaterThanOrEqual(8000);
    expect(store.heldBytes).toBeLessThanOrEqual(10_000);
    // A tensor on two ports (or two nodes) of one run counts once.
    const shared = big();
    store.remember('d', new Map([['n1', { latent: shared, trajectory: { sigmas: [1, 0], states: [shared], denoised: [shared] } }], ['n2', { x: shared }]]));
    expect(store.runIds).toEqual(['c', 'd']);
    // One run over the bound on its own stays: the views are about to read it.
    store.remember('huge', outputs({ t: tensor([5000], 1) }));
    expect(store.runIds).toEqual(['huge']);
    expect(store.read('huge', 'node', 't')?.kind).toBe('tensor');
    // Remembering a kept id again replaces it without counting it twice.
    store.remember('huge', outputs({ t: big() }));
    expect(store.runIds).toEqual(['huge']);
    expect(store.heldBytes).toBeLessThan(5000);
    store.clear();
    expect(store.heldBytes).toBe(0);
    expect(() => new RecentOutputs(2, NaN)).toThrow(/maxBytes/);
  });

  it('returns copies: a reader cannot write into the run’s tensors', () => {
    const t = tensor([1, 2, 2, 2], 1);
    const store = new RecentOutputs();
    store.remember('r', outputs({ latent: t }));
    const v = store.read('r', 'node', 'latent');
    if (v?.kind !== 'tensor') throw new Error('expected a tensor');
    expect(Array.from(v.data)).toEqual(Array.from(t.data));
    v.data[0] = 12345;
    expect(t.data[0]).not.toBe(12345);
  });

  it('converts trajectories and metrics, and names the output when a value has no numbers', () => {
    const traj = { sigmas: [2, 1, 0], states: [tensor([1, 1, 2, 2], 1), tensor([1, 1, 2, 2], 2), tensor([1, 1, 2, 2], 3)], denoised: [tensor([1, 1, 2, 2], 4), tensor([1, 1, 2, 2], 5)] };
    const v = outputValueOf(traj, 's.trajectory');
    expect(v.kind).toBe('trajectory');
    if (v.kind !== 'trajectory') return;
    expect(v.states.map((s) => Array.from(s.data))).toEqual(traj.states.map((s) => Array.from(s.data)));
    expect(outputValueOf({ values: { e: 1 }, series: { euler: [3, 2] } }, 'm.metrics')).toEqual({ kind: 'metrics', values: { e: 1 }, series: { euler: [3, 2] } });
    const schedule = { space: 'vp', sigmas: [1, 0], timesteps: [999] };
    expect(() => outputValueOf(schedule, 'sched.sigmas')).toThrow(/sched\.sigmas is a sigmas value/);
    expect(() => new RecentOutputs(0)).toThrow(/positive integer/);
  });
});

describe('/api/output frames', () => {
  const roundTrip = (v: OutputValue) => decodeOutputFrame(encodeOutputFrame(v));
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

  it('round-trip tensors bit for bit (NaN, ±Inf, -0, subnormals) for header lengths needing each padding', () => {
    const special = Float32Array.of(NaN, Infinity, -Infinity, -0, 1.4e-45, -3.4e38, 0.1);
    for (let extra = 1; extra <= 4; extra++) {
      const dims = [1, 7, 1, 1].concat(Array(extra).fill(1)); // longer dims -> longer header
      const back = roundTrip({ kind: 'tensor', dims, data: special });
      if (back.kind !== 'tensor') throw new Error('expected a tensor');
      expect(back.dims).toEqual(dims);
      expect(bits(back.data)).toEqual(bits(special));
    }
  });

  it('round-trip trajectories (states then predictions, in step order), metrics and scalars', () => {
    const states = [tensor([1, 2, 3, 3], 1), tensor([1, 2, 3, 3], 2), tensor([1, 2, 3, 3], 3)].map((t) => ({ dims: [...t.dims], data: t.data }));
    const denoised = [tensor([1, 2, 3, 3], 7), tensor([1, 2, 3, 3], 8)].map((t) => ({ dims: [...t.dims], data: t.data }));
    const back = roundTrip({ kind: 'trajectory', sigmas: [14.6, 0.5, 0], states, denoised });
    if (back.kind !== 'trajectory') throw new Error('expected a trajectory');
    expect(back.sigmas).toEqual([14.6, 0.5, 0]);
    expect(back.states.map((s) => bits(s.data))).toEqual(states.map((s) => bits(s.data)));
    expect(back.denoised.map((s) => bits(s.data))).toEqual(denoised.map((s) => bits(s.data)));
    const metrics: OutputValue = { kind: 'metrics', values: { 'error/ddim/10': 0.25 }, series: { ddim: [1, 0.5] } };
    expect(roundTrip(metrics)).toEqual(metrics);
    expect(roundTrip({ kind: 'scalar', value: 'out/a.png' })).toEqual({ kind: 'scalar', value: 'out/a.png' });
  });

  it('rejects truncated or padded-out frames', () => {
    const frame = encodeOutputFrame({ kind: 'tensor', dims: [1, 1, 2, 2], data: new Float32Array(4) });
    expect(() => decodeOutputFrame(frame.subarray(0, frame.length - 4))).toThrow(/ends inside its data array/);
    expect(() => decodeOutputFrame(Buffer.concat([frame, Buffer.alloc(4)]))).toThrow(/4 bytes past its arrays/);
    expect(() => decodeOutputFrame(new Uint8Array(2))).toThrow(/too short/);
  });
});

describe('float32 little-endian frame data', () => {
  it('writes and reads float32 LE at an offset, from a view into a larger buffer', () => {
    const backing = new Float32Array([9, 1.5, -2.25, 3e-8, 7]);
    const data = backing.subarray(1, 4); // byteOffset 4: a view, as slab tensors are
    const bytes = new Uint8Array(3 + 12 + 2).fill(0xee);
    writeFloat32LE(bytes, 3, data);
    const check = new DataView(bytes.buffer);
    expect([0, 1, 2].map((i) => check.getFloat32(3 + 4 * i, true))).toEqual([...data]);
    expect([bytes[2], bytes[15]]).toEqual([0xee, 0xee]); // nothing written outside the range
    const read = readFloat32LE(bytes, 3, 3);
    expect([...read]).toEqual([...data]);
    bytes[3] ^= 0xff;
    expect(read[0]).toBe(1.5); // a copy, not a view of the frame
  });
});
