import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GazeError } from '../errors.js';
import { siblingName, withPath, writeFileAtomic } from './atomic-write.js';

/**
 * NumPy's .npy format (version 1.0/2.0/3.0): a magic string, a header that is a Python dict
 * literal (`descr`, `fortran_order`, `shape`), then the raw little-endian values. Gaze writes
 * float32 and int32 arrays and reads the numeric dtypes numpy users hand it.
 */
export interface NpyArray {
  /** numpy dtype string as read (`<f4`, `<i8`, ...). */
  dtype: string;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array;
}

const MAGIC = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

/**
 * The magic, version and header of a C-order array, padded with spaces so the data starts at a
 * multiple of 64 (numpy's alignment), or at `length` bytes when given (room to rewrite the shape).
 */
function npyHeader(descr: string, shape: readonly number[], length?: number): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = length ?? Math.ceil((MAGIC.length + 4 + dict.length + 1) / 64) * 64;
  const padding = total - (MAGIC.length + 4 + dict.length + 1);
  if (padding < 0) throw new Error(`npy: a header of ${total} bytes cannot hold ${dict}`);
  const text = dict + ' '.repeat(padding) + '\n';
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, text.length, true);
  out.set(new TextEncoder().encode(text), 10);
  return out;
}

/** Bytes for an array: header padded so the data starts at a multiple of 64 (numpy's alignment). */
export function encodeNpy(data: Float32Array | Int32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`npy: shape [${shape.join(',')}] needs ${count} values, got ${data.length}`);
  const header = npyHeader(data instanceof Float32Array ? '<f4' : '<i4', shape);
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header, 0);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.length);
  return out;
}

/**
 * Writes a float32 array [N, ...item] item by item, for outputs too large to hold (a folder's
 * maps). The file appears at `path` only on `close()`, with N the items appended so far, so an
 * interrupted run still leaves a readable array of what it finished.
 */
export class NpyWriter {
  private count = 0;
  private constructor(
    private readonly handle: FileHandle,
    private readonly tmp: string,
    readonly path: string,
    readonly itemShape: readonly number[],
    private readonly headerLength: number,
  ) {}

  static async create(path: string, itemShape: readonly number[], capacity: number): Promise<NpyWriter> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = siblingName(path, 'tmp');
    const handle = await open(tmp, 'w');
    // Sized for the largest count, so the final header (a smaller N at most) fits the same bytes.
    const header = npyHeader('<f4', [capacity, ...itemShape]);
    await handle.write(header, 0, header.length, 0);
    return new NpyWriter(handle, tmp, path, itemShape, header.length);
  }

  /** Appends whole items (a multiple of the item size). */
  async append(data: Float32Array): Promise<void> {
    const item = this.itemShape.reduce((a, b) => a * b, 1);
    if (data.length % item !== 0) throw new Error(`npy: ${data.length} values are not whole items of [${this.itemShape.join(',')}]`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    await this.handle.write(bytes, 0, bytes.length, this.headerLength + this.count * item * 4).catch((error: unknown) => {
      throw withPath(error, this.path);
    });
    this.count += data.length / item;
  }

  get items(): number {
    return this.count;
  }

  /** Writes the header with the final count and moves the file into place. */
  async close(): Promise<void> {
    const header = npyHeader('<f4', [this.count, ...this.itemShape], this.headerLength);
    await this.handle.write(header, 0, header.length, 0);
    await this.handle.sync();
    await this.handle.close();
    await rename(this.tmp, this.path);
  }

  /** Drops the file (nothing appears at `path`). */
  async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}

export async function writeNpy(path: string, data: Float32Array | Int32Array, shape: readonly number[]): Promise<void> {
  await writeFileAtomic(path, encodeNpy(data, shape));
}

function fail(path: string, why: string): GazeError {
  return new GazeError(`${path} is not a .npy array Gaze can read: ${why}`, { where: path, hint: "save it with numpy: np.save(path, x.astype('float32')) (C order)" });
}

/** Parses .npy bytes; floats come back as Float32Array (float64 as Float64Array), integers as Int32Array. */
export function decodeNpy(bytes: Uint8Array, path = 'array'): NpyArray {
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) throw fail(path, 'no NumPy magic string at the start');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw fail(path, `unreadable header ${header.trim()}`);
  if (fortran === 'True') throw fail(path, 'it is in Fortran order');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLength;
  const kind = descr.replace(/^[<=|]/, '');
  if (descr.startsWith('>')) throw fail(path, 'it is big-endian');
  const widths: Record<string, number> = { f4: 4, f8: 8, f2: 2, i1: 1, u1: 1, i2: 2, u2: 2, i4: 4, u4: 4, i8: 8, u8: 8, b1: 1 };
  const width = widths[kind];
  if (width === undefined) throw fail(path, `dtype ${descr} is not numeric`);
  if (bytes.length - offset < count * width) throw fail(path, `it holds ${bytes.length - offset} data bytes, the shape needs ${count * width} (truncated?)`);
  const at = (i: number) => offset + i * width;
  const read = (i: number): number => {
    switch (kind) {
      case 'f2': return halfToFloat(view.getUint16(at(i), true));
      case 'i1': return view.getInt8(at(i));
      case 'u1': case 'b1': return view.getUint8(at(i));
      case 'i2': return view.getInt16(at(i), true);
      case 'u2': return view.getUint16(at(i), true);
      case 'i4': return view.getInt32(at(i), true);
      case 'u4': return view.getUint32(at(i), true);
      case 'i8': return Number(view.getBigInt64(at(i), true));
      case 'u8': return Number(view.getBigUint64(at(i), true));
      default: return view.getFloat64(at(i), true);
    }
  };
  let data: Float32Array | Float64Array | Int32Array;
  if (kind === 'f4') {
    data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(offset, offset + count * 4));
  } else if (kind === 'f8') {
    data = Float64Array.from({ length: count }, (_, i) => read(i));
  } else if (kind === 'f2') {
    data = Float32Array.from({ length: count }, (_, i) => read(i));
  } else {
    data = Int32Array.from({ length: count }, (_, i) => read(i));
  }
  return { dtype: descr, shape, data };
}

export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new GazeError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { where: path, hint: 'check the path' });
  }
  return decodeNpy(bytes, path);
}

/** An IEEE 754 half-precision bit pattern as a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
