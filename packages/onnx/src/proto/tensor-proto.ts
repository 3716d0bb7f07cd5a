import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { GazeError, halfToFloat, pathInside } from '@gaze/engine';
import type { onnx } from 'onnx-proto';
import { sizeOf, type HostDtype, type HostTensor } from '../runtime/host-tensor.js';

/** ONNX TensorProto.DataType codes. */
export const DATA_TYPE = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16,
} as const;

const DATA_TYPE_NAMES = Object.fromEntries(Object.entries(DATA_TYPE).map(([k, v]) => [v, k.toLowerCase()])) as Record<number, string>;

export function dataTypeName(code: number): string {
  return DATA_TYPE_NAMES[code] ?? `type ${code}`;
}

/** The host dtype an ONNX element type is held as (floats of every width become float32). */
export function hostDtypeOf(code: number): HostDtype | undefined {
  switch (code) {
    case DATA_TYPE.FLOAT:
    case DATA_TYPE.DOUBLE:
    case DATA_TYPE.FLOAT16:
    case DATA_TYPE.BFLOAT16:
      return 'float32';
    case DATA_TYPE.INT64:
    case DATA_TYPE.UINT64:
    case DATA_TYPE.UINT32:
      return 'int64';
    case DATA_TYPE.INT32:
    case DATA_TYPE.INT16:
    case DATA_TYPE.UINT16:
    case DATA_TYPE.INT8:
    case DATA_TYPE.UINT8:
      return 'int32';
    case DATA_TYPE.BOOL:
      return 'bool';
    default:
      return undefined;
  }
}

/** bfloat16 bits as a number: the top half of a float32's bits (a scratch word, not an array per value). */
const bfloatScratch = new Uint32Array(1);
const bfloatView = new Float32Array(bfloatScratch.buffer);
function bfloatToFloat(bits: number): number {
  bfloatScratch[0] = bits << 16;
  return bfloatView[0];
}

/** A protobuf int64 (a number or a long.js Long) as a JS number. */
export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** Little-endian raw bytes of `count` elements of `code` as numbers. */
function decodeRaw(bytes: Uint8Array, code: number, count: number): Float32Array | Float64Array {
  // Copy to an aligned buffer: the bytes sit at any offset inside the file.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = rawWidth(code);
  if (bytes.byteLength < count * width) throw new RangeError(`${bytes.byteLength} bytes for ${count} elements of ${dataTypeName(code)}`);
  if (code === DATA_TYPE.FLOAT) {
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4));
    return out;
  }
  const floats = hostDtypeOf(code) === 'float32';
  const out = floats ? new Float32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * width;
    switch (code) {
      case DATA_TYPE.DOUBLE: out[i] = view.getFloat64(o, true); break;
      case DATA_TYPE.FLOAT16: out[i] = halfToFloat(view.getUint16(o, true)); break;
      case DATA_TYPE.BFLOAT16: out[i] = bfloatToFloat(view.getUint16(o, true)); break;
      case DATA_TYPE.INT64: out[i] = Number(view.getBigInt64(o, true)); break;
      case DATA_TYPE.UINT64: out[i] = Number(view.getBigUint64(o, true)); break;
      case DATA_TYPE.INT32: out[i] = view.getInt32(o, true); break;
      case DATA_TYPE.UINT32: out[i] = view.getUint32(o, true); break;
      case DATA_TYPE.INT16: out[i] = view.getInt16(o, true); break;
      case DATA_TYPE.UINT16: out[i] = view.getUint16(o, true); break;
      case DATA_TYPE.INT8: out[i] = view.getInt8(o); break;
      case DATA_TYPE.UINT8: case DATA_TYPE.BOOL: out[i] = view.getUint8(o); break;
    }
  }
  return out;
}

function rawWidth(code: number): number {
  switch (code) {
    case DATA_TYPE.DOUBLE: case DATA_TYPE.INT64: case DATA_TYPE.UINT64: return 8;
    case DATA_TYPE.FLOAT: case DATA_TYPE.INT32: case DATA_TYPE.UINT32: return 4;
    case DATA_TYPE.FLOAT16: case DATA_TYPE.BFLOAT16: case DATA_TYPE.INT16: case DATA_TYPE.UINT16: return 2;
    default: return 1;
  }
}

/** Reads tensors stored beside the model (ONNX external data), only from inside its directory. */
export class ExternalData {
  private readonly files = new Map<string, number>();
  private readonly readLocations = new Set<string>();

