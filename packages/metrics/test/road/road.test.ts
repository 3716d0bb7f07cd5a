import { Rng, initBackend, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  RoadConfig,
  createEvaluator,
  createRoad,
  imputeNoisyLinear,
  removedPixelCount,
  roadAggregate,
  roadRanks,
  roadRemoved,
  type EvaluationContext,
  type ImageScore,
} from '../../src/index.js';
import { disposeLinearContext, linearClassifier, linearContext, sigmoid } from '../causal/helpers.js';
import { unusedExplainer } from '../localization/helpers.js';
import { useQuickstartBatch } from '../helpers/quickstart.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const byMetric = (rows: ImageScore[]) => Object.fromEntries(rows.map((r) => [r.metric, r.value]));

describe('road helpers', () => {
  it('counts, ranks and removes pixels', () => {
    expect(removedPixelCount(0.3, 1024)).toBe(307); // int(307.2)
    expect(removedPixelCount(0.1, 16)).toBe(1);
    expect(removedPixelCount(0.7, 10)).toBe(7); // 0.7 * 10 = 7.000000000000001 ... and 6.999.. guarded
    // A constant map without tie-break ranks by index; min-max normalising keeps the order.
    expect(Array.from(roadRanks([0.5, 0.5, 0.5], 0, undefined))).toEqual([0, 1, 2]);
    expect(Array.from(roadRanks([0.2, 0.9, 0.4, 0.1], 0, undefined))).toEqual([2, 0, 1, 3]);
    // A seeded tie-break permutes ties only: the same seed gives the same ranks; well-separated values keep their order.
    const flat = new Array<number>(50).fill(0.5);
    expect(Array.from(roadRanks(flat, 1e-4, new Rng(1, 't')))).toEqual(Array.from(roadRanks(flat, 1e-4, new Rng(1, 't'))));
    expect(Array.from(roadRanks(flat, 1e-4, new Rng(1, 't')))).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(roadRanks([0.2, 0.9, 0.4, 0.1], 1e-4, new Rng(2, 't')))).toEqual([2, 0, 1, 3]);
    // MoRF removes the top ranks, LeRF the bottom ones.
    const rank = Int32Array.from([2, 0, 1, 3]);
    expect(Array.from(roadRemoved(rank, 'morf', 2))).toEqual([0, 1, 1, 0]);
    expect(Array.from(roadRemoved(rank, 'lerf', 2))).toEqual([1, 0, 0, 1]);
    // Aggregates over removal fractions .1, .2, .5: mean (1 + .5 + 0)/3 = .5; trapezoid
    // (.1 * .75 + .3 * .25) / .4 = .375.
    expect(roadAggregate([0.1, 0.2, 0.5], [1, 0.5, 0], 'mean')).toBeCloseTo(0.5, 12);
    expect(roadAggregate([0.1, 0.2, 0.5], [1, 0.5, 0], 'trapezoid')).toBeCloseTo(0.375, 12);
  });

  it('validates its config', () => {
    const c = RoadConfig.parse({});
    expect(c.percentages).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    expect([c.noise, c.tieBreak, c.score, c.target, c.aggregate, c.batchSize]).toEqual([0.01, 1e-4, 'probability', 'predicted', 'mean', 128]);
    expect(() => createEvaluator({ type: 'road', percentages: [0.1, 0.101] }, { where: 'evaluation.2', seed: 0 })).toThrow(/whole percents/);
    expect(() => createEvaluator({ type: 'road', percentages: [0.5, 0.2] }, { where: 'evaluation.2', seed: 0 })).toThrow(/increasing/);
    expect(() => createEvaluator({ type: 'road', percentages: [1] }, { where: 'evaluation.2', seed: 0 })).toThrow();
  });
});

