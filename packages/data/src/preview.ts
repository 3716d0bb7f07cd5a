import { join } from 'node:path';
import { GazeError, writeFileAtomic } from '@gaze/engine';
import sharp, { type OverlayOptions } from 'sharp';
import { UnreadableItemError } from './split.js';
import type { Box, Dataset, Item, SplitName } from './types.js';

/** What `gaze data preview` writes as summary.json. */
export interface DatasetSummary {
  type: string;
  split: SplitName;
  size: number;
  imageShape: [number, number, number];
  numClasses: number;
  classNames: string[];
  /** Examples per class name over the whole split. */
  counts: Record<string, number>;
  has: { masks: boolean; boxes: boolean; attributes: boolean };
  /** The first `count` examples in order: id, class index, and the box of an object of that class (or null). */
  first: { id: string; label: number; box: Box | null }[];
}

const CELL = 128;
const CAPTION = 34;
const GAP = 4;
const COLOURS = { target: [60, 220, 90], other: [255, 150, 40], difficult: [250, 230, 60] } as const;

/** The box to report for an example: the first box of its own class. */
function targetBox(item: Item): Box | null {
  return item.boxes?.find((b) => b.label === item.label) ?? null;
}

/**
 * The split's class counts and its first `count` readable examples; unreadable ones (a corrupt
 * file) are passed over and returned in `skipped`, as batching does.
 */
export async function summarizeSplit(
  dataset: Dataset,
  split: SplitName,
  count: number,
): Promise<{ summary: DatasetSummary; items: Item[]; skipped: { id: string; reason: string }[] }> {
  const s = dataset.split(split);
  const { info } = dataset;
  const counts: Record<string, number> = Object.fromEntries(info.classNames.map((n) => [n, 0]));
  for (let i = 0; i < s.size; i++) counts[info.classNames[s.label(i)]]++;
  const items: Item[] = [];
  const skipped: { id: string; reason: string }[] = [];
  for (let i = 0; i < s.size && items.length < count; i++) {
    try {
      items.push(await s.item(i));
    } catch (e) {
      if (!(e instanceof UnreadableItemError)) throw e;
      skipped.push({ id: e.id, reason: e.reason });
    }
  }
  return {
    summary: {
      type: info.type,
      split,
      size: s.size,
      imageShape: info.imageShape,
      numClasses: info.numClasses,
      classNames: info.classNames,
      counts,
      has: { masks: info.has.masks, boxes: info.has.boxes, attributes: info.has.attributes },
      first: items.map((item) => ({ id: item.id, label: item.label, box: targetBox(item) })),
    },
    items,
    skipped,
  };
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** One cell: the image scaled up (nearest) to CELL px on its long side, boxes drawn 2 px wide. */
function cellPixels(item: Item): { rgb: Buffer; width: number; height: number } {
  const scale = CELL / Math.max(item.height, item.width);
  const width = Math.round(item.width * scale);
  const height = Math.round(item.height * scale);
  const rgb = Buffer.alloc(width * height * 3);
  const C = item.channels;
  for (let y = 0; y < height; y++) {
    const sy = Math.min(item.height - 1, Math.floor(y / scale));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(item.width - 1, Math.floor(x / scale));
      const i = (sy * item.width + sx) * C;
      const o = (y * width + x) * 3;
      for (let k = 0; k < 3; k++) rgb[o + k] = Math.round(255 * item.image[i + (C >= 3 ? k : 0)]);
    }
  }
  for (const box of item.boxes ?? []) {
    const colour = box.difficult ? COLOURS.difficult : box.label === item.label ? COLOURS.target : COLOURS.other;
    const x0 = Math.max(0, Math.round(box.x0 * scale));
    const x1 = Math.min(width - 1, Math.round(box.x1 * scale) - 1);
    const y0 = Math.max(0, Math.round(box.y0 * scale));
    const y1 = Math.min(height - 1, Math.round(box.y1 * scale) - 1);
    const put = (x: number, y: number) => {
      if (x < 0 || y < 0 || x >= width || y >= height) return;
      const o = (y * width + x) * 3;
      rgb[o] = colour[0];
      rgb[o + 1] = colour[1];
      rgb[o + 2] = colour[2];
    };
    for (let t = 0; t < 2; t++) {
      for (let x = x0; x <= x1; x++) {
        put(x, y0 + t);
        put(x, y1 - t);
      }
      for (let y = y0; y <= y1; y++) {
        put(x0 + t, y);
        put(x1 - t, y);
      }
    }
  }
  return { rgb, width, height };
}

