import { Rng } from '@gaze/engine';
import { z } from 'zod';
import { commonDatasetKeys, pipelineFor, registerDataset, type DatasetFactory } from '../../registry.js';
import { datasetFromSources } from '../../split.js';
import type { Dataset, DatasetInfo, SplitName } from '../../types.js';
import { ATTRIBUTE_NAMES, MAX_CLASSES, classPairs, className, distractorPairs } from './palette.js';
import { renderScene, sceneLabel } from './render.js';

export const ShapesConfig = z.strictObject({
  /** Image side in pixels. */
  size: z.int().min(16).max(512).default(64),
  /** Number of (shape, colour) classes. */
  classes: z.int().min(2).max(MAX_CLASSES).default(8),
  /** Each image has 0..distractors distractor objects. */
  distractors: z.int().min(0).max(8).default(3),
  /** Examples per split; every example is rendered on demand, nothing is stored. */
  splits: z
    .strictObject({ train: z.int().positive().default(10_000), val: z.int().positive().default(1_000), test: z.int().positive().default(1_000) })
    .default({ train: 10_000, val: 1_000, test: 1_000 }),
  /** Seed of the generator; defaults to the run seed. */
  seed: z.int().optional(),
  ...commonDatasetKeys,
});
export type ShapesConfig = z.infer<typeof ShapesConfig>;

/** Example i of a split is a pure function of (seed, split, i): the same on every machine. */
function exampleRng(seed: number, split: SplitName, index: number): Rng {
  return new Rng(seed, `shapes:${split}:${index}`);
}

export const shapesDataset: DatasetFactory<ShapesConfig> = {
  type: 'shapes',
  describe: 'procedural scenes: one target (shape x colour class) among distractors on clutter; masks, boxes, attributes',
  configSchema: ShapesConfig,
  async create(config, context): Promise<Dataset> {
    const seed = config.seed ?? context.seed;
    const classes = classPairs(config.classes);
    const scene = { size: config.size, classes, distractorPairs: distractorPairs(classes), maxDistractors: config.distractors };
    const { pipeline, imageShape } = pipelineFor(config, [config.size, config.size, 3], context.where);
    const info: DatasetInfo = {
      type: 'shapes',
      classNames: classes.map(className),
      numClasses: classes.length,
      imageShape,
      attributeNames: [...ATTRIBUTE_NAMES],
      has: { masks: true, boxes: true, attributes: true, multiLabel: false },
      sizes: config.splits,
      source: 'procedural',
    };
    return datasetFromSources(info, pipeline, (name) => ({
      size: config.splits[name],
      label: (i) => sceneLabel(exampleRng(seed, name, i), classes.length),
      read: (i) => renderScene(exampleRng(seed, name, i), `shapes/${name}/${i}`, scene).item,
    }));
  },
};

registerDataset(shapesDataset);
