import { initBackend, tf } from '@gaze/engine';
import { disposeBatch, type Batch } from '@gaze/data';
import { createExplainer, type Explainer } from '@gaze/explainers';
import { createClassifier, type Classifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SanityRandomizationConfig,
  createEvaluator,
  createSanityRandomization,
  initializerKind,
  minMax,
  randomizationUnits,
  randomizeUnit,
  restoreVariables,
  snapshotVariables,
  ssim,
  type EvaluationContext,
  type ImageScore,
} from '../../src/index.js';
import { info } from '../localization/helpers.js';
import { edgeExplainer, gradientExplainer, weightBytes } from './helpers.js';
import { useQuickstartBatch } from '../helpers/quickstart.js';

const config = (keys: Record<string, unknown> = {}) => SanityRandomizationConfig.parse(keys);
const value = (rows: ImageScore[], id: string, metric: string) => {
  const row = rows.find((r) => r.id === id && r.metric === metric);
  if (!row) throw new Error(`no row ${id} ${metric}`);
  return row.value;
};

/** vgg-small [2, 2] on 12x12 grey images, 3 classes: units block1_conv1, block2_conv1, logits. */
function tinyVgg(batchNorm = false): Promise<Classifier> {
  return createClassifier({ type: 'vgg-small', channels: [2, 2], batchNorm }, { inputShape: [12, 12, 1], numClasses: 3, seed: 1, baseDir: process.cwd(), where: 'backbone' });
}

const H = 12;
const HW = H * H;
/** Original map of image b: a ramp over a permutation of the pixels, min 0, max 1. */
const originalMap = (b: number) => Array.from({ length: HW }, (_, i) => ((i * (5 + 2 * b) + b) % HW) / (HW - 1));

function tinyContext(classifier: Classifier, explainer: Explainer, n = 3): EvaluationContext {
  const images = new Float32Array(n * HW).map((_, i) => (Math.sin(i * 1.7) + 1) / 2);
  const batch: Batch = { images: tf.tensor4d(images, [n, H, H, 1]), labels: tf.tensor1d([0, 1, 2].slice(0, n), 'int32'), ids: ['a', 'b', 'c'].slice(0, n) };
  return {
    classifier,
    explainer,
    batch,
    maps: tf.tensor3d(Array.from({ length: n }, (_, b) => originalMap(b)).flat(), [n, H, H]),
    targets: tf.tensor1d([2, 0, 1].slice(0, n), 'int32'),
    info: info(3, [H, H]),
    seed: 11,
  };
}

function disposeContext(ctx: EvaluationContext): void {
  disposeBatch(ctx.batch);
  tf.dispose([ctx.maps, ctx.targets]);
}

const kernel = (c: Classifier, layer: string) => c.weights.find((w) => w.name.startsWith(`${layer}/kernel`))!;

/**
 * An explainer whose maps depend only on WHICH units are randomized: it keeps a copy of the
 * logits and block1_conv1 kernels and returns, per image b,
 *   - the original map m_b when the logits kernel is intact,
 *   - 1 - m_b (exactly reversed ranks) when only the logits are randomized (block2 may be too),
 *   - all zeros (a constant map) when both the logits and block1_conv1 are randomized.
 * It records the targets it was asked for.
 */
