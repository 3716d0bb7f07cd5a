import { Rng } from '@gaze/engine';
import { describe, expect, it } from 'vitest';
import { GazeError } from '@gaze/engine';
import { buildTransform, colorJitter, cropItem, flipItem, randomErase, resizeItem, TransformSpec, type Item } from '../../src/index.js';

/** A 4x6 single-channel item with pixel value = 10*row + col, a mask on rows 1-2, cols 1-3. */
function grid(): Item {
  const H = 4;
  const W = 6;
  const image = new Float32Array(H * W);
  const mask = new Uint8Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      image[y * W + x] = 10 * y + x;
      mask[y * W + x] = y >= 1 && y <= 2 && x >= 1 && x <= 3 ? 1 : 0;
    }
  }
  return { id: 'g', height: H, width: W, channels: 1, image, label: 0, mask, boxes: [{ x0: 1, y0: 1, x1: 4, y1: 3, label: 0 }, { x0: 5, y0: 0, x1: 6, y1: 1, label: -1 }] };
}

describe('flipItem', () => {
  it('mirrors pixels, mask and boxes: x0 -> W - x1', () => {
    const f = flipItem(grid());
    expect(Array.from(f.image.slice(0, 6))).toEqual([5, 4, 3, 2, 1, 0]);
    expect(f.boxes).toEqual([{ x0: 2, y0: 1, x1: 5, y1: 3, label: 0 }, { x0: 0, y0: 0, x1: 1, y1: 1, label: -1 }]);
    expect(Array.from(f.mask!.slice(6, 12))).toEqual([0, 0, 1, 1, 1, 0]);
  });
});

describe('cropItem', () => {
  it('shifts and clips boxes, drops the ones cropped away, and pads outside with zeros', () => {
    const c = cropItem(grid(), 1, 2, 2, 3); // rows 1-2, cols 2-4
    expect(Array.from(c.image)).toEqual([12, 13, 14, 22, 23, 24]);
    expect(c.boxes).toEqual([{ x0: 0, y0: 0, x1: 2, y1: 2, label: 0 }]);
    expect(Array.from(c.mask!)).toEqual([1, 1, 0, 1, 1, 0]);
    const padded = cropItem(grid(), -1, -1, 2, 2);
    expect(Array.from(padded.image)).toEqual([0, 0, 0, 0]);
    expect(Array.from(cropItem(grid(), -1, -1, 3, 3).image)).toEqual([0, 0, 0, 0, 0, 1, 0, 10, 11]);
  });
});

describe('resizeItem', () => {
  it('halves with half-pixel bilinear sampling, nearest mask, scaled boxes', () => {
    const r = resizeItem(grid(), 2, 3);
    // Output (0,0) samples source (0.5, 0.5): mean of 0, 1, 10, 11 = 5.5; each step +2 cols, +20 rows.
    expect(Array.from(r.image)).toEqual([5.5, 7.5, 9.5, 25.5, 27.5, 29.5]);
    expect(r.boxes![0]).toEqual({ x0: 0.5, y0: 0.5, x1: 2, y1: 1.5, label: 0 });
    // nearest: output (y, x) takes source (floor((y+.5)*2), floor((x+.5)*2)) = rows 1,3 cols 1,3,5
    expect(Array.from(r.mask!)).toEqual([1, 1, 0, 0, 0, 0]);
  });
});

