import { join } from 'node:path';
import { GazeError, Rng, isGazeError, recoverDirAtomic, tf } from '@gaze/engine';
import { disposeBatch, type Batch, type Dataset, type Split } from '@gaze/data';
import type { Classifier } from '../classifier.js';
import {
  BEST_DIR,
  LAST_DIR,
  hasTrainingState,
  readTrainingState,
  restoreCheckpoint,
  restoreOptimizer,
  writeBestCheckpoint,
  writeLastCheckpoint,
  type EpochRecord,
  type TrainingState,
  PREVIOUS_DIR,
} from './checkpoint.js';
import { evaluateClassifier } from './evaluate.js';
import { correctCount, crossEntropy } from './loss.js';
import { createTrainOptimizer, decayedVariables, type TrainOptimizer } from './optimizer.js';
import { learningRateAt } from './schedule.js';
import { RESUMABLE_KEYS, parseTrainConfig, type TrainConfig } from './train-config.js';

export type TrainEvent =
  /** firstEpoch is 1-based; > 1 when resumed. */
  | { type: 'start'; epochs: number; stepsPerEpoch: number; firstEpoch: number }
  /** fromEpoch: the last finished epoch the checkpoint holds; training goes on at fromEpoch + 1. */
  /** `warning`: the newest checkpoint was damaged and this older one was used. */
  | { type: 'resume'; fromEpoch: number; checkpoint: string; warning?: string }
  /** step is 1-based within the epoch; loss and accuracy are the batch's. */
  | { type: 'step'; epoch: number; step: number; steps: number; loss: number; accuracy: number; lr: number }
  /** Sent after the epoch's checkpoints are written; best: val accuracy improved (best/ rewritten). */
  | { type: 'epoch'; record: EpochRecord; best: boolean };

export interface TrainOptions {
  /** The run seed: epoch e shuffles and augments with seed * 1000 + e. */
  seed: number;
  /** Where `last/` and `best/` go. */
  checkpointDir: string;
  /** Continue from `<checkpointDir>/last` when it exists (else start fresh; `note` says so). */
  resume?: boolean;
  /** Aborting stops at the next step boundary; the last finished epoch's checkpoint stays. */
  signal?: AbortSignal;
  onEvent?: (e: TrainEvent) => void;
}

export interface TrainResult {
  status: 'finished' | 'interrupted';
  history: EpochRecord[];
  /** 0 when no epoch finished. */
  bestEpoch: number;
  bestValAccuracy: number;
  /** Anything the caller should tell the user, e.g. resume was asked for but there was no checkpoint. */
  note?: string;
}

/** Runs `fn` with Math.random (what tfjs's unseeded dropout draws from) a stream of (seed, epoch). */
async function withEpochRandom<T>(seed: number, epoch: number, fn: () => Promise<T>): Promise<T> {
  const saved = Math.random;
  const stream = new Rng(seed, `train:epoch:${epoch}`);
  Math.random = () => stream.next();
  try {
    return await fn();
  } finally {
    Math.random = saved;
  }
}

function checkResumable(saved: TrainingState, config: TrainConfig, seed: number, dir: string): void {
  const hint = `resume with the checkpoint's value, or train from scratch (without resume, or after removing ${dir})`;
  if (saved.seed !== seed) {
    throw new GazeError(`seed changed from ${saved.seed} to ${seed} since the checkpoint was written`, { where: dir, hint });
  }
  const keys = new Set([...Object.keys(saved.config), ...Object.keys(config)] as (keyof TrainConfig)[]);
  for (const k of keys) {
    if (RESUMABLE_KEYS.includes(k)) continue;
    const before = JSON.stringify(saved.config[k]);
    const now = JSON.stringify(config[k]);
    if (before !== now) {
      throw new GazeError(`train.${k} changed from ${before ?? 'unset'} to ${now ?? 'unset'} since the checkpoint was written`, { where: dir, hint });
    }
  }
  if (config.epochs < saved.epoch) {
    throw new GazeError(`train.epochs is ${config.epochs} but the checkpoint has already finished epoch ${saved.epoch}`, {
      where: dir,
      hint: `set train.epochs to at least ${saved.epoch} (epochs may only grow on resume)`,
    });
  }
}

/**
 * Restores the classifier and optimizer from `last/`, or, when that is damaged (a truncated
 * shard, unreadable state) or missing, from `previous/` with a warning. Config mismatches are
 * errors either way.
 */
async function resumeFrom(classifier: Classifier, optimizer: TrainOptimizer, config: TrainConfig, seed: number, lastDir: string, previousDir: string): Promise<{ state: TrainingState; dir: string; warning?: string }> {
  let damage: string | undefined;
  for (const dir of [lastDir, previousDir]) {
    if (!hasTrainingState(dir)) {
      damage ??= `${dir} holds no checkpoint`;
      continue;
    }
    let saved: TrainingState;
    try {
      saved = await readTrainingState(dir);
    } catch (error) {
      damage = `${dir} is damaged (${(error as Error).message})`;
      continue;
    }
    checkResumable(saved, config, seed, dir);
    try {
      await restoreCheckpoint(classifier, dir);
      await restoreOptimizer(optimizer, dir);
    } catch (error) {
      if (!isGazeError(error)) throw error;
      damage = `${dir} is damaged (${error.message})`;
      continue;
    }
    return { state: saved, dir, warning: dir === previousDir && damage ? `${damage}: resumed from the checkpoint before it (epoch ${saved.epoch})` : undefined };
  }
  throw new GazeError(`no readable checkpoint to resume from: ${damage}`, {
    where: lastDir,
    hint: 'run without --resume to train from scratch (the damaged checkpoint folders can then be removed)',
  });
}

