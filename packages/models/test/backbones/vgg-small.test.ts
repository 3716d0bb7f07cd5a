import { initBackend, tf } from '@gaze/engine';
import { assertNoTensorLeak } from '@gaze/engine/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { LayersClassifier, createClassifier, loadClassifier, type Classifier } from '../../src/index.js';
import { context, images, maxDiff, values, withTmpDir } from './helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const vgg = (config: Record<string, unknown>, shape: [number, number, number], classes: number, seed = 7) =>
  createClassifier({ type: 'vgg-small', ...config }, context(shape, classes, { seed })) as Promise<LayersClassifier>;

describe('vgg-small', () => {
  it('names its taps blockN.conv (before the pool) and blockN (after), halving the resolution in each block', async () => {
    const c = await vgg({ channels: [8, 16], convsPerBlock: 2 }, [32, 32, 3], 10);
    expect(c.type).toBe('vgg-small');
    expect(c.taps).toEqual(['block1.conv', 'block1', 'block2.conv', 'block2']);
    expect(c.camTap).toBe('block2.conv');
    const x = images([2, 32, 32, 3]);
    const f = c.features(x, ['block1', 'block2', 'block2.conv']);
    expect(f.block1.shape).toEqual([2, 16, 16, 8]);
    expect(f.block2.shape).toEqual([2, 8, 8, 16]);
    expect(f['block2.conv'].shape).toEqual([2, 16, 16, 16]);
    // block2 is the 2x2 max pool of block2.conv, which is rectified
    const pooled = tf.maxPool(f['block2.conv'], 2, 2, 'valid');
    expect(maxDiff(values(pooled), values(f.block2))).toBe(0);
    expect(Math.min(...values(f['block2.conv']))).toBeGreaterThanOrEqual(0);
    tf.dispose([x, f, pooled]);
    c.dispose();
    // Odd sizes floor: 10 -> 5 -> 2.
    const odd = await vgg({ channels: [4, 4] }, [10, 10, 1], 3);
    const y = images([1, 10, 10, 1]);
    const g = odd.features(y, ['block2', 'block1']);
    expect(g.block1.shape).toEqual([1, 5, 5, 4]);
    expect(g.block2.shape).toEqual([1, 2, 2, 4]);
    tf.dispose([y, g]);
    odd.dispose();
  });

  it('counts trainable parameters by hand', async () => {
    // conv1 3*3*3*8 + 8 = 224, conv2 3*3*8*16 + 16 = 1168, dense 16*10 + 10 = 170
    const plain = await vgg({ channels: [8, 16] }, [16, 16, 3], 10);
    expect(plain.parameterCount).toBe(1562);
    expect(plain.weights.length).toBe(6);
    plain.dispose();
    // batch norm: no conv bias (216, 1152), gamma+beta (16, 32); moving stats are not trainable
    const bn = await vgg({ channels: [8, 16], batchNorm: true }, [16, 16, 3], 10);
    expect(bn.parameterCount).toBe(216 + 16 + 1152 + 32 + 170);
    expect(bn.trainableWeights.length).toBe(8);
    expect(bn.weights.length).toBe(12);
    expect(bn.weights.reduce((n, w) => n + w.size, 0)).toBe(1586 + 2 * 8 + 2 * 16);
    bn.dispose();
  });

  it('gives the logits computed by hand from known weights, normalization included', async () => {
    // One block, one filter, a 3x3 kernel that passes the centre pixel: relu((x - 0.5) / 0.25).
    const c = await vgg({ channels: [1], mean: [0.5], std: [0.25] }, [4, 4, 1], 2);
    const [kernel, bias, dense, denseBias] = c.weights;
    expect(c.weights.map((w) => w.name.replace(/_\d+$/, ''))).toEqual(['block1_conv1/kernel', 'block1_conv1/bias', 'logits/kernel', 'logits/bias']);
    kernel.assign(tf.tensor4d([0, 0, 0, 0, 1, 0, 0, 0, 0], [3, 3, 1, 1]));
    bias.assign(tf.zeros([1]));
    dense.assign(tf.tensor2d([[2, -1]]));
    denseBias.assign(tf.tensor1d([0.5, 0]));
    // prettier-ignore
    const x = tf.tensor4d([
      0.0, 0.25, 0.5, 1.0,
      0.75, 0.5, 0.25, 0.0,
      1.0, 0.0, 0.5, 0.5,
      0.25, 0.25, 0.75, 0.5,
    ], [1, 4, 4, 1]);
    // 4x - 2 -> relu -> [[0,0,0,2],[1,0,0,0],[2,0,0,0],[0,0,1,0]] -> 2x2 max [[1,2],[2,1]] -> mean 1.5
    const logits = c.logits(x);
    expect(maxDiff(values(logits), [1.5 * 2 + 0.5, 1.5 * -1])).toBeLessThan(1e-6);
    expect(values(c.features(x, ['block1']).block1)).toEqual([1, 2, 2, 1]);
    tf.dispose([x, logits]);
    c.dispose();

    // Per-channel mean/std: a centre kernel of ones sums the three normalized channels.
    const rgb = await vgg({ channels: [1], mean: [0.1, 0.2, 0.3], std: [0.5, 1, 2] }, [2, 2, 3], 1);
    rgb.weights[0].assign(tf.tensor4d([...new Array(12).fill(0), 1, 1, 1, ...new Array(12).fill(0)], [3, 3, 3, 1]));
    rgb.weights[1].assign(tf.zeros([1]));
    rgb.weights[2].assign(tf.tensor2d([[1]]));
    rgb.weights[3].assign(tf.zeros([1]));
    const y = tf.tile(tf.tensor4d([0.6, 0.2, 0.7], [1, 1, 1, 3]), [1, 2, 2, 1]) as tf.Tensor4D;
    const out = rgb.logits(y); // (0.6-0.1)/0.5 + (0.2-0.2)/1 + (0.7-0.3)/2 = 1.2
    expect(values(out)[0]).toBeCloseTo(1.2, 6);
    tf.dispose([y, out]);
    rgb.dispose();
  });

  it('features() equal a hand-built sub-model and forward() equals logits()', async () => {
    const c = await vgg({ channels: [4, 8], convsPerBlock: 2, batchNorm: true }, [12, 12, 3], 5);
    const x = images([3, 12, 12, 3], 2);
    const sub = tf.model({ inputs: c.model.inputs, outputs: [c.model.getLayer('block1_pool').output as tf.SymbolicTensor, c.model.getLayer('block2_pool').output as tf.SymbolicTensor] });
    const normalized = tf.div(tf.sub(x, 0.5), 0.5);
    const [r1, r2] = sub.predict(normalized) as tf.Tensor[];
    const f = c.features(x, ['block1', 'block2']);
    expect(maxDiff(values(f.block1), values(r1))).toBeLessThan(1e-6);
    expect(maxDiff(values(f.block2), values(r2))).toBeLessThan(1e-6);
    const direct = c.model.predict(normalized) as tf.Tensor;
    const logits = c.logits(x);
    const both = c.forward(x, ['block2']);
    expect(Object.keys(both.features)).toEqual(['block2']);
    expect(values(both.logits)).toEqual(values(logits));
    expect(values(both.features.block2)).toEqual(values(f.block2));
    expect(maxDiff(values(logits), values(direct))).toBeLessThan(1e-6);
    expect(values(logits).some((v) => v !== 0)).toBe(true);
    tf.dispose([x, normalized, r1, r2, f, direct, logits, both]);
    c.dispose();
  });

  it('initializes weights from the seed: same seed, same weights; another seed, others', async () => {
    const a = await vgg({ channels: [4, 8] }, [8, 8, 3], 3, 11);
    const b = await vgg({ channels: [4, 8] }, [8, 8, 3], 3, 11);
    const c = await vgg({ channels: [4, 8] }, [8, 8, 3], 3, 12);
    a.weights.forEach((w, i) => expect(values(w)).toEqual(values(b.weights[i])));
    // every kernel differs under another seed
    for (const i of [0, 2, 4]) expect(maxDiff(values(a.weights[i]), values(c.weights[i]))).toBeGreaterThan(1e-3);
    // He normal: std sqrt(2 / fan_in) = sqrt(2 / 27) ~ 0.27 for the first conv (truncated, so a bit less)
    const k = values(a.weights[0]);
    const std = Math.sqrt(k.reduce((s, v) => s + v * v, 0) / k.length);
    expect(std).toBeGreaterThan(0.15);
    expect(std).toBeLessThan(0.35);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('round-trips through save and loadClassifier with identical logits', async () => {
    const c = await vgg({ channels: [4, 8], batchNorm: true, dropout: 0.3, mean: [0.4, 0.5, 0.6], std: [0.2, 0.3, 0.4] }, [8, 8, 3], 4);
    const x = images([2, 8, 8, 3], 3);
    tf.dispose(c.logits(x, { training: true })); // moves the BN statistics off their initial values
    const before = values(c.logits(x));
    await withTmpDir(async (dir) => {
      await c.save(dir);
      const loaded: Classifier = await loadClassifier(dir);
      expect(loaded.type).toBe('vgg-small');
      expect(loaded.taps).toEqual(['block1.conv', 'block1', 'block2.conv', 'block2']);
      expect(loaded.camTap).toBe('block2.conv');
      expect(loaded.inputShape).toEqual([8, 8, 3]);
      expect(loaded.numClasses).toBe(4);
      expect(loaded.parameterCount).toBe(c.parameterCount);
      loaded.weights.forEach((w, i) => expect(values(w)).toEqual(values(c.weights[i])));
      expect(values(loaded.logits(x))).toEqual(before);
      expect(values(loaded.features(x, ['block2']).block2)).toEqual(values(c.features(x, ['block2']).block2));
      loaded.dispose();
    });
    x.dispose();
    c.dispose();
  });

  it('updates batch-norm moving statistics in training mode only', async () => {
    const c = await vgg({ channels: [3], batchNorm: true }, [6, 6, 3], 2);
    const movingMean = c.weights.find((w) => w.name.startsWith('block1_bn1/moving_mean'))!;
    const movingVar = c.weights.find((w) => w.name.startsWith('block1_bn1/moving_variance'))!;
    const x = images([4, 6, 6, 3], 4);
    tf.dispose([c.logits(x), c.features(x, ['block1']), c.forward(x, ['block1'])]);
    expect(values(movingMean)).toEqual([0, 0, 0]);
    expect(values(movingVar)).toEqual([1, 1, 1]);
    // The batch's conv output statistics, to check the update 0.9 * old + 0.1 * batch.
    const conv = tf.model({ inputs: c.model.inputs, outputs: c.model.getLayer('block1_conv1').output as tf.SymbolicTensor });
    const pre = conv.predict(tf.div(tf.sub(x, 0.5), 0.5)) as tf.Tensor4D;
    const { mean, variance } = tf.moments(pre, [0, 1, 2]);
    tf.dispose(c.forward(x, ['block1'], { training: true }));
    expect(maxDiff(values(movingMean), values(mean).map((m) => 0.1 * m))).toBeLessThan(1e-6);
    expect(maxDiff(values(movingVar), values(variance).map((v) => 0.9 + 0.1 * v))).toBeLessThan(1e-5);
    expect(values(mean).some((m) => Math.abs(m) > 1e-3)).toBe(true);
    tf.dispose([x, pre, mean, variance]);
    c.dispose();
  });

  it('leaks no tensors across logits, features and forward calls', async () => {
    const c = await vgg({ channels: [4, 8], batchNorm: true, dropout: 0.5 }, [8, 8, 3], 3);
    const x = images([2, 8, 8, 3]);
    await assertNoTensorLeak(() => c.logits(x), { label: 'logits' });
    await assertNoTensorLeak(() => c.features(x, ['block1', 'block2']), { label: 'features' });
    await assertNoTensorLeak(() => c.forward(x, ['block2']), { label: 'forward' });
    await assertNoTensorLeak(() => c.forward(x, ['block1'], { training: true }), { label: 'training forward' });
    x.dispose();
    const before = tf.memory().numTensors;
    c.dispose();
    expect(before - tf.memory().numTensors).toBe(c.weights.length);
  });
});