describe('road', () => {
  // 4x4 grey image: pixel 0 (0,0) = .3, pixel 1 (0,1) = .6, pixel 5 (1,1) = 1, the rest 0.
  // z0 = sum of the pixels, z1 = 0, so p0 = sigmoid(sum); the clean image has sum 1.9 -> predicted class 0.
  // Map: pixel 5 highest, pixel 15 lowest. At 10%, floor(1.6) = 1 pixel goes:
  //   MoRF removes (1,1): weighted mean of its 8 neighbours = .3/12 (diagonal (0,0)) + .6/6 (edge (0,1)) = .125
  //     -> sum .3 + .6 + .125 = 1.025 -> sigmoid(1.025);
  //   LeRF removes (3,3): its neighbours (2,2), (2,3), (3,2) are 0 -> 0 -> sum 1.9 -> sigmoid(1.9).
  const img = new Array<number>(16).fill(0);
  img[0] = 0.3;
  img[1] = 0.6;
  img[5] = 1;
  const map = Array.from({ length: 16 }, (_, p) => (p === 5 ? 1 : p === 15 ? 0 : 0.5 + 0.01 * p));
  const sumModel = () => linearClassifier([4, 4, 1], [new Array(16).fill(1), new Array(16).fill(0)]);

  it('imputes and scores the removed pixels by hand', async () => {
    const model = sumModel();
    const ctx = linearContext({ classifier: model, shape: [4, 4, 1], images: [img], maps: [map], targets: [0] });
    const evaluator = createEvaluator({ type: 'road', percentages: [0.1], noise: 0 }, { where: 'e', seed: 0 });
    expect(evaluator.target).toBe('predicted');
    const before = tf.memory().numTensors;
    const rows = await evaluator.evaluate(ctx);
    expect(tf.memory().numTensors).toBe(before);
    expect(rows.map((r) => r.metric)).toEqual(['road_morf_auc', 'road_morf/10', 'road_lerf_auc', 'road_lerf/10']);
    const v = byMetric(rows);
    expect(v['road_morf/10']).toBeCloseTo(sigmoid(1.025), 6);
    expect(v.road_morf_auc).toBeCloseTo(sigmoid(1.025), 6);
    expect(v['road_lerf/10']).toBeCloseTo(sigmoid(1.9), 6);
    expect(v.road_lerf_auc).toBeCloseTo(sigmoid(1.9), 6);
    // Accuracy: both imputed images are still class 0 -> 1; against class 1 (target 'label') -> 0,
    // and the probability of class 1 is sigmoid(-sum).
    const acc = byMetric(await createEvaluator({ type: 'road', percentages: [0.1], noise: 0, score: 'accuracy' }, { where: 'e', seed: 0 }).evaluate(ctx));
    expect([acc['road_morf/10'], acc['road_lerf/10']]).toEqual([1, 1]);
    disposeLinearContext(ctx);
    const labelCtx = linearContext({ classifier: model, shape: [4, 4, 1], images: [img], maps: [map], targets: [1], labels: [1] });
    const byLabel = createEvaluator({ type: 'road', percentages: [0.1], noise: 0, score: 'accuracy', target: 'label' }, { where: 'e', seed: 0 });
    expect(byLabel.target).toBe('label');
    const wrong = byMetric(await byLabel.evaluate(labelCtx));
    expect([wrong['road_morf/10'], wrong['road_lerf/10']]).toEqual([0, 0]);
    const prob1 = byMetric(await createEvaluator({ type: 'road', percentages: [0.1], noise: 0, target: 'label' }, { where: 'e', seed: 0 }).evaluate(labelCtx));
    expect(prob1['road_morf/10']).toBeCloseTo(sigmoid(-1.025), 6);
    disposeLinearContext(labelCtx);
    model.dispose();
  });

  it('batches every image, order and percentage in forward chunks, seeded per image id', async () => {
    // Two random 5x5x2 images; z0 = a fixed random linear function. The expected value of every
    // row is rebuilt from the exported steps with the documented seed streams, one image at a time.
    const rng = new Rng(7, 'case');
    const weights = Array.from({ length: 50 }, () => rng.uniform(-1, 1));
    const model = linearClassifier([5, 5, 2], [weights, new Array(50).fill(0)]);
    const images = [0, 1].map(() => Array.from({ length: 50 }, () => rng.next()));
    const maps = [0, 1].map(() => Array.from({ length: 25 }, () => Math.round(rng.next() * 4) / 4)); // many ties
    const targets = images.map((x) => (x.reduce((s, v, i) => s + v * weights[i], 0) > 0 ? 0 : 1));
    const ctx = linearContext({ classifier: model, shape: [5, 5, 2], images, maps, targets, seed: 11 });
    const config = RoadConfig.parse({ batchSize: 5, aggregate: 'trapezoid' }); // 2 x 18 jobs in 8 chunks
    const rows = await createRoad(config).evaluate(ctx);
    expect(rows).toHaveLength(2 * 2 * 10);
    const got = rows.map((r) => `${r.id}:${r.metric}`);
    expect(got.slice(0, 3)).toEqual(['img0:road_morf_auc', 'img0:road_morf/10', 'img0:road_morf/20']);
    expect(got[10]).toBe('img0:road_lerf_auc');
    for (let b = 0; b < 2; b++) {
      const id = `img${b}`;
      const rank = roadRanks(maps[b], 1e-4, new Rng(11, `road-ties:${id}`));
      for (const order of ['morf', 'lerf'] as const) {
        const y = config.percentages.map((p) => {
          const removed = roadRemoved(rank, order, removedPixelCount(p, 25));
          const x = imputeNoisyLinear(images[b], removed, 5, 5, 2, { noise: 0.01, rng: new Rng(11, `road-noise:${id}:${order}:${Math.round(p * 100)}`) }).image;
          const z0 = x.reduce((s, v, i) => s + v * weights[i], 0);
          return targets[b] === 0 ? sigmoid(z0) : sigmoid(-z0);
        });
        const mine = rows.filter((r) => r.id === id && (r.metric.startsWith(`road_${order}/`) || r.metric === `road_${order}_auc`));
        y.forEach((v, k) => expect(mine.find((r) => r.metric === `road_${order}/${(k + 1) * 10}`)!.value).toBeCloseTo(v, 5));
        expect(mine.find((r) => r.metric === `road_${order}_auc`)!.value).toBeCloseTo(roadAggregate(config.percentages, y, 'trapezoid'), 5);
      }
    }
    // Same seed: same numbers; another seed: other noise.
    expect((await createRoad(config).evaluate(ctx)).map((r) => r.value)).toEqual(rows.map((r) => r.value));
    const other = await createRoad(config).evaluate({ ...ctx, seed: 12 });
    expect(other.map((r) => r.value)).not.toEqual(rows.map((r) => r.value));
    // Summaries: every metric's mean with perImage; curves over the removal fraction.
    const { summaries, curves } = createRoad(config).summarize(rows, ctx.info);
    expect(summaries.map((s) => s.metric).slice(0, 2)).toEqual(['road_morf_auc', 'road_morf/10']);
    expect(summaries).toHaveLength(20);
    const morf10 = rows.filter((r) => r.metric === 'road_morf/10').map((r) => r.value);
    expect(summaries[1].value).toBeCloseTo((morf10[0] + morf10[1]) / 2, 12);
    expect(summaries[1].perImage).toEqual(morf10);
    expect(curves!.map((c) => c.metric)).toEqual(['road_morf', 'road_lerf']);
    expect(curves![0].x).toEqual(config.percentages);
    expect(curves![0].y[0]).toBeCloseTo(summaries[1].value, 12);
    disposeLinearContext(ctx);
    model.dispose();
  });
});

