import { initBackend, tf } from '@gaze/engine';
import type { Batch } from '@gaze/data';
import { LayersClassifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdIcConfig, createAdIc, createEvaluator, keepTopPixels, keptPixelCount, type EvaluationContext, type ImageScore } from '../../src/index.js';
import { info, unusedExplainer } from '../localization/helpers.js';

/**
 * A classifier on 2x2 grey images whose logits are linear in the pixels: z0 = 2*p0 + p1 - p2
 * (p3 has weight 0), z1 = 0, so softmax(z)[0] = sigmoid(z0) and softmax(z)[1] = sigmoid(-z0).
 */
function linearClassifier(): LayersClassifier {
  const input = tf.input({ shape: [2, 2, 1] });
  const flat = tf.layers.flatten({ name: 'flat' }).apply(input) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ name: 'logits', units: 2 });
  const logits = dense.apply(flat) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits });
  dense.setWeights([tf.tensor2d([[2, 0], [1, 0], [-1, 0], [0, 0]]), tf.zeros([2])]);
  return new LayersClassifier(model, {
    version: 1,
    type: 'linear-test',
    inputShape: [2, 2, 1],
    numClasses: 2,
    taps: [{ name: 'flat', layer: 'flat' }],
    logits: { layer: 'logits', from: 'output' },
    preprocess: { scale: 1, mean: [0], std: [1], channelOrder: 'rgb' },
  });
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const drop = (y: number, o: number) => (100 * Math.max(0, y - o)) / y;

let classifier: LayersClassifier;
beforeAll(async () => {
  await initBackend('wasm');
  classifier = linearClassifier();
});
afterAll(() => classifier.dispose());

// Three images (pixels p0..p3 row-major), their targets and maps:
//   A: x = [1,1,1,1], c = 0, map [1, .5, .5, .25]; Y = sigmoid(2).
//      keep 1: x*map = [1,.5,.5,.25] -> z0 = 2 -> O = Y: AD 0, IC 0 (O > Y is strict).
//      keep .5 (2 px): 1 at p0, then the tie .5 at p1/p2 keeps the LAST (p2) -> [1,0,.5,0] -> z0 = 1.5: AD = drop(s(2), s(1.5)).
//        (keeping p1 instead would give z0 = 2.5 and an increase)
//      keep .15 (ceil(.6) = 1 px): p0 -> z0 = 2: AD 0, IC 0.
//   B: x = [.5,.5,.5,.5], c = 0, map [1,1,0,0]; Y = sigmoid(1).
//      keep 1 and .5: [.5,.5,0,0] -> z0 = 1.5 > 1: AD 0, IC 100.
//      keep .15: tie p0/p1 keeps p1 -> [0,.5,0,0] -> z0 = .5: AD = drop(s(1), s(.5)), IC 0.
//   C: x = [0,0,1,1], c = 1, map all .5; Y = sigmoid(-z0) = sigmoid(1).
//      keep 1: [0,0,.5,.5] -> z0 = -.5 -> O = s(.5): AD = drop(s(1), s(.5)).
//      keep .5: four-way tie keeps p2, p3: the same. keep .15: p3 -> [0,0,0,.5] -> z0 = 0 -> O = .5: AD = drop(s(1), .5).
const expected: Record<string, number[]> = {
  ad_100: [0, 0, drop(sigmoid(1), sigmoid(0.5))],
  ic_100: [0, 100, 0],
  ad_50: [drop(sigmoid(2), sigmoid(1.5)), 0, drop(sigmoid(1), sigmoid(0.5))],
  ic_50: [0, 100, 0],
  ad_15: [0, drop(sigmoid(1), sigmoid(0.5)), drop(sigmoid(1), 0.5)],
  ic_15: [0, 0, 0],
};

function makeContext(): EvaluationContext {
  const batch: Batch = {
    images: tf.tensor4d([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0, 0, 1, 1], [3, 2, 2, 1]),
    labels: tf.tensor1d([0, 0, 1], 'int32'),
    ids: ['A', 'B', 'C'],
  };
  return {
    classifier,
    explainer: unusedExplainer,
    batch,
    maps: tf.tensor3d([1, 0.5, 0.5, 0.25, 1, 1, 0, 0, 0.5, 0.5, 0.5, 0.5], [3, 2, 2]),
    targets: tf.tensor1d([0, 0, 1], 'int32'),
    info: info(2, [2, 2]),
    seed: 0,
  };
}

function disposeContext(ctx: EvaluationContext): void {
  tf.dispose([ctx.batch.images, ctx.batch.labels, ctx.maps, ctx.targets]);
}

function byMetric(rows: ImageScore[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const r of rows) (out[r.metric] ??= []).push(r.value);
  return out;
}

