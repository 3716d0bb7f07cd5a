import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GazeError, initBackend, Rng } from '@gaze/engine';
import { z } from 'zod';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  boxOfMask,
  commonDatasetKeys,
  createDataset,
  DEFAULT_FASHION_MNIST_DIR,
  disposeBatch,
  FASHION_MNIST_FILES,
  makeSplit,
  pipelineFor,
  planClutter,
  registerDataset,
  resizeItem,
  SPLIT_NAMES,
  type Item,
  type Split,
  type SplitName,
} from '../../src/index.js';

const available = Object.values(FASHION_MNIST_FILES).every((f) => existsSync(join(DEFAULT_FASHION_MNIST_DIR, f)));
const realData = available || (process.env.GAZE_REQUIRE_DATASETS ?? '').includes('fashion-mnist');

const BLOB = Math.fround(0.8);
const BASE_SIZES = { train: 20, val: 6, test: 6 };

/**
 * A tiny base: 12x12x1 black images, label i % 3, with one square of 0.8 of side 3 + 2*(i % 3)
 * at (row 1 + i % 4, column 2 + i % 3); with `full`, every pixel is 1.
 */
function blob(split: SplitName, i: number, full: boolean): Item {
  const image = new Float32Array(144);
  const side = 3 + 2 * (i % 3);
  if (full) image.fill(1);
  else for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) image[(1 + (i % 4) + y) * 12 + 2 + (i % 3) + x] = BLOB;
  return { id: `blobs/${split}/${i}`, height: 12, width: 12, channels: 1, image, label: i % 3 };
}

const BlobsConfig = z.strictObject({ full: z.boolean().default(false), ...commonDatasetKeys });
registerDataset({
  type: 'test-blobs',
  describe: 'test base: one bright square per 12x12 black image',
  configSchema: BlobsConfig,
  async create(config: z.infer<typeof BlobsConfig>, context) {
    const { pipeline, imageShape } = pipelineFor(config, [12, 12, 1], context.where);
    const info = {
      type: 'test-blobs',
      classNames: ['a', 'b', 'c'],
      numClasses: 3,
      imageShape,
      has: { masks: false, boxes: false, attributes: false, multiLabel: false },
      sizes: BASE_SIZES,
      source: 'procedural',
    };
    const splits = Object.fromEntries(
      SPLIT_NAMES.map((s) => [s, makeSplit(s, { size: BASE_SIZES[s], label: (i) => i % 3, read: (i) => blob(s, i, config.full) }, info, pipeline)]),
    ) as Record<SplitName, Split>;
    return { info, split: (s: SplitName) => splits[s] };
  },
});

const cluttered = (options: Record<string, unknown> = {}, seed = 1) => createDataset({ type: 'cluttered', base: { type: 'test-blobs' }, canvas: 40, fragmentSize: 4, ...options }, { seed });
const count = (a: ArrayLike<number>, f: (v: number, i: number) => boolean) => Array.from(a).filter(f).length;

beforeAll(async () => {
  await initBackend('wasm');
});

