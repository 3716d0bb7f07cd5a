import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { galleryLayout, jet, overlayPixels, renderGallery, writeRunReport, type GalleryInput } from '../src/index.js';

/** A 4x4 grey image whose value is 0.5 everywhere, and a map rising left to right. */
function input(): GalleryInput {
  const image = { image: new Float32Array(16 * 3).fill(0.5), height: 4, width: 4, channels: 3, caption: 'circle' };
  const ramp = Float32Array.from({ length: 16 }, (_, p) => (p % 4) / 3);
  return { images: [image, { ...image, caption: 'square' }], rows: [{ method: 'gradcam', maps: [ramp, ramp] }] };
}

describe('jet', () => {
  it('runs dark blue, cyan, green, yellow, dark red', () => {
    expect(jet(0)).toEqual([0, 0, 0.5]);
    expect(jet(0.25)).toEqual([0, 0.5, 1]);
    expect(jet(0.5)).toEqual([0.5, 1, 0.5]);
    expect(jet(0.75)).toEqual([1, 0.5, 0]);
    expect(jet(1)).toEqual([0.5, 0, 0]);
    expect(jet(-3)).toEqual(jet(0));
  });
});

describe('overlayPixels', () => {
  it('blends half image, half colour map', () => {
    const { images, rows } = input();
    const px = overlayPixels(images[0], rows[0].maps[0], 0.5);
    // Pixel 0: map 0 -> jet (0, 0, 0.5); 0.5*0.5 + 0.5*(0, 0, 0.5) = (0.25, 0.25, 0.5).
    expect([...px.subarray(0, 3)]).toEqual([64, 64, 128]);
    // Pixel 3: map 1 -> jet (0.5, 0, 0) -> (0.5, 0.25, 0.25).
    expect([...px.subarray(9, 12)]).toEqual([128, 64, 64]);
    // Without a map: the image itself.
    expect([...overlayPixels(images[0], undefined, 0.5).subarray(0, 3)]).toEqual([128, 128, 128]);
  });
});

describe('renderGallery', () => {
  it('lays out an image row and one row per method, with the overlays in place', async () => {
    const png = await renderGallery(input());
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const layout = galleryLayout(2, 1);
    expect([info.width, info.height]).toEqual([layout.width, layout.height]);
    const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)];
    // Image row, any pixel: the grey image.
    expect(at(layout.cellLeft(1) + 10, layout.cellTop(0) + 10)).toEqual([128, 128, 128]);
    // Method row, left edge (map 0) and right edge (map 1) of the first image, scaled up by nearest.
    expect(at(layout.cellLeft(0) + 2, layout.cellTop(1) + 40)).toEqual([64, 64, 128]);
    expect(at(layout.cellLeft(0) + layout.cell - 3, layout.cellTop(1) + 40)).toEqual([128, 64, 64]);
  });

  it('draws a row\'s per-map captions on a light band at the bottom of each cell', async () => {
    const base = input();
    const png = await renderGallery({ ...base, rows: [{ ...base.rows[0], captions: ['colour:red', ''] }] });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const layout = galleryLayout(2, 1);
    const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)];
    const bandY = layout.cellTop(1) + layout.cell - 2;
    // Captioned cell: the band (80% white over the map's dark blue (64, 64, 128)) at its right edge, past the text.
    const [r, g, b] = at(layout.cellLeft(0) + layout.cell - 3, bandY);
    expect(r).toBeGreaterThan(200);
    expect(g).toBeGreaterThan(200);
    expect(b).toBeGreaterThan(200);
    // Uncaptioned cell: the map, untouched.
    expect(at(layout.cellLeft(1) + 2, bandY)).toEqual([64, 64, 128]);
  });

  it('goes into the run report as gallery.png and inline in report.html', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gaze-gallery-'));
    const files = await writeRunReport(dir, { experiment: 'g', runId: 'r', configYaml: 'a: 1\n', env: {}, metrics: [], history: [], gallery: input() });
    expect(files).toContain(join(dir, 'gallery.png'));
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('## Explanations\n\nThe same 2 images (top row, captioned with the explained class) and each method\'s map over them (jet colour map, 50% blend), one row per method: gradcam.\n\n![Explanations](gallery.png)');
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    const png = readFileSync(join(dir, 'gallery.png')).toString('base64');
    expect(html).toContain(`<figure id="gallery"><img src="data:image/png;base64,${png}"`);
  });
});