function probeExplainer(classifier: Classifier): Explainer & { targets: number[][] } {
  const logits = kernel(classifier, 'logits').dataSync().slice();
  const conv1 = kernel(classifier, 'block1_conv1').dataSync().slice();
  const same = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).every((v, i) => v === b[i]);
  const targets: number[][] = [];
  return {
    name: 'probe',
    targets,
    explain: async (x, target) => {
      targets.push(Array.from(target.dataSync()));
      const logitsChanged = !same(kernel(classifier, 'logits').dataSync(), logits);
      const conv1Changed = !same(kernel(classifier, 'block1_conv1').dataSync(), conv1);
      const maps = Array.from({ length: x.shape[0] }, (_, b) => {
        const m = originalMap(b);
        return logitsChanged && conv1Changed ? m.map(() => 0) : logitsChanged ? m.map((v) => 1 - v) : m;
      });
      return tf.tensor3d(maps.flat(), [x.shape[0], H, H]);
    },
  };
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('randomization units', () => {
  it('groups a layers classifier by layer and picks each weight its kind of initializer', async () => {
    const c = await tinyVgg(true);
    const units = randomizationUnits(c);
    expect(units.map((u) => u.name)).toEqual(['block1_conv1', 'block1_bn1', 'block2_conv1', 'block2_bn1', 'logits']);
    // Trainable weights only: conv kernel (no bias with BN), BN gamma/beta (moving stats are not trainable), dense kernel + bias.
    expect(units.map((u) => u.variables.map((v) => initializerKind(v, u.className)))).toEqual([['heNormal'], ['ones', 'zeros'], ['heNormal'], ['ones', 'zeros'], ['glorotUniform', 'zeros']]);
    // The fallback for a classifier without `model`: trainable weights grouped by name prefix.
    const bare = { trainableWeights: c.trainableWeights } as unknown as Classifier;
    expect(randomizationUnits(bare).map((u) => [u.name, u.variables.length])).toEqual([
      ['block1_conv1', 1],
      ['block1_bn1', 2],
      ['block2_conv1', 1],
      ['block2_bn1', 2],
      ['logits', 2],
    ]);
    c.dispose();
  });

  it('re-initializes a unit deterministically from the seed and restores it bit-identically', async () => {
    const c = await tinyVgg(true);
    const before = weightBytes(c);
    const snapshot = snapshotVariables(c.weights);
    const [conv1, bn1] = randomizationUnits(c);
    // Make gamma/beta differ from their initial 1/0 so re-initialization is visible.
    bn1.variables[0].assign(tf.fill([2], 3));
    bn1.variables[1].assign(tf.fill([2], -2));
    const movingMean = c.weights.find((w) => w.name.startsWith('block1_bn1/moving_mean'))!;
    movingMean.assign(tf.tensor1d([0.25, 0.5]));
    randomizeUnit(conv1, 5);
    const first = conv1.variables[0].dataSync().slice();
    randomizeUnit(conv1, 5);
    expect(Array.from(conv1.variables[0].dataSync())).toEqual(Array.from(first));
    randomizeUnit(conv1, 6);
    expect(Array.from(conv1.variables[0].dataSync())).not.toEqual(Array.from(first));
    randomizeUnit(bn1, 5);
    expect(Array.from(bn1.variables[0].dataSync())).toEqual([1, 1]);
    expect(Array.from(bn1.variables[1].dataSync())).toEqual([0, 0]);
    expect(Array.from(movingMean.dataSync())).toEqual([0.25, 0.5]); // non-trainable: kept
    restoreVariables(c.weights, snapshot);
    tf.dispose(snapshot);
    expect(weightBytes(c)).toEqual(before);
    c.dispose();
  });
});

