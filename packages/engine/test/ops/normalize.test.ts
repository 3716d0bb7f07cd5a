import { describe, expect, it } from 'vitest';
import { initBackend, normalizePerSample, tf } from '../../src/index.js';

describe('normalizePerSample', () => {
  it('min-max scales each sample on its own, and maps a constant sample to zeros', async () => {
    await initBackend('wasm');
    const x = tf.tensor3d([0, 2, 4, 6, -1, -1, -1, -1, 10, 5, 5, 0], [3, 2, 2]);
    const out = Array.from(normalizePerSample(x).dataSync());
    expect(out.slice(0, 4).map((v) => +v.toFixed(6))).toEqual([0, 0.333333, 0.666667, 1]);
    expect(out.slice(4, 8)).toEqual([0, 0, 0, 0]);
    expect(out.slice(8)).toEqual([1, 0.5, 0.5, 0]);
  });
});
