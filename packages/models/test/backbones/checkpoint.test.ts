import { initBackend, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClassifier } from '../../src/index.js';
import { context, images, maxDiff, values, withTmpDir } from './helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('checkpoint backbone', () => {
  it('loads a saved classifier with identical logits, and refuses one that does not fit the dataset', async () => {
    await withTmpDir(async (dir) => {
      const trained = await createClassifier({ type: 'vgg-small', channels: [4, 8] }, context([16, 16, 3], 3, { seed: 5 }));
      await trained.save(dir);
      const loaded = await createClassifier({ type: 'checkpoint', path: dir }, context([16, 16, 3], 3));
      expect(loaded.type).toBe('vgg-small');
      expect(loaded.taps).toEqual(['block1.conv', 'block1', 'block2.conv', 'block2']);
      expect(loaded.camTap).toBe('block2.conv');
      const x = images([2, 16, 16, 3]);
      const [a, b] = [trained.logits(x), loaded.logits(x)];
      expect(maxDiff(values(a), values(b))).toBe(0);
      tf.dispose([x, a, b]);
      loaded.dispose();
      await expect(createClassifier({ type: 'checkpoint', path: dir }, context([32, 32, 3], 4))).rejects.toThrow(
        'the saved classifier does not fit the dataset: it takes 16x16x3 images but the dataset gives 32x32x3; it has 3 classes but the dataset has 4',
      );
      trained.dispose();
    });
  });
});
