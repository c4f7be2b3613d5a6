/**
 * NumPy .npy files (format spec: numpy.lib.format), so latents move between FlowStudio and Python.
 * Reads float16/32/64, signed and unsigned integers of 1-8 bytes and bool, in either byte order (always
 * returned as float32: ids and embeddings dumped in their export dtype load as they are); writes '<f4'
 * exactly as np.save does, so numpy reads our files and the bytes are deterministic.
 */
import { Tensor } from '../tensor.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** numpy pads magic + length + header to a multiple of this so the data is aligned. */
const HEADER_ALIGN = 64;
/** numpy leaves room after the header dict so the first axis can grow in place; copied so bytes match np.save. */
const GROWTH_AXIS_MAX_DIGITS = 21;
/** NPY_MAXDIMS of numpy 2. */
const MAX_RANK = 64;

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

export function readNpy(bytes: Uint8Array): Tensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new Error('Not a .npy file: bad magic (expected "\\x93NUMPY")');
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerStart = 10;
    headerLength = view.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new Error('Truncated .npy file: header length missing');
    headerStart = 12;
    headerLength = view.getUint32(8, true);
  } else {
    throw new Error(`Unsupported .npy format version ${major}.${bytes[7]} (1.0, 2.0 and 3.0 are supported)`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) {
    throw new Error(`Truncated .npy file: header says ${headerLength} bytes but the file ends first`);
  }
  // v1/v2 headers are Latin-1, v3 is UTF-8; the fields we read are ASCII either way.
  const headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const header = parseHeader(headerText);

  if (header.fortranOrder) throw new Error('Fortran-order .npy is not supported');
  // numpy itself stops at 64 axes (32 before 2.0); a longer shape only made every later message that long.
  if (header.shape.length > MAX_RANK) throw new Error(`.npy shape has ${header.shape.length} axes; numpy allows at most ${MAX_RANK}`);
  const dtype = parseDescr(header.descr);
  const size = header.shape.reduce((a, b) => a * b, 1);
  const needed = size * dtype.bytes;
  const available = bytes.length - dataStart;
  if (available < needed) {
    throw new Error(
      `Truncated .npy file: shape (${header.shape.join(', ')}) of ${header.descr} needs ${needed} data bytes, found ${available}`,
    );
  }
  // Trailing bytes are ignored, as np.load does.
  const data = new Float32Array(size);
  const read = elementReader(view, dtype);
  for (let i = 0; i < size; i++) data[i] = read(dataStart + dtype.bytes * i);
  return new Tensor(header.shape, data);
}

