import { describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../nodes/core/io/npy.ts';
import { Tensor } from '../nodes/core/tensor.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/**
 * Builds a .npy file by hand from the format spec (numpy.lib.format): magic, version, little-endian
 * header length (uint16 for 1.0, uint32 for 2.0/3.0), the dict text padded with spaces and ended by
 * '\n' so the data starts at a multiple of 64.
 */
function buildNpy(major: 1 | 2 | 3, dict: string, data: Uint8Array): Uint8Array {
  const lengthBytes = major === 1 ? 2 : 4;
  const prefix = 6 + 2 + lengthBytes;
  const dictBytes = new TextEncoder().encode(dict);
  const padded = Math.ceil((prefix + dictBytes.length + 1) / 64) * 64;
  const headerLength = padded - prefix;
  const out = new Uint8Array(padded + data.length);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  out.set(dictBytes, prefix);
  out.fill(0x20, prefix + dictBytes.length, padded - 1);
  out[padded - 1] = 0x0a;
  out.set(data, padded);
  return out;
}

function floatBytes(values: number[], bytes: 4 | 8, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(values.length * bytes);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => (bytes === 4 ? view.setFloat32(i * 4, v, littleEndian) : view.setFloat64(i * 8, v, littleEndian)));
  return out;
}

describe('writeNpy', () => {
  it('writes exactly the bytes np.save writes for a (2, 3) float32 array', () => {
    // python: np.save('a.npy', (np.arange(6, dtype='<f4').reshape(2, 3) - 2.5) / 4)  (numpy 2.4)
    const numpyBytes = Buffer.from(
      'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAACC/AADAvgAAAL4AAAA+AADAPgAAID8=',
      'base64',
    );
    const t = Tensor.from([2, 3], [-0.625, -0.375, -0.125, 0.125, 0.375, 0.625]);
    expect(Buffer.from(writeNpy(t)).equals(numpyBytes)).toBe(true);
  });

  it('follows the v1.0 layout: magic, version, uint16 length, dict, 64-byte alignment, <f4 data', () => {
    const t = Tensor.from([2, 3], [1, 2, 3, 4, 5, 6]);
    const bytes = writeNpy(t);
    expect([...bytes.subarray(0, 6)]).toEqual(MAGIC);
    expect([bytes[6], bytes[7]]).toEqual([1, 0]);
    const headerLength = bytes[8] | (bytes[9] << 8);
    const dataStart = 10 + headerLength;
    expect(dataStart % 64).toBe(0);
    const header = Buffer.from(bytes.subarray(10, dataStart)).toString('latin1');
    expect(header.endsWith('\n')).toBe(true);
    expect(header.trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    expect([...bytes.subarray(dataStart)]).toEqual([...floatBytes([1, 2, 3, 4, 5, 6], 4, true)]);
  });

  it('writes 1-D shapes with the trailing comma and scalars as ()', () => {
    const header = (t: Tensor) => {
      const b = writeNpy(t);
      return Buffer.from(b.subarray(10, 10 + (b[8] | (b[9] << 8)))).toString('latin1').trimEnd();
    };
    expect(header(Tensor.from([4], [1, 2, 3, 4]))).toContain("'shape': (4,), }");
    expect(header(Tensor.from([], [7]))).toContain("'shape': (), }");
  });

  it('is deterministic', () => {
    const t = Tensor.from([1, 3, 2, 2], Array.from({ length: 12 }, (_, i) => Math.sin(i)));
    expect(Buffer.from(writeNpy(t)).equals(Buffer.from(writeNpy(t.clone())))).toBe(true);
  });
});

describe('readNpy', () => {
  it('round-trips float32 tensors bit for bit, including NaN, Inf, -0 and subnormals', () => {
    const special = [NaN, Infinity, -Infinity, -0, 1e-45, 3.4028234663852886e38, 0.1];
    for (const dims of [[], [7], [1, 7], [2, 0, 3]] as number[][]) {
      const size = dims.reduce((a, b) => a * b, 1);
      const t = Tensor.from(dims, Array.from({ length: size }, (_, i) => special[i % special.length]));
      const back = readNpy(writeNpy(t));
      expect(back.dims).toEqual(dims);
      expect(new Uint32Array(back.data.buffer)).toEqual(new Uint32Array(t.data.buffer));
    }
  });

  it('reads a hand-built float64 file, rounding to float32', () => {
    const values = [1 / 3, -2.5, 1e-300, 123456789.123];
    const file = buildNpy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", floatBytes(values, 8, true));
    const t = readNpy(file);
    expect(t.dims).toEqual([2, 2]);
    expect([...t.data]).toEqual(values.map(Math.fround));
  });

  it('byte-swaps big-endian float32 and float64', () => {
    const values = [1.5, -0.25, 3e-39, 65504];
    const f4 = readNpy(buildNpy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", floatBytes(values, 4, false)));
    const f8 = readNpy(buildNpy(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (4,), }", floatBytes(values, 8, false)));
    expect([...f4.data]).toEqual(values.map(Math.fround));
    expect([...f8.data]).toEqual(values.map(Math.fround));
  });

  it('reads format 2.0 and 3.0 headers (uint32 length; 3.0 is UTF-8) and any key order or quoting', () => {
    const data = floatBytes([1, 2, 3], 4, true);
    const v2 = readNpy(buildNpy(2, "{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}", data));
    expect(v2.dims).toEqual([3]);
    expect([...v2.data]).toEqual([1, 2, 3]);
    const v3 = readNpy(buildNpy(3, '{"descr": "<f4", "fortran_order": False, "shape": (1, 3), "note": "é✓"}', data));
    expect(v3.dims).toEqual([1, 3]);
  });

  it('accepts Python 2 long dims (3L) and ignores trailing bytes like np.load', () => {
    const data = floatBytes([1, 2, 3, 4, 5, 6, 99], 4, true);
    const t = readNpy(buildNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", data));
    expect(t.dims).toEqual([2, 3]);
    expect([...t.data]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reads from a Uint8Array that is an unaligned view into a larger buffer', () => {
    const file = writeNpy(Tensor.from([3], [0.5, -1, 2]));
    const big = new Uint8Array(file.length + 3);
    big.set(file, 3);
    expect([...readNpy(big.subarray(3)).data]).toEqual([0.5, -1, 2]);
  });

  it('reads integer, bool and float16 arrays (ids and embeddings in their export dtype) as float32', () => {
    const bytes = (n: number, write: (v: DataView, i: number) => void) => {
      const b = new Uint8Array(n * 8);
      const v = new DataView(b.buffer);
      for (let i = 0; i < n; i++) write(v, i);
      return b;
    };
    // python: np.array([0, -3, 2**40, 7], dtype='<i8'); big-endian int32; uint8; bool; float16 bits.
    const i8 = readNpy(buildNpy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", bytes(4, (v, i) => v.setBigInt64(8 * i, [0n, -3n, 2n ** 40n, 7n][i], true))));
    expect(i8.dims).toEqual([2, 2]);
    expect([...i8.data]).toEqual([0, -3, 2 ** 40, 7]);
    const i4 = readNpy(buildNpy(1, "{'descr': '>i4', 'fortran_order': False, 'shape': (3,), }", bytes(3, (v, i) => v.setInt32(4 * i, [-1, 5, 100000][i], false))));
    expect([...i4.data]).toEqual([-1, 5, 100000]);
    const u1 = readNpy(buildNpy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", Uint8Array.of(255, 3)));
    expect([...u1.data]).toEqual([255, 3]);
    const b1 = readNpy(buildNpy(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", Uint8Array.of(1, 0)));
    expect([...b1.data]).toEqual([1, 0]);
    // 0x3c00 = 1, 0xc000 = -2, 0x3555 ~ 0.33325, 0x0001 = 2^-24 (subnormal), 0x7c00 = inf
    const f2 = readNpy(buildNpy(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }", bytes(5, (v, i) => v.setUint16(2 * i, [0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00][i], true))));
    expect([...f2.data]).toEqual([1, -2, Math.fround(0.333251953125), Math.fround(2 ** -24), Infinity]);
  });

  it('rejects Fortran order, other dtypes, truncated data, bad magic and unknown versions clearly', () => {
    const data = floatBytes([1, 2, 3, 4, 5, 6], 4, true);
    expect(() => readNpy(buildNpy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data))).toThrow(
      'Fortran-order .npy is not supported',
    );
    expect(() => readNpy(buildNpy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", data))).toThrow(/dtype '<c8'/);
    expect(() => readNpy(buildNpy(1, "{'descr': '<U4', 'fortran_order': False, 'shape': (3,), }", data))).toThrow(/dtype '<U4'/);
    expect(() => readNpy(buildNpy(1, "{'descr': '<f1', 'fortran_order': False, 'shape': (3,), }", data))).toThrow(/dtype '<f1'/);
    expect(() => readNpy(buildNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", data))).toThrow(
      /Truncated .npy file.*needs 32 data bytes, found 24/,
    );
    const good = writeNpy(Tensor.from([2], [1, 2]));
    expect(() => readNpy(good.subarray(0, 40))).toThrow(/Truncated .npy file/);
    const badMagic = good.slice();
    badMagic[1] = 0x58;
    expect(() => readNpy(badMagic)).toThrow(/bad magic/);
    expect(() => readNpy(new Uint8Array([1, 2, 3]))).toThrow(/bad magic/);
    const v9 = good.slice();
    v9[6] = 9;
    expect(() => readNpy(v9)).toThrow(/version 9\.0/);
    expect(() => readNpy(buildNpy(1, "{'descr': '<f4', 'shape': (2,), }", data))).toThrow(/fortran_order/);
    expect(() => readNpy(buildNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", data))).toThrow(
      /Bad .npy header/,
    );
  });

  it('refuses more axes than numpy allows (64): a 100,000-axis shape parsed, and every later message printed it', () => {
    const dims = (n: number) => Array(n).fill('1').join(', ');
    expect(readNpy(buildNpy(2, `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims(64)},), }`, new Uint8Array(4))).rank).toBe(64);
    expect(() => readNpy(buildNpy(2, `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims(100000)}), }`, new Uint8Array(4)))).toThrow(
      '.npy shape has 100000 axes; numpy allows at most 64',
    );
    // A bad header is quoted by its start only.
    const long = `{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': ${'9'.repeat(300000)} }`;
    let message = '';
    try {
      readNpy(buildNpy(2, long, new Uint8Array(8)));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^Bad \.npy header \(.*\): "\{'descr': '<f4'.*" \(first 200 of 300\d{3} characters\)$/);
    expect(message.length).toBeLessThan(400);
  });

  it('does not allocate for an absurd shape in a short file', () => {
    const file = buildNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 100000), }", new Uint8Array(8));
    expect(() => readNpy(file)).toThrow(/Truncated/);
  });
});
