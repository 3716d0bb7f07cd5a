import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { GazeError } from '@gaze/engine';

/** An unsigned-byte IDX array (the MNIST file format): its dimensions and row-major data. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** The third magic byte of an IDX file whose elements are unsigned bytes. */
const IDX_UBYTE = 0x08;

/**
 * Parses an IDX file (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"): a big-endian
 * magic 0x0000_08_<ndims>, then ndims uint32 sizes, then the elements. Only unsigned bytes are
 * supported (magic 0x00000801 for labels, 0x00000803 for images). `file` names the file in
 * errors; `ndims`, when given, is the number of dimensions the caller expects.
 */
export function parseIdx(bytes: Uint8Array, file: string, ndims?: number): IdxArray {
  const bad = (why: string) => new GazeError(`${file} is not a valid IDX file: ${why}`, { where: file, hint: 'the file is damaged or of another kind; reinstall or re-download it' });
  if (bytes.length < 4) throw bad(`it is ${bytes.length} bytes long, shorter than the 4-byte magic number`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const want = ndims === undefined ? '' : ` (expected 0x${(0x800 + ndims).toString(16).padStart(8, '0')})`;
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== IDX_UBYTE || bytes[3] === 0) {
    throw bad(`magic number 0x${magic.toString(16).padStart(8, '0')} is not that of an unsigned-byte IDX array${want}`);
  }
  const rank = bytes[3];
  if (ndims !== undefined && rank !== ndims) throw bad(`magic number 0x${magic.toString(16).padStart(8, '0')} says ${rank} dimension(s)${want}`);
  const header = 4 + 4 * rank;
  if (bytes.length < header) throw bad(`truncated header: ${bytes.length} bytes, the ${rank} dimension sizes need ${header}`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const body = bytes.length - header;
  if (body !== count) {
    throw bad(`dimensions ${dims.join('x')} need ${count} data bytes, but ${body} follow the header${body < count ? ' (truncated)' : ''}`);
  }
  return { dims, data: bytes.subarray(header) };
}

/** Reads and parses a gzipped IDX file (`*-ubyte.gz`). */
export async function readIdxGz(path: string, ndims?: number): Promise<IdxArray> {
  const packed = await readFile(path);
  let bytes: Uint8Array;
  try {
    // 1 MiB output chunks: zlib's default 16 KiB made inflating the 47 MB train images 2.4x slower.
    bytes = await promisify(gunzip)(packed, { chunkSize: 1 << 20 });
  } catch (e) {
    throw new GazeError(`${path} cannot be decompressed: ${(e as Error).message}`, { where: path, hint: 'the file should be gzip-compressed; it is damaged or incomplete, so reinstall or re-download it', cause: e });
  }
  return parseIdx(bytes, path, ndims);
}
