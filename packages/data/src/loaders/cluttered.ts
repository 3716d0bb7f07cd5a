import { GazeError, Rng } from '@gaze/engine';
import { z } from 'zod';
import { boxOfMask } from '../box.js';
import { commonDatasetKeys, createDataset, pipelineFor, registerDataset, type DatasetFactory } from '../registry.js';
import { datasetFromSources } from '../split.js';
import { resizeItem } from '../transforms/item-geometry.js';
import { SPLIT_NAMES, type Dataset, type DatasetInfo, type Item, type SplitName } from '../types.js';

const SplitSizes = z.strictObject({ train: z.int().positive().optional(), val: z.int().positive().optional(), test: z.int().positive().optional() });

export const ClutteredConfig = z.strictObject({
  /** The dataset whose examples are pasted (any `type:` with its own keys). */
  base: z.looseObject({ type: z.string() }).default({ type: 'fashion-mnist' }),
  /** Side of the square canvas in pixels. */
  canvas: z.int().min(8).max(1024).default(96),
  /** [min, max] of the object's scale, relative to the base image size (uniform in between). */
  scale: z
    .tuple([z.number().positive(), z.number().positive()])
    .refine(([lo, hi]) => lo <= hi, 'scale is [min, max] with min <= max')
    .default([1, 2]),
  /** Clutter fragments per image, cut from other examples of the same split. */
  fragments: z.int().min(0).max(256).default(6),
  /** Side of each square fragment, in base pixels (fragments are not scaled). */
  fragmentSize: z.int().min(1).default(8),
  /** A pasted object pixel above this value (any channel) is in the object's mask. */
  threshold: z.number().min(0).max(1).default(0.1),
  /** Examples per split; defaults to the base split's size, and larger sizes wrap around the base. */
  splits: SplitSizes.default({}),
  /** Seed of the layouts; defaults to the run seed. */
  seed: z.int().optional(),
  ...commonDatasetKeys,
});
export type ClutteredConfig = z.infer<typeof ClutteredConfig>;

/**
 * Candidate windows drawn per fragment; the one with the most ink is used, so that fragments of
 * dark-background data (Fashion-MNIST's corners are black) are rarely empty patches.
 */
const FRAGMENT_TRIES = 3;

export interface ClutterGeometry {
  /** Base examples in the split. */
  baseSize: number;
  baseHeight: number;
  baseWidth: number;
  canvas: number;
  scale: [number, number];
  fragments: number;
  fragmentSize: number;
}

/** Where everything of one example goes; all random draws happen here. */
export interface ClutterLayout {
  fragments: { source: number; windows: { top: number; left: number }[]; top: number; left: number }[];
  object: { source: number; scale: number; height: number; width: number; top: number; left: number };
}

/** Draws a layout: fragments first (they lie under the object), then the object's scale and place. */
export function planClutter(rng: Rng, objectIndex: number, g: ClutterGeometry): ClutterLayout {
  const fs = g.fragmentSize;
  const fragments = Array.from({ length: g.fragments }, () => {
    // Another example than the object's, when there is another.
    let source = objectIndex;
    if (g.baseSize > 1) {
      source = rng.int(g.baseSize - 1);
      if (source >= objectIndex) source++;
    }
    const windows = Array.from({ length: FRAGMENT_TRIES }, () => ({ top: rng.int(g.baseHeight - fs + 1), left: rng.int(g.baseWidth - fs + 1) }));
    return { source, windows, top: rng.int(g.canvas - fs + 1), left: rng.int(g.canvas - fs + 1) };
  });
  const scale = rng.uniform(g.scale[0], g.scale[1]);
  const height = Math.max(1, Math.round(g.baseHeight * scale));
  const width = Math.max(1, Math.round(g.baseWidth * scale));
  const top = rng.int(g.canvas - height + 1);
  const left = rng.int(g.canvas - width + 1);
  return { fragments, object: { source: objectIndex, scale, height, width, top, left } };
}

/** The sum of a window's values: how much of the example it shows on a black background. */
function ink(item: Item, top: number, left: number, size: number): number {
  let sum = 0;
  for (let y = top; y < top + size; y++) {
    const row = (y * item.width + left) * item.channels;
    for (let k = 0; k < size * item.channels; k++) sum += item.image[row + k];
  }
  return sum;
}

/**
 * Renders a layout on a black canvas with max() blending (on dark-background data the object
 * keeps its outline instead of pasting a rectangle). The mask is the object's own foreground
 * (a pixel above `threshold` in any channel after scaling), and its box is the mask's.
 */
