import { isAbsolute, relative, resolve } from 'node:path';
import { UnreadableItemError, decodeImage } from '@gaze/data';
import { GazeError, isGazeError, tf } from '@gaze/engine';
import { openImages, type ImageSource } from '@gaze/runner';
import type { GazeModel } from './model.js';

/**
 * Images for {@link explain} and {@link evaluate}, in one of four forms:
 * - a `tf.Tensor4D` [N,H,W,C] with values in [0,1] (not disposed by the library);
 * - `{ data, shape }`: the same as a plain Float32Array in NHWC order, `shape` [N,H,W,C];
 * - `string[]`: image files (.png, .jpg, .jpeg, .webp), decoded to RGB and resized to the model's input;
 * - `string`: a folder of image files (read recursively, as `gaze explain --images` does; unreadable
 *   files are skipped and reported) or a .npy array [N,H,W,C] or [N,C,H,W].
 * H, W and C must be the model's input (`model.inputShape`); every form goes through the model's
 * preprocessing (see `LoadModelOptions.preprocess`).
 */
export type ImageInput = tf.Tensor4D | { data: Float32Array | ArrayLike<number>; shape: readonly number[] } | string | readonly string[];

/** How files are fitted to the model's input. */
export interface ImageOptions {
  /**
   * For file and folder images: scale each image's shorter side to this many pixels, then crop the
   * centre to the model's input size (torchvision's Resize + CenterCrop). 0 stretches the image to
   * the input size. Default: `round(side * 256 / 224)` for ONNX models (256 before a 224 crop), 0 otherwise.
   */
  resize?: number;
}

/** A batch of images as the model takes them, [b,H,W,C], and their ids. */
interface LoadedBatch {
  x: tf.Tensor4D;
  ids: string[];
  /** The source index of each image in `x` (a folder's unreadable files leave gaps). */
  indices: number[];
  skipped: { file: string; reason: string }[];
}

/** Images read batch by batch. */
export interface ImageStream {
  /** Items in the source (a folder's unreadable files included until they are read). */
  readonly count: number;
  /** Items [start, end) as one batch; the caller disposes `x`. */
  batch(start: number, end: number): Promise<LoadedBatch>;
}

/** torchvision's evaluation resize for a square crop of `side`, as `gaze explain` defaults it for ONNX models. */
function defaultShorterSide(side: number): number {
  return Math.round((side * 256) / 224);
}

function shapeError(shape: readonly number[], model: GazeModel): GazeError {
  const [h, w, c] = model.inputShape;
  const channelsFirst = shape.length === 4 && shape[1] === c && shape[2] === h && shape[3] === w;
  return new GazeError(`images are [${shape.join(',')}]; this model takes [N,H,W,C] = [N,${h},${w},${c}] (NHWC, values in [0,1])`, {
    where: 'images',
    hint: channelsFirst ? 'these look channels-first (NCHW): transpose them to [N,H,W,C], e.g. tf.transpose(x, [0, 2, 3, 1])' : `resize the images to ${h}x${w}, or pass file paths to have them decoded and resized`,
  });
}

function fits(shape: readonly number[], model: GazeModel): boolean {
  const [h, w, c] = model.inputShape;
  return shape.length === 4 && shape[0] >= 1 && shape[1] === h && shape[2] === w && shape[3] === c;
}

/** Checks the images against the model's input and returns a reader for them. */
export async function openImageInput(images: ImageInput, model: GazeModel, options: ImageOptions = {}): Promise<ImageStream> {
  const [h, w, c] = model.inputShape;
  if (images instanceof tf.Tensor) {
    if (!fits(images.shape, model)) throw shapeError(images.shape, model);
    if (images.isDisposed) throw new GazeError('the images tensor is disposed', { where: 'images' });
    return {
      count: images.shape[0],
      batch: async (start, end) => ({ x: tf.slice(images, [start, 0, 0, 0], [end - start, h, w, c]), ids: range(start, end).map(String), indices: range(start, end), skipped: [] }),
    };
  }
  if (typeof images === 'string' || Array.isArray(images)) {
    if (options.resize !== undefined && (!Number.isInteger(options.resize) || options.resize < 0)) {
      throw new GazeError(`resize takes a whole number of pixels (0: stretch to the input size), got ${options.resize}`, { where: 'resize' });
    }
    const shorterSide = options.resize === 0 ? undefined : (options.resize ?? (model.format === 'onnx' ? defaultShorterSide(Math.max(h, w)) : undefined));
    if (typeof images === 'string') return fromPath(images, model, shorterSide);
    return fromFiles(images as readonly string[], model, shorterSide);
  }
  if (images && typeof images === 'object' && 'data' in images && 'shape' in images) {
    const shape = Array.from(images.shape);
    if (!fits(shape, model)) throw shapeError(shape, model);
    const per = h * w * c;
    if (images.data.length !== shape[0] * per) {
      throw new GazeError(`images.data holds ${images.data.length} values; shape [${shape.join(',')}] needs ${shape[0] * per}`, { where: 'images.data' });
    }
    const data = images.data instanceof Float32Array ? images.data : Float32Array.from(images.data);
    return {
      count: shape[0],
      batch: async (start, end) => ({ x: tf.tensor4d(data.subarray(start * per, end * per), [end - start, h, w, c]), ids: range(start, end).map(String), indices: range(start, end), skipped: [] }),
    };
  }
  throw new GazeError('images must be a tf.Tensor4D, { data, shape } (NHWC), an array of image file paths, or a folder / .npy path', { where: 'images' });
}

