import { describe, expect, it } from 'vitest';
import { initBackend, resize, tf } from '../../src/index.js';

describe('resize', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: upsamples with half-pixel centres by default (PyTorch align_corners=False)`, async () => {
      await initBackend(backend);
      const up = resize(tf.tensor3d([1, 2, 3, 4], [1, 2, 2]), [4, 4]);
      // Per axis the taps are a, .75a + .25b, .25a + .75b, b.
      expect(up.shape).toEqual([1, 4, 4]);
      expect(Array.from(up.dataSync())).toEqual([1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]);
    });

    it(`${backend}: downsamples 4x4 -> 2x2 by sampling between pixels, keeps channels`, async () => {
      await initBackend(backend);
      const x = tf.range(0, 16).reshape([1, 4, 4, 1]).tile([1, 1, 1, 2]) as tf.Tensor4D;
      const down = resize(x, [2, 2]);
      expect(down.shape).toEqual([1, 2, 2, 2]);
      expect(Array.from(down.dataSync())).toEqual([2.5, 2.5, 4.5, 4.5, 10.5, 10.5, 12.5, 12.5]);
    });
  }

  it('aligns corners when asked: 1x2 -> 1x3 gives the midpoint', async () => {
    await initBackend('wasm');
    const out = resize(tf.tensor3d([1, 2], [1, 1, 2]), [1, 3], { alignCorners: true });
    expect(Array.from(out.dataSync())).toEqual([1, 1.5, 2]);
  });

  it('returns a copy at the same size and leaks nothing', async () => {
    await initBackend('wasm');
    const x = tf.tensor3d([1, 2, 3, 4], [1, 2, 2]);
    const before = tf.memory().numTensors;
    const same = resize(x, [2, 2]);
    expect(same).not.toBe(x);
    expect(Array.from(same.dataSync())).toEqual([1, 2, 3, 4]);
    same.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
