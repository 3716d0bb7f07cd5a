import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataset, disposeBatch, type Batch, type DatasetInfo } from '@gaze/data';
import { initBackend, readNpy, tf } from '@gaze/engine';
import { createExplainer } from '@gaze/explainers';
import { loadClassifier } from '@gaze/models';
import { overlayLayout, parseCsv, readMetricsCsv } from '@gaze/report';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, configHash, imageFile, loadExperimentConfig, loadExperimentConfigWithHeads, overlayName, runExperiment, type RunOutcome } from '../../src/index.js';
import { evaluateExplainers } from '../../src/run/evaluate.js';

// Inside the test run's scratch TMPDIR, which the global setup (vitest.temp-dir.ts) removes.
const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

const N = 10;
const BATCH = 4;
const SIZE = 16;

/** 16x16 shapes, one epoch; gradcam and a gradient explainer, a tame head, 10 evaluation images in batches 4+4+2. */
function config(saveMaps: string, extra = ''): string {
  const file = join(tempDir('gaze-save-maps-'), 'maps.yaml');
  writeFileSync(
    file,
    `experiment: {name: maps, seed: 5, backend: wasm, output: ${JSON.stringify(tempDir('gaze-save-maps-out-'))}}
dataset: {type: shapes, size: ${SIZE}, classes: 2, distractors: 1, splits: {train: 32, val: 8, test: 16}}
backbone: {type: vgg-small, channels: [4, 8]}
train: {epochs: 1, batchSize: 16, lr: 0.01}
heads: [{type: tame, train: {epochs: 1, batchSize: 16}}]
explainers: [{type: gradcam}, {type: gradient, name: saliency}]
evaluation: [{type: deletion, steps: 4}, {type: pointing-game}, {type: ad-ic}]
evaluationSet: {images: ${N}, batchSize: ${BATCH}, bootstrap: 20, saveMaps: ${saveMaps}}
gallery: {images: 0}
${extra}`,
  );
  return file;
}

/** The run's evaluation images, batch by batch as the run saw them, with its saved classifier. */
async function evaluationBatches(file: string): Promise<Batch[]> {
  const loaded = loadExperimentConfig(file);
  const dataset = await createDataset(loaded.config.dataset, { seed: loaded.config.experiment.seed, baseDir: loaded.baseDir });
  const batches: Batch[] = [];
  for await (const batch of dataset.split('test').batches({ batchSize: BATCH, shuffle: false, augment: false })) {
    if (batches.length * BATCH >= N) {
      disposeBatch(batch);
      break;
    }
    batches.push(batch);
  }
  await dataset.close?.();
  return batches;
}

function indexRows(dir: string): { header: string[]; rows: string[][] } {
  const [header, ...rows] = parseCsv(readFileSync(join(dir, 'index.csv'), 'utf8'));
  return { header, rows };
}

