import { GazeError, Rng, tf } from '@gaze/engine';
import type { Transform } from './transforms/transforms.js';
import { SPLIT_NAMES, type Batch, type BatchOptions, type Dataset, type DatasetInfo, type Item, type Split, type SplitName } from './types.js';

/** What a loader provides for one split: random access to raw examples. */
export interface ItemSource {
  size: number;
  /** The class of example i, cheaply (no image decoding). */
  label(index: number): number;
  /** The raw example; throws `UnreadableItemError` for an example that cannot be read. */
  read(index: number): Item | Promise<Item>;
}

/** An example that cannot be read (a corrupt file): skipped and reported, never fatal. */
export class UnreadableItemError extends Error {
  constructor(
    readonly id: string,
    readonly reason: string,
  ) {
    super(`cannot read ${id}: ${reason}`);
  }
}

export interface Pipeline {
  /** Applied to every split (resize, center crop). */
  transforms: Transform[];
  /** Applied when augmenting (train by default). */
  augment: Transform[];
}

/**
 * A Split over an ItemSource: seeded order, per-example seeded augmentation (the same seed gives
 * the same batches), unreadable examples skipped and recorded, the next batch read while the
 * current one is in use, and the last partial batch kept.
 */
export function makeSplit(
  name: SplitName,
  source: ItemSource,
  info: Pick<DatasetInfo, 'imageShape' | 'has' | 'numClasses' | 'attributeNames'>,
  pipeline: Pipeline,
  options: { onSkip?: (id: string, reason: string) => void } = {},
): Split {
  const skipped = new Map<string, string>();
  const [H, W, C] = info.imageShape;
  const attributeCount = info.attributeNames?.length ?? 0;

  async function prepare(index: number, augment: boolean, seed: number): Promise<Item> {
    let item = await source.read(index);
    const transforms = augment ? [...pipeline.transforms, ...pipeline.augment] : pipeline.transforms;
    if (transforms.length === 0) return item; // no seeded generator to derive (a hash per example)
    const rng = new Rng(seed, `augment:${name}:${index}`);
    for (const t of transforms) item = t(item, rng);
    return item;
  }

  function check(item: Item): void {
    if (item.height !== H || item.width !== W || item.channels !== C) {
      throw new GazeError(
        `example ${item.id} is ${item.height}x${item.width}x${item.channels} after the dataset's transforms, but the batches are ${H}x${W}x${C}`,
        { hint: 'add a resize (and, for odd aspect ratios, a center-crop) to the dataset transforms' },
      );
    }
  }

  function stack(items: Item[]): Batch {
    const B = items.length;
    const images = new Float32Array(B * H * W * C);
    const labels = new Int32Array(B);
    const masks = info.has.masks ? new Float32Array(B * H * W) : undefined;
    const attributes = info.has.attributes ? new Float32Array(B * attributeCount) : undefined;
    const classes = info.has.multiLabel ? new Float32Array(B * info.numClasses) : undefined;
    items.forEach((item, b) => {
      check(item);
      images.set(item.image, b * H * W * C);
      labels[b] = item.label;
      if (masks && item.mask) masks.set(item.mask, b * H * W);
      if (attributes && item.attributes) attributes.set(item.attributes, b * attributeCount);
      if (classes) for (const c of item.classes ?? [item.label]) classes[b * info.numClasses + c] = 1;
    });
    return {
      images: tf.tensor4d(images, [B, H, W, C]),
      labels: tf.tensor1d(labels, 'int32'),
      masks: masks && tf.tensor3d(masks, [B, H, W]),
      boxes: info.has.boxes ? items.map((i) => i.boxes ?? []) : undefined,
      attributes: attributes && tf.tensor2d(attributes, [B, attributeCount]),
      classes: classes && tf.tensor2d(classes, [B, info.numClasses]),
      ids: items.map((i) => i.id),
    };
  }

  /** Streams batches whose examples come from `prepareItem` (this split's own, or a worker's). */
  async function* batchesVia(o: BatchOptions, prepareItem: PrepareItem): AsyncGenerator<Batch> {
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new GazeError(`batch size must be a positive integer, got ${o.batchSize}`);
    const seed = o.seed ?? 0;
    const augment = o.augment ?? name === 'train';
    const order = o.shuffle ? new Rng(seed, `order:${name}`).permutation(source.size) : Array.from({ length: source.size }, (_, i) => i);
    let cursor = 0;
    // Fill one batch, replacing unreadable examples with the next ones in order.
    const fill = async (): Promise<Item[]> => {
      const items: Item[] = [];
      while (items.length < o.batchSize && cursor < order.length) {
        const take = order.slice(cursor, cursor + o.batchSize - items.length);
        cursor += take.length;
        const results = await Promise.allSettled(take.map((i) => prepareItem(i, augment, seed)));
        for (const r of results) {
          if (r.status === 'fulfilled') items.push(r.value);
          else if (r.reason instanceof UnreadableItemError) {
            if (!skipped.has(r.reason.id)) options.onSkip?.(r.reason.id, r.reason.reason);
            skipped.set(r.reason.id, r.reason.reason);
          } else throw r.reason;
        }
      }
      return items;
    };
    // Read ahead one batch. A consumer that stops early never awaits the last read, so its
    // failure must not become an unhandled rejection; awaiting it still throws.
    const readAhead = () => {
      const p = fill();
      p.catch(() => {});
      return p;
    };
    let pending = readAhead();
    for (;;) {
      const items = await pending;
      if (items.length === 0) return;
      pending = readAhead();
      yield stack(items);
    }
  }

  const split: Split = {
    name,
    size: source.size,
    batches: (o) => batchesVia(o, prepare),
    item: (index, o = {}) => {
      if (!Number.isInteger(index) || index < 0 || index >= source.size) {
        throw new GazeError(`example ${index} is out of range: the ${name} split has ${source.size}`);
      }
      return prepare(index, o.augment ?? false, o.seed ?? 0);
    },
    label: (index) => source.label(index),
    get skipped() {
      return [...skipped].map(([id, reason]) => ({ id, reason }));
    },
  };
  streams.set(split, batchesVia);
  return split;
}

/** Prepares example `index` (read, transforms, augmentations when `augment`) as `Split.item` does. */
export type PrepareItem = (index: number, augment: boolean, seed: number) => Promise<Item>;

// The batch streams of splits made by makeSplit, for running their examples elsewhere (workers).
const streams = new WeakMap<Split, (o: BatchOptions, prepareItem: PrepareItem) => AsyncGenerator<Batch>>();

/**
 * A split's batches with its examples prepared by `prepareItem` instead of in this thread: the
 * same order, skipping and stacking. Undefined for splits not made by makeSplit.
 */
export function batchesWith(split: Split, prepareItem: PrepareItem): ((o: BatchOptions) => AsyncGenerator<Batch>) | undefined {
  const stream = streams.get(split);
  return stream && ((o) => stream(o, prepareItem));
}

/**
 * A Dataset whose three splits are `makeSplit` over `sourceFor(name)`; unreadable examples are
 * logged once each as `<type>: skipped unreadable <id> (<reason>)`.
 */
export function datasetFromSources(info: DatasetInfo, pipeline: Pipeline, sourceFor: (name: SplitName) => ItemSource, log?: (line: string) => void): Dataset {
  const onSkip = log && ((id: string, reason: string) => log(`${info.type}: skipped unreadable ${id} (${reason})`));
  const splits = Object.fromEntries(SPLIT_NAMES.map((name) => [name, makeSplit(name, sourceFor(name), info, pipeline, { onSkip })])) as Record<SplitName, Split>;
  return { info, split: (name) => splits[name] };
}
