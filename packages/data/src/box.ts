import type { Box } from './types.js';

/** The tight box around the 1-pixels of an H*W mask, or null when the mask is empty. */
export function boxOfMask(mask: Uint8Array, width: number, height: number, label = 0): Box | null {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (!mask[row + x]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1, label };
}

/** Intersects a box with [0,width]x[0,height]; null when nothing is left. */
export function clipBox(box: Box, width: number, height: number): Box | null {
  const x0 = Math.max(0, box.x0);
  const y0 = Math.max(0, box.y0);
  const x1 = Math.min(width, box.x1);
  const y1 = Math.min(height, box.y1);
  return x1 > x0 && y1 > y0 ? { ...box, x0, y0, x1, y1 } : null;
}

export function boxArea(box: Box): number {
  return Math.max(0, box.x1 - box.x0) * Math.max(0, box.y1 - box.y0);
}

export function boxesOverlap(a: Box, b: Box): boolean {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}
