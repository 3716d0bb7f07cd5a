import type { tf } from '@gaze/engine';

/**
 * A box in pixel-edge coordinates of the image it belongs to: x in [0, width], x0 < x1, so the
 * box of a single pixel (c, r) is {x0: c, y0: r, x1: c + 1, y1: r + 1}.
 */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** Class index of the object, or -1 for an object of no class (a distractor, clutter). */
  label: number;
  /** Pascal VOC's flag for objects hard to recognise; the pointing game can leave them out. */
  difficult?: boolean;
}

/** One example as plain arrays, before batching. Images are HWC float32 in [0,1]. */
export interface Item {
  id: string;
  height: number;
  width: number;
  channels: number;
  image: Float32Array;
  /** The class index (for multi-label data: the primary object's class). */
  label: number;
  /** Target-object mask, H*W, 1 inside. */
  mask?: Uint8Array;
  boxes?: Box[];
  /** Attribute vector (0/1, or a certainty in [0,1]), in `info.attributeNames` order. */
  attributes?: Float32Array;
  /** Every class present (multi-label data). */
  classes?: number[];
}

export type SplitName = 'train' | 'val' | 'test';
export const SPLIT_NAMES: readonly SplitName[] = ['train', 'val', 'test'];

export interface DatasetInfo {
  /** The loader's `type:` name. */
  type: string;
  classNames: string[];
  numClasses: number;
  /** [H, W, C] of every batched image (after the dataset's transforms). */
  imageShape: [number, number, number];
  attributeNames?: string[];
  has: { masks: boolean; boxes: boolean; attributes: boolean; multiLabel: boolean };
  sizes: Record<SplitName, number>;
  /** Where the data comes from: a directory, or `procedural`. */
  source: string;
}

/** A batch of B examples; the caller disposes its tensors (`disposeBatch`). */
export interface Batch {
  /** [B,H,W,C] float32 in [0,1]. */
  images: tf.Tensor4D;
  /** [B] int32 class indices. */
  labels: tf.Tensor1D;
  /** [B,H,W] float32, 1 on the target object. */
  masks?: tf.Tensor3D;
  /** Per image, its boxes (pixel-edge coordinates of the batched image). */
  boxes?: Box[][];
  /** [B,A] float32. */
  attributes?: tf.Tensor2D;
  /** [B,numClasses] float32 multi-hot, for multi-label data. */
  classes?: tf.Tensor2D;
  ids: string[];
}

export interface BatchOptions {
  batchSize: number;
  /** Visit the split in a seeded random order (default false). */
  shuffle?: boolean;
  /** Seeds the order and the augmentations; pass a new one per epoch (e.g. runSeed * 1000 + epoch). */
  seed?: number;
  /** Apply the dataset's augmentations (default: on for `train`, off otherwise). */
  augment?: boolean;
}

export interface Split {
  name: SplitName;
  size: number;
  /** Streams the split batch by batch; the last partial batch is kept. */
  batches(options: BatchOptions): AsyncIterable<Batch>;
  /** One example after the dataset's transforms (augmentations only when `augment` is set). */
  item(index: number, options?: { augment?: boolean; seed?: number }): Promise<Item>;
  /** The class of example `index`, without decoding its image. */
  label(index: number): number;
  /** Examples skipped because they could not be read, with why. */
  readonly skipped: readonly { id: string; reason: string }[];
}

export interface Dataset {
  info: DatasetInfo;
  split(name: SplitName): Split;
  /** Stops its data workers, if it has any (`workers:`); idle workers never keep a process alive. */
  close?(): Promise<void>;
}

export function disposeBatch(batch: Batch): void {
  batch.images.dispose();
  batch.labels.dispose();
  batch.masks?.dispose();
  batch.attributes?.dispose();
  batch.classes?.dispose();
}

/** The first `n` images of a batch as a batch of its own (new tensors; boxes and ids sliced); dispose it separately. */
export function sliceBatch(batch: Batch, n: number): Batch {
  return {
    images: batch.images.slice(0, n),
    labels: batch.labels.slice(0, n),
    masks: batch.masks?.slice(0, n),
    attributes: batch.attributes?.slice(0, n),
    classes: batch.classes?.slice(0, n),
    boxes: batch.boxes?.slice(0, n),
    ids: batch.ids.slice(0, n),
  };
}
