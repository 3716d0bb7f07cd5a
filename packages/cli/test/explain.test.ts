import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy, initBackend, readNpy, saveLayersModel, tf } from '@gaze/engine';
import { createExplainer } from '@gaze/explainers';
import { loadOnnxClassifier } from '@gaze/onnx';
import { TORCH_INSTALL, encodeModel, exportTorchReference, noise, tinyCnn, torchvisionAvailable, torchvisionFamilies, writeModel } from '@gaze/onnx/testing';
import { pearson } from '@gaze/engine/testing';
import { parseCsv } from '@gaze/report';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as run } from './run-cli.js';

let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'gaze-explain-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A [N,3,8,8] float32 batch as the tiny CNN takes it. */
function batchNpy(path: string, n: number): Float32Array {
  const data = Float32Array.from({ length: n * 3 * 64 }, (_, i) => noise(i, 21));
  writeFileSync(path, encodeNpy(data, [n, 3, 8, 8]));
  return data;
}

describe('gaze model inspect', () => {
  it('lists module paths with C x H x W shapes, op counts, parameters and the default CAM tap', async () => {
    const file = writeModel(join(root, 'tiny.onnx'), tinyCnn());
    const { code, stdout } = await run(['model', 'inspect', file]);
    expect(code).toBe(0);
    expect(stdout).toContain('ONNX (opset 13, gaze-test): input 3x8x8 (C x H x W), 5 classes, 297 parameters');
    expect(stdout).toContain('ops: Conv 3, Relu 3, GlobalAveragePool 1, Flatten 1, Gemm 1, Softmax 1');
    expect(stdout).toMatch(/\n {2}features\.0 +Conv +4x8x8 +112 +feature map\n/);
    expect(stdout).toMatch(/\n {2}relu +Relu +4x8x8 +0 +feature map \(default CAM tap\)\n/);
    expect(stdout).toMatch(/\n {2}fc +Gemm +5 +25 *\n/);
    expect(stdout).toContain("logits: '/fc/Gemm_output_0' (the model's output 'probs' is its softmax)");
    const json = JSON.parse((await run(['model', 'inspect', file, '--json'])).stdout);
    expect(json.modules.find((m: { name: string }) => m.name === 'features').shape).toEqual([4, 8, 8]);
  });

  it('describes a tfjs layers model by its layers', async () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const conv = tf.layers.conv2d({ name: 'conv', filters: 2, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(conv) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: 'predictions', units: 4, activation: 'softmax' }).apply(pooled) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    await saveLayersModel(model, join(root, 'keras'));
    const { code, stdout } = await run(['model', 'inspect', join(root, 'keras')]);
    expect(code).toBe(0);
    expect(stdout).toContain('tfjs layers model: input 3x8x8 (C x H x W), 4 classes');
    expect(stdout).toMatch(/\n {2}conv +Conv2D +2x8x8 +56 +feature map \(default CAM tap\)\n/);
  });
});

