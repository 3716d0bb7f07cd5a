import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatasetInfo } from '@gaze/data';
import { encodeNpy, initBackend, readNpy, tf } from '@gaze/engine';
import { assertNoTensorLeak, gazeError } from '@gaze/engine/testing';
import { createExplainer } from '@gaze/explainers';
import { createEvaluator } from '@gaze/metrics';
import { noise, tinyCnn, writeModel } from '@gaze/onnx/testing';
import { explainImages, openImages } from '@gaze/runner';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate, evaluatorTypes, explain, explainerTypes, loadModel, runExperiment, saveMaps, type GazeModel } from '../src/index.js';

// The tiny ONNX CNN of @gaze/onnx/testing: input [N,3,8,8], 5 classes, taps features / relu (the CAM tap).
const N = 5;
let root: string;
let onnx: string;
let npy: string;
let folder: string;
/** The .npy batch in NHWC, [N,8,8,3], values in [0,1]. */
let nhwc: Float32Array;

beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'gaze-core-'));
  onnx = writeModel(join(root, 'tiny.onnx'), tinyCnn());
  // [N,3,8,8] as PyTorch saves a batch.
  const nchw = Float32Array.from({ length: N * 3 * 64 }, (_, i) => (noise(i, 7) + 1) / 2);
  npy = join(root, 'batch.npy');
  writeFileSync(npy, encodeNpy(nchw, [N, 3, 8, 8]));
  nhwc = new Float32Array(nchw.length);
  for (let b = 0; b < N; b++) for (let c = 0; c < 3; c++) for (let p = 0; p < 64; p++) nhwc[(b * 64 + p) * 3 + c] = nchw[(b * 3 + c) * 64 + p];
  folder = join(root, 'images');
  mkdirSync(join(folder, 'a'), { recursive: true });
  for (const [name, w, h, salt] of [['a/one.png', 20, 12, 1], ['b.png', 8, 8, 2], ['c.jpg', 9, 11, 3]] as const) {
    const raw = Buffer.from(Array.from({ length: w * h * 3 }, (_, i) => Math.floor(((noise(i, salt) + 1) / 2) * 255)));
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).toFile(join(folder, name));
  }
  writeFileSync(join(folder, 'broken.png'), 'not a png');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** What `gaze explain` writes for these images: maps.npy and logits.npy. */
async function runnerMaps(model: GazeModel, images: string, method: string, batchSize: number, shorterSide?: number) {
  const out = mkdtempSync(join(root, `runner-${method}-`));
  const source = await openImages(images, model.inputShape, { shorterSide });
  await explainImages({ classifier: model.classifier, images: source, method, target: 'predicted', out, batchSize, overlays: false });
  return { maps: await readNpy(join(out, 'maps.npy')), logits: await readNpy(join(out, 'logits.npy')) };
}

function argmaxRows(values: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: values.length / k }, (_, i) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (values[i * k + j] > values[i * k + best]) best = j;
    return best;
  });
}

const nhwcTensor = () => tf.tensor4d(nhwc, [N, 8, 8, 3]);
/** Sanity checks randomize weights (the ONNX model's are constants) and SSIM needs 11 px: a 16-px built-in backbone. */
const sanityModel = () => loadModel({ type: 'vgg-small', channels: [4, 8], inputShape: [16, 16, 3], numClasses: 5, seed: 1 });
const sanityImages = () => ({ data: Float32Array.from({ length: 2 * 16 * 16 * 3 }, (_, i) => (noise(i, 9) + 1) / 2), shape: [2, 16, 16, 3] });

