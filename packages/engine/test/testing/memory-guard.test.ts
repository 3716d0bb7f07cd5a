import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../src/index.js';
import { assertNoTensorLeak } from '../../src/testing/index.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('assertNoTensorLeak', () => {
  it('passes a tidy function and disposes what it returns', async () => {
    const x = tf.ones([4, 4]);
    const check = await assertNoTensorLeak(() => tf.tidy(() => x.mul(2).add(1)), { runs: 4 });
    expect(check).toMatchObject({ runs: 4, perRun: 0 });
    expect(check.after).toBe(check.before);
  });

  it('passes an async function returning a record of tensors', async () => {
    await assertNoTensorLeak(async () => {
      const a = tf.ones([2]);
      await new Promise((r) => setTimeout(r, 1));
      return { a, b: [a.add(1)] };
    });
  });

  it('fails a function that keeps a tensor per call, with the growth in the message', async () => {
    const kept: tf.Tensor[] = [];
    await expect(
      assertNoTensorLeak(
        () => {
          kept.push(tf.scalar(1));
          return tf.scalar(2);
        },
        { runs: 3, label: 'leaky' },
      ),
    ).rejects.toThrow(/^leaky leaks tensors: tf.memory\(\).numTensors went from (\d+) to (\d+) over 3 runs \(\+1.00 per run\)/);
    tf.dispose(kept);
  });
});
