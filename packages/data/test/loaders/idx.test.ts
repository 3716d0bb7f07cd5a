import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { GazeError } from '@gaze/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { parseIdx, readIdxGz } from '../../src/index.js';

/** An IDX file: magic 0x0000_08_<rank>, big-endian uint32 sizes, then the bytes. */
function idx(dims: number[], data: number[], magic = 0x0800 + dims.length): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

function errorOf(f: () => unknown): GazeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(GazeError);
    return e as GazeError;
  }
  throw new Error('expected a GazeError');
}

const dir = mkdtempSync(join(tmpdir(), 'gaze-idx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseIdx', () => {
  it('reads a 3-d image array: big-endian sizes, row-major bytes', () => {
    const bytes = idx([2, 3, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]);
    expect(Array.from(bytes.subarray(0, 16))).toEqual([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2]);
    const { dims, data } = parseIdx(bytes, 'x.idx', 3);
    expect(dims).toEqual([2, 3, 2]);
    expect(Array.from(data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]);
    // Image 1, row 2, column 1 sits at 1*6 + 2*2 + 1 = 11.
    expect(data[11]).toBe(255);
  });

  it('reads a 1-d label array and sizes above 255 (all four size bytes count)', () => {
    expect(parseIdx(idx([4], [9, 0, 0, 3]), 'l.idx', 1)).toEqual({ dims: [4], data: new Uint8Array([9, 0, 0, 3]) });
    const long = Array.from({ length: 258 }, (_, i) => i % 7);
    const { dims, data } = parseIdx(idx([258], long), 'l.idx');
    expect(dims).toEqual([258]);
    expect(data[257]).toBe(257 % 7);
  });

  it('rejects a magic number of another element type, naming the file', () => {
    const e = errorOf(() => parseIdx(idx([2], [1, 2], 0x0c01), 'labels.idx', 1)); // 0x0C = int32
    expect(e.message).toBe('labels.idx is not a valid IDX file: magic number 0x00000c01 is not that of an unsigned-byte IDX array (expected 0x00000801)');
    expect(e.where).toBe('labels.idx');
  });

  it('rejects a file of the wrong rank, and gzip bytes given unpacked', () => {
    expect(errorOf(() => parseIdx(idx([2], [1, 2]), 'images.idx', 3)).message).toBe(
      'images.idx is not a valid IDX file: magic number 0x00000801 says 1 dimension(s) (expected 0x00000803)',
    );
    expect(errorOf(() => parseIdx(gzipSync(idx([2], [1, 2])), 'g.idx')).message).toMatch(/^g\.idx is not a valid IDX file: magic number 0x1f8b08/);
  });

  it('rejects truncated data, a truncated header and trailing bytes', () => {
    const full = idx([2, 2, 3], Array.from({ length: 12 }, (_, i) => i));
    expect(errorOf(() => parseIdx(full.subarray(0, full.length - 1), 'a.idx', 3)).message).toBe(
      'a.idx is not a valid IDX file: dimensions 2x2x3 need 12 data bytes, but 11 follow the header (truncated)',
    );
    expect(errorOf(() => parseIdx(full.subarray(0, 10), 'a.idx', 3)).message).toBe('a.idx is not a valid IDX file: truncated header: 10 bytes, the 3 dimension sizes need 16');
    expect(errorOf(() => parseIdx(full.subarray(0, 3), 'a.idx')).message).toBe('a.idx is not a valid IDX file: it is 3 bytes long, shorter than the 4-byte magic number');
    const extra = new Uint8Array(full.length + 2);
    extra.set(full);
    expect(errorOf(() => parseIdx(extra, 'a.idx', 3)).message).toBe('a.idx is not a valid IDX file: dimensions 2x2x3 need 12 data bytes, but 14 follow the header');
  });
});

describe('readIdxGz', () => {
  it('gunzips and parses a file', async () => {
    const path = join(dir, 'images-idx3-ubyte.gz');
    writeFileSync(path, gzipSync(idx([1, 2, 2], [10, 20, 30, 40])));
    const { dims, data } = await readIdxGz(path, 3);
    expect(dims).toEqual([1, 2, 2]);
    expect(Array.from(data)).toEqual([10, 20, 30, 40]);
  });

  it('reports a file that is not gzip, and a bad file inside a good gzip, by path', async () => {
    const plain = join(dir, 'plain.gz');
    writeFileSync(plain, idx([2], [1, 2]));
    const e1 = (await readIdxGz(plain, 1).catch((e: unknown) => e)) as GazeError;
    expect(e1).toBeInstanceOf(GazeError);
    expect(e1.where).toBe(plain);
    expect(e1.message).toMatch(new RegExp(`^${plain.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be decompressed: `));

    const cut = join(dir, 'cut.gz');
    writeFileSync(cut, gzipSync(idx([5], [1, 2, 3])));
    const e2 = (await readIdxGz(cut, 1).catch((e: unknown) => e)) as GazeError;
    expect(e2.message).toBe(`${cut} is not a valid IDX file: dimensions 5 need 5 data bytes, but 3 follow the header (truncated)`);
  });
});
