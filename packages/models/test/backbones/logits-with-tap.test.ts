import { initBackend, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClassifier } from '../../src/index.js';
import { context, images, maxDiff, values } from './helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('logitsWithTap', () => {
  it('gives logits(x) when the tap is given its own output, for every tap of both backbones', async () => {
    for (const config of [
      { type: 'vgg-small', channels: [4, 8, 8], batchNorm: true, dropout: 0.5 },
      { type: 'resnet-small', channels: [4, 8] },
    ]) {
      const c = await createClassifier(config, context([16, 16, 3], 3));
      const x = images([2, 16, 16, 3]);
      const logits = c.logits(x);
      for (const tap of c.taps) {
        const a = c.features(x, [tap])[tap];
        const viaTap = c.logitsWithTap(x, tap, a);
        expect(maxDiff(values(viaTap), values(logits)), `${config.type} ${tap}`).toBeLessThan(1e-5);
        tf.dispose([a, viaTap]);
      }
      tf.dispose([x, logits]);
      c.dispose();
    }
  });

  it('is the function of the tap that the head computes: a zero last tap leaves only the dense bias', async () => {
    const c = await createClassifier({ type: 'vgg-small', channels: [4, 8] }, context([8, 8, 3], 2));
    const x = images([1, 8, 8, 3]);
    const zero = tf.zeros([1, 2, 2, 8]) as tf.Tensor4D;
    // GAP of zeros is zero, so the logits are the dense layer's bias.
    const bias = c.trainableWeights[c.trainableWeights.length - 1];
    const out = c.logitsWithTap(x, 'block2', zero);
    expect(maxDiff(values(out), values(bias))).toBeLessThan(1e-7);
    // Its gradient with respect to the tap is the dense kernel column over h*w (GAP's 1/4), here for class 1.
    const kernel = c.trainableWeights[c.trainableWeights.length - 2]; // [8, 2]
    const g = tf.grad((a: tf.Tensor) => c.logitsWithTap(x, 'block2', a as tf.Tensor4D).slice([0, 1], [1, 1]).sum())(zero);
    const expected = Array.from({ length: 4 }, () => values(kernel.slice([0, 1], [8, 1]).div(4))).flat();
    expect(maxDiff(values(g), expected)).toBeLessThan(1e-7);
    tf.dispose([x, zero, out, g]);
    c.dispose();
  });
});
