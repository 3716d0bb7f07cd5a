import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NpyWriter, decodeNpy, encodeNpy, readNpy, writeNpy } from '../../src/index.js';
import { gazeError } from '../../src/testing/index.js';

const root = mkdtempSync(join(tmpdir(), 'gaze-npy-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const NUMPY = spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

describe('.npy files', () => {
  it('writes the format numpy documents: magic, version 1.0, a 64-byte aligned header, C-order little-endian data', () => {
    const bytes = encodeNpy(Float32Array.from([1.5, -2, 3]), [3]);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const headerLength = bytes[8] + 256 * bytes[9];
    expect((10 + headerLength) % 64).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3,\), \} *\n$/);
    expect(Array.from(new Float32Array(bytes.slice(10 + headerLength).buffer))).toEqual([1.5, -2, 3]);
    const back = decodeNpy(bytes);
    expect(back.shape).toEqual([3]);
    expect(Array.from(back.data)).toEqual([1.5, -2, 3]);
  });

  it.skipIf(!NUMPY)('round-trips with numpy: numpy reads what Gaze writes, Gaze reads float64 / int64 / bool arrays numpy writes', async () => {
    await writeNpy(join(root, 'maps.npy'), Float32Array.from({ length: 24 }, (_, i) => i / 4), [2, 3, 4]);
    const check = spawnSync('/usr/bin/python3', ['-c', `
import numpy as np
a = np.load('${join(root, 'maps.npy')}')
assert a.dtype == np.float32 and a.shape == (2, 3, 4), (a.dtype, a.shape)
assert a[1, 2, 3] == 23 / 4
np.save('${join(root, 'f8.npy')}', np.arange(6, dtype=np.float64).reshape(2, 3) / 8)
np.save('${join(root, 'i8.npy')}', np.array([[-3, 2**40], [7, 0]], dtype=np.int64))
np.save('${join(root, 'b.npy')}', np.array([True, False, True]))
`], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    const f8 = await readNpy(join(root, 'f8.npy'));
    expect(f8.shape).toEqual([2, 3]);
    expect(Array.from(f8.data)).toEqual([0, 1, 2, 3, 4, 5].map((v) => v / 8));
    const i8 = await readNpy(join(root, 'i8.npy'));
    expect(Array.from(i8.data)).toEqual([-3, 0, 7, 0]); // 2**40 does not fit int32: Int32Array wraps it
    expect((await readNpy(join(root, 'b.npy'))).data).toEqual(Int32Array.from([1, 0, 1]));
  });

  it('NpyWriter streams items and writes the count it reached; nothing appears before close', async () => {
    const path = join(root, 'stream.npy');
    const writer = await NpyWriter.create(path, [2, 3], 1000);
    await writer.append(Float32Array.from({ length: 12 }, (_, i) => i));
    await writer.append(Float32Array.from({ length: 6 }, (_, i) => 100 + i));
    expect(() => readFileSync(path)).toThrow();
    await writer.close();
    const back = await readNpy(path);
    expect(back.shape).toEqual([3, 2, 3]);
    expect(Array.from(back.data.subarray(10, 14))).toEqual([10, 11, 100, 101]);
    // the header kept the length sized for 1000 items: still 64-aligned
    const bytes = readFileSync(path);
    expect((10 + bytes[8] + 256 * bytes[9]) % 64).toBe(0);
    if (NUMPY) {
      const check = spawnSync('/usr/bin/python3', ['-c', `import numpy as np; a = np.load('${path}'); assert a.shape == (3, 2, 3) and a.dtype == np.float32 and a[2, 0, 1] == 101, (a.shape, a.dtype)`], { encoding: 'utf8' });
      expect(check.stderr).toBe('');
      expect(check.status).toBe(0);
    }
  });

  it('rejects what it cannot read with the path and how to fix it', async () => {
    writeFileSync(join(root, 'bad.npy'), 'not numpy');
    expect((await gazeError(() => readNpy(join(root, 'bad.npy')))).message).toContain('no NumPy magic string');
    const full = encodeNpy(Float32Array.from([1, 2, 3, 4]), [2, 2]);
    writeFileSync(join(root, 'short.npy'), full.subarray(0, full.length - 4));
    const short = await gazeError(() => readNpy(join(root, 'short.npy')));
    expect(short.message).toContain('truncated');
    expect(short.hint).toContain('np.save');
    const fortran = new TextDecoder().decode(full).replace("'fortran_order': False", "'fortran_order': True ");
    writeFileSync(join(root, 'fortran.npy'), Buffer.concat([Buffer.from(full.subarray(0, 10)), Buffer.from(fortran.slice(10, 64), 'latin1'), Buffer.from(full.subarray(64))]));
    expect((await gazeError(() => readNpy(join(root, 'fortran.npy')))).message).toContain('Fortran order');
    expect(readFileSync(join(root, 'bad.npy'), 'utf8')).toBe('not numpy');
  });
});
