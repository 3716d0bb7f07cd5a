import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { GazeError } from '@gaze/engine';
import { z } from 'zod';
import { commonDatasetKeys, pipelineFor, registerDataset, type DatasetContext, type DatasetFactory } from '../registry.js';
import { datasetFromSources, type ItemSource } from '../split.js';
import { SPLIT_NAMES, type Dataset, type DatasetInfo, type Item, type SplitName } from '../types.js';
import { readIdxGz, type IdxArray } from './idx.js';

/** Where the Debian package `dataset-fashion-mnist` installs the files. */
export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The four files of the original release, by role. */
export const FASHION_MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
} as const;

/** Label order of the release (github.com/zalandoresearch/fashion-mnist, "Labels"). */
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

const SIDE = 28;

const SplitLimits = z.strictObject({ train: z.int().positive().optional(), val: z.int().positive().optional(), test: z.int().positive().optional() });

export const FashionMnistConfig = z.strictObject({
  /** Directory holding the four gzipped IDX files; relative paths resolve against the config's directory. */
  dir: z.string().min(1).default(DEFAULT_FASHION_MNIST_DIR),
  /** The last `valSize` examples of the train file form `val`; the rest is `train`. */
  valSize: z.int().min(1).max(59_999).default(5000),
  /** 1 (grey) or 3 (grey replicated, for RGB backbones). */
  channels: z.union([z.literal(1), z.literal(3)]).default(1),
  /** Keep only the first N examples of a split (quick runs). */
  limit: SplitLimits.default({}),
  ...commonDatasetKeys,
});
export type FashionMnistConfig = z.infer<typeof FashionMnistConfig>;

function missingFilesError(dir: string, missing: string[], where: string): GazeError {
  const all = Object.values(FASHION_MNIST_FILES);
  return new GazeError(`Fashion-MNIST not found: looked for ${all.join(', ')} in ${dir}; missing ${missing.join(', ')}`, {
    where: `${where}.dir`,
    hint: `install it with \`sudo apt-get install dataset-fashion-mnist\` (into ${DEFAULT_FASHION_MNIST_DIR}), or set ${where}.dir to a directory holding the four files`,
  });
}

/** Both halves of the release with their labels; images decode on first use, once. */
function lazyFiles(dir: string, trainLabels: IdxArray, testLabels: IdxArray) {
  const images: Partial<Record<'train' | 'test', Promise<Uint8Array>>> = {};
  const load = async (file: string, labels: IdxArray): Promise<Uint8Array> => {
    const path = resolve(dir, file);
    const { dims, data } = await readIdxGz(path, 3);
    if (dims[0] !== labels.dims[0] || dims[1] !== SIDE || dims[2] !== SIDE) {
      throw new GazeError(`${path} holds ${dims.join('x')} images, but its labels file has ${labels.dims[0]} labels and Fashion-MNIST images are ${SIDE}x${SIDE}`, {
        where: path,
        hint: 'the images and labels files come from different releases, or one is damaged; reinstall them',
      });
    }
    return data;
  };
  return {
    train: () => (images.train ??= load(FASHION_MNIST_FILES.trainImages, trainLabels)),
    test: () => (images.test ??= load(FASHION_MNIST_FILES.testImages, testLabels)),
  };
}

/** v / 255 for every byte value, as float32: a lookup instead of a division per pixel. */
const UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** One example as HWC float32 in [0,1], grey replicated over `channels`. */
function toItem(id: string, pixels: Uint8Array, offset: number, label: number, channels: number): Item {
  const n = SIDE * SIDE;
  const image = new Float32Array(n * channels);
  if (channels === 1) {
    for (let p = 0; p < n; p++) image[p] = UNIT[pixels[offset + p]];
  } else {
    for (let p = 0, o = 0; p < n; p++, o += channels) {
      const v = UNIT[pixels[offset + p]];
      for (let c = 0; c < channels; c++) image[o + c] = v;
    }
  }
  return { id, height: SIDE, width: SIDE, channels, image, label };
}

export const fashionMnistDataset: DatasetFactory<FashionMnistConfig> = {
  type: 'fashion-mnist',
  describe: 'Fashion-MNIST (Zalando, MIT): 28x28 grey clothing images, 10 classes; labels only, no masks or boxes',
  configSchema: FashionMnistConfig,
  async create(config, context: DatasetContext): Promise<Dataset> {
    const dir = resolve(context.baseDir, config.dir);
    const missing = Object.values(FASHION_MNIST_FILES).filter((f) => !existsSync(resolve(dir, f)));
    if (missing.length > 0) throw missingFilesError(dir, missing, context.where);

    // Labels are small (70 KB unpacked): read now, so sizes and `label(i)` need no images.
    const trainLabels = await readIdxGz(resolve(dir, FASHION_MNIST_FILES.trainLabels), 1);
    const testLabels = await readIdxGz(resolve(dir, FASHION_MNIST_FILES.testLabels), 1);
    for (const [file, labels] of [[FASHION_MNIST_FILES.trainLabels, trainLabels], [FASHION_MNIST_FILES.testLabels, testLabels]] as const) {
      const bad = labels.data.findIndex((l) => l >= FASHION_MNIST_CLASSES.length);
      if (bad >= 0) throw new GazeError(`label ${bad} is ${labels.data[bad]}, but Fashion-MNIST has classes 0..9`, { where: resolve(dir, file), hint: 'the file is damaged or not Fashion-MNIST; reinstall it' });
    }
    const trainCount = trainLabels.dims[0];
    if (config.valSize >= trainCount) {
      throw new GazeError(`valSize ${config.valSize} leaves no train examples: the train file has ${trainCount}`, { where: `${context.where}.valSize`, hint: `use at most ${trainCount - 1}` });
    }
    const images = lazyFiles(dir, trainLabels, testLabels);
    // Each split is a window [start, start + size) of one file.
    const windows: Record<SplitName, { file: 'train' | 'test'; labels: Uint8Array; start: number; size: number }> = {
      train: { file: 'train', labels: trainLabels.data, start: 0, size: trainCount - config.valSize },
      val: { file: 'train', labels: trainLabels.data, start: trainCount - config.valSize, size: config.valSize },
      test: { file: 'test', labels: testLabels.data, start: 0, size: testLabels.dims[0] },
    };
    for (const name of SPLIT_NAMES) windows[name].size = Math.min(windows[name].size, config.limit[name] ?? Infinity);

    const { pipeline, imageShape } = pipelineFor(config, [SIDE, SIDE, config.channels], context.where);
    const info: DatasetInfo = {
      type: 'fashion-mnist',
      classNames: [...FASHION_MNIST_CLASSES],
      numClasses: FASHION_MNIST_CLASSES.length,
      imageShape,
      has: { masks: false, boxes: false, attributes: false, multiLabel: false },
      sizes: { train: windows.train.size, val: windows.val.size, test: windows.test.size },
      source: dir,
    };
    return datasetFromSources(info, pipeline, (name): ItemSource => {
      const w = windows[name];
      return {
        size: w.size,
        label: (i) => w.labels[w.start + i],
        read: async (i) => toItem(`fashion-mnist/${name}/${i}`, await images[w.file](), (w.start + i) * SIDE * SIDE, w.labels[w.start + i], config.channels),
      };
    });
  },
};

registerDataset(fashionMnistDataset);
