import { existsSync } from 'node:fs';
import { createDataset, datasetTypes, disposeBatch, type SplitName } from '@gaze/data';
import { initBackend } from '@gaze/engine';

/**
 * Loader throughput: images/s through `split.batches()` (reading, decoding, transforms and
 * building the batch tensors), per loader, on whatever data this machine has.
 */

interface LoaderCase {
  name: string;
  config: { type: string } & Record<string, unknown>;
  split: SplitName;
  /** Why it cannot run here, or null. */
  missing: () => string | null;
}

const FASHION_MNIST = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';
const needsFile = (path: string, what: string) => () => (existsSync(path) ? null : `${what} not found (${path})`);

export const LOADER_CASES: LoaderCase[] = [
  { name: 'shapes 64x64', config: { type: 'shapes' }, split: 'train', missing: () => null },
  { name: 'fashion-mnist 28x28', config: { type: 'fashion-mnist' }, split: 'train', missing: needsFile(FASHION_MNIST, 'Fashion-MNIST') },
  { name: 'cluttered 96x96 (fashion-mnist)', config: { type: 'cluttered' }, split: 'train', missing: needsFile(FASHION_MNIST, 'Fashion-MNIST') },
  { name: 'image-folder fixture 64x64', config: { type: 'image-folder', root: 'datasets/image-folder/fixture' }, split: 'train', missing: needsFile('datasets/image-folder/fixture', 'fixture') },
  { name: 'cub200 fixture 64x64', config: { type: 'cub200', root: 'datasets/cub200/fixture/CUB_200_2011' }, split: 'train', missing: needsFile('datasets/cub200/fixture/CUB_200_2011', 'fixture') },
  { name: 'voc fixture 64x64', config: { type: 'voc', root: 'datasets/voc/fixture/VOC2007' }, split: 'train', missing: needsFile('datasets/voc/fixture/VOC2007', 'fixture') },
];

export interface LoaderResult {
  name: string;
  images: number;
  seconds: number;
  imagesPerSecond: number | null;
  skipped?: string;
}

export async function benchLoader(c: LoaderCase, images: number, batchSize = 64): Promise<LoaderResult> {
  const why = c.missing() ?? (datasetTypes().includes(c.config.type) ? null : `loader '${c.config.type}' not registered`);
  if (why) return { name: c.name, images: 0, seconds: 0, imagesPerSecond: null, skipped: why };
  const ds = await createDataset(c.config, { seed: 1 });
  const split = ds.split(c.split);
  if (split.size === 0) return { name: c.name, images: 0, seconds: 0, imagesPerSecond: null, skipped: 'empty split' };
  let done = 0;
  const t0 = performance.now();
  // Small splits (fixtures) are read again, epoch after epoch, until `images` have gone through.
  for (let epoch = 0; done < images; epoch++) {
    for await (const batch of split.batches({ batchSize, shuffle: true, seed: epoch, augment: false })) {
      done += batch.ids.length;
      disposeBatch(batch);
      if (done >= images) break;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  return { name: c.name, images: done, seconds, imagesPerSecond: done / seconds };
}

export interface DataBench {
  name: 'data';
  mode: 'quick' | 'full';
  results: LoaderResult[];
}

export async function runDataBench(options: { quick: boolean; log?: (line: string) => void }): Promise<DataBench> {
  await initBackend('wasm');
  const images = options.quick ? 256 : 4096;
  const results: LoaderResult[] = [];
  for (const c of LOADER_CASES) {
    options.log?.(`  data: ${c.name}...`);
    results.push(await benchLoader(c, images));
  }
  return { name: 'data', mode: options.quick ? 'quick' : 'full', results };
}

export function formatDataBench(b: DataBench): string {
  const width = Math.max(...b.results.map((r) => r.name.length));
  return [
    `Data loaders (${b.mode}): images/s through split.batches() (batch 64, shuffled, no augmentation)`,
    ...b.results.map((r) =>
      r.imagesPerSecond === null
        ? `  ${r.name.padEnd(width)}  skipped: ${r.skipped}`
        : `  ${r.name.padEnd(width)}  ${r.imagesPerSecond.toFixed(0).padStart(7)} images/s  (${r.images} images in ${r.seconds.toFixed(2)} s)`,
    ),
  ].join('\n');
}
