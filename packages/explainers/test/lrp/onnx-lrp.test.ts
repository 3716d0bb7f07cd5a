import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, tf } from '@gaze/engine';
import { assertNoTensorLeak, gazeError } from '@gaze/engine/testing';
import { LayersClassifier, CLASSIFIER_FORMAT_VERSION } from '@gaze/models';
import { loadOnnxClassifier } from '@gaze/onnx';
import { IDENTITY_PREPROCESS, TORCH_INSTALL, exportTorchReference, noise, tinyCnn, torchvisionAvailable, writeModel, type ModelSpec } from '@gaze/onnx/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLrpGraph, createExplainer, lrpRelevance, type LrpRules } from '../../src/index.js';

// LRP on an ONNX model must equal LRP on the same network built from tfjs layers (the engine's
// verified path): same weights, same rules, same relevance.
let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'gaze-onnx-lrp-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const values = (n: number, salt: number, scale = 0.5) => Array.from({ length: n }, (_, i) => noise(i, salt) * scale);

/** OIHW -> HWIO, as tfjs conv kernels are laid out. */
function hwio(w: number[], [o, i, kh, kw]: number[]): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(w, [o, i, kh, kw]), [2, 3, 1, 0]) as tf.Tensor4D);
}

/**
 * conv 3x3 (4, bias) -> relu -> max pool 2 -> conv 3x3 (4) -> batch norm -> relu -> add (the
 * pool) -> concat (the pool) on channels -> flatten -> linear (5): every step kind but average
 * pooling, in ONNX form and as a tfjs layers model.
 */
