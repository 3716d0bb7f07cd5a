import { Rng, initBackend, tf } from '@gaze/engine';
import { assertNoTensorLeak } from '@gaze/engine/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { GazeError } from '@gaze/engine';
import { boxOfMask, classPairs, createDataset, disposeBatch, distractorPairs, renderScene, SHAPES_ATTRIBUTE_NAMES, type Dataset } from '../../src/index.js';

let ds: Dataset;
beforeAll(async () => {
  await initBackend('wasm');
  ds = await createDataset({ type: 'shapes', splits: { train: 300, val: 50, test: 50 } }, { seed: 7 });
});

function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

describe('shapes dataset', () => {
  it('describes 8 conjunction classes, 64x64x3 images, and its ground truth', () => {
    expect(ds.info).toMatchObject({
      type: 'shapes',
      numClasses: 8,
      imageShape: [64, 64, 3],
      has: { masks: true, boxes: true, attributes: true, multiLabel: false },
      sizes: { train: 300, val: 50, test: 50 },
    });
    expect(ds.info.classNames).toEqual(['red circle', 'blue circle', 'red square', 'blue square', 'red triangle', 'blue triangle', 'red star', 'blue star']);
    expect(ds.info.attributeNames).toHaveLength(8 + 8 + 3 + 3);
  });

  it('renders the same bytes for the same (seed, split, index) and different ones otherwise', async () => {
    const again = await createDataset({ type: 'shapes', splits: { train: 300, val: 50, test: 50 } }, { seed: 7 });
    const other = await createDataset({ type: 'shapes', splits: { train: 300, val: 50, test: 50 } }, { seed: 8 });
    const a = await ds.split('train').item(5);
    expect(bytes((await again.split('train').item(5)).image).equals(bytes(a.image))).toBe(true);
    expect(bytes((await other.split('train').item(5)).image).equals(bytes(a.image))).toBe(false);
    expect(bytes((await ds.split('val').item(5)).image).equals(bytes(a.image))).toBe(false);
    expect(bytes((await ds.split('train').item(6)).image).equals(bytes(a.image))).toBe(false);
  });

  it('gives the target box as the bounding box of the target mask, labelled with the class', async () => {
    for (let i = 0; i < 100; i++) {
      const item = await ds.split('train').item(i);
      const fromMask = boxOfMask(item.mask!, 64, 64, item.label);
      expect(fromMask).not.toBeNull();
      expect(item.boxes![0]).toEqual(fromMask);
      expect(item.boxes!.slice(1).every((b) => b.label === -1)).toBe(true);
      const pixels = item.mask!.reduce((a, b) => a + b, 0);
      expect(pixels).toBeGreaterThan(20);
    }
  });

  it('never gives a distractor a class conjunction, and draws the target with its class pair', () => {
    const classes = classPairs(8);
    const isClass = (p: { shape: number; colour: number }) => classes.some((c) => c.shape === p.shape && c.colour === p.colour);
    const options = { size: 64, classes, distractorPairs: distractorPairs(classes), maxDistractors: 4 };
    let distractors = 0;
    for (let i = 0; i < 400; i++) {
      const { item, objects } = renderScene(new Rng(3, `t:${i}`), `x${i}`, options);
      expect(objects[0].role).toBe('target');
      expect(objects[0].pair).toEqual(classes[item.label]);
      for (const o of objects.slice(1)) {
        expect(isClass(o.pair)).toBe(false);
        distractors++;
      }
    }
    expect(distractors).toBeGreaterThan(400); // about 2 per scene with up to 4
    // And distractors do reuse class shapes and class colours separately, so only the
    // conjunction identifies the class.
    const pairs = distractorPairs(classes);
    expect(pairs.some((p) => p.shape === 0 && p.colour !== 0 && p.colour !== 1)).toBe(true);
    expect(pairs.some((p) => p.colour === 0 && p.shape >= 4)).toBe(true);
  });

  it('encodes the target as one-hot attribute groups consistent with its class', async () => {
    const classes = classPairs(8);
    for (let i = 0; i < 50; i++) {
      const item = await ds.split('val').item(i);
      const a = Array.from(item.attributes!);
      const groups = [a.slice(0, 8), a.slice(8, 16), a.slice(16, 19), a.slice(19, 22)];
      for (const g of groups) expect(g.reduce((x, y) => x + y, 0)).toBe(1);
      expect(SHAPES_ATTRIBUTE_NAMES[a.indexOf(1)]).toBe(`shape:${['circle', 'square', 'triangle', 'star'][classes[item.label].shape]}`);
      expect(groups[1].indexOf(1)).toBe(classes[item.label].colour);
    }
  });

  it('knows each label without rendering, and the labels are roughly balanced', async () => {
    const split = ds.split('train');
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 300; i++) counts[split.label(i)]++;
    for (let i = 0; i < 20; i++) expect(split.label(i)).toBe((await split.item(i)).label);
    for (const c of counts) expect(c).toBeGreaterThan(15); // 37.5 expected per class
  });
});

