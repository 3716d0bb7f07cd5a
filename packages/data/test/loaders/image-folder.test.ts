import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GazeError, initBackend } from '@gaze/engine';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataset, decodeImage, disposeBatch, fitGeometry, UnreadableItemError, type Dataset, type Item, type Split } from '../../src/index.js';

// datasets/image-folder/fixture (scripts/datasets/make-fixtures.ts): 40x32 images, classes
// circle/square/triangle, 4 readable images each, plus square/broken.jpg (garbage bytes) and
// circle/truncated.png (header intact, pixels cut short).
const fixture = fileURLToPath(new URL('../../../../datasets/image-folder/fixture', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'gaze-image-folder-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let ds: Dataset;
const logs: string[] = [];
beforeAll(async () => {
  await initBackend('wasm');
  ds = await createDataset({ type: 'image-folder', root: fixture }, { log: (l) => logs.push(l) });
});

/** Every id of a split in order, reading each item (an unreadable one gives its id through the error). */
async function ids(split: Split): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < split.size; i++) out.push(await split.item(i).then((it) => it.id, (e: unknown) => (e as UnreadableItemError).id));
  return out;
}

async function itemById(split: Split, id: string): Promise<Item> {
  for (let i = 0; i < split.size; i++) {
    const item = await split.item(i).catch(() => null);
    if (item?.id === id) return item;
  }
  throw new Error(`${id} not in ${split.name}`);
}

/** The RGB of pixel (x, y) of an item, in 0..255. */
function rgb(item: Item, x: number, y: number): number[] {
  const o = (y * item.width + x) * 3;
  return Array.from(item.image.subarray(o, o + 3), (v) => Math.round(v * 255));
}