function richNet(): { spec: ModelSpec; layers: LayersClassifier } {
  const w1 = values(4 * 3 * 9, 1);
  const b1 = values(4, 2);
  const w2 = values(4 * 4 * 9, 3);
  const bn = { scale: values(4, 4).map((v) => 1 + v), bias: values(4, 5), mean: values(4, 6, 0.2), variance: values(4, 7, 0.3).map((v) => 1 + v) };
  const fc = values(5 * 8 * 16, 8, 0.3);
  const fcb = values(5, 9);
  const spec: ModelSpec = {
    inputs: [{ name: 'input', shape: ['N', 3, 8, 8] }],
    outputs: [{ name: 'logits' }],
    nodes: [
      { name: '/conv1/Conv', op: 'Conv', inputs: ['input', 'w1', 'b1'], outputs: ['c1'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
      { name: '/relu1/Relu', op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
      { name: '/pool/MaxPool', op: 'MaxPool', inputs: ['r1'], outputs: ['p'], attrs: { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } } },
      { name: '/conv2/Conv', op: 'Conv', inputs: ['p', 'w2'], outputs: ['c2'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
      { name: '/bn/BatchNormalization', op: 'BatchNormalization', inputs: ['c2', 'g', 'beta', 'mean', 'var'], outputs: ['n'], attrs: { epsilon: { f: 1e-5 } } },
      { name: '/relu2/Relu', op: 'Relu', inputs: ['n'], outputs: ['r2'] },
      { name: '/Add', op: 'Add', inputs: ['r2', 'p'], outputs: ['s'] },
      { name: '/Concat', op: 'Concat', inputs: ['s', 'p'], outputs: ['cat'], attrs: { axis: { i: 1 } } },
      { name: '/Flatten', op: 'Flatten', inputs: ['cat'], outputs: ['f'] },
      { name: '/fc/Gemm', op: 'Gemm', inputs: ['f', 'fc', 'fcb'], outputs: ['logits'], attrs: { transB: { i: 1 } } },
    ],
    initializers: [
      { name: 'w1', dims: [4, 3, 3, 3], data: w1 },
      { name: 'b1', dims: [4], data: b1 },
      { name: 'w2', dims: [4, 4, 3, 3], data: w2 },
      { name: 'g', dims: [4], data: bn.scale },
      { name: 'beta', dims: [4], data: bn.bias },
      { name: 'mean', dims: [4], data: bn.mean },
      { name: 'var', dims: [4], data: bn.variance },
      { name: 'fc', dims: [5, 128], data: fc },
      { name: 'fcb', dims: [5], data: fcb },
    ],
  };
  const input = tf.input({ shape: [8, 8, 3] });
  const conv1 = tf.layers.conv2d({ name: 'conv1', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' });
  const pool = tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 });
  const conv2 = tf.layers.conv2d({ name: 'conv2', filters: 4, kernelSize: 3, padding: 'same', useBias: false });
  const norm = tf.layers.batchNormalization({ name: 'bn', epsilon: 1e-5 });
  const relu2 = tf.layers.activation({ name: 'relu2', activation: 'relu' });
  const dense = tf.layers.dense({ name: 'fc', units: 5 });
  const p = pool.apply(conv1.apply(input)) as tf.SymbolicTensor;
  const r2 = relu2.apply(norm.apply(conv2.apply(p))) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'add' }).apply([r2, p]) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat', axis: -1 }).apply([sum, p]) as tf.SymbolicTensor;
  const logits = dense.apply(tf.layers.flatten({ name: 'flat' }).apply(cat)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits });
  conv1.setWeights([hwio(w1, [4, 3, 3, 3]), tf.tensor1d(b1)]);
  conv2.setWeights([hwio(w2, [4, 4, 3, 3])]);
  norm.setWeights([tf.tensor1d(bn.scale), tf.tensor1d(bn.bias), tf.tensor1d(bn.mean), tf.tensor1d(bn.variance)]);
  // ONNX flattens channels first (c, h, w); tfjs flattens NHWC (h, w, c).
  const kernel = new Float32Array(128 * 5);
  for (let c = 0; c < 8; c++) for (let h = 0; h < 4; h++) for (let w = 0; w < 4; w++) for (let j = 0; j < 5; j++) kernel[((h * 4 + w) * 8 + c) * 5 + j] = fc[j * 128 + c * 16 + h * 4 + w];
  dense.setWeights([tf.tensor2d(kernel, [128, 5]), tf.tensor1d(fcb)]);
  const layers = new LayersClassifier(model, {
    version: CLASSIFIER_FORMAT_VERSION,
    type: 'layers-model',
    inputShape: [8, 8, 3],
    numClasses: 5,
    taps: [{ name: 'conv2', layer: 'conv2' }],
    logits: { layer: 'fc', from: 'output' },
    preprocess: IDENTITY_PREPROCESS,
  });
  return { spec, layers };
}

const RULES: LrpRules[] = [
  { rule: 'epsilon', epsilon: 1e-6, alpha: 2, firstLayer: 'zb' },
  { rule: 'zplus', epsilon: 1e-6, alpha: 2, firstLayer: 'zb' },
  { rule: 'alpha-beta', epsilon: 1e-6, alpha: 2, firstLayer: 'same' },
];

describe('LRP on an ONNX model', () => {
  it('equals LRP on the same network as tfjs layers (conv, relu, max pool, folded batch norm, add, concat, flatten, gemm) for each rule, and CLRP too', async () => {
    const { spec, layers } = richNet();
    const onnx = loadOnnxClassifier(writeModel(join(root, 'rich.onnx'), spec), { preprocess: IDENTITY_PREPROCESS });
    const x = tf.tidy(() => tf.add(tf.mul(tf.tensor4d(values(2 * 64 * 3, 10, 1), [2, 8, 8, 3]), 0.5), 0.5) as tf.Tensor4D);
    const target = tf.tensor1d([1, 3], 'int32');
    // the two networks agree before LRP is asked anything
    expect(tf.max(tf.abs(tf.sub(onnx.logits(x), layers.logits(x)))).dataSync()[0]).toBeLessThan(1e-5);
    const onnxGraph = buildLrpGraph(onnx, 'lrp');
    expect(onnxGraph.steps.map((s) => s.kind)).toEqual(['weighted', 'identity', 'maxpool', 'weighted', 'affine', 'identity', 'add', 'concat', 'reshape', 'weighted']);
    expect(onnxGraph.steps[4].foldedInto?.name).toBe('/conv2/Conv');
    const layersGraph = buildLrpGraph(layers, 'lrp');
    for (const rules of RULES) {
      const a = lrpRelevance(onnxGraph, x, target, rules, 'logit');
      const b = lrpRelevance(layersGraph, x, target, rules, 'logit');
      const scale = tf.max(tf.abs(b.relevance)).dataSync()[0];
      expect(scale, rules.rule).toBeGreaterThan(0);
      expect(tf.max(tf.abs(tf.sub(a.relevance, b.relevance))).dataSync()[0] / scale, rules.rule).toBeLessThan(1e-4);
      tf.dispose([a.relevance, a.logits, b.relevance, b.logits]);
    }
    for (const entry of [{ type: 'clrp' }, { type: 'clrp', variant: 'clrp2' }, { type: 'lrp' }]) {
      const [m1, m2] = await Promise.all([onnx, layers].map((classifier) => createExplainer(entry, { classifier, seed: 0, where: 't' }).explain(x, target)));
      expect(tf.max(tf.abs(tf.sub(m1, m2))).dataSync()[0], JSON.stringify(entry)).toBeLessThan(1e-4);
      tf.dispose([m1, m2]);
    }
    tf.dispose([x, target]);
    onnxGraph.dispose();
    layersGraph.dispose();
    onnx.dispose();
    layers.dispose();
  });

  it('keeps what it moves to the device between explain calls and frees it on dispose, on both paths', async () => {
    const { spec, layers } = richNet();
    const onnx = loadOnnxClassifier(writeModel(join(root, 'rich-kept.onnx'), spec), { preprocess: IDENTITY_PREPROCESS });
    const x = tf.tidy(() => tf.add(tf.mul(tf.tensor4d(values(2 * 64 * 3, 11, 1), [2, 8, 8, 3]), 0.5), 0.5) as tf.Tensor4D);
    const target = tf.tensor1d([0, 4], 'int32');
    for (const classifier of [onnx, layers]) {
      for (const entry of [{ type: 'lrp' }, { type: 'clrp', variant: 'clrp2' }]) {
        const start = tf.memory().numTensors;
        const explainer = createExplainer(entry, { classifier, seed: 0, where: 't' });
        await assertNoTensorLeak(() => explainer.explain(x, target), { runs: 2, label: `${classifier.type} ${JSON.stringify(entry)}` });
        explainer.dispose?.();
        expect(tf.memory().numTensors, `${classifier.type} ${JSON.stringify(entry)}`).toBe(start);
      }
    }
    tf.dispose([x, target]);
    onnx.dispose();
    layers.dispose();
  });

  it('runs on the tiny CNN from the testing kit (global pooling, a softmax looked through) and conserves relevance under z+ without biases', () => {
    const spec = tinyCnn();
    spec.initializers = spec.initializers!.map((t) => (t.name?.endsWith('bias') ? { ...t, data: Array.from(t.data, () => 0) } : t));
    const onnx = loadOnnxClassifier(writeModel(join(root, 'tiny.onnx'), spec), { preprocess: IDENTITY_PREPROCESS });
    const x = tf.tidy(() => tf.add(tf.mul(tf.tensor4d(values(64 * 3, 12, 1), [1, 8, 8, 3]), 0.5), 0.5) as tf.Tensor4D);
    const logits = onnx.logits(x);
    const target = tf.argMax(logits, 1).toInt() as tf.Tensor1D;
    const graph = buildLrpGraph(onnx, 'lrp');
    const { relevance, logits: z } = lrpRelevance(graph, x, target, { rule: 'zplus', epsilon: 1e-9, alpha: 2, firstLayer: 'same' }, 'logit');
    graph.dispose();
    // z+ conserves relevance through every layer when no bias absorbs any: sum R_in = R_out.
    const total = tf.sum(relevance).dataSync()[0];
    const out = tf.max(z).dataSync()[0];
    expect(Math.abs(total - out) / Math.abs(out)).toBeLessThan(1e-4);
    tf.dispose([x, logits, target, relevance, z]);
    onnx.dispose();
  });

  it('names the node it cannot propagate through', async () => {
    const spec = tinyCnn();
    spec.nodes[1] = { ...spec.nodes[1], op: 'Sigmoid', name: '/features/features.1/Sigmoid' };
    const onnx = loadOnnxClassifier(writeModel(join(root, 'sigmoid.onnx'), spec), { preprocess: IDENTITY_PREPROCESS });
    const e = await gazeError(() => createExplainer({ type: 'lrp' }, { classifier: onnx, seed: 0, where: 'explainers.0' }));
    expect(e.message).toBe("lrp: node '/features/features.1/Sigmoid' (Sigmoid) is not an op LRP propagates relevance through");
    expect(e.where).toBe('explainers.0');
    expect(e.hint).toContain('gradcam, rise, integrated-gradients');
    onnx.dispose();
  });
});

const TORCH = torchvisionAvailable();
describe.skipIf(!TORCH && process.env.GAZE_REQUIRE_TORCH !== '1')('LRP on torchvision exports', () => {
  it('propagates through ResNet (residual adds), ResNeXt (grouped convs), VGG-BN, DenseNet (batch norm before convs, concats, padded average pools) and SqueezeNet (ceil-mode pools, logits from a flatten)', async () => {
    if (!TORCH) throw new Error(`GAZE_REQUIRE_TORCH=1 but /usr/bin/python3 cannot import torch and torchvision; ${TORCH_INSTALL}`);
    for (const model of ['resnet18', 'resnext-small', 'vgg-small-bn', 'densenet121', 'squeezenet1_1']) {
      const dir = exportTorchReference(join(root, 'torch'), model, [], { batch: 1 });
      const classifier = loadOnnxClassifier(join(dir, 'model.onnx'), { preprocess: IDENTITY_PREPROCESS });
      const x = tf.tidy(() => tf.transpose(tf.tensor4d(values(3 * 224 * 224, 13, 1), [1, 3, 224, 224]), [0, 2, 3, 1]) as tf.Tensor4D);
      const target = tf.tidy(() => tf.argMax(classifier.logits(x), 1).toInt()) as tf.Tensor1D;
      const explainer = createExplainer({ type: 'lrp', rule: 'epsilon' }, { classifier, seed: 0, where: 't' });
      const raw = await explainer.explain(x, target, { normalize: false });
      const v = raw.dataSync();
      expect(v.every(Number.isFinite), model).toBe(true);
      expect(Math.max(...v) - Math.min(...v), model).toBeGreaterThan(0);
      explainer.dispose?.();
      tf.dispose([x, target, raw]);
      classifier.dispose();
    }
    // Five PyTorch exports and 224 px LRP passes: 16 s alone, over 120 s beside the rest of the suite on two cores.
  }, 300_000);
});
