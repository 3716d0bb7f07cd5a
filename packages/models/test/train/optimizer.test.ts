import { initBackend, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyWeightDecay, createTrainOptimizer, decayedVariables } from '../../src/train/optimizer.js';
import { TrainConfig } from '../../src/train/train-config.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/** One optimizer step on a loss whose gradient is zero: only weight decay moves the weights. */
function zeroGradientStep(optimizer: 'adam' | 'sgd', lr: number, weightDecay: number) {
  const w = tf.variable(tf.tensor2d([[2]]), true, `w-${optimizer}-${Math.random()}`);
  const b = tf.variable(tf.tensor1d([3]), true, `b-${optimizer}-${Math.random()}`);
  const opt = createTrainOptimizer(TrainConfig.parse({ optimizer, lr, weightDecay }));
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.add(w, b), 0)) as tf.Scalar, [w, b]);
  opt.step(
    [w, b].map((v) => ({ name: v.name, tensor: grads[v.name] })),
    lr,
    decayedVariables([w, b]),
  );
  tf.dispose([value, ...Object.values(grads)]);
  const out = { w: w.dataSync()[0], b: b.dataSync()[0] };
  opt.dispose();
  tf.dispose([w, b]);
  return out;
}

describe('decoupled weight decay', () => {
  it('with a zero gradient, w <- w - lr * wd * w on kernels; biases untouched (adam and sgd)', () => {
    for (const optimizer of ['adam', 'sgd'] as const) {
      const { w, b } = zeroGradientStep(optimizer, 0.1, 0.5);
      // 2 - 0.1 * 0.5 * 2 = 1.9
      expect(w).toBeCloseTo(1.9, 6);
      expect(b).toBe(3);
    }
  });

  it('is a no-op at weightDecay 0', () => {
    expect(zeroGradientStep('adam', 0.1, 0).w).toBe(2);
  });

  it('applyWeightDecay scales by (1 - lr * wd)', () => {
    const v = tf.variable(tf.tensor2d([[1, -4]]));
    applyWeightDecay([v], 0.01, 10);
    expect(Array.from(v.dataSync())).toEqual([expect.closeTo(0.9, 6), expect.closeTo(-3.6, 6)]);
    v.dispose();
  });

  it('decays rank >= 2 variables only (kernels, not biases or batch-norm vectors)', () => {
    const vs = [tf.variable(tf.zeros([3, 3, 1, 2])), tf.variable(tf.zeros([2])), tf.variable(tf.zeros([4, 2]))];
    expect(decayedVariables(vs)).toEqual([vs[0], vs[2]]);
    tf.dispose(vs);
  });
});

describe('optimizer state', () => {
  it('a restored adam continues bit-exactly like the original', async () => {
    const run = async (restoreAfter: number) => {
      const w = tf.variable(tf.tensor2d([[1, 2, 3]]));
      let opt = createTrainOptimizer(TrainConfig.parse({ optimizer: 'adam', lr: 0.05 }));
      for (let i = 0; i < 30; i++) {
        if (i === restoreAfter) {
          const { tensors, owned } = await opt.state();
          const copies = tensors.map((t) => ({ name: t.name, tensor: t.tensor.clone() }));
          tf.dispose(owned);
          opt.dispose();
          opt = createTrainOptimizer(TrainConfig.parse({ optimizer: 'adam', lr: 0.05 }));
          await opt.restore(copies);
          tf.dispose(copies.map((c) => c.tensor));
        }
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(w)) as tf.Scalar, [w]);
        opt.step([{ name: w.name, tensor: grads[w.name] }], 0.05 / (i + 1), []);
        tf.dispose([value, ...Object.values(grads)]);
      }
      const out = Array.from(w.dataSync());
      opt.dispose();
      w.dispose();
      return out;
    };
    // restored after 20 steps: tfjs's own setWeights would recompute beta^t with pow() and drift
    expect(await run(20)).toEqual(await run(-1));
  });
});