describe('gaze explain', () => {
  it('explains a .npy batch exactly as the model takes it: raw maps, logits, index.csv, overlays', async () => {
    const file = writeModel(join(root, 'tiny-explain.onnx'), tinyCnn());
    const input = batchNpy(join(root, 'batch.npy'), 5);
    const out = join(root, 'out-npy');
    const { code, stdout, stderr } = await run(['explain', '--model', file, '--images', join(root, 'batch.npy'), '--method', 'gradcam', '--layer', 'features', '--batch', '2', '--out', out]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('gradcam on 5 images (8x8) with onnx model');
    expect(stdout).toContain('batch 3/3: 5/5 images');
    const maps = await readNpy(join(out, 'maps.npy'));
    const logits = await readNpy(join(out, 'logits.npy'));
    expect(maps.shape).toEqual([5, 8, 8]);
    expect(logits.shape).toEqual([5, 5]);
    // The same as the explainer in-process on the same classifier, unnormalized.
    const identity = { scale: 1, mean: [0], std: [1], channelOrder: 'rgb' as const };
    const classifier = loadOnnxClassifier(file, { preprocess: identity, taps: ['features'] });
    const x = tf.transpose(tf.tensor4d(input, [5, 3, 8, 8]), [0, 2, 3, 1]) as tf.Tensor4D;
    const direct = classifier.logits(x);
    const target = tf.argMax(direct, 1) as tf.Tensor1D;
    const expected = await createExplainer({ type: 'gradcam', layer: 'features' }, { classifier, seed: 0, where: 't' }).explain(x, target, { normalize: false });
    expect(Math.max(...Array.from(expected.dataSync(), (v, i) => Math.abs(v - maps.data[i])))).toBeLessThan(1e-6);
    expect(Math.max(...Array.from(direct.dataSync(), (v, i) => Math.abs(v - logits.data[i])))).toBeLessThan(1e-6);
    // not normalized: raw CAM values
    expect(Math.max(...maps.data)).not.toBe(1);
    const rows = parseCsv(readFileSync(join(out, 'index.csv'), 'utf8'));
    expect(rows[0]).toEqual(['index', 'file', 'target', 'score', 'probability']);
    const targets = Array.from(target.dataSync());
    rows.slice(1).forEach((r, i) => {
      expect(r.slice(0, 3)).toEqual([String(i), String(i), String(targets[i])]);
      expect(Number(r[3])).toBeCloseTo(logits.data[i * 5 + targets[i]], 5);
    });
    expect(readdirSync(join(out, 'overlays')).sort()).toEqual(['0.png', '1.png', '2.png', '3.png', '4.png']);
    tf.dispose([x, direct, target, expected]);
    classifier.dispose();
  });

  it('explains a folder of images (resized and cropped as the model expects), a fixed target, method options through --set', async () => {
    const file = writeModel(join(root, 'tiny-folder.onnx'), tinyCnn());
    const dir = join(root, 'images');
    mkdirSync(join(dir, 'a'), { recursive: true });
    for (const [name, w, h] of [['a/one.png', 20, 12], ['two.jpg', 9, 9]] as const) {
      const raw = Buffer.from(Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256));
      await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).toFile(join(dir, name));
    }
    writeFileSync(join(dir, 'broken.png'), 'not a png');
    const out = join(root, 'out-folder');
    const { code, stdout, stderr } = await run(['explain', '--model', file, '--images', dir, '--method', 'rise', '--set', 'n=16', '--target', '3', '--out', out]);
    expect(code).toBe(0);
    expect(stderr).toContain('skipped unreadable broken.png');
    expect(stdout).toContain('wrote 2 maps');
    expect((await readNpy(join(out, 'maps.npy'))).shape).toEqual([2, 8, 8]);
    const rows = parseCsv(readFileSync(join(out, 'index.csv'), 'utf8')).slice(1);
    expect(rows.map((r) => [r[1], r[2]])).toEqual([['a/one.png', '3'], ['two.jpg', '3']]);
    expect(readdirSync(join(out, 'overlays')).sort()).toEqual(['a__one.png', 'two.png']);
    // Rerunning into the same folder needs --force.
    const again = await run(['explain', '--model', file, '--images', dir, '--method', 'rise', '--set', 'n=16', '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already holds maps.npy');
  });

  it('explains a tfjs layers model ending in a separate Softmax layer with its pre-softmax scores as logits', async () => {
    // 4x4x2 -> 1x1 conv (3 filters) -> global average -> dense (3) -> Softmax layer.
    const input = tf.input({ shape: [4, 4, 2] });
    const conv = tf.layers.conv2d({ name: 'conv', filters: 3, kernelSize: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }), biasInitializer: 'ones' }).apply(input) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(conv) as tf.SymbolicTensor;
    const fc = tf.layers.dense({ name: 'fc', units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }), biasInitializer: tf.initializers.constant({ value: 0.5 }) }).apply(pooled) as tf.SymbolicTensor;
    const probs = tf.layers.softmax({ name: 'probs' }).apply(fc) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: probs });
    await saveLayersModel(model, join(root, 'softmax-layer'));
    const [k1, b1, k2, b2] = model.getWeights().map((t) => t.dataSync());
    model.dispose();
    const data = Float32Array.from({ length: 2 * 4 * 4 * 2 }, (_, i) => noise(i, 9));
    writeFileSync(join(root, 'nhwc.npy'), encodeNpy(data, [2, 4, 4, 2]));
    // The logits by hand: mean over pixels of the 1x1 conv, then the dense layer.
    const reference: number[] = [];
    for (let b = 0; b < 2; b++) {
      const mean = [0, 1, 2].map((f) => {
        let sum = 0;
        for (let p = 0; p < 16; p++) sum += data[(b * 16 + p) * 2] * k1[f] + data[(b * 16 + p) * 2 + 1] * k1[3 + f] + b1[f];
        return sum / 16;
      });
      for (let j = 0; j < 3; j++) reference.push(mean[0] * k2[j] + mean[1] * k2[3 + j] + mean[2] * k2[6 + j] + b2[j]);
    }
    const out = join(root, 'out-softmax-layer');
    const { code, stdout, stderr } = await run(['explain', '--model', join(root, 'softmax-layer'), '--images', join(root, 'nhwc.npy'), '--method', 'gradcam', '--out', out]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('gradcam on 2 images (4x4) with layers-model model');
    const logits = await readNpy(join(out, 'logits.npy'));
    expect(logits.shape).toEqual([2, 3]);
    expect(Math.max(...reference.map((v, i) => Math.abs(v - logits.data[i])))).toBeLessThan(1e-5);
    // Not the probabilities: a row does not sum to 1.
    expect(Math.abs(reference[0] + reference[1] + reference[2] - 1)).toBeGreaterThan(1e-3);
  });

  it('rejects --resize below the model\'s input once, naming the flag, instead of skipping every image', async () => {
    const file = writeModel(join(root, 'tiny-112.onnx'), tinyCnn({ size: 112 }));
    const dir = join(root, 'resize-images');
    mkdirSync(dir, { recursive: true });
    await sharp(Buffer.alloc(150 * 120 * 3, 100), { raw: { width: 150, height: 120, channels: 3 } }).toFile(join(dir, 'a.png'));
    const out = join(root, 'never-resize');
    const r = await run(['explain', '--model', file, '--images', dir, '--method', 'gradcam', '--resize', '100', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--resize 100');
    expect(r.stderr).toContain("below the model's 112x112 input");
    expect(r.stderr).not.toContain('skipped unreadable');
    expect(existsSync(out)).toBe(false);
    const bad = await run(['explain', '--model', file, '--images', dir, '--method', 'gradcam', '--resize', '-3', '--out', out]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--resize takes a whole number of pixels');
  });

  it('fails clearly, exit 1, writing nothing: a truncated model, an unknown method or option, a batch of the wrong size', async () => {
    const bytes = encodeModel(tinyCnn());
    writeFileSync(join(root, 'cut.onnx'), bytes.subarray(0, 300));
    batchNpy(join(root, 'b2.npy'), 2);
    const cases: [string[], string][] = [
      [['--model', join(root, 'cut.onnx'), '--method', 'gradcam'], 'is not a readable ONNX model'],
      [['--model', join(root, 'tiny.onnx'), '--method', 'gradcamm'], "unknown explainer type 'gradcamm' (did you mean 'gradcam'?)"],
      [['--model', join(root, 'tiny.onnx'), '--method', 'rise', '--layer', 'features'], "rise has no option 'layer'"],
      [['--model', join(root, 'tiny.onnx'), '--method', 'gradcam', '--layer', 'featurs'], "no module 'featurs' (did you mean 'features'?)"],
    ];
    writeModel(join(root, 'tiny.onnx'), tinyCnn());
    for (const [args, message] of cases) {
      const out = join(root, `never-${cases.findIndex((c) => c[0] === args)}`);
      const r = await run(['explain', '--images', join(root, 'b2.npy'), '--out', out, ...args]);
      expect(r.code, message).toBe(1);
      expect(r.stderr, message).toContain(message);
      expect(r.stderr).not.toContain('    at ');
      expect(existsSync(out), message).toBe(false);
    }
    writeFileSync(join(root, 'big.npy'), encodeNpy(new Float32Array(2 * 3 * 16 * 16), [2, 3, 16, 16]));
    const wrong = await run(['explain', '--model', join(root, 'tiny.onnx'), '--images', join(root, 'big.npy'), '--method', 'gradcam', '--out', join(root, 'never-size')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('is [2,3,16,16]; the model takes [N,3,8,8]');
    expect(existsSync(join(root, 'never-size'))).toBe(false);
  });
});

const TORCH = torchvisionAvailable();
const REQUIRED = process.env.GAZE_REQUIRE_TORCH === '1';

describe.skipIf(!TORCH && !REQUIRED)('gaze explain on torchvision models exported by PyTorch (every family)', () => {
  for (const [family, spec] of Object.entries(torchvisionFamilies())) {
    const layer = spec.layers[0];
    it(`${family} (${spec.model}): PyTorch's logits and Grad-CAM maps at ${layer}`, async () => {
      if (!TORCH) throw new Error(`GAZE_REQUIRE_TORCH=1 but /usr/bin/python3 cannot import torch and torchvision; ${TORCH_INSTALL}`);
      const dir = exportTorchReference(join(root, 'torch', family.replace(/[^a-z0-9]+/g, '-')), spec.model, [layer], { opset: spec.opset });
      const out = join(root, `torch-out-${family.replace(/[^a-z0-9]+/g, '-')}`);
      const r = await run(['explain', '--model', join(dir, 'model.onnx'), '--images', join(dir, 'input.npy'), '--method', 'gradcam', '--layer', layer, '--out', out, '--no-overlays']);
      expect(r.code, r.stderr).toBe(0);
      const maps = await readNpy(join(out, 'maps.npy'));
      const reference = await readNpy(join(dir, `gradcam.${layer}.npy`));
      const logits = await readNpy(join(out, 'logits.npy'));
      const refLogits = await readNpy(join(dir, 'logits.npy'));
      const largest = Math.max(...Array.from(refLogits.data, Math.abs));
      const worst = Math.max(...Array.from(logits.data, (v, i) => Math.abs(v - refLogits.data[i])));
      // Logits within 1e-4 of the largest logit; each image's map with Pearson r >= 0.999.
      expect(worst / largest).toBeLessThan(1e-4);
      expect(maps.shape).toEqual(reference.shape);
      const [n, h, w] = maps.shape;
      for (let i = 0; i < n; i++) {
        const a = maps.data.subarray(i * h * w, (i + 1) * h * w);
        const b = reference.data.subarray(i * h * w, (i + 1) * h * w);
        expect(pearson(a, b), `image ${i}`).toBeGreaterThanOrEqual(0.999);
      }
    });
  }
});
