import { cpSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GazeError, initBackend } from '@gaze/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataset, cubClassName, disposeBatch, type Dataset, type Item, type Split } from '../../src/index.js';

// datasets/cub200/fixture/CUB_200_2011 (scripts/datasets/make-fixtures.ts): 8 birds in 3 classes,
// is_training 1 0 1 | 1 1 0 | 1 0 for images 1..8, 6 attributes.
const fixture = fileURLToPath(new URL('../../../../datasets/cub200/fixture/CUB_200_2011', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'gaze-cub200-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const path = (id: number) =>
  [
    '001.Black_footed_Albatross/Black_Footed_Albatross_0001_101.jpg',
    '001.Black_footed_Albatross/Black_Footed_Albatross_0002_102.jpg',
    '001.Black_footed_Albatross/Black_Footed_Albatross_0003_103.jpg',
    '002.Laysan_Albatross/Laysan_Albatross_0001_104.jpg',
    '002.Laysan_Albatross/Laysan_Albatross_0002_105.jpg',
    '002.Laysan_Albatross/Laysan_Albatross_0003_106.jpg',
    '003.Sooty_Albatross/Sooty_Albatross_0001_107.jpg',
    '003.Sooty_Albatross/Sooty_Albatross_0002_108.jpg',
  ][id - 1];

let ds: Dataset;
beforeAll(async () => {
  await initBackend('wasm');
  ds = await createDataset({ type: 'cub200', root: fixture });
});

async function all(split: Split): Promise<Item[]> {
  return Promise.all(Array.from({ length: split.size }, (_, i) => split.item(i)));
}

async function byId(d: Dataset, id: number): Promise<Item> {
  for (const s of ['train', 'val', 'test'] as const) {
    const found = (await all(d.split(s))).find((it) => it.id === path(id));
    if (found) return found;
  }
  throw new Error(`image ${id} not found`);
}

function rgb(item: Item, x: number, y: number): number[] {
  const o = (y * item.width + x) * 3;
  return Array.from(item.image.subarray(o, o + 3), (v) => Math.round(v * 255));
}

describe('cub200 dataset', () => {
  it('names the classes without their number, lists the attributes in id order, and sizes the splits', () => {
    expect(cubClassName('001.Black_footed_Albatross')).toBe('Black footed Albatross');
    expect(ds.info).toMatchObject({
      type: 'cub200',
      classNames: ['Black footed Albatross', 'Laysan Albatross', 'Sooty Albatross'],
      numClasses: 3,
      imageShape: [64, 64, 3],
      attributeNames: [
        'has_bill_shape::hooked_seabird',
        'has_wing_color::black',
        'has_wing_color::white',
        'has_upperparts_color::brown',
        'has_size::large_(16_-_32_in)',
        'has_head_pattern::plain',
      ],
      has: { masks: false, boxes: true, attributes: true, multiLabel: false },
      sizes: { train: 5, val: 0, test: 3 },
    });
  });

  it('puts is_training 0 in test and divides the rest into train and val by a hash of the path', async () => {
    expect((await all(ds.split('test'))).map((i) => i.id)).toEqual([path(2), path(6), path(8)]);
    expect((await all(ds.split('train'))).map((i) => i.id)).toEqual([path(1), path(3), path(4), path(5), path(7)]);
    // hash32 / 2^32 of the training paths: 1: 0.455, 3: 0.982, 4: 0.855, 5: 0.241, 7: 0.336.
    const d = await createDataset({ type: 'cub200', root: fixture, valFraction: 0.3 });
    expect((await all(d.split('val'))).map((i) => i.id)).toEqual([path(5)]);
    expect((await all(d.split('train'))).map((i) => i.id)).toEqual([path(1), path(3), path(4), path(7)]);
    expect((await all(d.split('test'))).map((i) => i.id)).toEqual([path(2), path(6), path(8)]);
  });

  it('labels each image class_id - 1, known without decoding', async () => {
    const test = ds.split('test');
    expect((await all(test)).map((i) => i.label)).toEqual([0, 1, 2]);
    expect([0, 1, 2].map((i) => test.label(i))).toEqual([0, 1, 2]);
    expect([0, 1, 2, 3, 4].map((i) => ds.split('train').label(i))).toEqual([0, 0, 1, 1, 2]);
  });

  it('reads the is_present column, tolerating lines with extra or missing trailing fields', async () => {
    expect(Array.from((await byId(ds, 1)).attributes!)).toEqual([1, 1, 0, 0, 1, 0]);
    expect(Array.from((await byId(ds, 2)).attributes!)).toEqual([1, 1, 0, 0, 1, 1]); // its attribute 3 line has 6 fields
    expect(Array.from((await byId(ds, 5)).attributes!)).toEqual([1, 0, 1, 0, 1, 0]); // its attribute 6 line has 3
    expect(Array.from((await byId(ds, 7)).attributes!)).toEqual([1, 0, 0, 1, 1, 1]);
    const rows: number[][] = [];
    for await (const b of ds.split('test').batches({ batchSize: 8 })) {
      const a = b.attributes!.arraySync();
      rows.push(...a);
      disposeBatch(b);
    }
    expect(rows).toEqual([
      [1, 1, 0, 0, 1, 1],
      [1, 1, 1, 0, 1, 0],
      [1, 0, 0, 1, 0, 1],
    ]);
  });

  it('gives the bird box (x, y, w, h in the original) scaled to the output, labelled with the class', async () => {
    // Image 8 is 64x48 with the box "16 15 36 18": edges 16..52 x 15..33; y scales by 64/48.
    const b8 = await byId(ds, 8);
    expect(b8.boxes).toEqual([{ x0: 16, y0: 20, x1: 52, y1: 44, label: 2 }]);
    // Image 1 is 64x48 with "16 17 32 17": y 17..34 -> 22.67..45.33.
    const [b] = (await byId(ds, 1)).boxes!;
    expect([b.x0, b.x1, b.label]).toEqual([16, 48, 0]);
    expect(b.y0).toBeCloseTo((17 * 64) / 48, 10);
    expect(b.y1).toBeCloseTo((34 * 64) / 48, 10);
    // Image 5 is 56x40 with "13 12 27 15": x scales by 64/56, y by 64/40.
    const [b5] = (await byId(ds, 5)).boxes!;
    expect(b5.x0).toBeCloseTo((13 * 64) / 56, 10);
    expect(b5.x1).toBeCloseTo((40 * 64) / 56, 10);
    expect(b5.y0).toBeCloseTo(19.2, 10);
    expect(b5.y1).toBeCloseTo(43.2, 10);
  });

  it('crop: box crops to the box widened by cropMargin and keeps the box in step', async () => {
    const d = await createDataset({ type: 'cub200', root: fixture, crop: 'box' });
    // Image 8: box 16..52 x 15..33 (36x18); margin 0.1 -> 12.4..55.6 x 13.2..34.8 -> whole pixels
    // 12..56 x 13..35 (44x22). The box in the crop is 4..40 x 2..20; to 64x64 that is
    // 4*64/44 .. 40*64/44 and 2*64/22 .. 20*64/22 = 64/11 .. 640/11 on both axes.
    const item = await byId(d, 8);
    const [b] = item.boxes!;
    for (const v of [b.x0, b.y0]) expect(v).toBeCloseTo(64 / 11, 10);
    for (const v of [b.x1, b.y1]) expect(v).toBeCloseTo(640 / 11, 10);
    expect(b.label).toBe(2);
    // The crop is mostly bird: the body (110, 80, 55) at the output's centre row.
    const [r, g, bl] = rgb(item, 29, 32);
    expect(Math.abs(r - 110) + Math.abs(g - 80) + Math.abs(bl - 55)).toBeLessThan(40);
    // A margin wider than the image clips to it: image 1 with cropMargin 1 is the whole image.
    const wide = await createDataset({ type: 'cub200', root: fixture, crop: 'box', cropMargin: 1 });
    expect((await byId(wide, 1)).boxes).toEqual((await byId(ds, 1)).boxes);
  });

  it('finds attributes.txt next to CUB_200_2011/, where the release puts it', async () => {
    const copy = join(tmp, 'release', 'CUB_200_2011');
    cpSync(fixture, copy, { recursive: true });
    renameSync(join(copy, 'attributes.txt'), join(tmp, 'release', 'attributes.txt'));
    const d = await createDataset({ type: 'cub200', root: copy });
    expect(d.info.attributeNames).toEqual(ds.info.attributeNames);
  });

  it('lists every missing file, and loads without the attribute files when attributes: false', async () => {
    const copy = join(tmp, 'partial');
    cpSync(fixture, copy, { recursive: true });
    rmSync(join(copy, 'bounding_boxes.txt'));
    rmSync(join(copy, 'classes.txt'));
    const e = (await createDataset({ type: 'cub200', root: copy }).catch((x: unknown) => x)) as GazeError;
    expect(e).toBeInstanceOf(GazeError);
    expect(e.message).toBe(`CUB-200-2011 files missing in ${copy}: bounding_boxes.txt, classes.txt`);
    expect(e.where).toBe('dataset.root');
    expect(e.hint).toContain('the CUB_200_2011 directory');

    const noAttributes = join(tmp, 'no-attributes');
    cpSync(fixture, noAttributes, { recursive: true });
    rmSync(join(noAttributes, 'attributes'), { recursive: true });
    rmSync(join(noAttributes, 'attributes.txt'));
    const e2 = (await createDataset({ type: 'cub200', root: noAttributes }).catch((x: unknown) => x)) as GazeError;
    expect(e2.message).toBe(`CUB-200-2011 files missing in ${noAttributes}: attributes/image_attribute_labels.txt, attributes.txt`);
    expect(e2.hint).toContain('set attributes: false');
    const d = await createDataset({ type: 'cub200', root: noAttributes, attributes: false });
    expect(d.info.has.attributes).toBe(false);
    expect(d.info.attributeNames).toBeUndefined();
    expect((await d.split('test').item(0)).attributes).toBeUndefined();
  });
});
