import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataset, type Dataset } from '@gaze/data';
import { initBackend, isGazeError, tf } from '@gaze/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Classifier } from '../../src/classifier.js';
import { evaluateClassifier, readTrainingState, restoreCheckpoint, trainClassifier, TrainConfig, type EpochRecord, type TrainEvent } from '../../src/index.js';
import { tinyClassifier } from './helpers/tiny-classifier.js';

let dataset: Dataset;
let root: string;
let dirCount = 0;
const newDir = () => join(root, `run-${dirCount++}`);

beforeAll(async () => {
  await initBackend('wasm');
  dataset = await createDataset(
    { type: 'shapes', size: 16, classes: 3, distractors: 0, splits: { train: 40, val: 12, test: 4 }, augment: [{ type: 'hflip' }] },
    { seed: 7 },
  );
  root = await mkdtemp(join(tmpdir(), 'gaze-train-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const make = (seed = 3): Classifier => tinyClassifier({ inputShape: [16, 16, 3], numClasses: 3, seed });
const config = (o: Partial<TrainConfig> = {}) => TrainConfig.parse({ epochs: 3, batchSize: 16, lr: 0.01, weightDecay: 1e-3, ...o });
const values = (c: Classifier) => c.weights.map((w) => Array.from(w.dataSync()));
/** A record without its wall-clock seconds: what must repeat exactly. */
const numbers = (h: EpochRecord[]) => h.map(({ seconds: _s, ...r }) => r);

describe('trainClassifier', () => {
  it('trains, reports events, checkpoints last/ and best/, and leaks no tensors across epochs', async () => {
    const classifier = make();
    const dir = newDir();
    const events: TrainEvent[] = [];
    const tensorsAfterEpoch: number[] = [];
    const movingMeanBefore = Array.from(classifier.weights[4].dataSync());
    const result = await trainClassifier(classifier, dataset, config(), {
      seed: 1,
      checkpointDir: dir,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'epoch') tensorsAfterEpoch.push(tf.memory().numTensors);
      },
    });
    expect(result.status).toBe('finished');
    expect(result.history.map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(tensorsAfterEpoch[0]).toBe(tensorsAfterEpoch[2]);

    expect(events[0]).toEqual({ type: 'start', epochs: 3, stepsPerEpoch: 3, firstEpoch: 1 });
    const steps = events.filter((e) => e.type === 'step');
    expect(steps).toHaveLength(9);
    expect(steps[0]).toMatchObject({ epoch: 1, step: 1, steps: 3 });
    for (const r of result.history) {
      expect(r.train_loss).toBeGreaterThan(0);
      expect(r.val_accuracy).toBeGreaterThanOrEqual(0);
      expect(r.val_accuracy).toBeLessThanOrEqual(1);
      expect(r.seconds).toBeGreaterThan(0);
    }
    // the epoch's lr is its last step's; the cosine decays over the 9 steps
    expect(result.history[2].lr).toBeLessThan(result.history[0].lr);
    // train loss is the example-weighted mean of the step losses (16, 16, 8 examples)
    const e1 = steps.slice(0, 3) as Extract<TrainEvent, { type: 'step' }>[];
    expect(result.history[0].train_loss).toBeCloseTo((e1[0].loss * 16 + e1[1].loss * 16 + e1[2].loss * 8) / 40, 10);

    // best is the first epoch with the highest val accuracy
    const bestAcc = Math.max(...result.history.map((r) => r.val_accuracy));
    expect(result.bestValAccuracy).toBe(bestAcc);
    expect(result.bestEpoch).toBe(result.history.find((r) => r.val_accuracy === bestAcc)!.epoch);
    const bestEvents = events.filter((e) => e.type === 'epoch' && e.best).map((e) => (e as { record: EpochRecord }).record.epoch);
    expect(bestEvents[0]).toBe(1);
    expect(bestEvents.at(-1)).toBe(result.bestEpoch);

    const state = await readTrainingState(join(dir, 'last'));
    expect(state.epoch).toBe(3);
    expect(state.history).toEqual(result.history);
    expect(state.bestEpoch).toBe(result.bestEpoch);
    expect(state.config.epochs).toBe(3);
    expect(JSON.parse(await readFile(join(dir, 'best', 'best.json'), 'utf8')).epoch).toBe(result.bestEpoch);

    // batch-norm moving statistics trained and are part of the checkpoint
    expect(Array.from(classifier.weights[4].dataSync())).not.toEqual(movingMeanBefore);
    const restored = make(99);
    await restoreCheckpoint(restored, join(dir, 'last'));
    expect(values(restored)).toEqual(values(classifier));

    // evaluateClassifier agrees with the last epoch's val numbers
    const v = await evaluateClassifier(classifier, dataset.split('val'), { batchSize: 5 });
    expect(v.n).toBe(12);
    expect(v.accuracy).toBe(result.history[2].val_accuracy);
    expect(v.loss).toBeCloseTo(result.history[2].val_loss, 5);

    // best/ restores into a classifier; a mismatched classifier is a GazeError
    await restoreCheckpoint(restored, join(dir, 'best'));
    const wide = tinyClassifier({ inputShape: [16, 16, 3], numClasses: 3, seed: 1, filters: 4 });
    await expect(restoreCheckpoint(wide, join(dir, 'best'))).rejects.toSatisfy(isGazeError);
    await expect(restoreCheckpoint(wide, join(dir, 'nothing'))).rejects.toThrow(/no checkpoint/);
    for (const c of [classifier, restored, wide]) c.dispose();
  });

  it('resumed after an abort mid-epoch, ends with exactly the history and weights of a straight run', async () => {
    const straight = make();
    const a = await trainClassifier(straight, dataset, config({ optimizer: 'adam' }), { seed: 5, checkpointDir: newDir() });

    const dir = newDir();
    const first = make();
    const controller = new AbortController();
    const partial = await trainClassifier(first, dataset, config({ optimizer: 'adam' }), {
      seed: 5,
      checkpointDir: dir,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'step' && e.epoch === 2 && e.step === 2) controller.abort();
      },
    });
    expect(partial.status).toBe('interrupted');
    expect(partial.history).toHaveLength(1);
    expect((await readTrainingState(join(dir, 'last'))).epoch).toBe(1);
    first.dispose();

    const second = make(42); // different init: everything must come from the checkpoint
    const events: TrainEvent[] = [];
    const b = await trainClassifier(second, dataset, config({ optimizer: 'adam' }), { seed: 5, checkpointDir: dir, resume: true, onEvent: (e) => events.push(e) });
    expect(events[0]).toEqual({ type: 'resume', fromEpoch: 1, checkpoint: join(dir, 'last') });
    expect(events[1]).toMatchObject({ type: 'start', firstEpoch: 2 });
    expect(b.status).toBe('finished');
    expect(numbers(b.history)).toEqual(numbers(a.history));
    expect(values(second)).toEqual(values(straight));
    expect([b.bestEpoch, b.bestValAccuracy]).toEqual([a.bestEpoch, a.bestValAccuracy]);
    straight.dispose();
    second.dispose();
  });

  it('sgd + nesterov, constant schedule: 1 epoch then a second call with more epochs matches 3 straight', async () => {
    const c = (epochs: number) => config({ epochs, optimizer: 'sgd', nesterov: true, lr: 0.05, schedule: 'constant' });
    const straight = make();
    const a = await trainClassifier(straight, dataset, c(3), { seed: 2, checkpointDir: newDir() });
    const dir = newDir();
    const resumed = make();
    await trainClassifier(resumed, dataset, c(1), { seed: 2, checkpointDir: dir });
    const b = await trainClassifier(resumed, dataset, c(3), { seed: 2, checkpointDir: dir, resume: true });
    expect(numbers(b.history)).toEqual(numbers(a.history));
    expect(values(resumed)).toEqual(values(straight));
    // nothing left to do: finished at once, same history
    const again = await trainClassifier(resumed, dataset, c(3), { seed: 2, checkpointDir: dir, resume: true });
    expect(numbers(again.history)).toEqual(numbers(a.history));
    straight.dispose();
    resumed.dispose();
  });

  it('refuses to resume when a key that matters changed, and says which', async () => {
    const dir = newDir();
    const classifier = make();
    await trainClassifier(classifier, dataset, config({ epochs: 1, schedule: 'constant' }), { seed: 1, checkpointDir: dir });
    const resume = (o: Partial<TrainConfig>, seed = 1) => trainClassifier(classifier, dataset, config({ schedule: 'constant', ...o }), { seed, checkpointDir: dir, resume: true });
    await expect(resume({ batchSize: 8 })).rejects.toThrow(/train\.batchSize changed from 16 to 8/);
    await expect(resume({ lr: 0.1 })).rejects.toThrow(/train\.lr changed/);
    await expect(resume({ optimizer: 'sgd' })).rejects.toThrow(/train\.optimizer changed/);
    await expect(resume({ schedule: 'cosine' })).rejects.toThrow(/train\.schedule changed/);
    await expect(resume({}, 2)).rejects.toThrow(/seed changed/);
    const err = await resume({ batchSize: 8 }).catch((e: unknown) => e);
    expect(isGazeError(err)).toBe(true);
    // evalBatchSize may change; epochs may grow
    const ok = await resume({ epochs: 2, evalBatchSize: 5 });
    expect(ok.history).toHaveLength(2);
    await expect(resume({ epochs: 1 })).rejects.toThrow(/already finished epoch 2/);
    classifier.dispose();
  });

  it('resume without a checkpoint starts fresh and says so', async () => {
    const classifier = make();
    const dir = newDir();
    const r = await trainClassifier(classifier, dataset, config({ epochs: 1 }), { seed: 1, checkpointDir: dir, resume: true });
    expect(r.status).toBe('finished');
    expect(r.note).toMatch(/no checkpoint/);
    classifier.dispose();
  });

  it('an abort before training returns interrupted with no history', async () => {
    const classifier = make();
    const controller = new AbortController();
    controller.abort();
    const r = await trainClassifier(classifier, dataset, config(), { seed: 1, checkpointDir: newDir(), signal: controller.signal });
    expect(r).toMatchObject({ status: 'interrupted', history: [], bestEpoch: 0 });
    classifier.dispose();
  });

  it('a NaN loss is a GazeError naming the epoch, step and last good checkpoint, which stays untouched', async () => {
    const classifier = make();
    const dir = newDir();
    const error = await trainClassifier(classifier, dataset, config({ epochs: 3 }), {
      seed: 1,
      checkpointDir: dir,
      onEvent: (e) => {
        if (e.type === 'epoch' && e.record.epoch === 1) {
          // poison a kernel: the next step's loss is NaN
          const k = classifier.trainableWeights[0];
          k.assign(tf.fill(k.shape, NaN));
        }
      },
    }).catch((e: unknown) => e);
    expect(isGazeError(error)).toBe(true);
    const g = error as { message: string; where: string; hint: string };
    expect(g.message).toBe('training loss became NaN at epoch 2, step 1');
    expect(g.where).toContain(`${join(dir, 'last')} (epoch 1)`);
    expect(g.hint).toMatch(/lower train\.lr/);
    expect((await readTrainingState(join(dir, 'last'))).epoch).toBe(1);
    const lastBin = await readFile(join(dir, 'last', 'weights', 'weights.bin'));
    expect(new Float32Array(lastBin.buffer, lastBin.byteOffset, lastBin.byteLength / 4).every(Number.isFinite)).toBe(true);

    // NaN in the first step: no checkpoint written
    const fresh = make();
    const k = fresh.trainableWeights[0];
    k.assign(tf.fill(k.shape, NaN));
    const dir2 = newDir();
    const e2 = await trainClassifier(fresh, dataset, config(), { seed: 1, checkpointDir: dir2 }).catch((e: unknown) => e);
    expect((e2 as Error).message).toBe('training loss became NaN at epoch 1, step 1');
    expect((e2 as { where: string }).where).toMatch(/no checkpoint written/);
    expect(existsSync(join(dir2, 'last'))).toBe(false);
    classifier.dispose();
    fresh.dispose();
  });

  it('a huge learning rate blows up into the NaN error', async () => {
    const classifier = make();
    const error = await trainClassifier(classifier, dataset, config({ optimizer: 'sgd', lr: 1e30, schedule: 'constant', epochs: 3 }), { seed: 1, checkpointDir: newDir() }).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(/^training loss became NaN at epoch \d, step \d$/);
    classifier.dispose();
  });
});
