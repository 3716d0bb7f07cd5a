import { initBackend, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { correctCount, crossEntropy, crossEntropyPerExample } from '../../src/train/loss.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('cross-entropy', () => {
  it('matches a hand-computed value for fixed logits', async () => {
    // logits (1, 2, 3): log(e^1 + e^2 + e^3) = 3.40760596444438
    // label 2: 3.4076 - 3 = 0.40760596; label 0: 3.4076 - 1 = 2.40760596
    const logits = tf.tensor2d([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    const labels = tf.tensor1d([2, 0], 'int32');
    const per = crossEntropyPerExample(logits, labels);
    const mean = crossEntropy(logits, labels);
    const correct = correctCount(logits, labels);
    expect(Array.from(await per.data())[0]).toBeCloseTo(0.40760596444438, 5);
    expect(Array.from(await per.data())[1]).toBeCloseTo(2.40760596444438, 5);
    expect((await mean.data())[0]).toBeCloseTo(1.40760596444438, 5);
    expect((await correct.data())[0]).toBe(1);
    tf.dispose([logits, labels, per, mean, correct]);
  });

  it('is stable for large logits and its gradient is softmax - onehot', async () => {
    const logits = tf.tensor2d([[1000, 0]]);
    const labels = tf.tensor1d([1], 'int32');
    expect((await crossEntropy(logits, labels).data())[0]).toBeCloseTo(1000, 2);
    const g = tf.grad((l: tf.Tensor) => crossEntropy(l as tf.Tensor2D, labels))(tf.tensor2d([[0, Math.log(3)]]));
    // softmax(0, ln 3) = (1/4, 3/4); minus onehot(1) -> (0.25, -0.25)
    const gv = Array.from(await g.data());
    expect(gv[0]).toBeCloseTo(0.25, 5);
    expect(gv[1]).toBeCloseTo(-0.25, 5);
  });
});
