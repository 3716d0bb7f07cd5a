import sharp, { type OverlayOptions } from 'sharp';
import { escapeHtml } from './html.js';

/** One image of the gallery: HWC float32 in [0,1] (1 or 3 channels) and a caption (its class). */
export interface GalleryImage {
  image: Float32Array;
  height: number;
  width: number;
  channels: number;
  caption: string;
}

/** One row of the gallery: a method's maps, one per image, H*W float32 in [0,1]. */
export interface GalleryRow {
  method: string;
  /** A short label per map, drawn inside its cell (e.g. which attribute a map grounds). */
  captions?: string[];
  maps: Float32Array[];
}

export interface GalleryInput {
  images: GalleryImage[];
  rows: GalleryRow[];
  /** Weight of the colour map in the overlay (the rest is the image); 0.5 as the papers' figures. */
  alpha?: number;
}

/** Cell side in the PNG, px; small images are scaled up (bilinear) to it. */
const CELL = 96;
const GAP = 4;
const LABEL_WIDTH = 120;
const CAPTION = 18;
export const GALLERY_ALPHA = 0.5;

/**
 * The jet colour map (the piecewise-linear one of MATLAB, matplotlib and OpenCV): dark blue at 0,
 * cyan, yellow, dark red at 1. Returns [r, g, b] in [0,1].
 */
export function jet(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, v));
  const channel = (centre: number) => Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - centre)));
  return [channel(3), channel(2), channel(1)];
}

/** (1 - alpha) * image + alpha * jet(map), as 8-bit RGB; a grey image is repeated over channels. */
export function overlayPixels(image: GalleryImage, map: Float32Array | undefined, alpha: number): Buffer {
  const { height, width, channels } = image;
  const out = Buffer.alloc(height * width * 3);
  for (let p = 0; p < height * width; p++) {
    const colour = map ? jet(map[p]) : undefined;
    for (let k = 0; k < 3; k++) {
      const v = image.image[p * channels + (channels >= 3 ? k : 0)];
      const mixed = colour ? (1 - alpha) * v + alpha * colour[k] : v;
      out[p * 3 + k] = Math.round(255 * Math.min(1, Math.max(0, mixed)));
    }
  }
  return out;
}

/**
 * The explanation gallery as PNG bytes: the images in the first row, then one row per method with
 * its maps blended over the same images (jet, `alpha`), method names on the left.
 */
export async function renderGallery(input: GalleryInput): Promise<Buffer> {
  const alpha = input.alpha ?? GALLERY_ALPHA;
  const columns = input.images.length;
  for (const row of input.rows) {
    if (row.maps.length !== columns) throw new Error(`gallery row ${row.method} has ${row.maps.length} maps for ${columns} images`);
  }
  const width = LABEL_WIDTH + columns * (CELL + GAP) + GAP;
  const rowCount = input.rows.length + 1;
  const height = CAPTION + rowCount * (CELL + GAP) + GAP;
  const layers: OverlayOptions[] = [];
  const texts: string[] = [];
  const rows: { label: string; maps?: Float32Array[]; captions?: string[] }[] = [{ label: 'image' }, ...input.rows.map((r) => ({ label: r.method, maps: r.maps, captions: r.captions }))];
  for (const [r, row] of rows.entries()) {
    const top = CAPTION + GAP + r * (CELL + GAP);
    texts.push(`<text x="6" y="${top + CELL / 2 + 5}" font-weight="${r === 0 ? 'normal' : 'bold'}">${escapeHtml(row.label.length > 16 ? row.label.slice(0, 15) + '…' : row.label)}</text>`);
    for (const [c, image] of input.images.entries()) {
      const pixels = overlayPixels(image, row.maps?.[c], alpha);
      const cell = await sharp(pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
        .resize(CELL, CELL, { fit: 'fill', kernel: image.width < CELL / 2 ? 'nearest' : 'cubic' })
        .raw()
        .toBuffer();
      layers.push({ input: cell, raw: { width: CELL, height: CELL, channels: 3 }, left: LABEL_WIDTH + GAP + c * (CELL + GAP), top });
      const label = row.captions?.[c];
      if (label) {
        const left = LABEL_WIDTH + GAP + c * (CELL + GAP);
        const text = label.length > 16 ? label.slice(0, 15) + '…' : label;
        texts.push(`<rect x="${left}" y="${top + CELL - 16}" width="${CELL}" height="16" fill="#ffffff" fill-opacity="0.8"/>`);
        texts.push(`<text x="${left + 3}" y="${top + CELL - 4}" font-size="11">${escapeHtml(text)}</text>`);
      }
    }
  }
  input.images.forEach((image, c) => {
    const caption = image.caption.length > 14 ? image.caption.slice(0, 13) + '…' : image.caption;
    texts.push(`<text x="${LABEL_WIDTH + GAP + c * (CELL + GAP) + 2}" y="${CAPTION - 4}" font-size="11">${escapeHtml(caption)}</text>`);
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="DejaVu Sans, sans-serif" font-size="12" fill="#222222">${texts.join('')}</g></svg>`;
  layers.push({ input: Buffer.from(svg), left: 0, top: 0 });
  return sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(layers)
    .png()
    .toBuffer();
}

/** Geometry of a gallery PNG, for tests and for callers placing it. */
export function galleryLayout(images: number, rows: number): { width: number; height: number; cell: number; cellLeft: (column: number) => number; cellTop: (row: number) => number } {
  return {
    width: LABEL_WIDTH + images * (CELL + GAP) + GAP,
    height: CAPTION + (rows + 1) * (CELL + GAP) + GAP,
    cell: CELL,
    cellLeft: (c) => LABEL_WIDTH + GAP + c * (CELL + GAP),
    cellTop: (r) => CAPTION + GAP + r * (CELL + GAP),
  };
}
