import sharp, { type OverlayOptions } from 'sharp';
import { GALLERY_ALPHA, jet, overlayPixels, type GalleryImage } from './gallery.js';
import { escapeHtml } from './html.js';

export interface OverlayInput {
  /** The image, HWC float32 in [0,1]. */
  image: GalleryImage;
  /** The map at the image's resolution, H*W, in any units (drawn min-max scaled). */
  map: Float32Array;
  /** A line above the image (file name, target class). */
  title?: string;
  alpha?: number;
}

const BAR_WIDTH = 16;
const BAR_GAP = 8;
const LABEL_WIDTH = 72;
const TITLE = 20;
/** Images smaller than this are scaled up (nearest) so the overlay stays readable. */
const MIN_SIDE = 224;

function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(2) : Number(v.toPrecision(4)).toString();
}

/**
 * One explanation as a PNG: the map (jet, min-max scaled) blended over the image, with a colour
 * bar on the right labelled with the map's minimum, midpoint and maximum in its own units.
 */
export async function renderOverlay(input: OverlayInput): Promise<Buffer> {
  const { image, map } = input;
  const { height, width } = image;
  if (map.length !== height * width) throw new Error(`overlay: a ${map.length}-value map for a ${height}x${width} image`);
  let min = Infinity;
  let max = -Infinity;
  for (const v of map) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  const scaled = Float32Array.from(map, (v) => (range > 0 ? (v - min) / range : 0));
  const { scale, imageTop, barLeft, width: totalWidth, height: totalHeight } = overlayLayout(height, width);
  const [h, w] = [height * scale, width * scale];
  let cell = await sharp(overlayPixels(image, scaled, input.alpha ?? GALLERY_ALPHA), { raw: { width, height, channels: 3 } });
  if (scale > 1) cell = cell.resize(w, h, { kernel: 'nearest' });
  const pixels = await cell.raw().toBuffer();
  const bar = Buffer.alloc(BAR_WIDTH * h * 3);
  for (let y = 0; y < h; y++) {
    const colour = jet(1 - y / Math.max(1, h - 1));
    for (let x = 0; x < BAR_WIDTH; x++) for (let k = 0; k < 3; k++) bar[(y * BAR_WIDTH + x) * 3 + k] = Math.round(255 * colour[k]);
  }
  const labelX = barLeft + BAR_WIDTH + 4;
  const ticks = [
    { y: imageTop + 10, v: max },
    { y: imageTop + h / 2 + 4, v: (min + max) / 2 },
    { y: imageTop + h - 2, v: min },
  ];
  const texts = [
    input.title ? `<text x="2" y="${TITLE - 6}" font-size="12">${escapeHtml(input.title)}</text>` : '',
    ...ticks.map((t) => `<text x="${labelX}" y="${t.y}" font-size="11">${escapeHtml(formatTick(t.v))}</text>`),
  ];
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${totalWidth}" height="${totalHeight}"><g font-family="DejaVu Sans, sans-serif" fill="#222222">${texts.join('')}</g></svg>`;
  const layers: OverlayOptions[] = [
    { input: pixels, raw: { width: w, height: h, channels: 3 }, left: 0, top: imageTop },
    { input: bar, raw: { width: BAR_WIDTH, height: h, channels: 3 }, left: barLeft, top: imageTop },
    { input: Buffer.from(svg), left: 0, top: 0 },
  ];
  return sharp({ create: { width: totalWidth, height: totalHeight, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(layers)
    .png()
    .toBuffer();
}

/** Where the pieces of an overlay PNG lie (renderOverlay draws by it; tests read it). */
export function overlayLayout(height: number, width: number): { scale: number; imageTop: number; barLeft: number; width: number; height: number } {
  const scale = Math.max(1, Math.ceil(MIN_SIDE / Math.max(height, width)));
  return { scale, imageTop: TITLE, barLeft: width * scale + BAR_GAP, width: width * scale + BAR_GAP + BAR_WIDTH + LABEL_WIDTH, height: TITLE + height * scale };
}