describe('cluttered over a synthetic base', () => {
  it('takes its classes and sizes from the base, has masks and boxes, and wraps larger splits', async () => {
    const ds = await cluttered({ splits: { train: 50 } });
    expect(ds.info).toMatchObject({ type: 'cluttered', classNames: ['a', 'b', 'c'], numClasses: 3, imageShape: [40, 40, 1], sizes: { train: 50, val: 6, test: 6 } });
    expect(ds.info.has).toEqual({ masks: true, boxes: true, attributes: false, multiLabel: false });
    const train = ds.split('train');
    for (const i of [0, 1, 2, 23, 49]) {
      const item = await train.item(i);
      expect(train.label(i)).toBe((i % 20) % 3);
      expect(item.label).toBe((i % 20) % 3);
      expect(item.id).toBe(`cluttered/train/${i}`);
    }
    // Example 20 is base example 0 (a 3x3 square) again, placed elsewhere.
    const plain = (await cluttered({ splits: { train: 50 }, scale: [1, 1], fragments: 0 })).split('train');
    const [a, b] = [await plain.item(0), await plain.item(20)];
    expect([count(a.image, (v) => v === BLOB), count(b.image, (v) => v === BLOB)]).toEqual([9, 9]);
    expect(a.boxes).not.toEqual(b.boxes);
  });

  it('pastes an unscaled object exactly: its square of 0.8 on black, mask = that square, box = its bounds', async () => {
    const ds = await cluttered({ scale: [1, 1], fragments: 0 });
    for (let i = 0; i < 20; i++) {
      const item = await ds.split('train').item(i);
      const side = 3 + 2 * (i % 3);
      expect(count(item.image, (v) => v === BLOB)).toBe(side * side);
      expect(count(item.image, (v) => v !== 0 && v !== BLOB)).toBe(0);
      expect(Array.from(item.mask!)).toEqual(Array.from(item.image, (v) => (v === BLOB ? 1 : 0)));
      const box = item.boxes![0];
      expect(item.boxes).toEqual([boxOfMask(item.mask!, 40, 40, i % 3)]);
      expect([box.x1 - box.x0, box.y1 - box.y0, box.label]).toEqual([side, side, i % 3]);
    }
  });

  it('without fragments, the mask is exactly the canvas foreground at any scale', async () => {
    const ds = await cluttered({ fragments: 0 });
    for (let i = 0; i < 20; i++) {
      const item = await ds.split('val').item(i % 6);
      expect(Array.from(item.mask!)).toEqual(Array.from(item.image, (v) => (v > 0.1 ? 1 : 0)));
      expect(item.boxes).toEqual([boxOfMask(item.mask!, 40, 40, item.label)]);
    }
  });

  it('adds unscaled fragments of other examples outside the object; the mask stays the object', async () => {
    const ds = await cluttered(); // 6 fragments of 4x4, scale [1, 2]
    let withClutter = 0;
    for (let i = 0; i < 20; i++) {
      const item = await ds.split('train').item(i);
      const box = item.boxes![0];
      expect(item.boxes).toEqual([boxOfMask(item.mask!, 40, 40, item.label)]);
      // Mask pixels hold at least the pasted foreground (max blending), so they are above threshold.
      expect(count(item.mask!, (m, p) => m === 1 && !(item.image[p] > 0.1))).toBe(0);
      const outside = (p: number) => {
        const [x, y] = [p % 40, Math.floor(p / 40)];
        return x < box.x0 || x >= box.x1 || y < box.y0 || y >= box.y1;
      };
      // Outside the object's box there is only clutter, whole base pixels (0 or 0.8, never
      // scaled), and the object's faint resampled rim below the threshold.
      expect(count(item.image, (v, p) => outside(p) && v > 0.1 && v !== BLOB)).toBe(0);
      if (count(item.image, (v, p) => outside(p) && v === BLOB) > 0) withClutter++;
    }
    expect(withClutter).toBeGreaterThanOrEqual(18);
  });

  it("masks the object's own foreground only, never clutter lying under it", async () => {
    // Unscaled 3x3, 5x5, 7x7 squares: the mask is the square whatever the fragments do.
    const fixed = await cluttered({ scale: [1, 1], fragments: 12 });
    for (let i = 0; i < 20; i++) {
      const item = await fixed.split('train').item(i);
      const side = 3 + 2 * (i % 3);
      const box = item.boxes![0];
      expect([box.x1 - box.x0, box.y1 - box.y0]).toEqual([side, side]);
      expect(count(item.mask!, (m) => m === 1)).toBe(side * side);
    }
    // At any scale: rebuild the layout from the documented stream (seed, 'cluttered:split:i'),
    // resize the base example by hand, and threshold it where it was placed.
    const ds = await cluttered();
    let clutterInsideRect = 0;
    const geometry = { baseSize: 20, baseHeight: 12, baseWidth: 12, canvas: 40, scale: [1, 2] as [number, number], fragments: 6, fragmentSize: 4 };
    for (let i = 0; i < 20; i++) {
      const item = await ds.split('train').item(i);
      const { object: o } = planClutter(new Rng(1, `cluttered:train:${i}`), i, geometry);
      const scaled = resizeItem(blob('train', i, false), o.height, o.width);
      const expected = new Uint8Array(40 * 40);
      for (let y = 0; y < o.height; y++) {
        for (let x = 0; x < o.width; x++) {
          const v = scaled.image[y * o.width + x];
          if (v > 0.1) expected[(o.top + y) * 40 + o.left + x] = 1;
          expect(item.image[(o.top + y) * 40 + o.left + x]).toBeGreaterThanOrEqual(v); // max blending
          if (v <= 0.1 && item.image[(o.top + y) * 40 + o.left + x] === BLOB) clutterInsideRect++;
        }
      }
      expect(Array.from(item.mask!)).toEqual(Array.from(expected));
    }
    // The object's black surround does not cover the clutter: it is pasted, not a rectangle.
    expect(clutterInsideRect).toBeGreaterThan(0);
  });

  it('scales the object within [min, max] of the base size', async () => {
    const fixed = await cluttered({ base: { type: 'test-blobs', full: true }, scale: [1.5, 1.5] });
    for (let i = 0; i < 6; i++) {
      const item = await fixed.split('test').item(i);
      expect(item.boxes![0].x1 - item.boxes![0].x0).toBe(18);
      expect(item.boxes![0].y1 - item.boxes![0].y0).toBe(18);
      expect(count(item.mask!, (m) => m === 1)).toBe(18 * 18);
    }
    const ranged = await cluttered({ base: { type: 'test-blobs', full: true }, scale: [1, 2], splits: { train: 60 } });
    const sides: number[] = [];
    for (let i = 0; i < 60; i++) {
      const b = (await ranged.split('train').item(i)).boxes![0];
      expect(b.x1 - b.x0).toBe(b.y1 - b.y0);
      sides.push(b.x1 - b.x0);
    }
    expect(Math.min(...sides)).toBeGreaterThanOrEqual(12);
    expect(Math.max(...sides)).toBeLessThanOrEqual(24);
    expect(Math.min(...sides)).toBeLessThanOrEqual(14);
    expect(Math.max(...sides)).toBeGreaterThanOrEqual(22);
  });

  it('is a pure function of (seed, split, index)', async () => {
    const bytes = (item: Item) => Buffer.concat([Buffer.from(item.image.buffer), Buffer.from(item.mask!)]);
    const ds = await cluttered({}, 1);
    const a = bytes(await ds.split('train').item(7));
    expect(bytes(await (await cluttered({}, 1)).split('train').item(7)).equals(a)).toBe(true);
    expect(bytes(await (await cluttered({ seed: 1 }, 99)).split('train').item(7)).equals(a)).toBe(true);
    expect(bytes(await (await cluttered({}, 2)).split('train').item(7)).equals(a)).toBe(false);
    expect(bytes(await ds.split('train').item(8)).equals(a)).toBe(false);
    // Reading other examples first changes nothing.
    const fresh = await cluttered({}, 1);
    await fresh.split('train').item(3);
    expect(bytes(await fresh.split('train').item(7)).equals(a)).toBe(true);
  });

  it('batches masks and boxes', async () => {
    const ds = await cluttered();
    for await (const b of ds.split('val').batches({ batchSize: 4 })) {
      expect(b.masks!.shape).toEqual([b.ids.length, 40, 40]);
      expect(b.boxes!.every((boxes) => boxes.length === 1)).toBe(true);
      disposeBatch(b);
    }
  });
});