const hasNumpy = (() => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let both: RunOutcome;
let bothFile: string;

beforeAll(async () => {
  await initBackend('wasm');
  bothFile = config('both');
  const before = tf.memory().numTensors;
  both = (await runExperiment(await loadExperimentConfigWithHeads(bothFile))).runs[0];
  expect(tf.memory().numTensors).toBe(before);
}, 120_000);

describe('evaluationSet.saveMaps', () => {
  it('writes raw maps [N,H,W] equal to the explainer run afterwards with the saved classifier, index.csv and one overlay per image', async () => {
    expect(both.status).toBe('finished');
    const batches = await evaluationBatches(bothFile);
    const classifier = await loadClassifier(join(both.runDir, 'checkpoints', 'classifier'));
    const [header, ...perImage] = parseCsv(readFileSync(join(both.runDir, 'metrics_per_image.csv'), 'utf8'));
    expect(header).toEqual(['method', 'id', 'label', 'metric', 'value']);
    try {
      const expectedIds = batches.flatMap((b) => b.ids).slice(0, N);
      const labels = (await Promise.all(batches.map((b) => b.labels.data()))).flatMap((l) => Array.from(l)).slice(0, N);
      const logits = batches.map((b) => classifier.logits(b.images));
      const logitValues = (await Promise.all(logits.map((l) => l.data()))).flatMap((l) => Array.from(l as Float32Array));
      const targets = logits.map((l) => tf.tidy(() => tf.argMax(l, 1).toInt() as tf.Tensor1D));
      const targetValues = (await Promise.all(targets.map((t) => t.data()))).flatMap((t) => Array.from(t)).slice(0, N);
      const k = classifier.numClasses;

      for (const [method, entry] of [['gradcam', { type: 'gradcam' }], ['saliency', { type: 'gradient', name: 'saliency' }]] as const) {
        const dir = join(both.runDir, 'maps', method);
        const saved = await readNpy(join(dir, 'maps.npy'));
        expect(saved.dtype).toBe('<f4');
        expect(saved.shape).toEqual([N, SIZE, SIZE]);
        // The same explainer (the run's seed), on the same batches: the raw maps, bit for bit.
        const explainer = createExplainer(entry, { classifier, seed: 5, where: method });
        const expected: number[] = [];
        for (const [b, batch] of batches.entries()) {
          const keep = Math.min(BATCH, N - b * BATCH);
          const x = batch.images.slice(0, keep);
          const t = targets[b].slice(0, keep);
          const map = await explainer.explain(x, t, { normalize: false });
          expected.push(...(await map.data()));
          tf.dispose([x, t, map]);
        }
        explainer.dispose?.();
        expect(Array.from(saved.data)).toEqual(expected);
        // Raw, not min-max scaled: gradients are far below 1 somewhere.
        expect(Math.max(...saved.data.subarray(0, SIZE * SIZE))).not.toBe(1);

        const { header: columns, rows } = indexRows(dir);
        expect(columns).toEqual(['index', 'id', 'file', 'label', 'target', 'score']);
        expect(rows.map((r) => Number(r[0]))).toEqual([...Array(N).keys()]);
        const metricIds = perImage.filter((r) => r[0] === method && r[3] === 'deletion_auc').map((r) => r[1]);
        expect(rows.map((r) => r[1])).toEqual(metricIds);
        expect(rows.map((r) => r[1])).toEqual(expectedIds);
        expect(rows.map((r) => r[2])).toEqual(Array(N).fill('')); // procedural shapes: no source file
        expect(rows.map((r) => Number(r[3]))).toEqual(labels);
        expect(rows.map((r) => Number(r[4]))).toEqual(targetValues);
        expect(rows.map((r) => Number(r[5]))).toEqual(targetValues.map((t, i) => logitValues[i * k + t]));

        const overlays = readdirSync(join(dir, 'overlays')).sort();
        expect(overlays).toEqual(expectedIds.map((id) => `${overlayName(id)}.png`).sort());
        const meta = await sharp(join(dir, 'overlays', overlays[0])).metadata();
        const layout = overlayLayout(SIZE, SIZE);
        expect([meta.width, meta.height]).toEqual([layout.width, layout.height]);
      }
      tf.dispose([...logits, ...targets]);

      // The head's maps (its explainer ignores `normalize`): the same layout, ids and targets.
      const tame = join(both.runDir, 'maps', 'tame');
      const saved = await readNpy(join(tame, 'maps.npy'));
      expect(saved.shape).toEqual([N, SIZE, SIZE]);
      expect(Math.min(...saved.data)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...saved.data)).toBeLessThanOrEqual(1);
      const { rows } = indexRows(tame);
      expect(rows.map((r) => r[1])).toEqual(perImage.filter((r) => r[0] === 'tame' && r[3] === 'deletion_auc').map((r) => r[1]));
      expect(rows.map((r) => Number(r[4]))).toEqual(targetValues);
      expect(readdirSync(join(tame, 'overlays'))).toHaveLength(N);
      // No temporary copies are left in the finished run.
      expect(readdirSync(join(both.runDir, 'maps')).sort()).toEqual(['gradcam', 'saliency', 'tame']);
      expect(readFileSync(join(both.runDir, 'config.resolved.yaml'), 'utf8')).toMatch(/\n {2}saveMaps: both\n/);
    } finally {
      classifier.dispose();
      for (const b of batches) disposeBatch(b);
    }
  });

  const numpyTitle = 'numpy reads maps.npy as float32 [N,H,W] with the values JS wrote';
  it.skipIf(!hasNumpy)(hasNumpy ? numpyTitle : `${numpyTitle} (skipped: /usr/bin/python3 cannot import numpy)`, async () => {
    const path = join(both.runDir, 'maps', 'gradcam', 'maps.npy');
    const script = "import json, sys, numpy as np; a = np.load(sys.argv[1]); print(json.dumps({'dtype': str(a.dtype), 'shape': list(a.shape), 'sum': float(a.astype('float64').sum()), 'one': float(a[3, 7, 9])}))";
    const read = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' })) as { dtype: string; shape: number[]; sum: number; one: number };
    const saved = await readNpy(path);
    expect(read.dtype).toBe('float32');
    expect(read.shape).toEqual([N, SIZE, SIZE]);
    // Both sums in float64, in different orders: equal to far below float32 precision.
    const jsSum = Array.from(saved.data).reduce((a, b) => a + b, 0);
    expect(Math.abs(read.sum - jsSum)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(jsSum)));
    expect(read.one).toBe(saved.data[3 * SIZE * SIZE + 7 * SIZE + 9]);
  });
  it('does not change evaluation: metrics.csv and metrics_per_image.csv match a run with saveMaps: none', async () => {
    const none = (await runExperiment(await loadExperimentConfigWithHeads(config('none')))).runs[0];
    expect(existsSync(join(none.runDir, 'maps'))).toBe(false);
    const metrics = (dir: string) => readMetricsCsv(join(dir, 'metrics.csv'));
    expect(metrics(both.runDir).filter((m) => m.method !== 'classifier').length).toBeGreaterThan(0);
    expect(metrics(both.runDir)).toEqual(metrics(none.runDir));
    expect(readFileSync(join(both.runDir, 'metrics_per_image.csv'), 'utf8')).toBe(readFileSync(join(none.runDir, 'metrics_per_image.csv'), 'utf8'));
  }, 60_000);

  it('leaves the config hash as it is, so a run resumes with another --save-maps', async () => {
    const file = config('none');
    const hashOf = async (...sets: string[]) => configHash(await loadExperimentConfigWithHeads(file, { sets }));
    const none = await hashOf();
    expect(await hashOf('evaluationSet.saveMaps=both')).toBe(none);
    expect(await hashOf('evaluationSet.saveMaps=npy')).toBe(none);
    expect(await hashOf('evaluationSet.images=9')).not.toBe(none);
  });

  it('rewrites a method folder whole when evaluation runs again (as on --resume): N maps, N rows, nothing stale', async () => {
    const loaded = loadExperimentConfig(config('npy'));
    const runDir = tempDir('gaze-save-maps-again-');
    const stale = join(runDir, 'maps', 'gradcam', 'overlays');
    mkdirSync(stale, { recursive: true });
    writeFileSync(join(stale, 'old.png'), 'stale');
    const classifier = await loadClassifier(join(both.runDir, 'checkpoints', 'classifier'));
    const dataset = await createDataset(loaded.config.dataset, { seed: 5, baseDir: loaded.baseDir });
    const methods = [{ name: 'gradcam', create: () => createExplainer({ type: 'gradcam' }, { classifier, seed: 5, where: 'explainers.0' }), normalizesRawMaps: true }];
    try {
      for (let pass = 0; pass < 2; pass++) await evaluateExplainers(classifier, dataset, loaded.config, methods, 5, { log: () => {} }, { runDir });
    } finally {
      classifier.dispose();
      await dataset.close?.();
    }
    const dir = join(runDir, 'maps', 'gradcam');
    expect(readdirSync(dir).sort()).toEqual(['index.csv', 'maps.npy']); // npy only: no overlays, the stale one gone
    expect((await readNpy(join(dir, 'maps.npy'))).shape).toEqual([N, SIZE, SIZE]);
    expect(indexRows(dir).rows).toHaveLength(N);
    expect(readdirSync(join(runDir, 'maps'))).toEqual(['gradcam']);
    expect((await readNpy(join(dir, 'maps.npy'))).data).toEqual((await readNpy(join(both.runDir, 'maps', 'gradcam', 'maps.npy'))).data);
  });

  it('refuses, with saveMaps on, a method name that is not a folder name or that an explainer and a head share', () => {
    const problems = (file: string) => {
      try {
        loadExperimentConfig(file);
        return [];
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems;
      }
    };
    const escape = config('png');
    writeFileSync(escape, readFileSync(escape, 'utf8').replace('name: saliency', 'name: "../../escape"'));
    const [bad] = problems(escape);
    expect(bad.where).toMatch(/maps\.yaml:6:\d+ explainers\.1\.name$/);
    expect(bad.message).toContain("evaluationSet.saveMaps writes maps/<method>/, and '../../escape' cannot name a folder");
    // Without saving, display names stay free text, as before.
    writeFileSync(escape, readFileSync(escape, 'utf8').replace('saveMaps: png', 'saveMaps: none'));
    expect(problems(escape)).toEqual([]);

    const clash = config('npy');
    writeFileSync(clash, readFileSync(clash, 'utf8').replace('name: saliency', 'name: tame'));
    const [shared] = problems(clash);
    expect(shared.where).toMatch(/heads\.0\.type$/);
    expect(shared.message).toContain("explainers.1 is also called 'tame'");
  });

  it("index.csv's file: the image a file-reading loader decoded for an id, '' for procedural data or a file not there", () => {
    const root = tempDir('gaze-save-maps-files-');
    mkdirSync(join(root, 'cat'));
    mkdirSync(join(root, 'JPEGImages'));
    writeFileSync(join(root, 'cat', 'a.png'), '');
    writeFileSync(join(root, 'JPEGImages', '2007_000027.jpg'), '');
    const info = (type: string, source = root) => ({ type, source }) as DatasetInfo;
    expect(imageFile(info('image-folder'), 'cat/a.png')).toBe(join(root, 'cat', 'a.png'));
    expect(imageFile(info('voc'), '2007_000027')).toBe(join(root, 'JPEGImages', '2007_000027.jpg'));
    expect(imageFile(info('image-folder'), 'cat/gone.png')).toBe('');
    expect(imageFile(info('shapes', 'procedural'), 'shapes/test/0')).toBe('');
    expect(imageFile(info('fashion-mnist'), '17')).toBe('');
  });
});