  constructor(
    /** The directory of the .onnx file: external locations are relative to it. */
    readonly dir: string,
    readonly modelFile: string,
  ) {}

  read(tensorName: string, entries: onnx.IStringStringEntryProto[], byteLength: number): Uint8Array {
    const fields = new Map(entries.map((e) => [e.key ?? '', e.value ?? '']));
    const location = fields.get('location');
    if (!location) throw new GazeError(`tensor '${tensorName}' is stored outside ${this.modelFile} but names no location`, { where: this.modelFile, hint: 're-export the model, or save it with onnx.save(model, path, save_as_external_data=True)' });
    const path = pathInside(this.dir, location, `the external data of tensor '${tensorName}'`, this.modelFile);
    if (!existsSync(path)) {
      throw new GazeError(`the external data file '${location}' of tensor '${tensorName}' is missing (looked for ${path})`, {
        where: this.modelFile,
        hint: 'copy the data file(s) saved with the model next to the .onnx file; a model over 2 GB keeps its weights there',
      });
    }
    this.readLocations.add(location);
    let fd = this.files.get(path);
    if (fd === undefined) {
      fd = openSync(path, 'r');
      this.files.set(path, fd);
    }
    const offset = Number(fields.get('offset') ?? '0');
    const length = fields.has('length') ? Number(fields.get('length')) : byteLength;
    const fileSize = fstatSync(fd).size;
    if (!Number.isFinite(offset) || !Number.isFinite(length) || offset < 0 || offset + length > fileSize || length < byteLength) {
      throw new GazeError(`tensor '${tensorName}' needs bytes ${offset}..${offset + Math.max(length, byteLength)} of '${location}', which has ${fileSize}`, {
        where: this.modelFile,
        hint: 'the external data file is truncated or belongs to another model; copy it again from where the model was saved',
      });
    }
    const bytes = new Uint8Array(byteLength);
    let done = 0;
    while (done < byteLength) {
      const n = readSync(fd, bytes, done, byteLength - done, offset + done);
      if (n <= 0) break;
      done += n;
    }
    return bytes;
  }

  /** The locations read so far, as the model names them. */
  locations(): string[] {
    return [...this.readLocations];
  }

  close(): void {
    for (const fd of this.files.values()) closeSync(fd);
    this.files.clear();
  }
}

/** A TensorProto (initializer or Constant attribute) as a host tensor; undefined for element types Gaze does not compute with. */
export function decodeTensor(t: onnx.ITensorProto, external: ExternalData | undefined, where: string): HostTensor | undefined {
  const code = t.dataType ?? 0;
  const dtype = hostDtypeOf(code);
  if (!dtype) return undefined;
  const shape = (t.dims ?? []).map(toNumber);
  const count = sizeOf(shape);
  const name = t.name ?? '';
  let data: Float32Array | Float64Array;
  try {
    if (t.dataLocation === 1) {
      if (!external) throw new GazeError(`tensor '${name}' is stored in external data, which a tensor attribute cannot be`, { where });
      data = decodeRaw(external.read(name, t.externalData ?? [], count * rawWidth(code)), code, count);
    } else if (t.rawData && t.rawData.length > 0) {
      data = decodeRaw(t.rawData, code, count);
    } else {
      const fields = code === DATA_TYPE.FLOAT ? t.floatData : code === DATA_TYPE.DOUBLE ? t.doubleData : code === DATA_TYPE.INT64 ? t.int64Data : code === DATA_TYPE.UINT64 || code === DATA_TYPE.UINT32 ? t.uint64Data : t.int32Data;
      const values = (fields ?? []) as (number | { toNumber(): number })[];
      if (values.length !== count) throw new RangeError(`${values.length} values for a [${shape.join(',')}] tensor`);
      const out = dtype === 'float32' ? new Float32Array(count) : new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const v = toNumber(values[i]);
        out[i] = code === DATA_TYPE.FLOAT16 ? halfToFloat(v) : code === DATA_TYPE.BFLOAT16 ? bfloatToFloat(v) : v;
      }
      data = out;
    }
  } catch (error) {
    if (error instanceof GazeError) throw error;
    throw new GazeError(`tensor '${name}' (${dataTypeName(code)} [${shape.join(',')}]) has the wrong amount of data: ${(error as Error).message}`, {
      where,
      hint: 'the file is truncated or damaged; export the model again',
    });
  }
  return { dtype, shape, data };
}
