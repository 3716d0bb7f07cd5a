import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { GazeError, initBackend } from '@gaze/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataset, DEFAULT_FASHION_MNIST_DIR, disposeBatch, FASHION_MNIST_FILES } from '../../src/index.js';

// Real-data tests run where the Debian package is installed, and must run (and fail without the
// files) where CI asks for the dataset through GAZE_REQUIRE_DATASETS.
const available = Object.values(FASHION_MNIST_FILES).every((f) => existsSync(join(DEFAULT_FASHION_MNIST_DIR, f)));
const required = (process.env.GAZE_REQUIRE_DATASETS ?? '').includes('fashion-mnist');
const realData = available || required;

function idxGz(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(0x0800 + dims.length, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return gzipSync(Buffer.concat([header, data]));
}

/** Image k: pixel 0 is 51k, pixel 100 + k is 255, the rest black. */
function images(n: number): Uint8Array {
  const data = new Uint8Array(n * 784);
  for (let k = 0; k < n; k++) {
    data[k * 784] = 51 * k;
    data[k * 784 + 100 + k] = 255;
  }
  return data;
}

const root = mkdtempSync(join(tmpdir(), 'gaze-fmnist-'));
const fixture = join(root, 'fm');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function writeFixture(dir: string, trainLabels = [3, 1, 4, 1, 5, 9], testLabels = [2, 6], trainImages = trainLabels.length): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, FASHION_MNIST_FILES.trainImages), idxGz([trainImages, 28, 28], images(trainImages)));
  writeFileSync(join(dir, FASHION_MNIST_FILES.trainLabels), idxGz([trainLabels.length], new Uint8Array(trainLabels)));
  writeFileSync(join(dir, FASHION_MNIST_FILES.testImages), idxGz([testLabels.length, 28, 28], images(testLabels.length)));
  writeFileSync(join(dir, FASHION_MNIST_FILES.testLabels), idxGz([testLabels.length], new Uint8Array(testLabels)));
}

beforeAll(async () => {
  await initBackend('wasm');
  writeFixture(fixture);
});

describe('fashion-mnist on a hand-built fixture', () => {
  it('splits the train file into train and the last valSize as val; resolves dir against baseDir', async () => {
    const ds = await createDataset({ type: 'fashion-mnist', dir: 'fm', valSize: 2 }, { baseDir: root });
    expect(ds.info).toMatchObject({ type: 'fashion-mnist', imageShape: [28, 28, 1], sizes: { train: 4, val: 2, test: 2 }, source: fixture, numClasses: 10 });
    expect(ds.info.has).toEqual({ masks: false, boxes: false, attributes: false, multiLabel: false });
    const labels = (s: 'train' | 'val' | 'test') => Array.from({ length: ds.info.sizes[s] }, (_, i) => ds.split(s).label(i));
    expect([labels('train'), labels('val'), labels('test')]).toEqual([[3, 1, 4, 1], [5, 9], [2, 6]]);

    const v = await ds.split('val').item(1); // file example 5
    expect(v).toMatchObject({ id: 'fashion-mnist/val/1', height: 28, width: 28, channels: 1, label: 9 });
    expect(v.image[0]).toBe(Math.fround(255 / 255));
    expect(v.image[105]).toBe(1);
    expect(v.image.reduce((a, b) => a + b, 0)).toBeCloseTo(2, 6);
    const t = await ds.split('train').item(2);
    expect(t.image[0]).toBe(Math.fround(102 / 255));
    expect(t.image[102]).toBe(1);
  });

  it('replicates grey over 3 channels and caps splits with limit', async () => {
    const ds = await createDataset({ type: 'fashion-mnist', dir: fixture, valSize: 2, channels: 3, limit: { train: 3, test: 1 } });
    expect(ds.info.imageShape).toEqual([28, 28, 3]);
    expect(ds.info.sizes).toEqual({ train: 3, val: 2, test: 1 });
    const item = await ds.split('train').item(1);
    expect(item.image.length).toBe(784 * 3);
    expect(Array.from(item.image.subarray(0, 3))).toEqual([0.2, 0.2, 0.2].map(Math.fround));
    expect(Array.from(item.image.subarray(101 * 3, 102 * 3))).toEqual([1, 1, 1]);
    expect(() => ds.split('test').item(1)).toThrow(/out of range: the test split has 1/);
  });

  it('batches to [B,28,28,1] with int32 labels', async () => {
    const ds = await createDataset({ type: 'fashion-mnist', dir: fixture, valSize: 2 });
    const labels: number[] = [];
    for await (const b of ds.split('train').batches({ batchSize: 3 })) {
      expect(b.images.shape.slice(1)).toEqual([28, 28, 1]);
      labels.push(...b.labels.dataSync());
      disposeBatch(b);
    }
    expect(labels).toEqual([3, 1, 4, 1]);
  });
});

