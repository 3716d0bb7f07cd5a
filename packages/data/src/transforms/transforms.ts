import { GazeError, type Rng } from '@gaze/engine';
import { z } from 'zod';
import type { Item } from '../types.js';
import { cropItem, flipItem, resizeItem } from './item-geometry.js';

const Size = z.union([z.int().positive(), z.tuple([z.int().positive(), z.int().positive()])]);
const Factor = z.number().min(0).max(1).default(0);

/** The transforms a dataset config can list (`transforms:` for every split, `augment:` for train). */
export const TransformSpec = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('resize'), size: Size }),
  z.strictObject({ type: z.literal('center-crop'), size: Size }),
  z.strictObject({ type: z.literal('random-crop'), size: Size, padding: z.int().nonnegative().default(0) }),
  z.strictObject({ type: z.literal('hflip'), p: z.number().min(0).max(1).default(0.5) }),
  z.strictObject({ type: z.literal('color-jitter'), brightness: Factor, contrast: Factor, saturation: Factor }),
  z.strictObject({
    type: z.literal('random-erase'),
    p: z.number().min(0).max(1).default(0.5),
    /** The erased area as a fraction of the image, [min, max]. */
    scale: z.tuple([z.number().gt(0).max(1), z.number().gt(0).max(1)]).default([0.02, 0.33]),
    /** Its aspect ratio (height / width), [min, max]. */
    ratio: z.tuple([z.number().positive(), z.number().positive()]).default([0.3, 3.3]),
    /** The value written into the rectangle (0: black, what masking-based explainers remove pixels to). */
    value: z.number().min(0).max(1).default(0),
  }),
]);
export type TransformSpec = z.infer<typeof TransformSpec>;

/** A transform maps an item to a new item; random ones draw from the per-item generator. */
export type Transform = (item: Item, rng: Rng) => Item;

function hw(size: number | [number, number]): [number, number] {
  return typeof size === 'number' ? [size, size] : size;
}

/** [H, W, C] after a transform, to know the batched image shape before reading anything. */
export function transformedShape(spec: TransformSpec, shape: [number, number, number]): [number, number, number] {
  switch (spec.type) {
    case 'resize':
    case 'center-crop':
    case 'random-crop':
      return [...hw(spec.size), shape[2]];
    default:
      return shape;
  }
}

export function buildTransform(spec: TransformSpec, where: string): Transform {
  switch (spec.type) {
    case 'resize': {
      const [h, w] = hw(spec.size);
      return (item) => resizeItem(item, h, w);
    }
    case 'center-crop': {
      const [h, w] = hw(spec.size);
      return (item) => {
        if (h > item.height || w > item.width) {
          throw new GazeError(`center-crop ${h}x${w} is larger than the ${item.height}x${item.width} image ${item.id}`, {
            where,
            hint: 'put a resize before the crop, or crop smaller',
          });
        }
        return cropItem(item, Math.floor((item.height - h) / 2), Math.floor((item.width - w) / 2), h, w);
      };
    }
    case 'random-crop': {
      const [h, w] = hw(spec.size);
      const pad = spec.padding;
      return (item, rng) => {
        const spanY = item.height + 2 * pad - h;
        const spanX = item.width + 2 * pad - w;
        if (spanY < 0 || spanX < 0) {
          throw new GazeError(`random-crop ${h}x${w} is larger than the ${item.height}x${item.width} image ${item.id} plus padding ${pad}`, {
            where,
            hint: 'resize first, add padding, or crop smaller',
          });
        }
        return cropItem(item, rng.int(spanY + 1) - pad, rng.int(spanX + 1) - pad, h, w);
      };
    }
    case 'hflip':
      return (item, rng) => (rng.next() < spec.p ? flipItem(item) : item);
    case 'color-jitter':
      return (item, rng) => colorJitter(item, rng, spec.brightness, spec.contrast, spec.saturation);
    case 'random-erase':
      return (item, rng) => (rng.next() < spec.p ? randomErase(item, rng, spec.scale, spec.ratio, spec.value) : item);
  }
}

/**
 * Random erasing (Zhong et al., AAAI 2020; torchvision's RandomErasing): a rectangle of area
 * uniform in `scale` x the image and aspect ratio log-uniform in `ratio`, at a uniform position,
 * set to `value`; up to 10 draws to find one that fits, else the item unchanged. Masks and boxes
 * stay: the object is still there, only hidden. Training a classifier with it (value 0) teaches
 * it that black patches are not evidence, which masking explainers such as TAME rely on.
 */
export function randomErase(item: Item, rng: Rng, scale: [number, number], ratio: [number, number], value: number): Item {
  const { height: H, width: W, channels: C } = item;
  for (let attempt = 0; attempt < 10; attempt++) {
    const area = rng.uniform(Math.min(...scale), Math.max(...scale)) * H * W;
    const aspect = Math.exp(rng.uniform(Math.log(Math.min(...ratio)), Math.log(Math.max(...ratio))));
    const h = Math.round(Math.sqrt(area * aspect));
    const w = Math.round(Math.sqrt(area / aspect));
    if (h < 1 || w < 1 || h >= H || w >= W) continue;
    const top = rng.int(H - h + 1);
    const left = rng.int(W - w + 1);
    const image = item.image.slice();
    for (let y = top; y < top + h; y++) image.fill(value, (y * W + left) * C, (y * W + left + w) * C);
    return { ...item, image };
  }
  return item;
}

function factor(rng: Rng, amount: number): number {
  return amount > 0 ? rng.uniform(Math.max(0, 1 - amount), 1 + amount) : 1;
}

/**
 * Brightness (x * f), contrast (blend with the image's mean grey), saturation (blend with each
 * pixel's grey), in that order, each factor uniform in [1 - a, 1 + a]; clamped to [0,1].
 */
export function colorJitter(item: Item, rng: Rng, brightness: number, contrast: number, saturation: number): Item {
  const fb = factor(rng, brightness);
  const fc = factor(rng, contrast);
  const fs = factor(rng, saturation);
  const C = item.channels;
  const image = new Float32Array(item.image.length);
  const grey = (i: number) => (C >= 3 ? 0.299 * image[i] + 0.587 * image[i + 1] + 0.114 * image[i + 2] : image[i]);
  for (let i = 0; i < image.length; i++) image[i] = item.image[i] * fb;
  if (fc !== 1) {
    let mean = 0;
    for (let i = 0; i < image.length; i += C) mean += grey(i);
    mean /= image.length / C;
    for (let i = 0; i < image.length; i++) image[i] = (image[i] - mean) * fc + mean;
  }
  if (fs !== 1 && C >= 3) {
    for (let i = 0; i < image.length; i += C) {
      const g = grey(i);
      for (let k = 0; k < 3; k++) image[i + k] = (image[i + k] - g) * fs + g;
    }
  }
  for (let i = 0; i < image.length; i++) image[i] = Math.min(1, Math.max(0, image[i]));
  return { ...item, image };
}
