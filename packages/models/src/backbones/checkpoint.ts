import { resolve } from 'node:path';
import { GazeError } from '@gaze/engine';
import { z } from 'zod';
import type { Classifier } from '../classifier.js';
import { loadClassifier, registerBackbone, type BackboneContext, type BackboneFactory } from './registry.js';

export const CheckpointConfig = z.strictObject({
  /** A directory a classifier was saved to (a run's `checkpoints/classifier`); relative to the config's directory. */
  path: z.string().min(1),
});
export type CheckpointConfig = z.infer<typeof CheckpointConfig>;

/**
 * A classifier trained earlier (by any backbone type), loaded with its weights, taps and
 * preprocessing: explain and evaluate a trained model without training it again. Its input shape
 * and class count must match the dataset's.
 */
export async function checkpointClassifier(config: CheckpointConfig, ctx: BackboneContext): Promise<Classifier> {
  const classifier = await loadClassifier(resolve(ctx.baseDir, config.path));
  const [h, w, c] = ctx.inputShape;
  const [mh, mw, mc] = classifier.inputShape;
  const problems: string[] = [];
  if (h !== mh || w !== mw || c !== mc) problems.push(`it takes ${mh}x${mw}x${mc} images but the dataset gives ${h}x${w}x${c}`);
  if (classifier.numClasses !== ctx.numClasses) problems.push(`it has ${classifier.numClasses} classes but the dataset has ${ctx.numClasses}`);
  if (problems.length > 0) {
    classifier.dispose();
    throw new GazeError(`the saved classifier does not fit the dataset: ${problems.join('; ')}`, {
      where: `${ctx.where}.path`,
      hint: 'use the dataset config it was trained with (its run\'s config.resolved.yaml)',
    });
  }
  return classifier;
}

export const checkpointBackbone: BackboneFactory<CheckpointConfig> = {
  type: 'checkpoint',
  describe: 'a classifier saved by an earlier run (its checkpoints/classifier directory), loaded as it was trained',
  configSchema: CheckpointConfig,
  create: checkpointClassifier,
};

registerBackbone(checkpointBackbone);
