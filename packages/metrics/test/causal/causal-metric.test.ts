import { initBackend, tf } from '@gaze/engine';
import type { LayersClassifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeletionConfig,
  InsertionConfig,
  causalSubstrate,
  createCausalMetric,
  createEvaluator,
  descendingOrder,
  riseKernel1d,
  stepCounts,
  trapezoidAuc,
  type CausalImageScore,
  type EvaluationContext,
} from '../../src/index.js';
import { unusedExplainer } from '../localization/helpers.js';
import { disposeLinearContext, linearClassifier, linearContext, sigmoid } from './helpers.js';
import { useQuickstartBatch } from '../helpers/quickstart.js';

beforeAll(async () => {
  await initBackend('wasm');
});

// The region R = the 2x2 block of pixels 5, 6, 9, 10 of a 4x4 grey image (row-major):
//   . . . .
//   . R R .
//   . R R .
//   . . . .
const REGION = [5, 6, 9, 10];
/** z0 = scale * (mean of R), z1 = 0: with `score: 'logit'` and scale 1 the score IS the fraction of R kept. */
function regionClassifier(scale: number): LayersClassifier {
  const w0 = new Array<number>(16).fill(0);
  for (const p of REGION) w0[p] = scale / REGION.length;
  return linearClassifier([4, 4, 1], [w0, new Array<number>(16).fill(0)]);
}
const ones16 = new Array<number>(16).fill(1);
/** A map whose descending order gives pixel p the rank rankOf[p]. */
const mapOfRanks = (rankOf: number[]) => rankOf.map((r) => (15 - r) / 15);
// Four maps and the ranks of R's pixels under each (ties by index):
//   A: R = 1, rest 0.5 -> R ranks 0..3 (mean 1.5)        B: R = 0, rest 1 -> R ranks 12..15 (mean 13.5)
//   C: constant -> ranks = indices 5, 6, 9, 10 (mean 7.5)  D: explicit ranks p5:0, p6:3, p9:8, p10:13 (mean 6)
const MAPS = [
  ones16.map((_, p) => (REGION.includes(p) ? 1 : 0.5)),
  ones16.map((_, p) => (REGION.includes(p) ? 0 : 1)),
  new Array<number>(16).fill(0.3),
  mapOfRanks([1, 2, 4, 5, 6, 0, 3, 7, 9, 8, 13, 10, 11, 12, 14, 15]),
];
// With 1-pixel steps the score (fraction of R kept) falls by 1/4 at step rank+1 for each pixel of R,
// so each pixel of R contributes (1/|R|) * (rank + 1/2) / HW to the area (full height for `rank`
// steps, half for the step that removes it): AUC = (mean rank of R + 1/2) / 16.
const ANALYTIC_AUC = [(1.5 + 0.5) / 16, (13.5 + 0.5) / 16, (7.5 + 0.5) / 16, (6 + 0.5) / 16]; // .125, .875, .5, .40625

describe('step counts, order and AUC', () => {
  it('splits H*W pixels into steps with both endpoints', () => {
    // Default 224 steps: at 224x224 exactly the reference's step = 224 pixels.
    const big = stepCounts(224 * 224, {});
    expect(big).toHaveLength(225);
    expect(big.every((k, i) => k === 224 * i)).toBe(true);
    // At 32x32: k_i = round(1024 i / 224): 0, 5 (4.57), 9 (9.14), 14 (13.71), ..., 1024.
    const small = stepCounts(1024, {});
    expect(small).toHaveLength(225);
    expect(small.slice(0, 4)).toEqual([0, 5, 9, 14]);
    expect(small[224]).toBe(1024);
    // Halves round up: round(10 * 1/4) = round(2.5) = 3.
    expect(stepCounts(10, { steps: 4 })).toEqual([0, 3, 5, 8, 10]);
    // Steps are capped at the pixel count.
    expect(stepCounts(16, {})).toEqual(Array.from({ length: 17 }, (_, i) => i));
    // The reference's `step`: batch demo 1792 px at 224x224 -> 28 steps, 29 scores; a short last step.
    expect(stepCounts(224 * 224, { pixelsPerStep: 1792 })).toHaveLength(29);
    expect(stepCounts(16, { pixelsPerStep: 3 })).toEqual([0, 3, 6, 9, 12, 15, 16]);
  });

  it('orders pixels by descending value, ties by index', () => {
    expect(Array.from(descendingOrder([9, 0.2, 0.5, 0.2, 0.9, 0.5], 1, 5))).toEqual([3, 1, 4, 0, 2]);
    expect(Array.from(descendingOrder(MAPS[3], 0, 16)).slice(0, 4)).toEqual([5, 0, 1, 6]);
  });

  it('is the reference trapezoid rule on a uniform grid', () => {
    // RISE auc(arr) = (sum - arr[0]/2 - arr[-1]/2) / (len - 1): [1, .5, .5, 0] -> (2 - .5 - 0) / 3 = .5
    expect(trapezoidAuc([0, 1 / 3, 2 / 3, 1], [1, 0.5, 0.5, 0])).toBeCloseTo(0.5, 12);
    // Non-uniform x: [0, .75, 1] with [1, 1, 0] -> .75 + .125
    expect(trapezoidAuc([0, 0.75, 1], [1, 1, 0])).toBeCloseTo(0.875, 12);
  });
});

