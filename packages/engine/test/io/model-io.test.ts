import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  GazeError,
  fileSystemIO,
  initBackend,
  loadLayersModel,
  loadWeightMap,
  readModelMetadata,
  registerFileSystemRouter,
  saveLayersModel,
  saveWeightMap,
  tf,
  writeDirAtomic,
} from '../../src/index.js';

function smallModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu', name: 'conv' }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 4, name: 'head' }));
  return m;
}

const input = () => tf.linspace(0, 1, 72).reshape([1, 6, 6, 2]);
const scratch = () => mkdtemp(join(tmpdir(), 'gaze-io-'));

beforeAll(async () => {
  await initBackend('wasm');
});

describe('LayersModel save/load on the file system', () => {
  it('round-trips topology, weights and metadata in the standard layout', async () => {
    const dir = join(await scratch(), 'ckpt');
    const model = smallModel();
    await saveLayersModel(model, dir, { epoch: 3, valAccuracy: 0.5 });
    expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
    const loaded = await loadLayersModel(dir);
    expect(Array.from((loaded.predict(input()) as tf.Tensor).dataSync())).toEqual(Array.from((model.predict(input()) as tf.Tensor).dataSync()));
    expect(await readModelMetadata(dir)).toEqual({ epoch: 3, valAccuracy: 0.5 });
  });

  it("loads the converter's layout: several groups, several shards each", async () => {
    const dir = await scratch();
    const model = smallModel();
    // Save once, then rewrite it the way tensorflowjs_converter shards it.
    await saveLayersModel(model, join(dir, 'plain'));
    const json = JSON.parse(await readFile(join(dir, 'plain', 'model.json'), 'utf8'));
    const bin = await readFile(join(dir, 'plain', 'weights.bin'));
    const specs = json.weightsManifest[0].weights as { name: string; shape: number[] }[];
    const bytes = (s: { shape: number[] }) => 4 * s.shape.reduce((a, b) => a * b, 1);
    const split = 2; // group 1: conv kernel + bias, group 2: dense kernel + bias
    const g1 = bin.subarray(0, specs.slice(0, split).reduce((a, s) => a + bytes(s), 0));
    const g2 = bin.subarray(g1.length);
    const converted = join(dir, 'converted');
    await writeDirAtomic(converted, async (tmp) => {
      await writeFile(join(tmp, 'group1-shard1of2.bin'), g1.subarray(0, 50));
      await writeFile(join(tmp, 'group1-shard2of2.bin'), g1.subarray(50));
      await writeFile(join(tmp, 'group2-shard1of1.bin'), g2);
      json.weightsManifest = [
        { paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: specs.slice(0, split) },
        { paths: ['group2-shard1of1.bin'], weights: specs.slice(split) },
      ];
      json.convertedBy = 'TensorFlow.js Converter v4.22.0';
      await writeFile(join(tmp, 'model.json'), JSON.stringify(json));
    });
    const loaded = await loadLayersModel(converted);
    expect(Array.from((loaded.predict(input()) as tf.Tensor).dataSync())).toEqual(Array.from((model.predict(input()) as tf.Tensor).dataSync()));
  });

  it('says which shard is missing and rejects graph models with the conversion command', async () => {
    const dir = join(await scratch(), 'm');
    await saveLayersModel(smallModel(), dir);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['group1-shard1of1.bin'];
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    await expect(loadLayersModel(dir)).rejects.toThrow(`weight shard group1-shard1of1.bin listed in ${join(dir, 'model.json')} is missing`);

    await writeFile(join(dir, 'model.json'), JSON.stringify({ format: 'graph-model', weightsManifest: [] }));
    const error = await loadLayersModel(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GazeError);
    expect((error as GazeError).hint).toContain('--output_format=tfjs_layers_model');

    await expect(loadLayersModel(join(dir, 'nope'))).rejects.toThrow(`no model.json at ${join(dir, 'nope', 'model.json')}`);
  });

  it('reads weight shards only inside the model folder, and says when the shards are shorter than the manifest', async () => {
    const root = await scratch();
    const dir = join(root, 'model');
    await saveLayersModel(smallModel(), dir);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    const bin = await readFile(join(dir, 'weights.bin'));
    await writeFile(join(root, 'outside.bin'), bin);
    for (const shard of ['../outside.bin', '/etc/passwd', '../../../../etc/passwd']) {
      await writeFile(join(dir, 'model.json'), JSON.stringify({ ...json, weightsManifest: [{ ...json.weightsManifest[0], paths: [shard] }] }));
      const error = await loadLayersModel(dir).catch((e: unknown) => e);
      expect(error, shard).toBeInstanceOf(GazeError);
      expect((error as GazeError).message, shard).toContain(`weight shard '${shard}' points outside`);
    }
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    await writeFile(join(dir, 'weights.bin'), bin.subarray(0, bin.length - 8));
    const short = await loadLayersModel(dir).catch((e: unknown) => e);
    expect(short).toBeInstanceOf(GazeError);
    expect((short as GazeError).message).toContain(`are truncated: its manifest needs ${bin.length} bytes, the shards hold ${bin.length - 8}`);
  });

  it('serves file:// URLs once the router is registered', async () => {
    registerFileSystemRouter();
    const dir = join(await scratch(), 'routed');
    const model = smallModel();
    await model.save(`file://${dir}`);
    const loaded = await tf.loadLayersModel(`file://${dir}/model.json`);
    expect(loaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
  });

  it('keeps the previous checkpoint when a save fails halfway', async () => {
    const dir = join(await scratch(), 'ckpt');
    await saveLayersModel(smallModel(), dir, { epoch: 1 });
    await expect(
      writeDirAtomic(dir, async (tmp) => {
        await writeFile(join(tmp, 'weights.bin'), 'partial');
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(await readModelMetadata(dir)).toEqual({ epoch: 1 });
    expect((await readdir(join(dir, '..'))).filter((n) => n.includes('.tmp-'))).toEqual([]);
    // and an overwrite replaces it whole
    await saveLayersModel(smallModel(), dir, { epoch: 2 });
    expect(await readModelMetadata(dir)).toEqual({ epoch: 2 });
    expect(existsSync(join(dir, 'weights.bin'))).toBe(true);
  });

  it('is a plain tfjs IOHandler', async () => {
    const dir = join(await scratch(), 'h');
    await smallModel().save(fileSystemIO(dir, { metadata: { note: 'x' } }));
    const artifacts = await fileSystemIO(dir).load!();
    expect(artifacts.weightSpecs!.map((s) => s.name)).toEqual(['conv/kernel', 'conv/bias', 'head/kernel', 'head/bias']);
    expect((artifacts.weightData as ArrayBuffer).byteLength).toBe(4 * (3 * 3 * 2 * 3 + 3 + 48 * 4 + 4));
  });
});

describe('weight maps', () => {
  it('round-trips float32 and int32 tensors with metadata', async () => {
    const dir = join(await scratch(), 'head');
    await saveWeightMap(dir, { 'a/kernel': tf.tensor2d([[1.5, -2], [3, 4]]), steps: tf.tensor1d([7, 8], 'int32') }, { step: 12 });
    const { weights, metadata } = await loadWeightMap(dir);
    expect(Object.keys(weights).sort()).toEqual(['a/kernel', 'steps']);
    expect(weights['a/kernel'].shape).toEqual([2, 2]);
    expect(Array.from(weights['a/kernel'].dataSync())).toEqual([1.5, -2, 3, 4]);
    expect(weights.steps.dtype).toBe('int32');
    expect(Array.from(weights.steps.dataSync())).toEqual([7, 8]);
    expect(metadata).toEqual({ step: 12 });
  });
});