describe('sanity-randomization', () => {
  let classifier: Classifier;
  beforeAll(async () => {
    classifier = await tinyVgg();
  });
  afterAll(() => classifier.dispose());

  it('randomizes cascading top-down cumulatively and independent one unit at a time', async () => {
    const probe = probeExplainer(classifier);
    const ctx = tinyContext(classifier, probe);
    const before = weightBytes(classifier);
    const evaluator = createSanityRandomization(config({ target: 'original' }));
    const rows = await evaluator.evaluate(ctx);
    expect(weightBytes(classifier)).toEqual(before);
    // Cascading steps: {logits} -> reversed (-1), {logits, block2} -> reversed (-1), {logits, block2, block1} -> zeros (0).
    // Independent: logits alone -> -1, block2 alone -> 1, block1 alone -> 1 (the logits are intact): mean 1/3.
    for (const [b, id] of ['a', 'b', 'c'].entries()) {
      // The maps travel as float32 tensors, and SSIM min-maxes both (image c's map spans [2/143, 141/143]).
      const m = minMax(Float32Array.from(originalMap(b)));
      const reversed = ssim(m, minMax(Float32Array.from(originalMap(b).map((v) => 1 - v))), H, H);
      const zeroed = ssim(m, new Float32Array(HW), H, H);
      expect(value(rows, id, 'sanity_cascading_spearman/logits')).toBeCloseTo(-1, 12);
      expect(value(rows, id, 'sanity_cascading_spearman/block2_conv1')).toBeCloseTo(-1, 12);
      expect(value(rows, id, 'sanity_cascading_spearman/block1_conv1')).toBe(0);
      expect(value(rows, id, 'sanity_cascading_spearman')).toBe(0);
      expect(value(rows, id, 'sanity_cascading_ssim/logits')).toBeCloseTo(reversed, 12);
      expect(value(rows, id, 'sanity_cascading_ssim')).toBeCloseTo(zeroed, 12);
      expect(value(rows, id, 'sanity_independent_spearman/logits')).toBeCloseTo(-1, 12);
      expect(value(rows, id, 'sanity_independent_spearman/block2_conv1')).toBeCloseTo(1, 12);
      expect(value(rows, id, 'sanity_independent_spearman/block1_conv1')).toBeCloseTo(1, 12);
      expect(value(rows, id, 'sanity_independent_spearman')).toBeCloseTo(1 / 3, 12);
      expect(value(rows, id, 'sanity_independent_ssim')).toBeCloseTo((reversed + 2) / 3, 12);
      expect(rows.find((r) => r.id === id)!.label).toBe(b);
    }
    // 3 cascading + 3 independent explanations, each of the ctx targets [2, 0, 1].
    expect(probe.targets).toEqual(new Array(6).fill([2, 0, 1]));
    // Rows: per image 2 modes x (3 units + 1 summary) x 2 similarities.
    expect(rows.length).toBe(3 * 16);

    const { summaries, curves } = evaluator.summarize(rows, ctx.info);
    const summary = (metric: string) => summaries.find((s) => s.metric === metric)!;
    expect(summary('sanity_cascading_spearman').value).toBe(0);
    expect(summary('sanity_cascading_spearman').perImage).toEqual([0, 0, 0]);
    expect(summary('sanity_independent_spearman').value).toBeCloseTo(1 / 3, 12);
    expect(summary('sanity_pass')).toEqual({ metric: 'sanity_pass', value: 1, n: 3 }); // 0 < 0.5
    const cascade = curves!.find((c) => c.metric === 'sanity_cascading_spearman')!;
    expect(cascade.x).toEqual([0, 1, 2, 3]);
    expect(cascade.y.map((v) => Math.round(v * 1e9) / 1e9)).toEqual([1, -1, -1, 0]);
    const independent = curves!.find((c) => c.metric === 'sanity_independent_spearman')!;
    expect(independent.x).toEqual([1, 2, 3]);
    expect(independent.y.map((v) => Math.round(v * 1e9) / 1e9)).toEqual([-1, 1, 1]);
    disposeContext(ctx);
  });

  it('explains the randomized model prediction by default, and honours layers, images and modes', async () => {
    const probe = probeExplainer(classifier);
    const ctx = tinyContext(classifier, probe);
    const evaluator = createEvaluator({ type: 'sanity-randomization', layers: ['logits', 'block1_conv1'], images: 2, modes: ['cascading'] }, { where: 'evaluation.0', seed: 0 });
    const rows = await evaluator.evaluate(ctx);
    // Units top-down [logits, block1_conv1]; the first 2 images only; cascading only.
    expect([...new Set(rows.map((r) => r.metric))]).toEqual([
      'sanity_cascading_spearman/logits',
      'sanity_cascading_ssim/logits',
      'sanity_cascading_spearman/block1_conv1',
      'sanity_cascading_ssim/block1_conv1',
      'sanity_cascading_spearman',
      'sanity_cascading_ssim',
    ]);
    expect([...new Set(rows.map((r) => r.id))]).toEqual(['a', 'b']);
    expect(value(rows, 'a', 'sanity_cascading_spearman/logits')).toBeCloseTo(-1, 12);
    expect(value(rows, 'b', 'sanity_cascading_spearman')).toBe(0);
    // The targets: the argmax of the randomized model, computed here step by step with the same seed (ctx.seed = 11).
    const units = randomizationUnits(classifier);
    const snapshot = snapshotVariables(classifier.weights);
    const x = ctx.batch.images.slice(0, 2);
    const expected: number[][] = [];
    for (const name of ['logits', 'block1_conv1']) {
      randomizeUnit(units.find((u) => u.name === name)!, 11);
      expected.push(Array.from(tf.tidy(() => tf.argMax(classifier.logits(x), 1)).dataSync()));
    }
    restoreVariables(classifier.weights, snapshot);
    tf.dispose([snapshot, x]);
    expect(probe.targets).toEqual(expected);
    disposeContext(ctx);
  });

  it('names an unknown layer', async () => {
    const ctx = tinyContext(classifier, probeExplainer(classifier));
    const evaluator = createSanityRandomization(config({ layers: ['logit'] }), 'evaluation.2');
    await expect(evaluator.evaluate(ctx)).rejects.toThrow(/no layer with weights named 'logit' \(did you mean 'logits'\?\)/);
    disposeContext(ctx);
  });

  it('restores the weights bit-identically when the explainer throws, and leaks no tensors', async () => {
    const before = weightBytes(classifier);
    const numTensors = tf.memory().numTensors;
    let calls = 0;
    const failing: Explainer = {
      name: 'failing',
      explain: async (x) => {
        if (++calls === 2) throw new Error('explainer failed');
        return tf.zeros([x.shape[0], H, H]) as tf.Tensor3D;
      },
    };
    const ctx = tinyContext(classifier, failing);
    const ctxTensors = tf.memory().numTensors;
    await expect(createSanityRandomization(config()).evaluate(ctx)).rejects.toThrow('explainer failed');
    expect(tf.memory().numTensors).toBe(ctxTensors);
    expect(weightBytes(classifier)).toEqual(before);
    disposeContext(ctx);
    expect(tf.memory().numTensors).toBe(numTensors);
  });

  it('leaks no tensors across repeated evaluations with a gradient explainer', async () => {
    const ctx = tinyContext(classifier, gradientExplainer(classifier));
    const evaluator = createSanityRandomization(config());
    await evaluator.evaluate(ctx); // warm-up (graph caches)
    const before = tf.memory().numTensors;
    await evaluator.evaluate(ctx);
    await evaluator.evaluate(ctx);
    expect(tf.memory().numTensors).toBe(before);
    disposeContext(ctx);
  });
});

