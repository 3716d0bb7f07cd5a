import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GazeError, writeFileAtomic } from '@gaze/engine';
import { disposeBatch, type Dataset } from '@gaze/data';
import type { Head } from '../head.js';
import { LAST_DIR } from './checkpoint.js';
import { learningRateAt } from './schedule.js';
import { ONE_CYCLE_DEFAULTS } from './train-config.js';

export type HeadTrainEvent =
  | { type: 'start'; head: string; epochs: number; stepsPerEpoch: number; firstEpoch: number }
  | { type: 'resume'; head: string; fromEpoch: number; checkpoint: string }
  | { type: 'step'; head: string; epoch: number; step: number; steps: number; losses: Record<string, number>; lr: number }
  | { type: 'epoch'; head: string; record: HeadEpochRecord }
  /** What the head's afterEpoch reported (e.g. a search result). */
  | { type: 'note'; head: string; epoch: number; lines: string[] };

/** One epoch of head training: the mean of each loss the head reports. */
export interface HeadEpochRecord {
  epoch: number;
  losses: Record<string, number>;
  lr: number;
  seconds: number;
}

interface HeadState {
  epoch: number;
  seed: number;
  history: HeadEpochRecord[];
  schedule: Head['schedule'];
}

export interface HeadTrainOptions {
  /** The entry's display name (events, errors). */
  name: string;
  /** Epoch e shuffles and augments with seed * 1000 + e, as the classifier's training does. */
  seed: number;
  /** `<checkpointDir>/last`: the head and its optimizer after each epoch, with state.json. */
  checkpointDir: string;
  resume?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: HeadTrainEvent) => void;
}

/**
 * Trains a head on the dataset's train split with its one-cycle schedule (PyTorch's OneCycleLR
 * defaults, `head.schedule.lr` the maximum), checkpointing after every epoch; with `resume` it
 * continues after the last finished epoch.
 */
export async function trainHead(head: Head, dataset: Dataset, options: HeadTrainOptions): Promise<{ status: 'finished' | 'interrupted'; history: HeadEpochRecord[] }> {
  const { schedule } = head;
  const train = dataset.split('train');
  if (train.size === 0) throw new GazeError('the train split is empty', { where: 'dataset', hint: 'give the train split some examples' });
  const stepsPerEpoch = Math.ceil(train.size / schedule.batchSize);
  const totalSteps = schedule.epochs * stepsPerEpoch;
  const lrConfig = {
    schedule: 'one-cycle' as const,
    lr: schedule.lr,
    epochs: schedule.epochs,
    warmupEpochs: 0,
    minLr: 0,
    oneCyclePctStart: ONE_CYCLE_DEFAULTS.pctStart,
    oneCycleDivFactor: ONE_CYCLE_DEFAULTS.divFactor,
    oneCycleFinalDivFactor: ONE_CYCLE_DEFAULTS.finalDivFactor,
  };
  const lastDir = join(options.checkpointDir, LAST_DIR);
  const statePath = join(lastDir, 'state.json');
  let state: HeadState = { epoch: 0, seed: options.seed, history: [], schedule };
  if (options.resume && existsSync(statePath)) {
    const saved = JSON.parse(await readFile(statePath, 'utf8')) as HeadState;
    if (saved.seed !== options.seed || JSON.stringify({ ...saved.schedule, epochs: 0 }) !== JSON.stringify({ ...schedule, epochs: 0 }) || saved.epoch > schedule.epochs) {
      throw new GazeError(`the ${options.name} checkpoint in ${lastDir} was trained with another seed or schedule`, {
        where: lastDir,
        hint: 'resume with the config it was written with (epochs may grow), or train from scratch without resume',
      });
    }
    await head.load(join(lastDir, 'head'));
    state = saved;
    options.onEvent?.({ type: 'resume', head: options.name, fromEpoch: saved.epoch, checkpoint: lastDir });
  }
  options.onEvent?.({ type: 'start', head: options.name, epochs: schedule.epochs, stepsPerEpoch, firstEpoch: state.epoch + 1 });
  for (let epoch = state.epoch + 1; epoch <= schedule.epochs; epoch++) {
    const started = performance.now();
    const sums: Record<string, number> = {};
    let steps = 0;
    let lr = 0;
    for await (const batch of train.batches({ batchSize: schedule.batchSize, shuffle: true, seed: options.seed * 1000 + epoch, augment: true })) {
      try {
        if (options.signal?.aborted) return { status: 'interrupted', history: state.history };
        lr = learningRateAt(lrConfig, (epoch - 1) * stepsPerEpoch + steps, totalSteps);
        const losses = await head.trainStep(batch, { lr });
        steps++;
        for (const [k, v] of Object.entries(losses)) sums[k] = (sums[k] ?? 0) + v;
        options.onEvent?.({ type: 'step', head: options.name, epoch, step: steps, steps: stepsPerEpoch, losses, lr });
      } finally {
        disposeBatch(batch);
      }
    }
    const lines = await head.afterEpoch?.(epoch, dataset);
    if (lines && lines.length > 0) options.onEvent?.({ type: 'note', head: options.name, epoch, lines });
    const record: HeadEpochRecord = {
      epoch,
      losses: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / steps])),
      lr,
      seconds: (performance.now() - started) / 1000,
    };
    const next: HeadState = { ...state, epoch, history: [...state.history, record], schedule };
    await head.save(join(lastDir, 'head'));
    await writeFileAtomic(statePath, JSON.stringify(next, null, 2) + '\n');
    state = next;
    options.onEvent?.({ type: 'epoch', head: options.name, record });
  }
  return { status: 'finished', history: state.history };
}