export function composeClutter(id: string, layout: ClutterLayout, object: Item, fragmentSources: Item[], canvas: number, fragmentSize: number, threshold: number): Item {
  const C = object.channels;
  const image = new Float32Array(canvas * canvas * C);
  const paste = (src: Float32Array, srcIndex: number, y: number, x: number) => {
    const dst = (y * canvas + x) * C;
    for (let c = 0; c < C; c++) if (src[srcIndex + c] > image[dst + c]) image[dst + c] = src[srcIndex + c];
  };
  layout.fragments.forEach((f, n) => {
    const src = fragmentSources[n];
    let best = f.windows[0];
    for (const w of f.windows.slice(1)) if (ink(src, w.top, w.left, fragmentSize) > ink(src, best.top, best.left, fragmentSize)) best = w;
    for (let y = 0; y < fragmentSize; y++) {
      for (let x = 0; x < fragmentSize; x++) paste(src.image, ((best.top + y) * src.width + best.left + x) * C, f.top + y, f.left + x);
    }
  });
  const o = layout.object;
  const scaled = resizeItem({ ...object, mask: undefined, boxes: undefined }, o.height, o.width);
  const mask = new Uint8Array(canvas * canvas);
  for (let y = 0; y < o.height; y++) {
    for (let x = 0; x < o.width; x++) {
      const s = (y * o.width + x) * C;
      paste(scaled.image, s, o.top + y, o.left + x);
      let v = 0;
      for (let c = 0; c < C; c++) v = Math.max(v, scaled.image[s + c]);
      if (v > threshold) mask[(o.top + y) * canvas + o.left + x] = 1;
    }
  }
  const box = boxOfMask(mask, canvas, canvas, object.label);
  return { id, height: canvas, width: canvas, channels: C, image, label: object.label, mask, boxes: box ? [box] : [] };
}

export const clutteredDataset: DatasetFactory<ClutteredConfig> = {
  type: 'cluttered',
  describe: 'localization task: each base example (default Fashion-MNIST) scaled and pasted at a random place on a larger canvas among clutter fragments; masks, boxes',
  configSchema: ClutteredConfig,
  async create(config, context): Promise<Dataset> {
    const seed = config.seed ?? context.seed;
    const base = await createDataset(config.base, { ...context, where: `${context.where}.base` });
    const [H, W, C] = base.info.imageShape;
    const biggest = Math.round(Math.max(H, W) * config.scale[1]);
    if (biggest > config.canvas) {
      throw new GazeError(`a ${H}x${W} base image at scale ${config.scale[1]} is ${biggest} pixels across, larger than the ${config.canvas}-pixel canvas`, {
        where: `${context.where}.scale`,
        hint: `use a canvas of at least ${biggest}, or a smaller maximum scale`,
      });
    }
    if (config.fragments > 0 && config.fragmentSize > Math.min(H, W, config.canvas)) {
      throw new GazeError(`fragments of ${config.fragmentSize} pixels do not fit in the ${H}x${W} base images`, { where: `${context.where}.fragmentSize`, hint: `use at most ${Math.min(H, W, config.canvas)}` });
    }
    const { pipeline, imageShape } = pipelineFor(config, [config.canvas, config.canvas, C], context.where);
    // An empty base split stays empty: there is nothing to wrap around.
    const sizes = Object.fromEntries(SPLIT_NAMES.map((s) => [s, base.info.sizes[s] === 0 ? 0 : (config.splits[s] ?? base.info.sizes[s])])) as Record<SplitName, number>;
    const info: DatasetInfo = {
      type: 'cluttered',
      classNames: base.info.classNames,
      numClasses: base.info.numClasses,
      imageShape,
      has: { masks: true, boxes: true, attributes: false, multiLabel: false },
      sizes,
      source: base.info.source,
    };
    return datasetFromSources(
      info,
      pipeline,
      (name) => {
        const baseSplit = base.split(name);
        const geometry: ClutterGeometry = { baseSize: baseSplit.size, baseHeight: H, baseWidth: W, canvas: config.canvas, scale: config.scale, fragments: config.fragments, fragmentSize: config.fragmentSize };
        const read = async (i: number): Promise<Item> => {
          // Example i of a split is a pure function of (seed, split, i).
          const layout = planClutter(new Rng(seed, `cluttered:${name}:${i}`), i % baseSplit.size, geometry);
          const [object, ...fragments] = await Promise.all([layout.object.source, ...layout.fragments.map((f) => f.source)].map((j) => baseSplit.item(j)));
          return composeClutter(`cluttered/${name}/${i}`, layout, object, fragments, config.canvas, config.fragmentSize, config.threshold);
        };
        return { size: sizes[name], label: (i: number) => baseSplit.label(i % baseSplit.size), read };
      },
      context.log,
    );
  },
};

registerDataset(clutteredDataset);
