import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import { clipBox } from '../box.js';
import { UnreadableItemError } from '../split.js';
import type { Box, Item } from '../types.js';

/** `shorterSide:` of the file-based loaders: torchvision's Resize(N) before the centre crop to `size`. */
export const ShorterSide = z.int().min(8).max(4096).optional();

/** Output size of a file-based loader: a side, or [H, W]. */
export const ImageSize = z.union([z.int().min(8).max(2048), z.tuple([z.int().min(8).max(2048), z.int().min(8).max(2048)])]);
export type ImageSize = z.infer<typeof ImageSize>;

/**
 * How an image of another aspect ratio reaches the output size: `fill` scales x and y
 * independently, `cover` scales to cover and crops the centre, `contain` scales to fit and pads
 * with zeros.
 */
export const ImageFit = z.enum(['fill', 'cover', 'contain']);
export type ImageFit = z.infer<typeof ImageFit>;

/** Extensions the file-based loaders decode (compared lower-case). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'] as const;

export function sizeHW(size: ImageSize): [number, number] {
  return typeof size === 'number' ? [size, size] : size;
}

/** `shorterSide:` below the crop leaves nothing to cut out; checked once in the config, not per image. */
export function checkShorterSide(config: { shorterSide?: number; size: ImageSize }, ctx: z.RefinementCtx): void {
  if (config.shorterSide === undefined) return;
  const [h, w] = sizeHW(config.size);
  if (config.shorterSide < Math.max(h, w)) {
    ctx.addIssue({ code: 'custom', path: ['shorterSide'], message: `shorterSide ${config.shorterSide} is smaller than the ${h}x${w} crop (size); make it at least ${Math.max(h, w)}, or leave it out` });
  }
}

/**
 * Image files in `dir` (hidden ones left out) as `/`-separated paths relative to it, each folder's
 * entries in name order; `recursive` descends into sub-folders depth first.
 */
export function listImageFiles(dir: string, options: { recursive: boolean }): string[] {
  const out: string[] = [];
  const visit = (d: string, prefix: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (entry.name.startsWith('.')) continue;
      if (entry.isDirectory()) {
        if (options.recursive) visit(join(d, entry.name), `${prefix}${entry.name}/`);
      } else if (entry.isFile() && (IMAGE_EXTENSIONS as readonly string[]).includes(extname(entry.name).toLowerCase())) out.push(prefix + entry.name);
    }
  };
  visit(dir, '');
  return out;
}

/**
 * Where a source image of `width` x `height` lands in a `outW` x `outH` output: it is resized to
 * `scaledW` x `scaledH`, then placed at (`offsetX`, `offsetY`) (negative: cropped, positive:
 * padded). Scaled sizes are whole pixels, so a source edge x maps exactly to
 * x * scaledW / width + offsetX.
 */
export interface FitGeometry {
  scaledW: number;
  scaledH: number;
  offsetX: number;
  offsetY: number;
}

export function fitGeometry(width: number, height: number, outW: number, outH: number, fit: ImageFit, shorterSide?: number): FitGeometry {
  if (shorterSide !== undefined) {
    // torchvision's Resize(shorterSide) (the other side int(shorterSide * long / short)), then CenterCrop (offsets rounded).
    const short = Math.min(width, height);
    const scaledW = width === short ? shorterSide : Math.floor((shorterSide * width) / short);
    const scaledH = height === short ? shorterSide : Math.floor((shorterSide * height) / short);
    return { scaledW, scaledH, offsetX: -roundHalfEven((scaledW - outW) / 2), offsetY: -roundHalfEven((scaledH - outH) / 2) };
  }
  if (fit === 'fill') return { scaledW: outW, scaledH: outH, offsetX: 0, offsetY: 0 };
  const scale = fit === 'cover' ? Math.max(outW / width, outH / height) : Math.min(outW / width, outH / height);
  // Clamp so rounding never leaves a cover short of the output or a contain larger than it.
  const round = (v: number, out: number) => (fit === 'cover' ? Math.max(out, Math.round(v)) : Math.max(1, Math.min(out, Math.round(v))));
  const scaledW = round(width * scale, outW);
  const scaledH = round(height * scale, outH);
  // Centre; the odd pixel goes to the right/bottom margin.
  return { scaledW, scaledH, offsetX: Math.floor((outW - scaledW) / 2), offsetY: Math.floor((outH - scaledH) / 2) };
}

/** Python's round(): halves go to the even neighbour (31.5 -> 32, 30.5 -> 30). */
function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff !== 0.5) return Math.round(v);
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Boxes from source pixel-edge coordinates to the output's, clipped to it; empty boxes drop. */
export function mapBoxes(boxes: readonly Box[], width: number, height: number, outW: number, outH: number, g: FitGeometry): Box[] {
  const sx = g.scaledW / width;
  const sy = g.scaledH / height;
  const out: Box[] = [];
  for (const b of boxes) {
    const mapped = clipBox({ ...b, x0: b.x0 * sx + g.offsetX, x1: b.x1 * sx + g.offsetX, y0: b.y0 * sy + g.offsetY, y1: b.y1 * sy + g.offsetY }, outW, outH);
    if (mapped) out.push(mapped);
  }
  return out;
}