describe('the RISE blur kernel', () => {
  it('is scipy gaussian_filter of an 11x11 delta with sigma 5 (reflect mode)', () => {
    const k = riseKernel1d(11, 5);
    // metrics.md: the 2-D kernel has centre 0.00883 and corner 0.00774 and sums to 1.
    expect(k[5] * k[5]).toBeCloseTo(0.00883, 5);
    expect(k[0] * k[0]).toBeCloseTo(0.00774, 5);
    expect(k.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    for (let i = 0; i < 11; i++) expect(k[i]).toBeCloseTo(k[10 - i], 14);
  });

  it('blurs with zero padding like conv2d(padding=5): a constant image darkens at the border', () => {
    // Blur of ones at (r, c) = S(r) * S(c), S(r) = sum of the taps that land inside the image.
    const k = riseKernel1d(11, 5);
    const S = (r: number, size: number) => {
      let s = 0;
      for (let t = -5; t <= 5; t++) if (r + t >= 0 && r + t < size) s += k[t + 5];
      return s;
    };
    const ones = tf.ones([1, 32, 32, 1]) as tf.Tensor4D;
    const blurred = causalSubstrate(ones, DeletionConfig.parse({ substrate: 'blur' }), 'test');
    const v = blurred.dataSync();
    expect(v[0]).toBeCloseTo(S(0, 32) ** 2, 6); // corner: 0.2992
    expect(S(0, 32) ** 2).toBeCloseTo(0.2992, 4);
    expect(v[2 * 32 + 16]).toBeCloseTo(S(2, 32), 6); // row 2, centre column: S(2) * 1
    expect(v[16 * 32 + 16]).toBeCloseTo(1, 6);
    const reflect = causalSubstrate(ones, DeletionConfig.parse({ substrate: 'blur', blurPadding: 'reflect' }), 'test');
    expect(Math.min(...reflect.dataSync())).toBeCloseTo(1, 6);
    tf.dispose([ones, blurred, reflect]);
  });
});

describe('deletion', () => {
  let classifier: LayersClassifier;
  beforeAll(() => {
    classifier = regionClassifier(1);
  });
  afterAll(() => classifier.dispose());

  it('AUC of a model whose score is the fraction of a region kept equals the analytic value', async () => {
    const ctx = linearContext({ classifier, shape: [4, 4, 1], images: MAPS.map(() => ones16), maps: MAPS, targets: [0, 0, 0, 0] });
    for (const batchSize of [5, 128]) {
      // batchSize 5: 4 images x 17 steps = 68 images in 14 chunks that straddle images.
      const evaluator = createCausalMetric('deletion', DeletionConfig.parse({ score: 'logit', batchSize }));
      const before = tf.memory().numTensors;
      const rows = (await evaluator.evaluate(ctx)) as CausalImageScore[];
      expect(tf.memory().numTensors).toBe(before);
      expect(rows.map((r) => r.metric)).toEqual(new Array(4).fill('deletion_auc'));
      expect(rows.map((r) => r.id)).toEqual(['img0', 'img1', 'img2', 'img3']);
      rows.forEach((r, i) => expect(r.value, `map ${i}`).toBeCloseTo(ANALYTIC_AUC[i], 6));
      // Curve of map A: 1, .75, .5, .25, then 0 for the 12 pixels outside R; x = k/16.
      expect(rows[0].curve!.y.map((v) => +v.toFixed(6))).toEqual([1, 0.75, 0.5, 0.25, ...new Array(13).fill(0)]);
      expect(rows[0].curve!.x).toEqual(Array.from({ length: 17 }, (_, i) => i / 16));
      // Map B keeps R whole for 12 steps.
      expect(rows[1].curve!.y.slice(0, 13).every((v) => Math.abs(v - 1) < 1e-6)).toBe(true);
      const { summaries, curves } = evaluator.summarize(rows, ctx.info);
      expect(summaries).toHaveLength(1);
      expect(summaries[0].metric).toBe('deletion_auc');
      expect(summaries[0].n).toBe(4);
      expect(summaries[0].value).toBeCloseTo((0.125 + 0.875 + 0.5 + 0.40625) / 4, 6);
      expect(summaries[0].perImage).toHaveLength(4);
      // The mean curve at step 1: A .75, B 1, C 1 (pixel 0 is outside R), D .75 (pixel 5 first).
      expect(curves![0].metric).toBe('deletion');
      expect(curves![0].y[1]).toBeCloseTo((0.75 + 1 + 1 + 0.75) / 4, 6);
      expect(curves![0].x).toHaveLength(17);
    }
    disposeLinearContext(ctx);
  });

  it('uses the true x spacing for a short last step (pixelsPerStep)', async () => {
    const ctx = linearContext({ classifier, shape: [4, 4, 1], images: [ones16], maps: [MAPS[0]], targets: [0] });
    const evaluator = createEvaluator({ type: 'deletion', score: 'logit', pixelsPerStep: 3 }, { where: 'evaluation.0', seed: 0 });
    const rows = (await evaluator.evaluate(ctx)) as CausalImageScore[];
    // k = 0, 3, 6, ..., 15, 16: kept fraction of R = 1, .25, 0, 0, 0, 0, 0 -> area (3/16)(1 + .25)/2 + (3/16)(.25)/2 = .140625
    expect(rows[0].curve!.y.map((v) => +v.toFixed(6))).toEqual([1, 0.25, 0, 0, 0, 0, 0]);
    expect(rows[0].value).toBeCloseTo(0.140625, 6);
    disposeLinearContext(ctx);
  });

  it('scores softmax probabilities by default (the reference trapezoid of sigmoid(2 * kept))', async () => {
    const twice = regionClassifier(2);
    const ctx = linearContext({ classifier: twice, shape: [4, 4, 1], images: [ones16], maps: [MAPS[0]], targets: [0] });
    const rows = (await createEvaluator({ type: 'deletion' }, { where: 'e', seed: 0 }).evaluate(ctx)) as CausalImageScore[];
    // p0 = softmax([2 * kept, 0])[0] = sigmoid(2 * kept), kept = max(0, 1 - i/4) at step i.
    const y = Array.from({ length: 17 }, (_, i) => sigmoid(2 * Math.max(0, 1 - i / 4)));
    rows[0].curve!.y.forEach((v, i) => expect(v).toBeCloseTo(y[i], 6));
    const reference = (y.reduce((s, v) => s + v, 0) - y[0] / 2 - y[16] / 2) / 16; // RISE auc()
    expect(rows[0].value).toBeCloseTo(reference, 6);
    disposeLinearContext(ctx);
    twice.dispose();
  });

  it("fills with a per-channel colour for substrate 'mean'", async () => {
    // 2x2x3 white image; z0 = mean of pixel 0's three channels; pixel 0 deleted first.
    const model = linearClassifier([2, 2, 3], [[1 / 3, 1 / 3, 1 / 3, 0, 0, 0, 0, 0, 0, 0, 0, 0], new Array(12).fill(0)]);
    const ctx = linearContext({ classifier: model, shape: [2, 2, 3], images: [new Array(12).fill(1)], maps: [[1, 0, 0, 0]], targets: [0] });
    const evaluator = createEvaluator({ type: 'deletion', score: 'logit', substrate: 'mean', mean: [0.2, 0.4, 0.6] }, { where: 'e', seed: 0 });
    const rows = (await evaluator.evaluate(ctx)) as CausalImageScore[];
    // Curve 1, then (.2 + .4 + .6)/3 = .4 for the rest: AUC = (1/4)((1 + .4)/2 + .4 + .4 + .4) = .475
    expect(rows[0].curve!.y.map((v) => +v.toFixed(6))).toEqual([1, 0.4, 0.4, 0.4, 0.4]);
    expect(rows[0].value).toBeCloseTo(0.475, 6);
    const bad = createEvaluator({ type: 'deletion', substrate: 'mean', mean: [0.5, 0.5] }, { where: 'evaluation.3', seed: 0 });
    await expect(bad.evaluate(ctx)).rejects.toThrow(/3 channel means/);
    disposeLinearContext(ctx);
    model.dispose();
  });

  it('validates its config', () => {
    expect(() => createEvaluator({ type: 'deletion', steps: 10, pixelsPerStep: 3 }, { where: 'evaluation.1', seed: 0 })).toThrow(/either steps or pixelsPerStep/);
    expect(() => createEvaluator({ type: 'insertion', blurKernel: 10 }, { where: 'evaluation.1', seed: 0 })).toThrow(/odd/);
    expect(() => createEvaluator({ type: 'deletion', stepz: 10 }, { where: 'evaluation.1', seed: 0 })).toThrow();
    const d = DeletionConfig.parse({});
    expect([d.substrate, d.score, d.target, d.blurKernel, d.blurSigma, d.batchSize]).toEqual(['zeros', 'probability', 'predicted', 11, 5, 128]);
    expect(InsertionConfig.parse({}).substrate).toBe('blur');
  });
});

describe('insertion', () => {
  it('starts from the zero-padded RISE blur of the image and ends at the image', async () => {
    // 8x8 white image, z0 = mean of all 64 pixels (logit). Blurred pixel (r, c) = S(r) S(c).
    // A constant map inserts pixels in index order: y_i = (i + sum_{p >= i} S(row p) S(col p)) / 64.
    const model = linearClassifier([8, 8, 1], [new Array(64).fill(1 / 64), new Array(64).fill(0)]);
    const ctx = linearContext({ classifier: model, shape: [8, 8, 1], images: [new Array(64).fill(1)], maps: [new Array(64).fill(0.5)], targets: [0] });
    const k = riseKernel1d(11, 5);
    const S = (r: number) => {
      let s = 0;
      for (let t = -5; t <= 5; t++) if (r + t >= 0 && r + t < 8) s += k[t + 5];
      return s;
    };
    const blur = Array.from({ length: 64 }, (_, p) => S(Math.floor(p / 8)) * S(p % 8));
    const expected = Array.from({ length: 65 }, (_, i) => (i + blur.slice(i).reduce((s, v) => s + v, 0)) / 64);
    const evaluator = createEvaluator({ type: 'insertion', score: 'logit', batchSize: 16 }, { where: 'e', seed: 0 });
    const before = tf.memory().numTensors;
    const rows = (await evaluator.evaluate(ctx)) as CausalImageScore[];
    expect(tf.memory().numTensors).toBe(before);
    expect(rows[0].metric).toBe('insertion_auc');
    expect(rows[0].curve!.y).toHaveLength(65);
    rows[0].curve!.y.forEach((v, i) => expect(v, `step ${i}`).toBeCloseTo(expected[i], 5));
    expect(rows[0].curve!.y[64]).toBeCloseTo(1, 6);
    const auc = (expected.reduce((s, v) => s + v, 0) - expected[0] / 2 - expected[64] / 2) / 64;
    expect(rows[0].value).toBeCloseTo(auc, 5);
    disposeLinearContext(ctx);
    model.dispose();
  });
});

describe('on the quickstart classifier', () => {
  const q = useQuickstartBatch(8);
  const context = (maps: tf.Tensor3D): EvaluationContext => ({
    classifier: q.classifier,
    explainer: unusedExplainer,
    batch: q.batch,
    maps,
    targets: q.targets,
    info: { type: 'shapes', classNames: [], numClasses: 8, imageShape: [32, 32, 3], has: { masks: true, boxes: true, attributes: false, multiLabel: false }, sizes: { train: 0, val: 0, test: 0 }, source: 'procedural' },
    seed: 0,
  });

  it('scores the start and finish images at the endpoints, and the object mask beats its inverse', async () => {
    const mask = q.batch.masks!;
    const inverse = tf.sub(1, mask) as tf.Tensor3D;
    const [p, pBlack, pBlur] = tf.tidy(() => {
      const prob = (x: tf.Tensor4D) => tf.sum(tf.mul(tf.softmax(q.classifier.logits(x)), tf.oneHot(q.targets, 8)), 1);
      const blur = causalSubstrate(q.batch.images, InsertionConfig.parse({}), 'test');
      return [prob(q.batch.images), prob(tf.zerosLike(q.batch.images)), prob(blur)].map((t) => Array.from(t.dataSync()));
    });
    const auc: Record<string, number[]> = {};
    for (const type of ['deletion', 'insertion'] as const) {
      const evaluator = createEvaluator({ type, steps: 16 }, { where: 'e', seed: 0 });
      for (const [name, maps] of [['mask', mask], ['inverse', inverse]] as const) {
        const before = tf.memory().numTensors;
        const rows = (await evaluator.evaluate(context(maps))) as CausalImageScore[];
        expect(tf.memory().numTensors).toBe(before);
        expect(rows).toHaveLength(8);
        rows.forEach((r, b) => {
          expect(r.curve!.y).toHaveLength(17);
          const [first, last] = type === 'deletion' ? [p[b], pBlack[b]] : [pBlur[b], p[b]];
          expect(r.curve!.y[0]).toBeCloseTo(first, 5);
          expect(r.curve!.y[16]).toBeCloseTo(last, 5);
        });
        auc[`${type}:${name}`] = rows.map((r) => r.value);
      }
    }
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    // Removing the object first destroys the class sooner than removing the background first.
    expect(mean(auc['deletion:mask'])).toBeLessThan(mean(auc['deletion:inverse']));
    expect(mean(auc['insertion:mask'])).toBeGreaterThan(mean(auc['insertion:inverse']));
    inverse.dispose();
  });
});