describe('explain() gives the maps `gaze explain` writes', () => {
  it('for a .npy batch (the network input as is), by path, as { data, shape } and as a tensor, for gradcam and gradient', async () => {
    const model = await loadModel(onnx, { preprocess: 'none' });
    expect(model.format).toBe('onnx');
    expect(model.inputShape).toEqual([8, 8, 3]);
    expect(explainerTypes()).toEqual(expect.arrayContaining(['gradcam', 'gradient']));
    for (const method of ['gradcam', 'gradient']) {
      const { maps, logits } = await runnerMaps(model, npy, method, 2);
      expect(maps.shape).toEqual([N, 8, 8]);
      const expected = Array.from(maps.data);
      expect(Math.max(...expected), method).toBeGreaterThan(0);
      const x = nhwcTensor();
      for (const images of [npy, { data: nhwc, shape: [N, 8, 8, 3] }, x]) {
        const got = await explain(model, images, { method, batch: 2 });
        expect(got.shape).toEqual([N, 8, 8]);
        expect(Array.from(got.data), method).toEqual(expected);
        expect(got.targets).toEqual(argmaxRows(logits.data, 5));
        expect(got.ids).toEqual(['0', '1', '2', '3', '4']);
        expect(got.normalized).toBe(false);
      }
      // Raw units, not [0,1]: the maps are not all scaled to a maximum of 1.
      expect(expected.some((v) => v > 1) || [0, 1, 2, 3, 4].some((i) => Math.max(...expected.slice(i * 64, (i + 1) * 64)) !== 1)).toBe(true);
      x.dispose();
    }
    model.dispose();
  });

  it('for a folder of PNG/JPEG files (ImageNet preprocessing, resized and cropped as gaze explain does) and for the files as a list', async () => {
    const model = await loadModel(onnx);
    // gaze explain's default for an 8-px ONNX input: shorter side to round(8 * 256 / 224) = 9, centre crop 8.
    const { maps, logits } = await runnerMaps(model, folder, 'gradcam', 8, 9);
    expect(maps.shape).toEqual([3, 8, 8]);
    const got = await explain(model, folder, { method: 'gradcam' });
    expect(Array.from(got.data)).toEqual(Array.from(maps.data));
    expect(got.ids).toEqual(['a/one.png', 'b.png', 'c.jpg']);
    expect(got.skipped.map((s) => s.file)).toEqual(['broken.png']);
    expect(got.targets).toEqual(argmaxRows(logits.data, 5));
    const files = ['a/one.png', 'b.png', 'c.jpg'].map((f) => join(folder, f));
    const listed = await explain(model, files, { method: 'gradcam' });
    expect(Array.from(listed.data)).toEqual(Array.from(maps.data));
    // resize: 0 stretches instead: other pixels, other maps (the 20x12 image is not square).
    const stretched = await explain(model, files, { method: 'gradcam', resize: 0 });
    expect(Array.from(stretched.data.subarray(0, 64))).not.toEqual(Array.from(maps.data.subarray(0, 64)));
    model.dispose();
  });
});

describe('saveMaps()', () => {
  it('writes maps.npy equal to the maps, index.csv with ids and targets, and one overlay per image drawn over its image', async () => {
    const model = await loadModel(onnx);
    const maps = await explain(model, folder, { method: 'gradcam' });
    const out = join(root, 'saved');
    const saved = await saveMaps(maps, out, { format: 'both', images: folder, model });
    const npyBack = await readNpy(join(out, 'maps.npy'));
    expect(npyBack.shape).toEqual([3, 8, 8]);
    expect(Array.from(npyBack.data)).toEqual(Array.from(maps.data));
    expect(readFileSync(join(out, 'index.csv'), 'utf8')).toBe(`index,id,target\n${maps.ids.map((id, i) => `${i},${id},${maps.targets[i]}`).join('\n')}\n`);
    expect(saved.files).toEqual(['maps.npy', 'index.csv', 'overlays/a__one.png', 'overlays/b.png', 'overlays/c.png']);
    // An overlay over the image differs from one over grey; without images it is still drawn.
    const over = await sharp(join(out, 'overlays/b.png')).raw().toBuffer();
    await saveMaps(maps, join(root, 'saved-grey'), { format: 'png' });
    const grey = await sharp(join(root, 'saved-grey', 'overlays/b.png')).raw().toBuffer();
    expect(over.length).toBe(grey.length);
    expect(over.equals(grey)).toBe(false);
    expect(existsSync(join(root, 'saved-grey', 'maps.npy'))).toBe(false);
    expect(await gazeError(() => saveMaps(maps, out, { format: 'tiff' as 'npy' }))).toMatchObject({ where: 'saveMaps() format' });
    expect(await gazeError(() => saveMaps(maps, out, { images: folder }))).toMatchObject({ where: 'saveMaps() model' });
    model.dispose();
  });
});