/** A crop of the source in pixel-edge coordinates; widened to whole pixels and clipped to the image. */
export interface SourceRegion {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface DecodeOptions {
  /** Output [H, W]. */
  size: [number, number];
  fit: ImageFit;
  /** Boxes in the source image's pixel-edge coordinates. */
  boxes?: readonly Box[];
  /** Crop the source to this region before resizing (boxes follow). */
  region?: SourceRegion;
  /**
   * Scale the shorter side to this many pixels and cut out the centre `size` (torchvision's
   * evaluation transform, Resize(256) + CenterCrop(224)); `fit` is then not used.
   */
  shorterSide?: number;
}

/** The item fields a decode fills; the loader adds the label, attributes and classes. */
export type DecodedImage = Pick<Item, 'id' | 'height' | 'width' | 'channels' | 'image' | 'boxes'>;

/**
 * Decodes a png/jpg/webp file (or buffer) to HWC float32 sRGB in [0,1] of the requested size;
 * alpha is flattened onto black. EXIF orientation is not applied, so pixels stay in the frame
 * the annotations were made in. Any decode failure is an `UnreadableItemError`.
 */
export async function decodeImage(input: string | Buffer, id: string, options: DecodeOptions): Promise<DecodedImage> {
  const [outH, outW] = options.size;
  // A setting, not the image: outside the try so it is not taken for an unreadable file.
  if (options.shorterSide !== undefined && options.shorterSide < Math.max(outH, outW)) {
    throw new Error(`shorterSide ${options.shorterSide} is smaller than the ${outH}x${outW} crop`);
  }
  try {
    // Reading the bytes once lets the header read and the decode share them (about 20% faster
    // than handing sharp the path). failOn 'warning' (sharp's default, stated): a truncated file
    // fails instead of decoding with a grey tail.
    const bytes = typeof input === 'string' ? await readFile(input) : input;
    const img = sharp(bytes, { failOn: 'warning' });
    const meta = await img.metadata();
    if (!meta.width || !meta.height) throw new Error('no image dimensions in the header');
    let [left, top, width, height] = [0, 0, meta.width, meta.height];
    if (options.region) {
      const r = options.region;
      left = Math.max(0, Math.floor(r.x0));
      top = Math.max(0, Math.floor(r.y0));
      width = Math.min(meta.width, Math.ceil(r.x1)) - left;
      height = Math.min(meta.height, Math.ceil(r.y1)) - top;
      if (width < 1 || height < 1) throw new Error(`crop region ${JSON.stringify(r)} lies outside the ${meta.width}x${meta.height} image`);
      if (left > 0 || top > 0 || width < meta.width || height < meta.height) img.extract({ left, top, width, height });
    }
    const g = fitGeometry(width, height, outW, outH, options.fit, options.shorterSide);
    img.flatten({ background: '#000000' }).toColourspace('srgb').resize(g.scaledW, g.scaledH, { fit: 'fill' });
    // (An offset of -0, a crop of half a pixel rounded to even, still crops.)
    if (g.scaledW > outW || g.scaledH > outH) img.extract({ left: Math.max(0, -g.offsetX), top: Math.max(0, -g.offsetY), width: outW, height: outH });
    else if (g.offsetX > 0 || g.offsetY > 0 || g.scaledW < outW || g.scaledH < outH) {
      img.extend({ left: g.offsetX, top: g.offsetY, right: outW - g.scaledW - g.offsetX, bottom: outH - g.scaledH - g.offsetY, background: { r: 0, g: 0, b: 0 } });
    }
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (info.width !== outW || info.height !== outH || info.channels !== 3) {
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${outW}x${outH}x3`);
    }
    const image = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) image[i] = data[i] / 255;
    const shifted = options.boxes?.map((b) => ({ ...b, x0: b.x0 - left, x1: b.x1 - left, y0: b.y0 - top, y1: b.y1 - top }));
    const boxes = shifted && mapBoxes(shifted, width, height, outW, outH, g);
    return { id, height: outH, width: outW, channels: 3, image, boxes };
  } catch (e) {
    throw new UnreadableItemError(id, decodeFailureReason(e));
  }
}

/**
 * One line for the log. libvips's message may carry lines from other decodes running at the same
 * time, and under failOn 'warning' it may only say that a warning was fatal.
 */
export function decodeFailureReason(e: unknown): string {
  const first = (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();
  return first.startsWith('Warning treated as error') ? 'damaged or truncated image data' : first || 'unknown decode error';
}

/** Width and height from the file header, without decoding pixels; throws when unreadable. */
export async function imageHeaderSize(path: string): Promise<{ width: number; height: number }> {
  const meta = await sharp(path).metadata();
  if (!meta.width || !meta.height) throw new Error('no image dimensions in the header');
  return { width: meta.width, height: meta.height };
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
