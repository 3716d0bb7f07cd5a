import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KNOWN_DATASETS, probeDatasets } from '../src/index.js';

describe('probeDatasets', () => {
  it('finds complete copies, names the files a partial copy lacks, and gives the install command', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gaze-ds-'));
    const files = ['a.gz', 'b.gz'];
    await mkdir(join(root, 'full'));
    await mkdir(join(root, 'partial'));
    for (const f of files) await writeFile(join(root, 'full', f), '');
    await writeFile(join(root, 'partial', 'a.gz'), '');
    const [full, partial, missing] = probeDatasets([
      { name: 'x', dirs: [join(root, 'none'), join(root, 'full')], files, install: 'apt-get install x' },
      { name: 'y', dirs: [join(root, 'partial')], files, install: 'apt-get install y' },
      { name: 'z', dirs: [join(root, 'none')], files, install: 'apt-get install z' },
    ]);
    expect(full).toMatchObject({ name: 'x', found: join(root, 'full'), missing: [] });
    expect(partial).toMatchObject({ name: 'y', found: null, missing: ['b.gz'] });
    expect(missing).toMatchObject({ name: 'z', found: null, missing: [], lookedIn: [join(root, 'none')], install: 'apt-get install z' });
  });
});

describe('KNOWN_DATASETS', () => {
  it('looks for the four Fashion-MNIST files where the Debian package puts them', () => {
    expect(KNOWN_DATASETS[0]).toEqual({
      name: 'fashion-mnist',
      dirs: ['/usr/share/datasets/fashion-mnist'],
      files: ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
      install: 'apt-get install dataset-fashion-mnist',
    });
  });
});