function caption(item: Item, classNames: string[], attributeNames: string[] | undefined): [string, string] {
  const name = classNames[item.label] ?? String(item.label);
  const others = (item.classes ?? []).filter((c) => c !== item.label).map((c) => classNames[c]);
  // Attribute values without their group (`shape:triangle` -> `triangle`), to fit a cell.
  const attrs = attributeNames && item.attributes ? attributeNames.filter((_, i) => item.attributes![i] >= 0.5).map((a) => a.slice(a.lastIndexOf(':') + 1)) : [];
  const line2 = [...others.map((o) => `+${o}`), ...attrs].join(' ');
  return [name.length > 19 ? name.slice(0, 18) + '…' : name, line2.length > 22 ? line2.slice(0, 21) + '…' : line2];
}

/** Renders the items as a grid with boxes and captions, as PNG bytes. */
export async function renderPreviewGrid(items: Item[], classNames: string[], attributeNames?: string[]): Promise<Buffer> {
  const columns = Math.min(8, Math.max(1, Math.ceil(Math.sqrt(items.length))));
  const rows = Math.max(1, Math.ceil(items.length / columns));
  const width = columns * (CELL + GAP) + GAP;
  const height = rows * (CELL + CAPTION + GAP) + GAP;
  const layers: OverlayOptions[] = [];
  const texts: string[] = [];
  items.forEach((item, k) => {
    const left = GAP + (k % columns) * (CELL + GAP);
    const top = GAP + Math.floor(k / columns) * (CELL + CAPTION + GAP);
    const cell = cellPixels(item);
    layers.push({ input: cell.rgb, raw: { width: cell.width, height: cell.height, channels: 3 }, left, top });
    const [a, b] = caption(item, classNames, attributeNames);
    texts.push(`<text x="${left + 2}" y="${top + CELL + 14}" font-weight="bold">${escapeXml(a)}</text>`);
    if (b) texts.push(`<text x="${left + 2}" y="${top + CELL + 29}" font-size="10" fill="#bbbbbb">${escapeXml(b)}</text>`);
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="DejaVu Sans, sans-serif" font-size="12" fill="#ffffff">${texts.join('')}</g></svg>`;
  layers.push({ input: Buffer.from(svg), left: 0, top: 0 });
  return sharp({ create: { width, height, channels: 3, background: { r: 24, g: 24, b: 28 } } })
    .composite(layers)
    .png()
    .toBuffer();
}

/**
 * Writes `outDir/grid.png` (the first `count` examples of the split, boxes drawn, class and
 * attributes as captions) and `outDir/summary.json`; returns the summary and the unreadable
 * examples passed over.
 */
export async function previewDataset(
  dataset: Dataset,
  split: SplitName,
  count: number,
  outDir: string,
): Promise<{ summary: DatasetSummary; skipped: { id: string; reason: string }[] }> {
  if (!Number.isInteger(count) || count < 1) throw new GazeError(`--count must be a positive integer, got ${count}`);
  const { summary, items, skipped } = await summarizeSplit(dataset, split, count);
  if (items.length === 0) {
    const why = skipped.length ? `has no readable examples (${skipped.length} unreadable, first: ${skipped[0].id}: ${skipped[0].reason})` : 'is empty';
    throw new GazeError(`the ${split} split of ${dataset.info.type} ${why}`, { hint: 'preview another split with --split' });
  }
  const png = await renderPreviewGrid(items, dataset.info.classNames, dataset.info.attributeNames);
  await writeFileAtomic(join(outDir, 'grid.png'), png);
  await writeFileAtomic(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return { summary, skipped };
}
