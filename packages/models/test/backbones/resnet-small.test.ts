import { initBackend, tf } from '@gaze/engine';
import { assertNoTensorLeak } from '@gaze/engine/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClassifier, loadClassifier, type LayersClassifier } from '../../src/index.js';
import { context, images, maxDiff, values, withTmpDir } from './helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const resnet = (config: Record<string, unknown>, shape: [number, number, number], classes: number, seed = 7) =>
  createClassifier({ type: 'resnet-small', ...config }, context(shape, classes, { seed })) as Promise<LayersClassifier>;

describe('resnet-small', () => {
  it('names its taps stem, stage1..N and halves the resolution from stage 2 on (same padding: ceil)', async () => {
    const c = await resnet({ channels: [4, 8, 16] }, [9, 9, 3], 5);
    expect(c.taps).toEqual(['stem', 'stage1', 'stage2', 'stage3']);
    const x = images([2, 9, 9, 3]);
    const f = c.features(x, c.taps);
    expect(f.stem.shape).toEqual([2, 9, 9, 4]);
    expect(f.stage1.shape).toEqual([2, 9, 9, 4]);
    expect(f.stage2.shape).toEqual([2, 5, 5, 8]);
    expect(f.stage3.shape).toEqual([2, 3, 3, 16]);
    // Taps end in a ReLU.
    for (const t of Object.values(f)) expect(Math.min(...values(t))).toBeGreaterThanOrEqual(0);
    tf.dispose([x, f]);
    c.dispose();
  });

  it('counts trainable parameters by hand', async () => {
    // stem 3*3*3*4 + bn 8 = 116
    // stage1 block1 (4->4, identity): 3*3*4*4 + 8 + 3*3*4*4 + 8 = 304
    // stage2 block1 (4->8, stride 2): 3*3*4*8 + 16 + 3*3*8*8 + 16 + projection 1*1*4*8 + 16 = 944
    // dense 8*5 + 5 = 45
    const c = await resnet({ channels: [4, 8] }, [8, 8, 3], 5);
    expect(c.parameterCount).toBe(116 + 304 + 944 + 45);
    // 6 BN layers (stem, 2 + 2 in the blocks, the projection), each with 2 moving statistics
    expect(c.weights.length - c.trainableWeights.length).toBe(12);
    c.dispose();
    // A second block per stage adds two 3x3 convs + 2 BNs at the stage width, identity shortcut.
    const deeper = await resnet({ channels: [4, 8], blocksPerStage: 2 }, [8, 8, 3], 5);
    expect(deeper.parameterCount).toBe(1409 + 304 + (576 + 16) * 2);
    deeper.dispose();
  });

  it('computes the residual block as written: relu(bn(conv(relu(bn(conv x)))) + x)', async () => {
    const c = await resnet({ channels: [2], mean: [0.25], std: [0.5] }, [5, 5, 1], 2);
    const x = images([2, 5, 5, 1], 5);
    const layer = (n: string) => c.model.getLayer(n).output as tf.SymbolicTensor;
    const sub = tf.model({ inputs: c.model.inputs, outputs: [layer('stem_relu'), layer('stage1_block1_bn2')] });
    const [stem, residual] = sub.predict(tf.div(tf.sub(x, 0.25), 0.5)) as tf.Tensor[];
    const expected = tf.relu(tf.add(stem, residual));
    const f = c.features(x, ['stage1', 'stem']);
    expect(maxDiff(values(f.stem), values(stem))).toBeLessThan(1e-6);
    expect(maxDiff(values(f.stage1), values(expected))).toBeLessThan(1e-6);
    const fw = c.forward(x, ['stage1']);
    const logits = c.logits(x);
    expect(values(fw.logits)).toEqual(values(logits));
    // logits = GAP(stage1) . W + b
    const [kernel, bias] = c.model.getLayer('logits').getWeights();
    const byHand = tf.add(tf.matMul(tf.mean(f.stage1, [1, 2]), kernel), bias);
    expect(maxDiff(values(logits), values(byHand))).toBeLessThan(1e-5);
    tf.dispose([x, stem, residual, expected, f, fw, logits, byHand]);
    c.dispose();
  });

  it('updates batch-norm moving statistics in training mode only, and round-trips through save/load', async () => {
    const c = await resnet({ channels: [4, 8] }, [8, 8, 3], 3);
    const stemMean = c.weights.find((w) => w.name.startsWith('stem_bn/moving_mean'))!;
    const x = images([4, 8, 8, 3], 6);
    tf.dispose([c.logits(x), c.forward(x, c.taps)]);
    expect(values(stemMean)).toEqual([0, 0, 0, 0]);
    const conv = tf.model({ inputs: c.model.inputs, outputs: c.model.getLayer('stem_conv').output as tf.SymbolicTensor });
    const pre = conv.predict(tf.div(tf.sub(x, 0.5), 0.5)) as tf.Tensor;
    const batchMean = values(tf.mean(pre, [0, 1, 2]));
    const trainLogits = c.logits(x, { training: true });
    expect(maxDiff(values(stemMean), batchMean.map((m) => 0.1 * m))).toBeLessThan(1e-6);
    const inference = c.logits(x);
    // Batch statistics and (barely moved) moving statistics normalize differently.
    expect(maxDiff(values(trainLogits), values(inference))).toBeGreaterThan(1e-4);
    await withTmpDir(async (dir) => {
      await c.save(dir);
      const loaded = await loadClassifier(dir);
      expect(loaded.type).toBe('resnet-small');
      expect(loaded.taps).toEqual(['stem', 'stage1', 'stage2']);
      expect(values(loaded.logits(x))).toEqual(values(inference));
      expect(values(loaded.weights.find((w) => w.name.startsWith('stem_bn/moving_mean'))!)).toEqual(values(stemMean));
      loaded.dispose();
    });
    tf.dispose([x, pre, trainLogits, inference]);
    c.dispose();
  });

  it('leaks no tensors', async () => {
    const c = await resnet({ channels: [4, 8] }, [8, 8, 3], 3);
    const x = images([2, 8, 8, 3]);
    await assertNoTensorLeak(() => c.logits(x), { label: 'logits' });
    await assertNoTensorLeak(() => c.features(x, c.taps), { label: 'features' });
    await assertNoTensorLeak(() => c.forward(x, ['stage2'], { training: true }), { label: 'training forward' });
    x.dispose();
    c.dispose();
  });
});