describe('explain() targets', () => {
  it("'predicted' is the argmax of the logits; a class index and an array explain those classes exactly as the explainer does", async () => {
    const model = await loadModel(onnx, { preprocess: 'none' });
    const x = nhwcTensor();
    const logits = model.classifier.logits(x);
    const predicted = argmaxRows(await logits.data(), 5);
    logits.dispose();
    const direct = createExplainer({ type: 'gradient' }, { classifier: model.classifier, seed: 0, where: 'test' });
    const directMaps = async (targets: number[], normalize = false) => {
      const t = tf.tensor1d(targets, 'int32');
      const m = await direct.explain(x, t, { normalize });
      const values = Array.from(await m.data());
      tf.dispose([t, m]);
      return values;
    };
    const auto = await explain(model, x, { method: 'gradient' });
    expect(auto.targets).toEqual(predicted);
    expect(Array.from(auto.data)).toEqual(await directMaps(predicted));

    const three = await explain(model, x, { method: 'gradient', target: 3 });
    expect(three.targets).toEqual([3, 3, 3, 3, 3]);
    expect(Array.from(three.data)).toEqual(await directMaps([3, 3, 3, 3, 3]));

    const each = [4, 3, 2, 1, 0];
    const perImage = await explain(model, x, { method: 'gradient', target: each });
    expect(perImage.targets).toEqual(each);
    expect(Array.from(perImage.data)).toEqual(await directMaps(each));
    expect(Array.from(perImage.data)).not.toEqual(Array.from(three.data));

    const normalized = await explain(model, x, { method: 'gradient', target: each, normalize: true });
    expect(normalized.normalized).toBe(true);
    expect(Array.from(normalized.data)).toEqual(await directMaps(each, true));
    for (let i = 0; i < N; i++) {
      const map = Array.from(normalized.data.subarray(i * 64, (i + 1) * 64));
      expect([Math.min(...map), Math.max(...map)]).toEqual([0, 1]);
    }

    expect((await gazeError(() => explain(model, x, { method: 'gradient', target: 5 }))).message).toContain('not a class of this model (0 to 4)');
    expect((await gazeError(() => explain(model, x, { method: 'gradient', target: [1, 2] }))).message).toBe('target lists 2 classes for 5 images');
    direct.dispose?.();
    x.dispose();
    model.dispose();
  });

  it('explains a built-in backbone from a spec, at its own layer', async () => {
    const model = await loadModel({ type: 'vgg-small', channels: [4, 8], inputShape: [8, 8, 3], numClasses: 5, seed: 1 });
    expect(model.format).toBe('backbone');
    expect(model.layers.length).toBeGreaterThan(1);
    const x = nhwcTensor();
    const layer = model.layers[0];
    const got = await explain(model, x, { method: 'gradcam', layer, target: 1 });
    const direct = createExplainer({ type: 'gradcam', layer }, { classifier: model.classifier, seed: 0, where: 'test' });
    const t = tf.tensor1d([1, 1, 1, 1, 1], 'int32');
    const expected = await direct.explain(x, t, { normalize: false });
    expect(Array.from(got.data)).toEqual(Array.from(await expected.data()));
    tf.dispose([x, t, expected]);
    expect((await gazeError(() => loadModel({ type: 'vgg-small', channels: [4, 8] }))).message).toContain('needs the input shape and class count');
    model.dispose();
  });
});