describe('sanity-randomization on the quickstart classifier', () => {
  const q = useQuickstartBatch(8);

  async function run(explainer: Explainer) {
    const maps = await explainer.explain(q.batch.images, q.targets);
    const ctx: EvaluationContext = { classifier: q.classifier, explainer, batch: q.batch, maps, targets: q.targets, info: info(8, [32, 32]), seed: 0 };
    const before = weightBytes(q.classifier);
    const numTensors = tf.memory().numTensors;
    const evaluator = createSanityRandomization(config());
    const start = performance.now();
    const rows = await evaluator.evaluate(ctx);
    const seconds = (performance.now() - start) / 1000;
    expect(tf.memory().numTensors).toBe(numTensors);
    expect(weightBytes(q.classifier)).toEqual(before);
    maps.dispose();
    const { summaries } = evaluator.summarize(rows, ctx.info);
    const get = (metric: string) => summaries.find((s) => s.metric === metric)!.value;
    console.log(
      `sanity-randomization (${explainer.name}, 8 images, ${randomizationUnits(q.classifier).length} layers x 2 modes): ${seconds.toFixed(2)} s; ` +
        `cascading spearman ${get('sanity_cascading_spearman').toFixed(3)} ssim ${get('sanity_cascading_ssim').toFixed(3)}; ` +
        `independent spearman ${get('sanity_independent_spearman').toFixed(3)} ssim ${get('sanity_independent_ssim').toFixed(3)}`,
    );
    return { rows, get };
  }

  it('flags an edge detector (its maps ignore the model): similarity stays 1', async () => {
    const { rows, get } = await run(edgeExplainer);
    for (const r of rows) expect(r.value).toBeCloseTo(1, 9);
    expect(get('sanity_pass')).toBe(0);
  });

  it('passes a model-dependent explainer (vanilla gradient)', async () => {
    const { get } = await run(gradientExplainer(q.classifier));
    expect(get('sanity_cascading_spearman')).toBeLessThan(0.5);
    expect(get('sanity_pass')).toBe(1);
  });

  it('passes Grad-CAM', async () => {
    const { get } = await run(createExplainer({ type: 'gradcam' }, { classifier: q.classifier, seed: 0, where: 'explainers.0' }));
    expect(get('sanity_cascading_spearman')).toBeLessThan(0.5);
    expect(get('sanity_pass')).toBe(1);
  });
});
