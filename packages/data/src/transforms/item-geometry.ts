import { clipBox } from '../box.js';
import type { Box, Item } from '../types.js';

/**
 * Crops [top, top+h) x [left, left+w) out of an item; parts outside the image are zeros (so a
 * crop can also pad). Boxes shift with the crop and are clipped; boxes left with no area drop.
 */
export function cropItem(item: Item, top: number, left: number, h: number, w: number): Item {
  const { width: W, height: H, channels: C } = item;
  const image = new Float32Array(h * w * C);
  const mask = item.mask ? new Uint8Array(h * w) : undefined;
  const y0 = Math.max(0, -top);
  const y1 = Math.min(h, H - top);
  const x0 = Math.max(0, -left);
  const x1 = Math.min(w, W - left);
  for (let y = y0; y < y1; y++) {
    const src = ((top + y) * W + left + x0) * C;
    image.set(item.image.subarray(src, src + (x1 - x0) * C), (y * w + x0) * C);
    if (mask && item.mask) {
      const m = (top + y) * W + left;
      mask.set(item.mask.subarray(m + x0, m + x1), y * w + x0);
    }
  }
  const boxes = item.boxes
    ?.map((b) => clipBox({ ...b, x0: b.x0 - left, x1: b.x1 - left, y0: b.y0 - top, y1: b.y1 - top }, w, h))
    .filter((b): b is Box => b !== null);
  return { ...item, height: h, width: w, image, mask, boxes };
}

/**
 * Bilinear resize with half-pixel centres (PyTorch `align_corners=False`, no antialiasing) for
 * the image, nearest for the mask, and boxes scaled with the image.
 */
export function resizeItem(item: Item, h: number, w: number): Item {
  const { width: W, height: H, channels: C } = item;
  if (H === h && W === w) return item;
  const sy = H / h;
  const sx = W / w;
  const image = new Float32Array(h * w * C);
  const colLo = new Int32Array(w);
  const colHi = new Int32Array(w);
  const colT = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    const src = Math.max(0, (x + 0.5) * sx - 0.5);
    colLo[x] = Math.min(W - 1, Math.floor(src));
    colHi[x] = Math.min(W - 1, colLo[x] + 1);
    colT[x] = src - colLo[x];
  }
  for (let y = 0; y < h; y++) {
    const src = Math.max(0, (y + 0.5) * sy - 0.5);
    const lo = Math.min(H - 1, Math.floor(src));
    const hi = Math.min(H - 1, lo + 1);
    const t = src - lo;
    for (let x = 0; x < w; x++) {
      const a = (lo * W + colLo[x]) * C;
      const b = (lo * W + colHi[x]) * C;
      const c = (hi * W + colLo[x]) * C;
      const d = (hi * W + colHi[x]) * C;
      const u = colT[x];
      const o = (y * w + x) * C;
      for (let k = 0; k < C; k++) {
        const top = item.image[a + k] + (item.image[b + k] - item.image[a + k]) * u;
        const bottom = item.image[c + k] + (item.image[d + k] - item.image[c + k]) * u;
        image[o + k] = top + (bottom - top) * t;
      }
    }
  }
  let mask: Uint8Array | undefined;
  if (item.mask) {
    mask = new Uint8Array(h * w);
    for (let y = 0; y < h; y++) {
      const sr = Math.min(H - 1, Math.floor((y + 0.5) * sy));
      for (let x = 0; x < w; x++) mask[y * w + x] = item.mask[sr * W + Math.min(W - 1, Math.floor((x + 0.5) * sx))];
    }
  }
  const boxes = item.boxes?.map((b) => ({ ...b, x0: b.x0 / sx, x1: b.x1 / sx, y0: b.y0 / sy, y1: b.y1 / sy }));
  return { ...item, height: h, width: w, image, mask, boxes };
}

/** Mirrors an item left-right; boxes and mask follow. */
export function flipItem(item: Item): Item {
  const { width: W, height: H, channels: C } = item;
  const image = new Float32Array(item.image.length);
  const mask = item.mask ? new Uint8Array(item.mask.length) : undefined;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const src = (y * W + x) * C;
      const dst = (y * W + (W - 1 - x)) * C;
      for (let k = 0; k < C; k++) image[dst + k] = item.image[src + k];
      if (mask && item.mask) mask[y * W + (W - 1 - x)] = item.mask[y * W + x];
    }
  }
  const boxes = item.boxes?.map((b) => ({ ...b, x0: W - b.x1, x1: W - b.x0 }));
  return { ...item, image, mask, boxes };
}
