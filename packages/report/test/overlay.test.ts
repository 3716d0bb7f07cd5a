import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { jet, overlayLayout, renderOverlay } from '../src/index.js';

describe('renderOverlay', () => {
  it('blends the min-max scaled map over the image (jet, alpha 0.5) beside a colour bar from max (top) to min', async () => {
    const [h, w] = [8, 8];
    const image = { image: new Float32Array(h * w * 3).fill(0.2), height: h, width: w, channels: 3, caption: '' };
    // raw units: -3 on the left half, 5 on the right half
    const map = Float32Array.from({ length: h * w }, (_, p) => (p % w < 4 ? -3 : 5));
    const png = await renderOverlay({ image, map, title: 'cat.jpg  target 281' });
    const layout = overlayLayout(h, w);
    expect(layout.scale).toBe(28);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([layout.width, layout.height]);
    const at = (x: number, y: number) => [0, 1, 2].map((k) => data[(y * info.width + x) * info.channels + k]);
    const expected = (v: number) => jet(v).map((c) => Math.round(255 * (0.5 * 0.2 + 0.5 * c)));
    // a pixel in the left half (map minimum -> jet(0)) and one in the right (maximum -> jet(1))
    expect(at(2 * 28, layout.imageTop + 3 * 28)).toEqual(expected(0));
    expect(at(6 * 28, layout.imageTop + 3 * 28)).toEqual(expected(1));
    // the bar: jet(1) at the top, jet(0) at the bottom
    expect(at(layout.barLeft + 8, layout.imageTop)).toEqual(jet(1).map((c) => Math.round(255 * c)));
    expect(at(layout.barLeft + 8, layout.height - 1)).toEqual(jet(0).map((c) => Math.round(255 * c)));
  });
});