describe('cluttered config errors', () => {
  it('rejects an object that cannot fit the canvas, and fragments larger than the base', async () => {
    const big = (await cluttered({ canvas: 20 }).catch((e: unknown) => e)) as GazeError;
    expect(big).toBeInstanceOf(GazeError);
    expect(big.format()).toBe('dataset.scale: a 12x12 base image at scale 2 is 24 pixels across, larger than the 20-pixel canvas\n  hint: use a canvas of at least 24, or a smaller maximum scale');
    const frag = (await cluttered({ fragmentSize: 13 }).catch((e: unknown) => e)) as GazeError;
    expect(frag.where).toBe('dataset.fragmentSize');
    const order = (await cluttered({ scale: [2, 1] }).catch((e: unknown) => e)) as GazeError;
    expect(order.message).toBe('scale is [min, max] with min <= max');
  });

  it("reports the base's errors under dataset.base", async () => {
    const e = (await createDataset({ type: 'cluttered', base: { type: 'fashion-mnist', dir: '/nonexistent/fm' } }).catch((x: unknown) => x)) as GazeError;
    expect(e.where).toBe('dataset.base.dir');
    expect(e.hint).toMatch(/set dataset\.base\.dir to a directory holding the four files/);
    const typo = (await createDataset({ type: 'cluttered', base: { type: 'test-blobs', ful: true } }).catch((x: unknown) => x)) as GazeError;
    expect(typo.format()).toBe("dataset.base: unknown key 'ful' (did you mean 'full'?)");
  });
});

describe('cluttered Fashion-MNIST (the default base)', () => {
  it.skipIf(!realData)('places the first train example, an ankle boot, on a 96x96 canvas with its mask and box', async () => {
    const ds = await createDataset({ type: 'cluttered' }, { seed: 1 });
    expect(ds.info).toMatchObject({ imageShape: [96, 96, 1], sizes: { train: 55000, val: 5000, test: 10000 }, numClasses: 10 });
    expect(ds.info.classNames[9]).toBe('Ankle boot');
    for (let i = 0; i < 5; i++) {
      const item = await ds.split('train').item(i);
      expect(item.label).toBe([9, 0, 0, 3, 0][i]);
      const box = item.boxes![0];
      expect(item.boxes).toEqual([boxOfMask(item.mask!, 96, 96, item.label)]);
      // The object is 28..56 pixels across; its ink covers a fair part of that.
      expect(box.x1 - box.x0).toBeLessThanOrEqual(56);
      expect(box.y1 - box.y0).toBeLessThanOrEqual(56);
      expect(count(item.mask!, (m) => m === 1)).toBeGreaterThan(150);
      expect(Math.max(...item.image)).toBeLessThanOrEqual(1);
      expect(count(item.mask!, (m, p) => m === 1 && !(item.image[p] > 0.1))).toBe(0);
    }
  });
});
