import { GazeError, didYouMean } from '@gaze/engine';
import { z } from 'zod';
import { TransformSpec, buildTransform, transformedShape } from './transforms/transforms.js';
import type { Pipeline } from './split.js';
import type { Dataset } from './types.js';
import { ItemWorkerPool, withItemWorkers } from './workers/item-workers.js';

/** Keys every dataset config accepts besides its loader's own. */
export const commonDatasetKeys = {
  /** Applied to every split, in order (resize, center-crop, ...). */
  transforms: z.array(TransformSpec).default([]),
  /** Applied to the train split when batching with augmentation (random-crop, hflip, color-jitter). */
  augment: z.array(TransformSpec).default([]),
};

export interface DatasetContext {
  /** The run seed; loaders derive their streams from it. */
  seed: number;
  /** Relative paths in the config resolve against this directory (the config file's). */
  baseDir: string;
  /** Progress and warnings (skipped files, fallbacks). */
  log: (line: string) => void;
  /** Where the config came from, for error messages (`dataset` or `config.yaml:4:3 dataset`). */
  where: string;
}

export interface DatasetFactory<C = unknown> {
  type: string;
  describe: string;
  configSchema: z.ZodType<C>;
  create(config: C, context: DatasetContext): Promise<Dataset>;
}

const factories = new Map<string, DatasetFactory<never>>();

/** Adds a loader under its `type:` name; each loader module registers itself when imported. */
export function registerDataset<C>(factory: DatasetFactory<C>): void {
  factories.set(factory.type, factory as DatasetFactory<never>);
}

export function datasetTypes(): string[] {
  return [...factories.keys()].sort();
}

export function datasetFactory(type: string): DatasetFactory<unknown> {
  const factory = factories.get(type);
  if (!factory) {
    const guess = didYouMean(type, datasetTypes());
    throw new GazeError(`unknown dataset type '${type}'${guess ? ` (did you mean '${guess}'?)` : ''}`, {
      where: 'dataset.type',
      hint: `use one of: ${datasetTypes().join(', ')}`,
    });
  }
  return factory as DatasetFactory<unknown>;
}

/** Validates a value against a zod schema; the first problem becomes a GazeError naming its key path. */
export function parseConfig<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [where, ...issue.path.map(String)].join('.');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const known = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
    const guesses = issue.keys.map((k) => {
      const g = didYouMean(k, known);
      return g ? `'${k}' (did you mean '${g}'?)` : `'${k}'`;
    });
    message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${guesses.join(', ')}`;
  }
  throw new GazeError(message, { where: path, hint: result.error.issues.length > 1 ? `${result.error.issues.length - 1} more problem(s) after this one` : undefined });
}

/** `workers:` in any dataset config: threads preparing examples while the main thread trains. */
export const DatasetWorkers = z.int().min(0).max(16).default(0);

/**
 * Builds a dataset from a config object `{ type, workers?, ...options }`. With `workers: N > 0`
 * its batches are prepared by N worker threads (same examples, same order); if the workers
 * cannot start, it says why and prepares them in this thread.
 */
export async function createDataset(config: { type: string } & Record<string, unknown>, context: Partial<DatasetContext> = {}): Promise<Dataset> {
  const full: DatasetContext = { seed: 0, baseDir: process.cwd(), log: () => {}, where: 'dataset', ...context };
  if (typeof config?.type !== 'string') throw new GazeError('the dataset needs a type', { where: full.where, hint: `use one of: ${datasetTypes().join(', ')}` });
  const factory = datasetFactory(config.type);
  const { type: _type, workers: workersValue, ...options } = config;
  const workers = parseConfig(DatasetWorkers, workersValue, `${full.where}.workers`);
  const dataset = await factory.create(parseConfig(factory.configSchema, options, full.where), full);
  if (workers === 0) return dataset;
  const pool = new ItemWorkerPool({ config: { ...config, workers: 0 }, seed: full.seed, baseDir: full.baseDir, where: full.where }, workers);
  try {
    await pool.ready();
  } catch (error) {
    await pool.close();
    full.log(`${config.type}: data workers unavailable (${(error as Error).message}); preparing examples in the main thread`);
    return dataset;
  }
  return withItemWorkers(dataset, pool);
}

/** The split pipeline and batched image shape for a loader's raw [H,W,C] and the common keys. */
export function pipelineFor(
  config: { transforms: TransformSpec[]; augment: TransformSpec[] },
  rawShape: [number, number, number],
  where: string,
): { pipeline: Pipeline; imageShape: [number, number, number] } {
  let shape = rawShape;
  for (const t of config.transforms) shape = transformedShape(t, shape);
  let augmented = shape;
  for (const t of config.augment) augmented = transformedShape(t, augmented);
  if (augmented[0] !== shape[0] || augmented[1] !== shape[1]) {
    throw new GazeError(`augmentations change the image size from ${shape[0]}x${shape[1]} to ${augmented[0]}x${augmented[1]}, so train and eval batches would differ`, {
      where: `${where}.augment`,
      hint: 'crop in `transforms` to the size you train at, and augment with random-crop of that same size plus padding',
    });
  }
  return {
    pipeline: {
      transforms: config.transforms.map((t, i) => buildTransform(t, `${where}.transforms.${i}`)),
      augment: config.augment.map((t, i) => buildTransform(t, `${where}.augment.${i}`)),
    },
    imageShape: shape,
  };
}