export function writeNpy(t: Tensor): Uint8Array {
  const shape = t.dims;
  const shapeRepr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeRepr}, }`;
  if (shape.length > 0) dict += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  // magic(6) + version(2) + uint16 length(2) + dict + padding + '\n' is a multiple of HEADER_ALIGN.
  const unpadded = 10 + dict.length + 1;
  const padding = (HEADER_ALIGN - (unpadded % HEADER_ALIGN)) % HEADER_ALIGN;
  const header = dict + ' '.repeat(padding) + '\n';
  if (header.length > 0xffff) throw new Error(`.npy header too long for format 1.0 (${header.length} bytes)`);

  const out = new Uint8Array(10 + header.length + t.data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const dataStart = 10 + header.length;
  for (let i = 0; i < t.data.length; i++) view.setFloat32(dataStart + 4 * i, t.data[i], true);
  return out;
}

interface Dtype {
  kind: 'f' | 'i' | 'u' | 'b';
  bytes: 1 | 2 | 4 | 8;
  littleEndian: boolean;
}

const DESCR = /^([<>|=])([fiub])([1248])$/;

function parseDescr(descr: string): Dtype {
  const m = DESCR.exec(descr);
  const kind = m?.[2] as Dtype['kind'] | undefined;
  const bytes = Number(m?.[3]) as Dtype['bytes'];
  const ok = m && (kind === 'f' ? bytes >= 2 : kind === 'b' ? bytes === 1 : true);
  if (!ok || !kind) throw new Error(`Unsupported .npy dtype '${descr}' (supported: float16/32/64, int and uint of 1-8 bytes, bool)`);
  // '=' is native order; every platform FlowStudio runs on is little-endian, as np.save's '<'.
  return { kind, bytes, littleEndian: m[1] !== '>' };
}

/** Reads one element at a byte offset as a number (64-bit integers exactly up to 2^53). */
function elementReader(view: DataView, t: Dtype): (at: number) => number {
  const le = t.littleEndian;
  switch (`${t.kind}${t.bytes}`) {
    case 'f2':
      return (at) => halfToNumber(view.getUint16(at, le));
    case 'f4':
      return (at) => view.getFloat32(at, le);
    case 'f8':
      return (at) => view.getFloat64(at, le);
    case 'i1':
      return (at) => view.getInt8(at);
    case 'i2':
      return (at) => view.getInt16(at, le);
    case 'i4':
      return (at) => view.getInt32(at, le);
    case 'i8':
      return (at) => Number(view.getBigInt64(at, le));
    case 'u1':
    case 'b1':
      return (at) => view.getUint8(at);
    case 'u2':
      return (at) => view.getUint16(at, le);
    case 'u4':
      return (at) => view.getUint32(at, le);
    default:
      return (at) => Number(view.getBigUint64(at, le));
  }
}

/** IEEE 754 half-precision bits as a number. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Parses the header, a Python dict literal such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }. Only the literal forms numpy writes
 * are accepted (strings, True/False, tuples of ints); never evaluated.
 */
function parseHeader(text: string): NpyHeader {
  const fail = (why: string): never => {
    // A format 2.0 header may be gigabytes long: quote its start only.
    const shown = text.trim();
    throw new Error(`Bad .npy header (${why}): ${JSON.stringify(shown.slice(0, 200))}${shown.length > 200 ? ` (first 200 of ${shown.length} characters)` : ''}`);
  };
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const expect = (ch: string) => {
    skipSpace();
    if (text[i] !== ch) fail(`expected '${ch}' at offset ${i}`);
    i++;
  };
  const parseString = (): string => {
    skipSpace();
    const quote = text[i];
    if (quote !== "'" && quote !== '"') fail(`expected a string at offset ${i}`);
    const end = text.indexOf(quote, i + 1);
    if (end < 0) fail('unterminated string');
    const s = text.slice(i + 1, end);
    i = end + 1;
    return s;
  };
  const parseValue = (): string | boolean | number[] => {
    skipSpace();
    if (text[i] === "'" || text[i] === '"') return parseString();
    if (text.startsWith('True', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('False', i)) {
      i += 5;
      return false;
    }
    if (text[i] === '(') {
      i++;
      const dims: number[] = [];
      for (;;) {
        skipSpace();
        if (text[i] === ')') break;
        const m = /^(\d+)L?/.exec(text.slice(i));
        if (!m) fail(`expected a dimension at offset ${i}`);
        dims.push(Number(m![1]));
        i += m![0].length;
        skipSpace();
        if (text[i] === ',') i++;
        else if (text[i] !== ')') fail(`expected ',' or ')' at offset ${i}`);
      }
      i++;
      return dims;
    }
    return fail(`unexpected value at offset ${i}`);
  };

  expect('{');
  const fields = new Map<string, string | boolean | number[]>();
  for (;;) {
    skipSpace();
    if (text[i] === '}') break;
    const key = parseString();
    expect(':');
    fields.set(key, parseValue());
    skipSpace();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail(`expected ',' or '}' at offset ${i}`);
  }

  const descr = fields.get('descr');
  const fortranOrder = fields.get('fortran_order');
  const shape = fields.get('shape');
  if (typeof descr !== 'string') fail("missing or non-string 'descr'");
  if (typeof fortranOrder !== 'boolean') fail("missing or non-boolean 'fortran_order'");
  if (!Array.isArray(shape)) fail("missing or non-tuple 'shape'");
  for (const d of shape as number[]) if (!Number.isSafeInteger(d)) fail(`dimension ${d} is too large`);
  return { descr: descr as string, fortranOrder: fortranOrder as boolean, shape: shape as number[] };
}
