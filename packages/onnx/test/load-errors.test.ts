import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, tf } from '@gaze/engine';
import { gazeError } from '@gaze/engine/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxBackboneConfig, loadOnnxClassifier, onnxBackbone } from '../src/index.js';
import { IDENTITY_PREPROCESS, encodeModel, writeModel, tinyCnn } from '../src/testing/index.js';

let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'gaze-onnx-errors-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const load = (file: string) => loadOnnxClassifier(file, { preprocess: IDENTITY_PREPROCESS });

describe('loading a bad ONNX file is a clear error', () => {
  it('names every unsupported op with its node and the opset, and lists what is supported', async () => {
    const spec = tinyCnn();
    spec.nodes.splice(2, 0, { name: '/features/grid/GridSample', op: 'GridSample', inputs: ['/features/features.1/Relu_output_0', 'input'], outputs: ['g'] });
    spec.nodes.push({ name: '/nms', op: 'NonMaxSuppression', inputs: ['probs'], outputs: ['n'] }, { name: '/custom', op: 'Attention', domain: 'com.microsoft', inputs: ['probs'], outputs: ['m'] });
    const e = await gazeError(() => load(writeModel(join(root, 'unsupported.onnx'), spec)));
    expect(e.message).toContain('(opset 13) uses ops Gaze does not run');
    expect(e.message).toContain("GridSample (1 node, e.g. '/features/grid/GridSample')");
    expect(e.message).toContain('NonMaxSuppression');
    expect(e.message).toContain('com.microsoft.Attention');
    expect(e.hint).toContain('supported ops: Abs, Add,');
    expect(e.hint).toContain('Conv');
  });

  it('a truncated file', async () => {
    const bytes = encodeModel(tinyCnn());
    const file = join(root, 'truncated.onnx');
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const e = await gazeError(() => load(file));
    expect(e.message).toContain('is not a readable ONNX model');
    expect(e.message).toContain('truncated');
    expect(e.hint).toContain('export the model again');
  });

  it('a file that is not ONNX, an empty one, a missing one', async () => {
    writeFileSync(join(root, 'text.onnx'), 'this is not a model');
    expect((await gazeError(() => load(join(root, 'text.onnx')))).message).toMatch(/not a readable ONNX model|holds no ONNX graph/);
    writeFileSync(join(root, 'empty.onnx'), '');
    expect((await gazeError(() => load(join(root, 'empty.onnx')))).message).toContain('holds no ONNX graph');
    expect((await gazeError(() => load(join(root, 'nowhere.onnx')))).message).toContain('no ONNX model at');
  });

  it('a missing file named by a backbone config points at its path key', async () => {
    const config = OnnxBackboneConfig.parse({ path: 'nowhere.onnx' });
    const e = await gazeError(() => onnxBackbone(config, { inputShape: [8, 8, 3], numClasses: 5, seed: 0, baseDir: root, where: 'config.yaml:3:11 backbone' }));
    expect(e.message).toBe(`no ONNX model at ${join(root, 'nowhere.onnx')}`);
    expect(e.where).toBe('config.yaml:3:11 backbone.path');
    expect(e.hint).toContain('relative paths are from the config file');
    expect((await gazeError(() => load(join(root, 'nowhere.onnx')))).where).toBeUndefined();
  });

  it('weights missing from the file (a node reads a value nothing provides)', async () => {
    const spec = tinyCnn();
    spec.initializers = spec.initializers!.filter((t) => t.name !== 'fc.weight');
    const e = await gazeError(() => load(writeModel(join(root, 'no-weight.onnx'), spec)));
    expect(e.message).toContain("node '/fc/Gemm' (Gemm) reads 'fc.weight', which no node, input or initializer");
  });

  it('external data: read from beside the model; a missing file and a path outside the model directory are errors', async () => {
    const inline = load(writeModel(join(root, 'inline.onnx'), tinyCnn()));
    const dir = join(root, 'external');
    mkdirSync(dir);
    const file = writeModel(join(dir, 'model.onnx'), tinyCnn({ external: 'weights/features.bin' }));
    const missing = await gazeError(() => load(file));
    expect(missing.message).toContain("external data file 'weights/features.bin' of tensor 'features.0.weight' is missing");
    mkdirSync(join(dir, 'weights'));
    const w = Float32Array.from(tinyCnn().initializers![0].data);
    writeFileSync(join(dir, 'weights', 'features.bin'), new Uint8Array(w.buffer));
    const external = load(file);
    const x = tf.randomUniform([2, 8, 8, 3]) as tf.Tensor4D;
    expect(Math.max(...(tf.sub(external.logits(x), inline.logits(x)).abs().dataSync() as Float32Array))).toBeLessThan(1e-6);
    expect(external.graph.externalFiles).toEqual(['weights/features.bin']);
    writeFileSync(join(root, 'outside.bin'), new Uint8Array(w.buffer));
    const escape = await gazeError(() => load(writeModel(join(dir, 'escape.onnx'), tinyCnn({ external: '../outside.bin' }))));
    expect(escape.message).toContain("the external data of tensor 'features.0.weight' '../outside.bin' points outside");
    const short = writeModel(join(dir, 'short.onnx'), tinyCnn({ external: 'short.bin' }));
    writeFileSync(join(dir, 'short.bin'), new Uint8Array(w.buffer).subarray(0, 40));
    expect((await gazeError(() => load(short))).message).toContain("of 'short.bin', which has 40");
    [inline, external].forEach((c) => c.dispose());
    x.dispose();
  });

  it('an input that is not an image batch, and an opset outside 11-18', async () => {
    const flat = tinyCnn();
    flat.inputs = [{ name: 'input', shape: ['N', 192] }];
    const rank = await gazeError(() => load(writeModel(join(root, 'rank.onnx'), flat)));
    expect(rank.message).toContain("the model's input 'input' is rank 2; Gaze feeds images as [N, C, H, W]");
    const old = { ...tinyCnn(), opset: 9 };
    const opset = await gazeError(() => load(writeModel(join(root, 'old.onnx'), old)));
    expect(opset.message).toContain('uses ONNX opset 9; Gaze reads opsets 11 to 18');
    expect(opset.hint).toContain('opset_version=17');
  });

  it('writes nothing anywhere when loading fails', async () => {
    const before = readdirSync(root).sort();
    await gazeError(() => load(join(root, 'truncated.onnx')));
    expect(readdirSync(root).sort()).toEqual(before);
  });
});