function range(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, i) => start + i);
}

/** A folder or .npy path, read by the runner's `openImages` (the reader of `gaze explain --images`). */
async function fromPath(path: string, model: GazeModel, shorterSide: number | undefined): Promise<ImageStream> {
  let source: ImageSource;
  try {
    source = await openImages(path, model.inputShape, { shorterSide });
  } catch (error) {
    // Its messages name the CLI flags; a library caller passed `images` (and `resize`).
    if (!isGazeError(error)) throw error;
    const where = error.where === '--resize' ? 'resize' : 'images';
    throw new GazeError(error.message.replace(/--resize/g, 'resize'), { where, hint: error.hint?.replace(/--resize/g, 'resize'), cause: error });
  }
  const [h, w, c] = model.inputShape;
  if (source.kind === 'npy') {
    const { array, layout } = source;
    const per = h * w * c;
    return {
      count: array.shape[0],
      batch: async (start, end) => {
        const rows = Float32Array.from(array.data.subarray(start * per, end * per));
        const n = end - start;
        const x = layout === 'NHWC' ? tf.tensor4d(rows, [n, h, w, c]) : tf.tidy(() => tf.transpose(tf.tensor4d(rows, [n, c, h, w]), [0, 2, 3, 1]) as tf.Tensor4D);
        return { x, ids: range(start, end).map(String), indices: range(start, end), skipped: [] };
      },
    };
  }
  const { dir, files } = source;
  return {
    count: files.length,
    batch: (start, end) => decodeBatch(files, start, end, (f) => resolve(dir, f), (f) => f, model, shorterSide, true),
  };
}

/** Explicit image files: each must be readable. Ids are the paths relative to the working directory (as given when inside it). */
async function fromFiles(files: readonly string[], model: GazeModel, shorterSide: number | undefined): Promise<ImageStream> {
  if (files.length === 0) throw new GazeError('no image files given', { where: 'images' });
  if (model.inputShape[2] !== 3) {
    throw new GazeError(`the model takes ${model.inputShape[2]}-channel images; image files decode to RGB`, { where: 'images', hint: 'pass the images as { data, shape } in the model input layout' });
  }
  const [h, w] = model.inputShape;
  if (shorterSide !== undefined && shorterSide < Math.max(h, w)) {
    throw new GazeError(`resize ${shorterSide} scales each image's shorter side below the model's ${h}x${w} input, leaving nothing to crop`, {
      where: 'resize',
      hint: `give resize ${Math.max(h, w)} or more, or 0 to stretch each image to ${h}x${w}`,
    });
  }
  const idOf = (f: string) => {
    const rel = relative(process.cwd(), resolve(f));
    return isAbsolute(f) || rel.startsWith('..') ? f : rel;
  };
  return {
    count: files.length,
    batch: (start, end) => decodeBatch(files, start, end, (f) => resolve(f), idOf, model, shorterSide, false),
  };
}

async function decodeBatch(
  all: readonly string[],
  start: number,
  end: number,
  pathOf: (f: string) => string,
  idOf: (f: string) => string,
  model: GazeModel,
  shorterSide: number | undefined,
  skipUnreadable: boolean,
): Promise<LoadedBatch> {
  const [h, w] = model.inputShape;
  const decoded = await Promise.all(
    all.slice(start, end).map(async (file, i) => {
      try {
        return { ...(await decodeImage(pathOf(file), idOf(file), { size: [h, w], fit: 'fill', shorterSide })), index: start + i };
      } catch (error) {
        if (!(error instanceof UnreadableItemError)) throw error;
        if (!skipUnreadable) throw new GazeError(`cannot read image ${file}: ${error.reason}`, { where: 'images', cause: error });
        return { file, reason: error.reason };
      }
    }),
  );
  const ok = decoded.filter((d): d is Awaited<ReturnType<typeof decodeImage>> & { index: number } => 'image' in d);
  const skipped = decoded.filter((d): d is { file: string; reason: string } => !('image' in d));
  const pixels = new Float32Array(ok.length * h * w * 3);
  ok.forEach((d, i) => pixels.set(d.image, i * h * w * 3));
  return { x: tf.tensor4d(pixels, [ok.length, h, w, 3]), ids: ok.map((d) => d.id), indices: ok.map((d) => d.index), skipped };
}