describe('road on the quickstart classifier', () => {
  const q = useQuickstartBatch(8);

  it('ranks the object mask as more faithful than its inverse, without leaking tensors', async () => {
    const context = (maps: tf.Tensor3D): EvaluationContext => ({
      classifier: q.classifier,
      explainer: unusedExplainer,
      batch: q.batch,
      maps,
      targets: q.targets,
      info: { type: 'shapes', classNames: [], numClasses: 8, imageShape: [32, 32, 3], has: { masks: true, boxes: true, attributes: false, multiLabel: false }, sizes: { train: 0, val: 0, test: 0 }, source: 'procedural' },
      seed: 0,
    });
    const inverse = tf.sub(1, q.batch.masks!) as tf.Tensor3D;
    const evaluator = createEvaluator({ type: 'road' }, { where: 'e', seed: 0 });
    const mean = (rows: ImageScore[], metric: string) => {
      const v = rows.filter((r) => r.metric === metric).map((r) => r.value);
      return v.reduce((s, x) => s + x, 0) / v.length;
    };
    const before = tf.memory().numTensors;
    const t = performance.now();
    const good = await evaluator.evaluate(context(q.batch.masks!));
    console.log(`road: ${(8 / ((performance.now() - t) / 1000)).toFixed(1)} images/s (18 imputations + forwards each)`);
    const bad = await evaluator.evaluate(context(inverse));
    expect(tf.memory().numTensors).toBe(before);
    expect(good).toHaveLength(8 * 20);
    // Removing the object first (MoRF) hurts more; removing the background first (LeRF) hurts less.
    expect(mean(good, 'road_morf_auc')).toBeLessThan(mean(bad, 'road_morf_auc'));
    expect(mean(good, 'road_lerf_auc')).toBeGreaterThan(mean(bad, 'road_lerf_auc'));
    inverse.dispose();
  });
});
