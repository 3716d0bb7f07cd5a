import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GazeError, loadWeightMap, saveWeightMap, tf, writeDirAtomic } from '@gaze/engine';
import type { Classifier } from '../classifier.js';
import type { TrainOptimizer } from './optimizer.js';
import type { TrainConfig } from './train-config.js';

/**
 * Checkpoint layout (each directory written as one unit with `writeDirAtomic`):
 *
 *   <checkpointDir>/last/weights/    every classifier weight (incl. batch-norm moving statistics)
 *   <checkpointDir>/last/optimizer/  the optimizer's state (iterations, moments)
 *   <checkpointDir>/last/state.json  TrainingState: epoch, history, best epoch, config, seed
 *   <checkpointDir>/previous/        the last/ of the epoch before (same layout)
 *   <checkpointDir>/best/weights/    the weights of the epoch with the best val accuracy
 *   <checkpointDir>/best/best.json   that epoch's record
 *
 * Weights are stored by position in `classifier.weights` (names differ between processes), with
 * the variable names and shapes in the metadata to check against on restore.
 */
export const LAST_DIR = 'last';
/** The `last/` before the newest: what a resume falls back to when `last/` is found damaged. */
export const PREVIOUS_DIR = 'previous';
export const BEST_DIR = 'best';
export const STATE_JSON = 'state.json';
export const BEST_JSON = 'best.json';
const WEIGHTS_SUBDIR = 'weights';
const OPTIMIZER_SUBDIR = 'optimizer';

export interface EpochRecord {
  epoch: number;
  train_loss: number;
  train_accuracy: number;
  val_loss: number;
  val_accuracy: number;
  /** Learning rate of the epoch's last step. */
  lr: number;
  /** Wall-clock seconds of the epoch (training and validation). */
  seconds: number;
}

/** What `last/state.json` holds. */
export interface TrainingState {
  /** The last finished epoch (1-based). */
  epoch: number;
  history: EpochRecord[];
  /** 0 before any epoch finished. */
  bestEpoch: number;
  bestValAccuracy: number;
  config: TrainConfig;
  seed: number;
}

const key = (i: number) => `w${String(i).padStart(4, '0')}`;

async function writeVariables(dir: string, variables: readonly tf.Tensor[], names: string[]): Promise<void> {
  const map: Record<string, tf.Tensor> = {};
  variables.forEach((v, i) => (map[key(i)] = v));
  await saveWeightMap(dir, map, { names, shapes: variables.map((v) => v.shape) });
}

async function readVariables(dir: string): Promise<{ tensors: tf.Tensor[]; names: string[] }> {
  const { weights, metadata } = await loadWeightMap(dir);
  const names = (metadata.names as string[] | undefined) ?? [];
  const tensors = Object.keys(weights)
    .sort()
    .map((k) => weights[k]);
  return { tensors, names };
}

/** Writes `<dir>/weights/` plus whatever `extra` adds, atomically (the version it replaces kept as `keepPrevious` when given). */
export async function writeCheckpointDir(dir: string, classifier: Classifier, extra: (tmp: string) => Promise<void>, keepPrevious?: string): Promise<void> {
  const weights = classifier.weights;
  await writeDirAtomic(dir, async (tmp) => {
    await writeVariables(
      join(tmp, WEIGHTS_SUBDIR),
      weights,
      weights.map((w) => w.name),
    );
    await extra(tmp);
  }, { keepPrevious });
}

export async function writeLastCheckpoint(dir: string, classifier: Classifier, optimizer: TrainOptimizer, state: TrainingState): Promise<void> {
  const { tensors, owned } = await optimizer.state();
  try {
    await writeCheckpointDir(dir, classifier, async (tmp) => {
      await writeVariables(
        join(tmp, OPTIMIZER_SUBDIR),
        tensors.map((t) => t.tensor),
        tensors.map((t) => t.name),
      );
      await writeFile(join(tmp, STATE_JSON), JSON.stringify(state, null, 2));
    }, join(dirname(dir), PREVIOUS_DIR));
  } finally {
    tf.dispose(owned);
  }
}

export async function writeBestCheckpoint(dir: string, classifier: Classifier, record: EpochRecord): Promise<void> {
  await writeCheckpointDir(dir, classifier, (tmp) => writeFile(join(tmp, BEST_JSON), JSON.stringify({ epoch: record.epoch, record }, null, 2)));
}

/** Whether `dir` holds a resumable checkpoint (`last/`). */
export function hasTrainingState(dir: string): boolean {
  return existsSync(join(dir, STATE_JSON));
}

export async function readTrainingState(dir: string): Promise<TrainingState> {
  const path = join(dir, STATE_JSON);
  try {
    return JSON.parse(await readFile(path, 'utf8')) as TrainingState;
  } catch (error) {
    throw new GazeError(`cannot read the training state: ${(error as Error).message}`, {
      where: path,
      hint: 'the checkpoint is damaged; remove it to train from scratch',
      cause: error,
    });
  }
}

/**
 * Sets `classifier.weights` (trainable and not, e.g. batch-norm moving statistics) from a
 * checkpoint directory: `<checkpointDir>/best` or `<checkpointDir>/last`.
 */
export async function restoreCheckpoint(classifier: Classifier, dir: string): Promise<void> {
  const weightsDir = join(dir, WEIGHTS_SUBDIR);
  if (!existsSync(weightsDir)) {
    throw new GazeError(`no checkpoint in ${dir}`, { where: dir, hint: 'point at <checkpointDir>/best or <checkpointDir>/last of a training run' });
  }
  const { tensors, names } = await readVariables(weightsDir);
  try {
    const targets = classifier.weights;
    if (tensors.length !== targets.length) {
      throw new GazeError(`the checkpoint holds ${tensors.length} weights but the ${classifier.type} classifier has ${targets.length}`, {
        where: dir,
        hint: 'the checkpoint was written for a different backbone or config; restore it into the classifier it was trained with',
      });
    }
    targets.forEach((target, i) => {
      const t = tensors[i];
      if (!tf.util.arraysEqual(t.shape, target.shape) || t.dtype !== target.dtype) {
        throw new GazeError(
          `checkpoint weight ${i} (${names[i] ?? '?'}) is ${t.dtype}[${t.shape}] but the classifier's ${target.name} is ${target.dtype}[${target.shape}]`,
          { where: dir, hint: 'the checkpoint was written for a different backbone or config; restore it into the classifier it was trained with' },
        );
      }
    });
    targets.forEach((target, i) => target.assign(tensors[i]));
  } finally {
    tf.dispose(tensors);
  }
}

export async function restoreOptimizer(optimizer: TrainOptimizer, dir: string): Promise<void> {
  const { tensors, names } = await readVariables(join(dir, OPTIMIZER_SUBDIR));
  try {
    await optimizer.restore(tensors.map((tensor, i) => ({ name: names[i] ?? key(i), tensor })));
  } finally {
    tf.dispose(tensors);
  }
}
