import { initBackend } from '@gaze/engine';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDataset, renderPreviewGrid, summarizeSplit, type Dataset } from '../src/index.js';

let ds: Dataset;
beforeAll(async () => {
  await initBackend('wasm');
  ds = await createDataset({ type: 'shapes', splits: { train: 10, val: 40, test: 10 } }, { seed: 3 });
});

describe('summarizeSplit', () => {
  it('counts every class over the whole split and lists the first examples in order with their target box', async () => {
    const { summary } = await summarizeSplit(ds, 'val', 5);
    const expected: Record<string, number> = Object.fromEntries(ds.info.classNames.map((n) => [n, 0]));
    for (let i = 0; i < 40; i++) expected[ds.info.classNames[ds.split('val').label(i)]]++;
    expect(summary.counts).toEqual(expected);
    expect(Object.values(summary.counts).reduce((a, b) => a + b, 0)).toBe(40);
    expect(Object.keys(summary).sort()).toEqual(['classNames', 'counts', 'first', 'has', 'imageShape', 'numClasses', 'size', 'split', 'type']);
    expect(summary.first.map((f) => f.id)).toEqual([0, 1, 2, 3, 4].map((i) => `shapes/val/${i}`));
    for (const [i, f] of summary.first.entries()) {
      const item = await ds.split('val').item(i);
      expect(f.label).toBe(item.label);
      expect(f.box).toEqual(item.boxes![0]);
    }
  });
});

describe('summarizeSplit on files', () => {
  it('passes over a file that fails to decode and lists the next readable ones', async () => {
    const root = fileURLToPath(new URL('../../../datasets/image-folder/fixture', import.meta.url));
    const folder = await createDataset({ type: 'image-folder', root, valFraction: 0, testFraction: 0 }, { seed: 0, log: () => {} });
    // broken.jpg fails at the header scan; truncated.png only when its pixels are decoded.
    expect(folder.info.sizes.train).toBe(13);
    const { summary, items, skipped } = await summarizeSplit(folder, 'train', 5);
    expect(skipped).toEqual([{ id: 'circle/truncated.png', reason: 'vipspng: libpng read error' }]);
    expect(items.map((i) => i.id)).toEqual(['circle/c1.png', 'circle/c2.png', 'circle/c3.PNG', 'circle/c4.jpg', 'square/s1.jpg']);
    expect(summary.first.map((f) => f.label)).toEqual([0, 0, 0, 0, 1]);
  });
});

describe('renderPreviewGrid', () => {
  it('lays out 128 px cells with captions and draws the target box in green', async () => {
    const items = await Promise.all([0, 1, 2, 3, 4].map((i) => ds.split('val').item(i)));
    const png = await renderPreviewGrid(items, ds.info.classNames, ds.info.attributeNames);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    // 5 items -> 3 columns x 2 rows; cell 128 + gap 4, caption 34.
    expect([info.width, info.height]).toEqual([3 * 132 + 4, 2 * (128 + 34 + 4) + 4]);
    // Item 0's target box top-left corner, scaled by 128/64 = 2, offset by the 4 px gap.
    const box = items[0].boxes![0];
    const x = 4 + box.x0 * 2;
    const y = 4 + box.y0 * 2;
    const o = (y * info.width + x) * info.channels;
    expect([data[o], data[o + 1], data[o + 2]]).toEqual([60, 220, 90]);
  });
});