describe('keepTopPixels', () => {
  it('keeps exactly ceil(k*n) pixels with their values, the last of the tied ones', () => {
    expect(keptPixelCount(0.15, 1024)).toBe(154); // ceil(153.6)
    expect(keptPixelCount(0.15, 100)).toBe(15); // 0.15 * 100 = 15.000000000000002 in floats
    expect(keptPixelCount(0.5, 4)).toBe(2);
    expect(keptPixelCount(1, 7)).toBe(7);
    // TAME's drop_Npercent([.2,.5,.5,.5,.1,.9], 0.5): 3rd smallest = .5, zero .2 and .1; 4 left > 0, 3 wanted:
    // zero the first tie (index 1) -> [0, 0, .5, .5, 0, .9].
    const out = new Float32Array(8).fill(-1);
    keepTopPixels([9, 0.2, 0.5, 0.5, 0.5, 0.1, 0.9], 1, 6, 0.5, out, 2);
    expect(Array.from(out)).toEqual([-1, -1, 0, 0, 0.5, 0.5, 0, 0.8999999761581421]);
    // 15% of 10 -> 2 px: 0.7 and 0.6 stay.
    const ten = new Float32Array(10);
    keepTopPixels([0.1, 0.7, 0.2, 0.3, 0.6, 0.5, 0.4, 0, 0, 0], 0, 10, 0.15, ten, 0);
    expect(Array.from(ten).map((v) => Math.round(v * 10) / 10)).toEqual([0, 0.7, 0, 0, 0.6, 0, 0, 0, 0, 0]);
  });
});

describe('ad-ic', () => {
  it('computes AD and IC by hand at 100%, 50% and 15% kept', async () => {
    const ctx = makeContext();
    const evaluator = createAdIc(AdIcConfig.parse({}));
    expect(evaluator.target).toBe('predicted');
    const rows = await evaluator.evaluate(ctx);
    expect(rows).toHaveLength(3 * 6);
    const got = byMetric(rows);
    expect(Object.keys(got)).toEqual(['ad_100', 'ic_100', 'ad_50', 'ic_50', 'ad_15', 'ic_15']);
    for (const [metric, values] of Object.entries(expected)) {
      values.forEach((v, i) => expect(got[metric][i], `${metric}[${i}]`).toBeCloseTo(v, 4));
    }
    const { summaries } = evaluator.summarize(rows, ctx.info);
    expect(summaries.map((s) => s.metric)).toEqual(['ad_100', 'ic_100', 'ad_50', 'ic_50', 'ad_15', 'ic_15']);
    for (const s of summaries) {
      const mean = expected[s.metric].reduce((a, b) => a + b, 0) / 3;
      expect(s.value, s.metric).toBeCloseTo(mean, 4);
      expect(s.n).toBe(3);
      expect(s.perImage).toHaveLength(3);
    }
    // IC(100%) = 100 * 1/3: image B gains confidence.
    expect(summaries[1].value).toBeCloseTo(100 / 3, 6);
    disposeContext(ctx);
  });

  it('gives the same numbers in several forward chunks and with other keep levels', async () => {
    const ctx = makeContext();
    const chunked = byMetric(await createAdIc(AdIcConfig.parse({ batchSize: 5 })).evaluate(ctx));
    for (const [metric, values] of Object.entries(expected)) values.forEach((v, i) => expect(chunked[metric][i]).toBeCloseTo(v, 4));
    // keep 0.25 of 4 px = 1 px: same as 15% here.
    const quarter = byMetric(await createEvaluator({ type: 'ad-ic', keep: [0.25] }, { where: 'evaluation.2', seed: 0 }).evaluate(ctx));
    expect(Object.keys(quarter)).toEqual(['ad_25', 'ic_25']);
    expected.ad_15.forEach((v, i) => expect(quarter.ad_25[i]).toBeCloseTo(v, 4));
    expect(() => createEvaluator({ type: 'ad-ic', keep: [0.5, 0.501] }, { where: 'evaluation.2', seed: 0 })).toThrow(/whole percents/);
    expect(() => createEvaluator({ type: 'ad-ic', keep: [0] }, { where: 'evaluation.2', seed: 0 })).toThrow();
    disposeContext(ctx);
  });

  it('reports AD alone as average-drop and IC alone as increase-in-confidence, with the same numbers', async () => {
    const ctx = makeContext();
    const ad = byMetric(await createEvaluator({ type: 'average-drop' }, { where: 'evaluation.0', seed: 0 }).evaluate(ctx));
    const ic = byMetric(await createEvaluator({ type: 'increase-in-confidence' }, { where: 'evaluation.1', seed: 0 }).evaluate(ctx));
    expect(Object.keys(ad)).toEqual(['ad_100', 'ad_50', 'ad_15']);
    expect(Object.keys(ic)).toEqual(['ic_100', 'ic_50', 'ic_15']);
    for (const [metric, values] of Object.entries(expected)) {
      const got = metric.startsWith('ad') ? ad[metric] : ic[metric];
      values.forEach((v, i) => expect(got[i], `${metric}[${i}]`).toBeCloseTo(v, 4));
    }
    disposeContext(ctx);
  });

  it('leaves no tensor behind and the classifier unchanged', async () => {
    const ctx = makeContext();
    const evaluator = createAdIc(AdIcConfig.parse({ batchSize: 4 }));
    const weightsBefore = classifier.weights.map((w) => Array.from(w.dataSync()));
    await evaluator.evaluate(ctx);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await evaluator.evaluate(ctx);
    expect(tf.memory().numTensors).toBe(before);
    expect(classifier.weights.map((w) => Array.from(w.dataSync()))).toEqual(weightsBefore);
    disposeContext(ctx);
  });
});
