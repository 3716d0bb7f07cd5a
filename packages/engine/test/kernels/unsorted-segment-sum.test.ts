import { describe, expect, it } from 'vitest';
import { tf } from '../../src/index.js';
import { runOn, tensor, wasmVsCpu } from '../helpers/backends.js';

describe('wasm UnsortedSegmentSum', () => {
  it('sums rows into segments by id (hand-computed)', async () => {
    const [out] = await runOn('wasm', () =>
      tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]), tf.tensor1d([2, 0, 2, 5], 'int32'), 3),
    );
    // id 5 is out of range and dropped; segment 1 gets nothing.
    expect(Array.from(out)).toEqual([3, 4, 0, 0, 1 + 5, 2 + 6]);
  });

  it('is the gradient of gather, matching the CPU backend', async () => {
    const [err0, err1] = await wasmVsCpu(() => {
      const x = tensor([5, 3, 4], 1);
      const w = tensor([4, 3, 4], 2);
      const w1 = tensor([5, 2, 4], 3);
      return [
        tf.grad((a: tf.Tensor) => tf.gather(a, tf.tensor1d([0, 2, 2, 4], 'int32')).mul(w).sum())(x),
        tf.grad((a: tf.Tensor) => tf.gather(a, tf.tensor1d([1, 1], 'int32'), 1).mul(w1).sum())(x),
      ];
    });
    expect(err0).toBeLessThan(1e-4);
    expect(err1).toBeLessThan(1e-4);
  });
});
