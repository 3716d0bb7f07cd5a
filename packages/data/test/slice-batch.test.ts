import { initBackend, tf } from '@gaze/engine';
import { describe, expect, it } from 'vitest';
import { disposeBatch, sliceBatch, type Batch } from '../src/index.js';

describe('sliceBatch', () => {
  it('keeps the first n images with their labels, masks, boxes and ids as new tensors', async () => {
    await initBackend('cpu');
    const batch: Batch = {
      images: tf.tensor4d([1, 2, 3, 4, 5, 6], [3, 1, 2, 1]),
      labels: tf.tensor1d([7, 8, 9], 'int32'),
      masks: tf.tensor3d([1, 0, 0, 1, 1, 1], [3, 1, 2]),
      boxes: [[{ label: 7, x0: 0, y0: 0, x1: 1, y1: 1 }], [], [{ label: 9, x0: 1, y0: 0, x1: 2, y1: 1 }]],
      ids: ['a', 'b', 'c'],
    };
    const first = sliceBatch(batch, 2);
    expect(Array.from(first.images.dataSync())).toEqual([1, 2, 3, 4]);
    expect(Array.from(first.labels.dataSync())).toEqual([7, 8]);
    expect(Array.from(first.masks!.dataSync())).toEqual([1, 0, 0, 1]);
    expect(first.boxes).toEqual([[{ label: 7, x0: 0, y0: 0, x1: 1, y1: 1 }], []]);
    expect(first.ids).toEqual(['a', 'b']);
    expect(first.attributes).toBeUndefined();
    disposeBatch(batch); // the slice owns its own tensors
    expect(Array.from(first.labels.dataSync())).toEqual([7, 8]);
    disposeBatch(first);
  });
});