describe('configured transforms', () => {
  const build = (spec: unknown) => buildTransform(TransformSpec.parse(spec), 'dataset.augment.0');

  it('random-crop with padding keeps the size, is seeded, and boxes move with the content', () => {
    const t = build({ type: 'random-crop', size: [4, 6], padding: 2 });
    const a = t(grid(), new Rng(1, 'x'));
    const b = t(grid(), new Rng(1, 'x'));
    expect(a.image).toEqual(b.image);
    expect([a.height, a.width]).toEqual([4, 6]);
    // Wherever the crop went, pixel values inside the target box are the same original pixels.
    const box = a.boxes!.find((bx) => bx.label === 0);
    if (box) expect(a.image[Math.floor(box.y0) * 6 + Math.floor(box.x0)] % 10).toBeGreaterThanOrEqual(0);
    const offsets = new Set<string>();
    for (let s = 0; s < 40; s++) {
      const c = t(grid(), new Rng(s, 'x'));
      const target = c.boxes!.find((bx) => bx.label === 0)!;
      offsets.add(`${target.x0},${target.y0}`);
      // the pixel at the box's top-left is still source pixel (1,1) = 11 when the box was not clipped
      if (target.x1 - target.x0 === 3 && target.y1 - target.y0 === 2) expect(c.image[target.y0 * 6 + target.x0]).toBe(11);
    }
    expect(offsets.size).toBeGreaterThan(5);
  });

  it('hflip flips with probability p', () => {
    const always = build({ type: 'hflip', p: 1 });
    const never = build({ type: 'hflip', p: 0 });
    expect(always(grid(), new Rng(0)).boxes![0].x0).toBe(2);
    expect(never(grid(), new Rng(0)).boxes![0].x0).toBe(1);
  });

  it('center-crop takes the middle and rejects crops larger than the image', () => {
    const c = build({ type: 'center-crop', size: 2 })(grid(), new Rng(0));
    expect(Array.from(c.image)).toEqual([12, 13, 22, 23]);
    expect(() => build({ type: 'center-crop', size: 5 })(grid(), new Rng(0))).toThrow(GazeError);
  });

  it('color-jitter scales brightness by a seeded factor and clamps to [0,1]', () => {
    const item: Item = { id: 'c', height: 1, width: 2, channels: 3, image: Float32Array.from([0.5, 0.25, 0.1, 0.9, 0.8, 0.7]), label: 0 };
    const rng = new Rng(4);
    const f = new Rng(4).uniform(0.5, 1.5);
    const out = colorJitter(item, rng, 0.5, 0, 0);
    expect(out.image[0]).toBeCloseTo(Math.min(1, 0.5 * f), 6);
    expect(out.image[3]).toBeCloseTo(Math.min(1, 0.9 * f), 6);
    const saturated = colorJitter(item, new Rng(0), 0, 0, 0);
    expect(Array.from(saturated.image)).toEqual(Array.from(item.image).map((v) => Math.fround(v)));
  });

  it('random-erase zeroes one rectangle of the drawn size and place, and leaves masks and boxes', () => {
    // 40x40 of ones, three channels: the same draws as the transform makes tell where the rectangle goes.
    const item: Item = { id: 'e', height: 40, width: 40, channels: 3, image: new Float32Array(40 * 40 * 3).fill(1), label: 0, mask: new Uint8Array(1600).fill(1), boxes: [{ x0: 0, y0: 0, x1: 4, y1: 4, label: 0 }] };
    const draws = new Rng(7);
    const area = draws.uniform(0.02, 0.33) * 1600;
    const aspect = Math.exp(draws.uniform(Math.log(0.3), Math.log(3.3)));
    const h = Math.round(Math.sqrt(area * aspect));
    const w = Math.round(Math.sqrt(area / aspect));
    const top = draws.int(40 - h + 1);
    const left = draws.int(40 - w + 1);
    const out = randomErase(item, new Rng(7), [0.02, 0.33], [0.3, 3.3], 0);
    let zeros = 0;
    for (let y = 0; y < 40; y++) {
      for (let x = 0; x < 40; x++) {
        const inside = y >= top && y < top + h && x >= left && x < left + w;
        for (let c = 0; c < 3; c++) expect(out.image[(y * 40 + x) * 3 + c]).toBe(inside ? 0 : 1);
        if (inside) zeros++;
      }
    }
    expect(zeros).toBe(h * w);
    expect(zeros / 1600).toBeGreaterThan(0.01);
    expect(out.mask).toBe(item.mask);
    expect(out.boxes).toBe(item.boxes);
    expect(item.image.every((v) => v === 1)).toBe(true);
    // p: 0 never erases; p: 1 with value 0.5 writes 0.5.
    expect(build({ type: 'random-erase', p: 0 })(item, new Rng(1)).image).toBe(item.image);
    expect(Array.from(build({ type: 'random-erase', p: 1, value: 0.5 })(item, new Rng(1)).image)).toContain(0.5);
  });
});