function checkCompatible(classifier: Classifier, dataset: Dataset, train: Split, val: Split): void {
  const { info } = dataset;
  if (info.numClasses > classifier.numClasses) {
    throw new GazeError(`the dataset has ${info.numClasses} classes but the classifier outputs ${classifier.numClasses}`, {
      where: 'backbone.numClasses',
      hint: `build the classifier with numClasses: ${info.numClasses}`,
    });
  }
  const [h, w, c] = classifier.inputShape;
  const [dh, dw, dc] = info.imageShape;
  if (h !== dh || w !== dw || c !== dc) {
    throw new GazeError(`the dataset's images are ${dh}x${dw}x${dc} but the classifier takes ${h}x${w}x${c}`, {
      where: 'dataset.transforms',
      hint: `resize the dataset to ${h}x${w} (or build the classifier for ${dh}x${dw}x${dc})`,
    });
  }
  for (const split of [train, val]) {
    if (split.size === 0) throw new GazeError(`the ${split.name} split is empty`, { where: 'dataset', hint: `give the ${split.name} split some examples` });
  }
}

/**
 * Trains `classifier` on the dataset's `train` split with softmax cross-entropy, evaluating `val`
 * after each epoch and checkpointing `<checkpointDir>/last` (always) and `<checkpointDir>/best`
 * (when val accuracy improves). Same seed, config and backend -> the same numbers, also across an
 * interruption and `resume: true`.
 *
 * The classifier is left with the weights of the last step taken (after an interruption: part
 * way through an epoch); `restoreCheckpoint(classifier, <checkpointDir>/best)` gives the best.
 */
export async function trainClassifier(classifier: Classifier, dataset: Dataset, configIn: TrainConfig, options: TrainOptions): Promise<TrainResult> {
  const config = parseTrainConfig(configIn);
  const { seed, checkpointDir, signal, onEvent } = options;
  if (!Number.isInteger(seed)) throw new GazeError(`the seed must be an integer, got ${seed}`, { where: 'seed' });
  const train = dataset.split('train');
  const val = dataset.split('val');
  checkCompatible(classifier, dataset, train, val);

  const lastDir = join(checkpointDir, LAST_DIR);
  const previousDir = join(checkpointDir, PREVIOUS_DIR);
  const bestDir = join(checkpointDir, BEST_DIR);
  const stepsPerEpoch = Math.ceil(train.size / config.batchSize);
  const totalSteps = config.epochs * stepsPerEpoch;
  const trainable = classifier.trainableWeights;
  const decayed = decayedVariables(trainable);
  const evalBatchSize = config.evalBatchSize ?? config.batchSize;

  let state: TrainingState = { epoch: 0, history: [], bestEpoch: 0, bestValAccuracy: 0, config, seed };
  let note: string | undefined;
  const result = (status: TrainResult['status']): TrainResult => ({
    status,
    history: state.history,
    bestEpoch: state.bestEpoch,
    bestValAccuracy: state.bestValAccuracy,
    ...(note === undefined ? {} : { note }),
  });

  const optimizer = createTrainOptimizer(config);
  try {
    if (options.resume) {
      // A process killed while replacing a checkpoint leaves it beside its folder: put it back.
      // (previous/ is only ever renamed into place, never written through a temporary copy.)
      for (const dir of [lastDir, bestDir]) await recoverDirAtomic(dir);
      if (hasTrainingState(lastDir) || hasTrainingState(previousDir)) {
        const resumed = await resumeFrom(classifier, optimizer, config, seed, lastDir, previousDir);
        state = { ...resumed.state, config };
        onEvent?.({ type: 'resume', fromEpoch: resumed.state.epoch, checkpoint: resumed.dir, ...(resumed.warning ? { warning: resumed.warning } : {}) });
      } else {
        note = `resume asked for, but there is no checkpoint in ${lastDir}: trained from epoch 1`;
      }
    }
    onEvent?.({ type: 'start', epochs: config.epochs, stepsPerEpoch, firstEpoch: state.epoch + 1 });

    for (let epoch = state.epoch + 1; epoch <= config.epochs; epoch++) {
      if (signal?.aborted) return result('interrupted');
      const started = performance.now();
      const trained = await withEpochRandom(seed, epoch, () =>
        trainEpoch({ classifier, optimizer, trainable, decayed, train, config, epoch, seed, stepsPerEpoch, totalSteps, signal, onEvent, lastGood: lastGoodCheckpoint(state, lastDir, checkpointDir) }),
      );
      if (trained === 'interrupted') return result('interrupted');
      const v = await evaluateClassifier(classifier, val, { batchSize: evalBatchSize });
      const record: EpochRecord = {
        epoch,
        train_loss: trained.lossSum / trained.n,
        train_accuracy: trained.correct / trained.n,
        val_loss: v.loss,
        val_accuracy: v.accuracy,
        lr: trained.lr,
        seconds: (performance.now() - started) / 1000,
      };
      const best = state.bestEpoch === 0 || v.accuracy > state.bestValAccuracy;
      const next: TrainingState = {
        ...state,
        epoch,
        history: [...state.history, record],
        ...(best ? { bestEpoch: epoch, bestValAccuracy: v.accuracy } : {}),
      };
      // best/ before last/: a crash in between leaves last/ at the previous epoch, which redoes this one.
      if (best) await writeBestCheckpoint(bestDir, classifier, record);
      await writeLastCheckpoint(lastDir, classifier, optimizer, next);
      state = next;
      onEvent?.({ type: 'epoch', record, best });
    }
    return result('finished');
  } finally {
    optimizer.dispose();
  }
}

