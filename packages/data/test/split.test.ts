import { GazeError, initBackend } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDataset, disposeBatch, makeSplit, UnreadableItemError, type Item } from '../src/index.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const info = { imageShape: [2, 2, 1] as [number, number, number], has: { masks: false, boxes: false, attributes: false, multiLabel: false }, numClasses: 3 };
function item(i: number, size = 2): Item {
  return { id: `i${i}`, height: size, width: size, channels: 1, image: new Float32Array(size * size).fill(i / 10), label: i % 3 };
}

describe('makeSplit', () => {
  it('skips unreadable examples, fills the batch from the next ones, and reports each once', async () => {
    const reported: string[] = [];
    const split = makeSplit(
      'train',
      {
        size: 7,
        label: (i) => i % 3,
        read: async (i) => {
          if (i === 1 || i === 4) throw new UnreadableItemError(`i${i}`, 'corrupt JPEG');
          return item(i);
        },
      },
      info,
      { transforms: [], augment: [] },
      { onSkip: (id, reason) => reported.push(`${id}: ${reason}`) },
    );
    for (let epoch = 0; epoch < 2; epoch++) {
      const seen: string[][] = [];
      for await (const b of split.batches({ batchSize: 2 })) {
        seen.push(b.ids);
        disposeBatch(b);
      }
      expect(seen).toEqual([['i0', 'i2'], ['i3', 'i5'], ['i6']]);
    }
    expect(reported).toEqual(['i1: corrupt JPEG', 'i4: corrupt JPEG']);
    expect(split.skipped).toEqual([{ id: 'i1', reason: 'corrupt JPEG' }, { id: 'i4', reason: 'corrupt JPEG' }]);
  });

  it('rejects an example whose size differs from the batch shape, saying how to fix it', async () => {
    const split = makeSplit('val', { size: 2, label: () => 0, read: (i) => item(i, i === 1 ? 3 : 2) }, info, { transforms: [], augment: [] });
    const run = async () => {
      for await (const b of split.batches({ batchSize: 2 })) disposeBatch(b);
    };
    await expect(run()).rejects.toThrow('example i1 is 3x3x1 after the dataset\'s transforms, but the batches are 2x2x1');
  });

  it('rejects a bad batch size and an out-of-range example', async () => {
    const split = makeSplit('val', { size: 2, label: () => 0, read: (i) => item(i) }, info, { transforms: [], augment: [] });
    await expect(split.batches({ batchSize: 0 })[Symbol.asyncIterator]().next()).rejects.toThrow(GazeError);
    expect(() => split.item(2)).toThrow('example 2 is out of range: the val split has 2');
  });
});

describe('augmentation in a dataset config', () => {
  it('augments train batches only, reproducibly per seed', async () => {
    const ds = await createDataset({ type: 'shapes', size: 32, splits: { train: 4, val: 4, test: 4 }, augment: [{ type: 'hflip', p: 0.5 }, { type: 'color-jitter', brightness: 0.3 }] });
    const first = async (name: 'train' | 'val', seed: number) => {
      for await (const b of ds.split(name).batches({ batchSize: 4, seed })) {
        const v = Array.from(b.images.dataSync());
        disposeBatch(b);
        return v;
      }
      return [];
    };
    const plain = Array.from((await ds.split('train').item(0)).image);
    expect(await first('train', 1)).toEqual(await first('train', 1));
    expect(await first('train', 1)).not.toEqual(await first('train', 2));
    expect((await first('train', 1)).slice(0, plain.length)).not.toEqual(plain);
    expect(await first('val', 1)).toEqual(await first('val', 2));
  });

  it('refuses augmentations that change the image size', async () => {
    const error = await createDataset({ type: 'shapes', augment: [{ type: 'random-crop', size: 56 }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GazeError);
    expect((error as GazeError).where).toBe('dataset.augment');
  });
});