describe('batches', () => {
  it('streams tensors with the contract shapes and keeps the last partial batch', async () => {
    const sizes: number[] = [];
    for await (const batch of ds.split('val').batches({ batchSize: 16 })) {
      sizes.push(batch.images.shape[0]);
      expect(batch.images.shape.slice(1)).toEqual([64, 64, 3]);
      expect(batch.labels.dtype).toBe('int32');
      expect(batch.masks!.shape).toEqual([batch.ids.length, 64, 64]);
      expect(batch.attributes!.shape).toEqual([batch.ids.length, 22]);
      expect(batch.boxes!.length).toBe(batch.ids.length);
      const [min, max] = [batch.images.min().dataSync()[0], batch.images.max().dataSync()[0]];
      expect(min).toBeGreaterThanOrEqual(0);
      expect(max).toBeLessThanOrEqual(1);
      disposeBatch(batch);
    }
    expect(sizes).toEqual([16, 16, 16, 2]);
  });

  it('shuffles deterministically per seed and visits every example once', async () => {
    const order = async (seed: number) => {
      const ids: string[] = [];
      for await (const b of ds.split('val').batches({ batchSize: 7, shuffle: true, seed })) {
        ids.push(...b.ids);
        disposeBatch(b);
      }
      return ids;
    };
    const a = await order(1);
    expect(await order(1)).toEqual(a);
    expect(await order(2)).not.toEqual(a);
    expect([...a].sort()).toEqual(Array.from({ length: 50 }, (_, i) => `shapes/val/${i}`).sort());
    expect(a).not.toEqual(Array.from({ length: 50 }, (_, i) => `shapes/val/${i}`));
  });

  it('leaks no tensors once batches are disposed', async () => {
    await assertNoTensorLeak(async () => {
      for await (const b of ds.split('test').batches({ batchSize: 25 })) disposeBatch(b);
    });
    expect(tf.memory().numTensors).toBeGreaterThanOrEqual(0);
  });
});

describe('shapes config errors', () => {
  it('names an unknown key with a suggestion', async () => {
    const error = await createDataset({ type: 'shapes', distractor: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GazeError);
    expect((error as GazeError).format()).toBe("dataset: unknown key 'distractor' (did you mean 'distractors'?)");
  });

  it('names the key path of a bad value', async () => {
    const error = await createDataset({ type: 'shapes', classes: 100 }).catch((e: unknown) => e);
    expect((error as GazeError).where).toBe('dataset.classes');
    expect((error as GazeError).message).toMatch(/too big/i);
  });

  it('suggests the closest dataset type', async () => {
    const error = await createDataset({ type: 'shape' }).catch((e: unknown) => e);
    expect((error as GazeError).message).toBe("unknown dataset type 'shape' (did you mean 'shapes'?)");
  });
});