describe('fashion-mnist errors', () => {
  it('says which files it looked for where, and how to get them', async () => {
    const empty = mkdtempSync(join(root, 'empty-'));
    const e = (await createDataset({ type: 'fashion-mnist', dir: empty }).catch((x: unknown) => x)) as GazeError;
    expect(e).toBeInstanceOf(GazeError);
    expect(e.format()).toBe(
      `dataset.dir: Fashion-MNIST not found: looked for train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz in ${empty}; ` +
        'missing train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz\n' +
        '  hint: install it with `sudo apt-get install dataset-fashion-mnist` (into /usr/share/datasets/fashion-mnist), or set dataset.dir to a directory holding the four files',
    );
    writeFileSync(join(empty, FASHION_MNIST_FILES.testLabels), 'x');
    writeFileSync(join(empty, FASHION_MNIST_FILES.trainLabels), 'x');
    const partial = (await createDataset({ type: 'fashion-mnist', dir: empty }).catch((x: unknown) => x)) as GazeError;
    expect(partial.message).toMatch(/; missing train-images-idx3-ubyte\.gz, t10k-images-idx3-ubyte\.gz$/);
  });

  it('rejects images and labels files that disagree, when the images are first read', async () => {
    const dir = join(root, 'mismatch');
    writeFixture(dir, [0, 1, 2, 3], [0, 1], 5);
    const ds = await createDataset({ type: 'fashion-mnist', dir, valSize: 1 });
    const e = (await ds.split('train').item(0).catch((x: unknown) => x)) as GazeError;
    expect(e).toBeInstanceOf(GazeError);
    expect(e.message).toBe(`${join(dir, FASHION_MNIST_FILES.trainImages)} holds 5x28x28 images, but its labels file has 4 labels and Fashion-MNIST images are 28x28`);
  });

  it('rejects out-of-range labels and a valSize that leaves no train examples', async () => {
    const dir = join(root, 'badlabel');
    writeFixture(dir, [0, 1, 10, 3]);
    const e = (await createDataset({ type: 'fashion-mnist', dir, valSize: 1 }).catch((x: unknown) => x)) as GazeError;
    expect(e.message).toBe('label 2 is 10, but Fashion-MNIST has classes 0..9');
    expect(e.where).toBe(join(dir, FASHION_MNIST_FILES.trainLabels));
    const v = (await createDataset({ type: 'fashion-mnist', dir: fixture, valSize: 6 }).catch((x: unknown) => x)) as GazeError;
    expect(v.format()).toBe('dataset.valSize: valSize 6 leaves no train examples: the train file has 6\n  hint: use at most 5');
  });

  it('names a bad config key', async () => {
    const e = (await createDataset({ type: 'fashion-mnist', channels: 2 }).catch((x: unknown) => x)) as GazeError;
    expect(e.where).toBe('dataset.channels');
  });
});

describe('fashion-mnist, the real files', () => {
  it.skipIf(!realData)('has 55000/5000/10000 examples and the release labels in order', async () => {
    const ds = await createDataset({ type: 'fashion-mnist' });
    expect(ds.info.sizes).toEqual({ train: 55000, val: 5000, test: 10000 });
    expect(ds.info.classNames).toEqual(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
    const train = ds.split('train');
    expect([0, 1, 2, 3, 4].map((i) => train.label(i))).toEqual([9, 0, 0, 3, 0]);
    expect([0, 1, 2, 3, 4].map((i) => ds.split('test').label(i))).toEqual([9, 2, 1, 1, 6]);
    // The val split starts at file example 55000 (label 0) and ends with the file's last (3, 0, 5).
    expect(ds.split('val').label(0)).toBe(0);
    expect([4997, 4998, 4999].map((i) => ds.split('val').label(i))).toEqual([3, 0, 5]);
  });

  it.skipIf(!realData)('decodes the first train image: an ankle boot, 28x28 in [0,1]', async () => {
    const ds = await createDataset({ type: 'fashion-mnist', limit: { train: 10 } });
    const item = await ds.split('train').item(0);
    expect(item).toMatchObject({ id: 'fashion-mnist/train/0', height: 28, width: 28, channels: 1, label: 9 });
    const pixels = Array.from(item.image);
    expect(Math.min(...pixels)).toBe(0);
    expect(Math.max(...pixels)).toBe(1);
    // Reference values from Python's gzip on the same file: 433 non-zero bytes summing to 76247.
    expect(pixels.filter((v) => v > 0)).toHaveLength(433);
    expect(pixels.reduce((a, b) => a + b, 0)).toBeCloseTo(76247 / 255, 3);
    expect(pixels.slice(14 * 28, 14 * 28 + 14).map((v) => Math.round(v * 255))).toEqual([0, 0, 1, 4, 6, 7, 2, 0, 0, 0, 0, 0, 237, 226]);
  });
});