function lastGoodCheckpoint(state: TrainingState, lastDir: string, checkpointDir: string): string {
  return state.epoch > 0 ? `${lastDir} (epoch ${state.epoch})` : `${checkpointDir} (no checkpoint written yet)`;
}

interface EpochContext {
  classifier: Classifier;
  optimizer: TrainOptimizer;
  trainable: tf.Variable[];
  decayed: tf.Variable[];
  train: Split;
  config: TrainConfig;
  epoch: number;
  seed: number;
  stepsPerEpoch: number;
  totalSteps: number;
  signal?: AbortSignal;
  onEvent?: (e: TrainEvent) => void;
  lastGood: string;
}

/** One epoch over `train`; one read-back (loss, correct count) per step. */
async function trainEpoch(ctx: EpochContext): Promise<{ lossSum: number; correct: number; n: number; lr: number } | 'interrupted'> {
  const { classifier, optimizer, trainable, config, epoch } = ctx;
  let lossSum = 0;
  let correct = 0;
  let n = 0;
  let lr = NaN;
  let step = 0;
  const batches = ctx.train.batches({ batchSize: config.batchSize, shuffle: true, seed: ctx.seed * 1000 + epoch, augment: config.augment });
  for await (const batch of batches) {
    // Let the event loop run once a step: batches made in memory resolve as microtasks only, and
    // without this a Ctrl-C (a signal event) would not be seen until the epoch's checkpoint I/O.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (ctx.signal?.aborted) {
      disposeBatch(batch);
      return 'interrupted';
    }
    step++;
    lr = learningRateAt(config, (epoch - 1) * ctx.stepsPerEpoch + step - 1, ctx.totalSteps);
    const [loss, batchCorrect] = await trainStep(batch, classifier, optimizer, trainable, ctx.decayed, lr, () =>
      nanError(epoch, step, config.lr, ctx.lastGood),
    );
    const size = batch.ids.length;
    lossSum += loss * size;
    correct += batchCorrect;
    n += size;
    ctx.onEvent?.({ type: 'step', epoch, step, steps: ctx.stepsPerEpoch, loss, accuracy: batchCorrect / size, lr });
  }
  return { lossSum, correct, n, lr };
}

function nanError(epoch: number, step: number, lr: number, lastGood: string): GazeError {
  return new GazeError(`training loss became NaN at epoch ${epoch}, step ${step}`, {
    where: `last good checkpoint: ${lastGood}`,
    hint: `lower train.lr (now ${lr}), or check the inputs for NaN/Inf values; resume from the last good checkpoint with resume`,
  });
}

/**
 * Forward, loss, gradients; reads (loss, correct) back once and throws before updating when the
 * loss is not finite; else one optimizer step. Disposes the batch.
 */
async function trainStep(
  batch: Batch,
  classifier: Classifier,
  optimizer: TrainOptimizer,
  trainable: tf.Variable[],
  decayed: tf.Variable[],
  lr: number,
  onNaN: () => Error,
): Promise<[number, number]> {
  let stats: tf.Tensor | undefined;
  let grads: tf.NamedTensorMap | undefined;
  let value: tf.Scalar | undefined;
  try {
    ({ value, grads } = tf.variableGrads(() => {
      // images: [B,H,W,C] in [0,1] -> logits [B,K]
      const logits = classifier.logits(batch.images, { training: true });
      const loss = crossEntropy(logits, batch.labels);
      stats = tf.keep(tf.stack([loss, correctCount(logits, batch.labels)]));
      return loss;
    }, trainable));
    const [loss, correct] = await stats!.data();
    if (!Number.isFinite(loss)) throw onNaN();
    const g = grads;
    optimizer.step(
      trainable.map((v) => ({ name: v.name, tensor: g[v.name] })),
      lr,
      decayed,
    );
    return [loss, correct];
  } finally {
    tf.dispose([stats, value, ...(grads ? Object.values(grads) : [])].filter((t): t is tf.Tensor => t !== undefined));
    disposeBatch(batch);
  }
}