describe('image-folder dataset', () => {
  it('takes sorted folder names as classes, reads both CSVs, and ignores files that are not images', () => {
    expect(ds.info).toMatchObject({
      type: 'image-folder',
      classNames: ['circle', 'square', 'triangle'],
      numClasses: 3,
      imageShape: [64, 64, 3],
      attributeNames: ['roundness', 'area'],
      has: { masks: false, boxes: true, attributes: true, multiLabel: false },
      // 13 files pass the header scan (12 good + truncated.png); notes.txt is no image.
      sizes: { train: 12, val: 1, test: 0 },
      source: fixture,
    });
  });

  it('reports the file whose header cannot be read once, with its path and the count, and leaves it out', async () => {
    const skipLines = logs.filter((l) => l.startsWith('image-folder: skipped 1 unreadable file:'));
    expect(skipLines).toHaveLength(1);
    expect(skipLines[0]).toMatch(/^image-folder: skipped 1 unreadable file: square\/broken\.jpg \(.+\)$/);
    const all = [...(await ids(ds.split('train'))), ...(await ids(ds.split('val')))];
    expect(all).not.toContain('square/broken.jpg');
    expect(all).toHaveLength(13);
  });

  it('splits by a hash of the path: test below testFraction, val next, train the rest', async () => {
    // hash32(path) / 2^32: c1.png 0.160, truncated.png 0.320, t1.webp 0.370, c4.jpg 0.483, every other file > 0.5.
    const config = { type: 'image-folder', root: fixture, valFraction: 0.25, testFraction: 0.25 };
    const a = await createDataset(config);
    expect(await ids(a.split('test'))).toEqual(['circle/c1.png']);
    expect(await ids(a.split('val'))).toEqual(['circle/c4.jpg', 'circle/truncated.png', 'triangle/t1.webp']);
    expect(await ids(a.split('train'))).toEqual(['circle/c2.png', 'circle/c3.PNG', 'square/s1.jpg', 'square/s2.JPG', 'square/s3.jpeg', 'square/s4.webp', 'triangle/t2.png', 'triangle/t3.jpg', 'triangle/t4.png']);
    // The default split (0.1/0.1) holds only c1.png out.
    expect(await ids(ds.split('val'))).toEqual(['circle/c1.png']);

    // Adding files moves none of the others.
    const copy = join(tmp, 'grown');
    cpSync(fixture, copy, { recursive: true });
    for (const n of [5, 6, 7, 8, 9]) cpSync(join(fixture, 'circle/c2.png'), join(copy, `circle/c${n}.png`));
    const b = await createDataset({ ...config, root: copy });
    for (const s of ['train', 'val', 'test'] as const) {
      const before = await ids(a.split(s));
      expect((await ids(b.split(s))).filter((id) => !/c[5-9]\.png$/.test(id))).toEqual(before);
    }
    expect(b.info.sizes.train + b.info.sizes.val + b.info.sizes.test).toBe(18);
  });

  it('maps boxes.csv (original pixel-edge coordinates) through the resize, labelled with the class', async () => {
    // s1.jpg: a 10x8 blue square at x 10..20, y 4..12 of 40x32; to 64x64 x scales by 1.6, y by 2.
    const s1 = await itemById(ds.split('train'), 'square/s1.jpg');
    expect(s1.label).toBe(1);
    expect(s1.boxes).toEqual([{ x0: 16, y0: 8, x1: 32, y1: 24, label: 1 }]);
    const [r, g, b] = rgb(s1, 24, 16); // the box centre is the square's blue (40, 60, 220), give or take JPEG
    expect(b).toBeGreaterThan(180);
    expect(r + g).toBeLessThan(160);
    // t2.png has two rows: the triangle's box 20,11,30,20 and the corner 0,0,4,4.
    const t2 = await itemById(ds.split('train'), 'triangle/t2.png');
    expect(t2.boxes).toEqual([
      { x0: 32, y0: 22, x1: 48, y1: 40, label: 2 },
      { x0: 0, y0: 0, x1: 6.4, y1: 8, label: 2 },
    ]);
    // [H, W] = [48, 80]: x scales by 2, y by 1.5.
    const wide = await createDataset({ type: 'image-folder', root: fixture, size: [48, 80] });
    const s1w = await itemById(wide.split('train'), 'square/s1.jpg');
    expect([s1w.height, s1w.width, wide.info.imageShape]).toEqual([48, 80, [48, 80, 3]]);
    expect(s1w.boxes).toEqual([{ x0: 20, y0: 6, x1: 40, y1: 18, label: 1 }]);
  });

  it('reads attributes.csv in header order; an image without a row gets zeros and a log line', async () => {
    const train = ds.split('train');
    expect(Array.from((await itemById(train, 'circle/c2.png')).attributes!)).toEqual([1, 100]);
    expect(Array.from((await itemById(train, 'square/s3.jpeg')).attributes!)).toEqual([0, 80]);
    expect(Array.from((await itemById(train, 'triangle/t1.webp')).attributes!)).toEqual([0.5, 90]);
    expect(Array.from((await itemById(train, 'circle/c4.jpg')).attributes!)).toEqual([0, 0]);
    expect(logs).toContain('image-folder: 2 image(s) have no row in attributes.csv; their attributes are all 0');
  });

  it('skips the truncated PNG while batching, records why, and keeps the batches full', async () => {
    const split = ds.split('train');
    const sizes: number[] = [];
    const seen: string[] = [];
    const labels: number[] = [];
    for await (const batch of split.batches({ batchSize: 4 })) {
      sizes.push(batch.ids.length);
      seen.push(...batch.ids);
      labels.push(...batch.labels.dataSync());
      expect(batch.images.shape).toEqual([batch.ids.length, 64, 64, 3]);
      expect(batch.attributes!.shape).toEqual([batch.ids.length, 2]);
      disposeBatch(batch);
    }
    // 12 train files, 1 unreadable: 11 examples in batches of 4, 4, 3.
    expect(sizes).toEqual([4, 4, 3]);
    expect(seen).not.toContain('circle/truncated.png');
    expect(labels).toEqual([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    expect(split.skipped).toEqual([{ id: 'circle/truncated.png', reason: expect.stringMatching(/^(vipspng: libpng read error.*|damaged or truncated image data)$/) }]);
    expect(logs.filter((l) => l.startsWith('image-folder: skipped unreadable circle/truncated.png'))).toHaveLength(1);
  });

  it('uses train/val/test folders as the splits, carving val out of train when there is none', async () => {
    const root = join(tmp, 'split-folders');
    const put = (from: string, to: string) => {
      mkdirSync(join(root, to, '..'), { recursive: true });
      cpSync(join(fixture, from), join(root, to));
    };
    put('circle/c1.png', 'train/circle/c1.png');
    put('circle/c2.png', 'train/circle/c2.png');
    put('square/s1.jpg', 'train/square/s1.jpg');
    put('square/s2.JPG', 'train/square/s2.JPG');
    put('triangle/t1.webp', 'test/triangle/t1.webp');
    put('circle/c3.PNG', 'test/circle/c3.PNG');
    const d = await createDataset({ type: 'image-folder', root, valFraction: 0.25 });
    // Classes are the union over the split folders; train/ has no triangle, test/ has.
    expect(d.info.classNames).toEqual(['circle', 'square', 'triangle']);
    expect(await ids(d.split('test'))).toEqual(['test/circle/c3.PNG', 'test/triangle/t1.webp']);
    expect(d.split('test').label(1)).toBe(2);
    // hash32 / 2^32 of train/circle/c1.png 0.276, train/circle/c2.png 0.671, train/square/s1.jpg 0.107, train/square/s2.JPG 0.181.
    expect(await ids(d.split('val'))).toEqual(['train/square/s1.jpg', 'train/square/s2.JPG']);
    expect(await ids(d.split('train'))).toEqual(['train/circle/c1.png', 'train/circle/c2.png']);
  });

  it('explains a missing root and fractions that leave no training data', async () => {
    const missing = (await createDataset({ type: 'image-folder', root: 'no/such/dir' }, { baseDir: tmp }).catch((x: unknown) => x)) as GazeError;
    expect(missing).toBeInstanceOf(GazeError);
    expect(missing.message).toBe(`image folder ${join(tmp, 'no/such/dir')} not found`);
    expect(missing.where).toBe('dataset.root');
    expect(missing.hint).toContain('<root>/<class>/<image>.{png,jpg,jpeg,webp}');
    const greedy = (await createDataset({ type: 'image-folder', root: fixture, valFraction: 0.6, testFraction: 0.5 }).catch((x: unknown) => x)) as GazeError;
    expect(greedy).toBeInstanceOf(GazeError);
    expect(greedy.message).toContain('leaves nothing to train on');
  });

  it('rejects a shorterSide below the crop once, at its key, instead of skipping every image', async () => {
    const small = (await createDataset({ type: 'image-folder', root: fixture, size: [32, 48], shorterSide: 40 }).catch((x: unknown) => x)) as GazeError;
    expect(small).toBeInstanceOf(GazeError);
    expect(small.where).toBe('dataset.shorterSide');
    expect(small.message).toContain('shorterSide 40 is smaller than the 32x48 crop (size)');
    for (const type of ['voc', 'cub200']) {
      const e = (await createDataset({ type, root: tmp, size: 64, shorterSide: 32 }).catch((x: unknown) => x)) as GazeError;
      expect(e.where, type).toBe('dataset.shorterSide');
    }
    // Equal to the crop's longer side is fine.
    const ok = await createDataset({ type: 'image-folder', root: fixture, size: [32, 48], shorterSide: 48 }, { log: () => {} });
    expect(ok.info.imageShape).toEqual([32, 48, 3]);
  });
});

describe('decodeImage', () => {
  // 40x32 image, black but for a blue block on pixels x 10..19, y 4..11: the box {10, 4, 20, 12}.
  let png: Buffer;
  const box = { x0: 10, y0: 4, x1: 20, y1: 12, label: 3 };
  beforeAll(async () => {
    const raw = Buffer.alloc(40 * 32 * 3);
    for (let y = 4; y < 12; y++) for (let x = 10; x < 20; x++) raw[(y * 40 + x) * 3 + 2] = 255;
    png = await sharp(raw, { raw: { width: 40, height: 32, channels: 3 } }).png().toBuffer();
  });

  it('fill scales x and y independently', async () => {
    const d = await decodeImage(png, 'a', { size: [64, 64], fit: 'fill', boxes: [box] });
    expect(d.boxes).toEqual([{ x0: 16, y0: 8, x1: 32, y1: 24, label: 3 }]);
  });

  it('cover scales by max(64/40, 64/32) = 2 to 80x64 and crops 8 columns off each side', async () => {
    expect(fitGeometry(40, 32, 64, 64, 'cover')).toEqual({ scaledW: 80, scaledH: 64, offsetX: -8, offsetY: 0 });
    const edge = { x0: 0, y0: 0, x1: 6, y1: 32, label: 0 }; // 0..12 after scaling, 0..4 after the crop
    const gone = { x0: 0, y0: 0, x1: 4, y1: 32, label: 0 }; // 0..8: entirely in the cropped margin
    const d = await decodeImage(png, 'a', { size: [64, 64], fit: 'cover', boxes: [box, edge, gone] });
    expect(d.boxes).toEqual([
      { x0: 12, y0: 8, x1: 32, y1: 24, label: 3 },
      { x0: 0, y0: 0, x1: 4, y1: 64, label: 0 },
    ]);
    expect(rgb(d as Item, 22, 16)[2]).toBeGreaterThan(240);
    expect(rgb(d as Item, 34, 16)[2]).toBeLessThan(15);
    // To 32x48 (H x W): scale max(48/40, 32/32) = 1.2 gives 48 x 38.4 -> 38 rows, 3 cropped off the top.
    expect(fitGeometry(40, 32, 48, 32, 'cover')).toEqual({ scaledW: 48, scaledH: 38, offsetX: 0, offsetY: -3 });
    const wide = await decodeImage(png, 'a', { size: [32, 48], fit: 'cover', boxes: [box] });
    expect(wide.boxes).toEqual([{ x0: 12, y0: (4 * 38) / 32 - 3, x1: 24, y1: (12 * 38) / 32 - 3, label: 3 }]); // y 1.75..11.25
  });

  it('contain scales by min(1.6, 2) = 1.6 to 64x51 and pads 6 rows above, 7 below with zeros', async () => {
    expect(fitGeometry(40, 32, 64, 64, 'contain')).toEqual({ scaledW: 64, scaledH: 51, offsetX: 0, offsetY: 6 });
    const d = (await decodeImage(png, 'a', { size: [64, 64], fit: 'contain', boxes: [box] })) as Item;
    // y: 4 * 51/32 + 6 = 12.375 and 12 * 51/32 + 6 = 25.125.
    expect(d.boxes).toEqual([{ x0: 16, y0: 12.375, x1: 32, y1: 25.125, label: 3 }]);
    expect(rgb(d, 24, 19)[2]).toBeGreaterThan(240);
    // Letterbox rows 0..5 and 57..63 are exactly zero.
    for (const y of [0, 5, 57, 63]) expect(Math.max(...d.image.subarray(y * 64 * 3, (y + 1) * 64 * 3))).toBe(0);
  });

  it('shorterSide: torchvision\'s Resize(N) then CenterCrop (floor for the long side, offsets rounded half to even)', async () => {
    // 40x32 to shorter side 36: 45x36 (floor(36 * 40 / 32) = 45); a 32x32 centre crop starts at round(6.5) = 6, round(2) = 2.
    expect(fitGeometry(40, 32, 32, 32, 'fill', 36)).toEqual({ scaledW: 45, scaledH: 36, offsetX: -6, offsetY: -2 });
    // round(7.5) = 8 (even), round(6.5) = 6 (even), as Python rounds.
    expect(fitGeometry(47, 32, 32, 32, 'fill', 32).offsetX).toBe(-8);
    expect(fitGeometry(45, 32, 32, 32, 'fill', 32).offsetX).toBe(-6);
    const d = await decodeImage(png, 'a', { size: [32, 32], fit: 'fill', boxes: [box], shorterSide: 36 });
    // x: 10 * 45/40 - 6 = 5.25 .. 20 * 45/40 - 6 = 16.5; y: 4 * 36/32 - 2 = 2.5 .. 12 * 36/32 - 2 = 11.5
    expect(d.boxes).toEqual([{ x0: 5.25, y0: 2.5, x1: 16.5, y1: 11.5, label: 3 }]);
    expect(rgb(d as Item, 10, 7)[2]).toBeGreaterThan(240);
    await expect(decodeImage(png, 'a', { size: [32, 32], fit: 'fill', shorterSide: 30 })).rejects.toThrow('smaller than the 32x32 crop');
  });

  it('crops a region (widened to whole pixels) before resizing; boxes follow', async () => {
    // Region 4.5..34.1 x 1.2..29.9 -> pixels 4..35 x 1..30: 31x29; to 62x58 scales by 2 exactly.
    const d = await decodeImage(png, 'a', { size: [58, 62], fit: 'fill', boxes: [box], region: { x0: 4.5, y0: 1.2, x1: 34.1, y1: 29.9 } });
    expect(d.boxes).toEqual([{ x0: 12, y0: 6, x1: 32, y1: 22, label: 3 }]);
  });

  it('gives three sRGB channels for grey and transparent images, and an UnreadableItemError for garbage', async () => {
    const grey = await sharp(Buffer.alloc(8 * 8, 100), { raw: { width: 8, height: 8, channels: 1 } }).png().toBuffer();
    const g = await decodeImage(grey, 'g', { size: [8, 8], fit: 'fill' });
    expect([g.channels, ...rgb(g as Item, 3, 3)]).toEqual([3, 100, 100, 100]);
    const rgba = Buffer.alloc(8 * 8 * 4, 200);
    for (let p = 0; p < 64; p++) rgba[p * 4 + 3] = p < 32 ? 0 : 255; // top half transparent
    const half = await sharp(rgba, { raw: { width: 8, height: 8, channels: 4 } }).png().toBuffer();
    const h = (await decodeImage(half, 'h', { size: [8, 8], fit: 'fill' })) as Item;
    expect([rgb(h, 2, 1), rgb(h, 2, 6)]).toEqual([
      [0, 0, 0],
      [200, 200, 200],
    ]);
    const e = await decodeImage(Buffer.from('not an image'), 'junk/1.jpg', { size: [8, 8], fit: 'fill' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnreadableItemError);
    expect((e as UnreadableItemError).id).toBe('junk/1.jpg');
  });
});