describe('evaluate()', () => {
  const info = (n: number): DatasetInfo => ({
    type: 'images',
    classNames: ['0', '1', '2', '3', '4'],
    numClasses: 5,
    imageShape: [8, 8, 3],
    has: { masks: false, boxes: false, attributes: false, multiLabel: false },
    sizes: { train: 0, val: 0, test: n },
    source: 'evaluate()',
  });

  it('deletion on raw maps equals the evaluator driven as a run drives it (normalized maps of the predicted class)', async () => {
    expect(evaluatorTypes()).toEqual(expect.arrayContaining(['deletion', 'insertion', 'pointing-game']));
    const model = await loadModel(onnx, { preprocess: 'none' });
    const { classifier } = model;
    const x = nhwcTensor();
    const labels = [0, 1, 2, 3, 4];
    const maps = await explain(model, x, { method: 'gradcam' });
    const result = await evaluate(model, x, maps, { metric: 'deletion', steps: 8, labels });

    // As evaluateExplainers does it: targets = argmax, maps = explainer.explain (normalized), one batch.
    const explainer = createExplainer({ type: 'gradcam' }, { classifier, seed: 0, where: 'explainers.0' });
    const evaluator = createEvaluator({ type: 'deletion', steps: 8 }, { where: 'evaluation.0', seed: 0 });
    const targets = tf.tidy(() => tf.argMax(classifier.logits(x), 1).toInt() as tf.Tensor1D);
    const normalized = await explainer.explain(x, targets);
    const batch = { images: x, labels: tf.tensor1d(labels, 'int32'), ids: ['0', '1', '2', '3', '4'] };
    const rows = await evaluator.evaluate({ classifier, explainer, batch, maps: normalized, targets, info: info(N), seed: 0 });
    const { summaries } = evaluator.summarize(rows, info(N));
    // AD/IC multiply the image by the map, so unlike deletion's ranking they see the normalization itself.
    const adIc = createEvaluator({ type: 'ad-ic' }, { where: 'evaluation.1', seed: 0 });
    const adIcRows = await adIc.evaluate({ classifier, explainer, batch, maps: normalized, targets, info: info(N), seed: 0 });
    tf.dispose([targets, normalized, batch.labels]);
    const adIcResult = await evaluate(model, x, maps, { metric: 'ad-ic', labels });
    expect(adIcResult.perImage).toEqual(adIcRows.map((r) => ({ id: r.id, metric: r.metric, value: r.value, label: r.label })));
    expect(adIcRows.filter((r) => r.metric === 'ad_50').some((r) => r.value > 0 && r.value < 100)).toBe(true);

    expect(rows).toHaveLength(N);
    expect(result.perImage).toEqual(rows.map((r) => ({ id: r.id, metric: 'deletion_auc', value: r.value, label: r.label })));
    const values = result.perImage.map((r) => r.value);
    expect(values.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(new Set(values).size).toBeGreaterThan(1);
    expect(result.summary).toEqual([{ metric: 'deletion_auc', value: summaries[0].value, n: N }]);
    expect(result.summary[0].value).toBeCloseTo(values.reduce((a, b) => a + b, 0) / N, 12);
    expect(result.curves[0].x).toHaveLength(9);

    // Already normalized maps score the same (min-max normalization is idempotent), as does a tensor.
    const again = await evaluate(model, x, await explain(model, x, { method: 'gradcam', normalize: true }), { metric: 'deletion', steps: 8, labels });
    expect(again.perImage.map((r) => r.value)).toEqual(values);
    const asTensor = tf.tensor3d(maps.data, [N, 8, 8]);
    expect((await evaluate(model, x, asTensor, { metric: 'deletion', steps: 8 })).perImage.map((r) => r.value)).toEqual(values);
    asTensor.dispose();
    explainer.dispose?.();
    evaluator.dispose?.();
    x.dispose();
    model.dispose();
  });

  it('pointing game scores against given boxes; maps made for another class than the metric scores are refused', async () => {
    const model = await loadModel(onnx, { preprocess: 'none' });
    const x = nhwcTensor();
    const labels = [0, 1, 2, 3, 4];
    const maps = await explain(model, x, { method: 'gradcam', target: labels });
    // A box over the whole image for images 0-2 (every maximum is inside), one of another class for 3-4 (not scored).
    const boxes = labels.map((l, i) => [{ x0: 0, y0: 0, x1: 8, y1: 8, label: i < 3 ? l : (l + 1) % 5 }]);
    const result = await evaluate(model, x, maps, { metric: 'pointing-game', labels, boxes, tolerance: 1 });
    expect(result.perImage.filter((r) => r.metric === 'pointing_game')).toEqual([0, 1, 2].map((i) => ({ id: String(i), metric: 'pointing_game', value: 1, label: i })));
    expect(result.summary.find((s) => s.metric === 'pointing_game_images')).toEqual({ metric: 'pointing_game_images', value: 1, n: 3 });

    // A 1-pixel box away from each map's maximum, tolerance 0: misses.
    const argmaxPixel = Array.from({ length: N }, (_, i) => argmaxRows(maps.data.subarray(i * 64, (i + 1) * 64), 64)[0]);
    const far = argmaxPixel.map((p, i) => {
      const q = p === 0 ? 63 : 0;
      return [{ x0: q % 8, y0: Math.floor(q / 8), x1: (q % 8) + 1, y1: Math.floor(q / 8) + 1, label: labels[i] }];
    });
    const misses = await evaluate(model, x, maps, { metric: 'pointing-game', labels, boxes: far, tolerance: 0.5 });
    expect(misses.perImage.filter((r) => r.metric === 'pointing_game').map((r) => r.value)).toEqual([0, 0, 0, 0, 0]);

    const predictedAll = (await explain(model, x, { method: 'gradcam' })).targets;
    const wrong = predictedAll.findIndex((p, i) => p !== labels[i]);
    expect(wrong).toBeGreaterThanOrEqual(0);
    const err = await gazeError(() => evaluate(model, x, maps, { metric: 'deletion', steps: 4 }));
    expect(err.message).toContain(`scores its predicted class, ${predictedAll[wrong]}`);
    expect(err.where).toBe('maps.targets');
    x.dispose();
    model.dispose();
  });
});

describe('errors', () => {
  it('names the method, option, shape and missing input', async () => {
    const model = await loadModel(onnx, { preprocess: 'none' });
    const x = nhwcTensor();
    const unknown = await gazeError(() => explain(model, x, { method: 'gradcma' }));
    expect(unknown.message).toBe("unknown explainer type 'gradcma' (did you mean 'gradcam'?)");
    const key = await gazeError(() => explain(model, x, { method: 'gradcam', laier: 'relu' }));
    expect(key.message).toBe("gradcam has no option 'laier'");
    expect(key.hint).toContain('its options: layer');
    const tap = await gazeError(() => explain(model, x, { method: 'gradcam', layer: 'features' }));
    expect(tap.message).toContain("no tap 'features'");
    expect(tap.hint).toContain("loadModel(path, { layers: ['features'] })");
    const withTap = await loadModel(onnx, { preprocess: 'none', layers: ['features'] });
    expect((await explain(withTap, x, { method: 'gradcam', layer: 'features' })).shape).toEqual([N, 8, 8]);
    withTap.dispose();
    const nchw = await gazeError(() => explain(model, { data: new Float32Array(2 * 3 * 64), shape: [2, 3, 8, 8] }, { method: 'gradcam' }));
    expect(nchw.message).toBe('images are [2,3,8,8]; this model takes [N,H,W,C] = [N,8,8,3] (NHWC, values in [0,1])');
    expect(nchw.hint).toContain('channels-first');
    const big = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
    expect((await gazeError(() => explain(model, big, { method: 'gradcam' }))).message).toContain('[N,8,8,3]');
    big.dispose();

    const maps = await explain(model, x, { method: 'gradcam' });
    const noTruth = await gazeError(() => evaluate(model, x, maps, { metric: 'pointing-game', labels: [0, 1, 2, 3, 4] }));
    expect(noTruth.message).toContain('pass boxes');
    expect(noTruth.message).toContain('masks');
    const noLabels = await gazeError(() => evaluate(model, x, maps, { metric: 'pointing-game' }));
    expect(noLabels.message).toContain('pass labels');
    expect((await gazeError(() => evaluate(model, x, maps, { metric: 'deleton' }))).message).toBe("unknown evaluator type 'deleton' (did you mean 'deletion'?)");
    const metricKey = await gazeError(() => evaluate(model, x, maps, { metric: 'deletion', stepz: 3 }));
    expect(metricKey.message).toBe("deletion has no option 'stepz'");
    expect(metricKey.hint).toContain('steps');
    const vgg = await sanityModel();
    const small = sanityImages();
    const vggMaps = await explain(vgg, small, { method: 'gradcam' });
    const sanity = await gazeError(() => evaluate(vgg, small, vggMaps, { metric: 'sanity-randomization', images: 1 }));
    expect(sanity.message).toBe('sanity-randomization explains the images again (on a changed model): pass the method that made the maps');
    expect(sanity.where).toBe('evaluate() method');
    const checked = await evaluate(vgg, small, vggMaps, { metric: 'sanity-randomization', method: 'gradcam', images: 2, modes: ['cascading'] });
    expect(checked.perImage.filter((r) => r.metric === 'sanity_cascading_spearman').map((r) => r.id)).toEqual(['0', '1']);
    vgg.dispose();
    const fewMaps = await gazeError(() => evaluate(model, x, { data: maps.data.subarray(0, 64), shape: [1, 8, 8] }, { metric: 'deletion' }));
    expect(fewMaps.message).toBe('5 images but 1 maps');

    const missing = await gazeError(() => loadModel(join(root, 'nope', 'model.onnx')));
    expect(missing.message).toBe(`no model at ${join(root, 'nope', 'model.onnx')}`);
    x.dispose();
    model.dispose();
  });
});

describe('tensors', () => {
  it('explain() and evaluate() leave no tensor behind, for every image form, and on errors', async () => {
    const model = await loadModel(onnx, { preprocess: 'none' });
    const x = nhwcTensor();
    const maps = await explain(model, x, { method: 'gradcam' });
    await assertNoTensorLeak(() => explain(model, x, { method: 'gradcam', batch: 2 }), { runs: 3, label: 'explain tensor' });
    await assertNoTensorLeak(() => explain(model, npy, { method: 'gradient', target: 2, normalize: true }), { runs: 2, label: 'explain npy' });
    await assertNoTensorLeak(() => explain(model, folder, { method: 'gradcam' }), { runs: 2, label: 'explain folder' });
    await assertNoTensorLeak(() => evaluate(model, x, maps, { metric: 'deletion', steps: 4, batch: 2 }), { runs: 3, label: 'evaluate' });
    const vgg = await sanityModel();
    const small = sanityImages();
    const vggMaps = await explain(vgg, small, { method: 'gradcam' });
    await assertNoTensorLeak(() => evaluate(vgg, small, vggMaps, { metric: 'sanity-randomization', method: 'gradcam', images: 2, modes: ['cascading'] }), { runs: 2, label: 'evaluate sanity' });
    vgg.dispose();
    await assertNoTensorLeak(() => explain(model, x, { method: 'gradcam', target: [1] }).catch(() => undefined), { runs: 2, label: 'explain error' });
    await assertNoTensorLeak(() => evaluate(model, x, { ...maps, targets: [9, 9, 9, 9, 9] }, { metric: 'deletion' }).catch(() => undefined), { runs: 2, label: 'evaluate error' });
    x.dispose();
    model.dispose();
  });
});

describe('runExperiment()', () => {
  it('runs a config object: a run directory and metrics rows with the classifier accuracy', async () => {
    const output = mkdtempSync(join(root, 'runs-'));
    const result = await runExperiment({
      experiment: { name: 'core-tiny', seed: 2, backend: 'wasm', output },
      dataset: { type: 'shapes', size: 16, classes: 2, distractors: 1, splits: { train: 32, val: 8, test: 8 } },
      backbone: { type: 'vgg-small', channels: [4, 8] },
      train: { epochs: 1, batchSize: 16, lr: 0.01 },
    });
    expect(result.experimentDir).toBe(join(output, 'core-tiny'));
    expect(result.runDirs).toHaveLength(1);
    expect(existsSync(join(result.runDirs[0], 'metrics.json'))).toBe(true);
    expect(result.runs[0].status).toBe('finished');
    const accuracy = result.runs[0].metrics.find((r) => r.method === 'classifier' && r.metric === 'accuracy')!;
    expect(accuracy.n).toBe(8);
    // An accuracy over 8 test images is a multiple of 1/8.
    expect(Math.abs(accuracy.value * 8 - Math.round(accuracy.value * 8))).toBeLessThan(1e-9);
    expect(existsSync(join(result.runDirs[0], 'checkpoints', 'classifier'))).toBe(true);
    // The run's classifier loads back as a model.
    const trained = await loadModel(result.runDirs[0]);
    expect(trained.format).toBe('gaze-classifier');
    expect(trained.inputShape).toEqual([16, 16, 3]);
    trained.dispose();

    const bad = await gazeError(() => runExperiment({ experiment: { name: 'bad', output }, dataset: { type: 'shapez' }, backbone: { type: 'vgg-small' } }));
    expect(bad.message).toBe("unknown dataset type 'shapez' (did you mean 'shapes'?)");
  });
});
