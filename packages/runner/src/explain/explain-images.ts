import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UnreadableItemError, decodeImage, listImageFiles } from '@gaze/data';
import { GazeError, NpyWriter, readNpy, tf, writeFileAtomic, type NpyArray } from '@gaze/engine';
import { createExplainer, explainerFactory } from '@gaze/explainers';
import type { Classifier } from '@gaze/models';
import { formatCsv, renderOverlay } from '@gaze/report';
import { z } from 'zod';

/** Where the images come from: every image file under a folder, or a .npy batch used as the model input as is. */
export type ImageSource =
  | { kind: 'folder'; dir: string; files: string[]; shorterSide?: number }
  | { kind: 'npy'; path: string; array: NpyArray; layout: 'NCHW' | 'NHWC' };

export interface ExplainImagesOptions {
  classifier: Classifier;
  images: ImageSource;
  /** An explainer type from the registry. */
  method: string;
  /** The method's own keys (layer, n, steps, ...). */
  methodOptions?: Record<string, unknown>;
  /** `predicted` (each image's top class) or one class index for every image. */
  target: 'predicted' | number;
  out: string;
  batchSize: number;
  /** Write overlays/<id>.png (default true). */
  overlays?: boolean;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (p: { batch: number; batches: number; images: number; total: number }) => void;
  /** Lines worth telling the user (unreadable files skipped). */
  log?: (line: string) => void;
}

export interface ExplainImagesResult {
  out: string;
  images: number;
  skipped: { file: string; reason: string }[];
  interrupted: boolean;
  files: string[];
}

export const MAPS_FILE = 'maps.npy';
export const LOGITS_FILE = 'logits.npy';
export const INDEX_FILE = 'index.csv';
export const OVERLAY_DIR = 'overlays';
export const README_FILE = 'README.txt';

// The lister --images uses (recursive), kept under this name for the runner's callers.
export { listImageFiles };

/**
 * Reads `--images`: a folder (decoded and cropped to the model's input) or a .npy array
 * [N,3,H,W] (PyTorch's layout) or [N,H,W,3], checked against the model's input size.
 */
export async function openImages(path: string, inputShape: readonly [number, number, number], options: { shorterSide?: number } = {}): Promise<ImageSource> {
  const full = resolve(path);
  if (!existsSync(full)) throw new GazeError(`no images at ${full}`, { where: '--images', hint: 'give a folder of .png/.jpg/.jpeg/.webp files or a .npy array [N,3,H,W]' });
  const [h, w, c] = inputShape;
  if (statSync(full).isDirectory()) {
    const files = listImageFiles(full, { recursive: true });
    if (files.length === 0) throw new GazeError(`${full} holds no image files (.png, .jpg, .jpeg, .webp)`, { where: '--images' });
    if (c !== 3) throw new GazeError(`the model takes ${c}-channel images; a folder of images decodes to RGB`, { where: '--images', hint: 'give a .npy array with the model input instead' });
    // Checked once here: per image it would make every file look unreadable.
    if (options.shorterSide !== undefined && options.shorterSide < Math.max(h, w)) {
      throw new GazeError(`--resize ${options.shorterSide} scales each image's shorter side below the model's ${h}x${w} input, leaving nothing to crop`, {
        where: '--resize',
        hint: `give --resize ${Math.max(h, w)} or more (torchvision: 256 for 224), or --resize 0 to stretch each image to ${h}x${w}`,
      });
    }
    return { kind: 'folder', dir: full, files, shorterSide: options.shorterSide };
  }
  if (!full.endsWith('.npy')) throw new GazeError(`${full} is neither a folder nor a .npy file`, { where: '--images' });
  const array = await readNpy(full);
  const s = array.shape;
  const nchw = s.length === 4 && s[1] === c && s[2] === h && s[3] === w;
  const nhwc = s.length === 4 && s[1] === h && s[2] === w && s[3] === c;
  if (!nchw && !nhwc) {
    throw new GazeError(`${full} is [${s.join(',')}]; the model takes [N,${c},${h},${w}] (or [N,${h},${w},${c}])`, {
      where: '--images',
      hint: 'save the batch exactly as it goes into the model: np.save(path, x.numpy().astype("float32"))',
    });
  }
  return { kind: 'npy', path: full, array, layout: nchw ? 'NCHW' : 'NHWC' };
}

/** How many images the source holds (a folder's unreadable files included). */
export function imageCount(source: ImageSource): number {
  return source.kind === 'folder' ? source.files.length : source.array.shape[0];
}

interface LoadedBatch {
  x: tf.Tensor4D;
  /** x's values on the host, [b, H, W, C]. */
  pixels: Float32Array;
  ids: string[];
  skipped: { file: string; reason: string }[];
}

/** Images [b, H, W, C] for items [start, end), built on the host; a folder's unreadable files come back in `skipped`. */
async function loadBatch(source: ImageSource, start: number, end: number, [h, w, c]: readonly [number, number, number]): Promise<LoadedBatch> {
  if (source.kind === 'npy') {
    const per = h * w * c;
    const rows = source.array.data.subarray(start * per, end * per);
    const pixels = source.layout === 'NHWC' ? Float32Array.from(rows) : nchwToNhwc(rows, end - start, h, w, c);
    return { x: tf.tensor4d(pixels, [end - start, h, w, c]), pixels, ids: Array.from({ length: end - start }, (_, i) => String(start + i)), skipped: [] };
  }
  const decoded = await Promise.all(
    source.files.slice(start, end).map(async (file) => {
      try {
        return await decodeImage(join(source.dir, file), file, { size: [h, w], fit: 'fill', shorterSide: source.shorterSide });
      } catch (error) {
        if (!(error instanceof UnreadableItemError)) throw error;
        return { file, reason: error.reason };
      }
    }),
  );
  const ok = decoded.filter((d): d is Awaited<ReturnType<typeof decodeImage>> => 'image' in d);
  const skipped = decoded.filter((d): d is { file: string; reason: string } => !('image' in d));
  const pixels = new Float32Array(ok.length * h * w * 3);
  ok.forEach((d, i) => pixels.set(d.image, i * h * w * 3));
  return { x: tf.tensor4d(pixels, [ok.length, h, w, 3]), pixels, ids: ok.map((d) => d.id), skipped };
}

function nchwToNhwc(data: ArrayLike<number>, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(n * h * w * c);
  const plane = h * w;
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      const from = (b * c + k) * plane;
      for (let p = 0; p < plane; p++) out[(b * plane + p) * c + k] = data[from + p];
    }
  }
  return out;
}

/** An overlay file name for an item id: its path with separators as '__', extension dropped. */
export function overlayName(id: string): string {
  return id.replace(/\.[^./]+$/, '').replace(/[\\/]+/g, '__').replace(/[^A-Za-z0-9._-]/g, '_');
}

/** The explainer entry for `method` with `options`, checked: an unknown method or key is a GazeError naming the flag. */
export function explainerEntry(method: string, options: Record<string, unknown>): { type: string } & Record<string, unknown> {
  const schema = explainerFactory(method).configSchema; // an unknown method throws the did-you-mean
  const keys = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
  for (const key of Object.keys(options)) {
    if (!keys.includes(key)) {
      throw new GazeError(`${method} has no option '${key}'`, {
        where: key === 'layer' ? '--layer' : `--set ${key}`,
        hint: keys.length ? `its options: ${keys.join(', ')}` : `${method} takes no options`,
      });
    }
  }
  return { type: method, ...options };
}

/**
 * Explains every image with one method and writes, under `out`: maps.npy (float32 [N,H,W], the
 * raw map at input resolution, not normalized), logits.npy (float32 [N,classes]), index.csv
 * (index, file or id, target, score = the target's logit, probability) and overlays/<id>.png.
 * An abort stops after the current batch and still writes the files for the finished images.
 */
export async function explainImages(options: ExplainImagesOptions): Promise<ExplainImagesResult> {
  const { classifier, images } = options;
  const [h, w, c] = classifier.inputShape;
  const entry = explainerEntry(options.method, options.methodOptions ?? {});
  const explainer = createExplainer(entry, { classifier, seed: options.seed ?? 0, where: options.method });
  if (options.target !== 'predicted' && (!Number.isInteger(options.target) || options.target < 0 || options.target >= classifier.numClasses)) {
    throw new GazeError(`target ${options.target} is not a class of this model (0 to ${classifier.numClasses - 1})`, { where: '--target', hint: 'give predicted or a class index' });
  }
  const total = imageCount(images);
  const batches = Math.ceil(total / options.batchSize);
  const out = resolve(options.out);
  await mkdir(out, { recursive: true });
  const maps = await NpyWriter.create(join(out, MAPS_FILE), [h, w], total);
  const logitsFile = await NpyWriter.create(join(out, LOGITS_FILE), [classifier.numClasses], total);
  const rows: (string | number)[][] = [];
  const skipped: { file: string; reason: string }[] = [];
  let interrupted = false;
  try {
    for (let b = 0; b < batches; b++) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      const { x, pixels, ids, skipped: lost } = await loadBatch(images, b * options.batchSize, Math.min(total, (b + 1) * options.batchSize), classifier.inputShape);
      for (const s of lost) options.log?.(`skipped unreadable ${s.file} (${s.reason})`);
      skipped.push(...lost);
      // Freed even when the explainer throws.
      const held: tf.Tensor[] = [x];
      try {
        if (ids.length > 0) {
          const logits = classifier.logits(x);
          held.push(logits);
          const logitValues = (await logits.data()) as Float32Array;
          const k = classifier.numClasses;
          const targets = ids.map((_, i) => (options.target === 'predicted' ? argmax(logitValues.subarray(i * k, (i + 1) * k)) : options.target));
          const target = tf.tensor1d(targets, 'int32');
          held.push(target);
          const map = await explainer.explain(x, target, { normalize: false });
          held.push(map);
          const mapValues = (await map.data()) as Float32Array;
          await maps.append(mapValues);
          await logitsFile.append(logitValues);
          const shown = options.overlays === false ? undefined : images.kind === 'npy' ? displayRange(pixels, ids.length) : pixels;
          for (let i = 0; i < ids.length; i++) {
            const index = maps.items - ids.length + i;
            const row = logitValues.subarray(i * k, (i + 1) * k);
            rows.push([index, ids[i], targets[i], row[targets[i]], softmaxAt(row, targets[i])]);
            if (shown) {
              const png = await renderOverlay({
                image: { image: shown.subarray(i * h * w * c, (i + 1) * h * w * c), height: h, width: w, channels: c, caption: '' },
                map: mapValues.subarray(i * h * w, (i + 1) * h * w),
                title: `${ids[i]}  ${options.method}  target ${targets[i]}`,
              });
              await writeFileAtomic(join(out, OVERLAY_DIR, `${overlayName(ids[i])}.png`), png);
            }
          }
        }
      } finally {
        tf.dispose(held);
      }
      options.onProgress?.({ batch: b + 1, batches, images: maps.items, total });
    }
  } catch (error) {
    await maps.discard();
    await logitsFile.discard();
    throw error;
  } finally {
    explainer.dispose?.();
  }
  await maps.close();
  await logitsFile.close();
  await writeFileAtomic(join(out, INDEX_FILE), formatCsv(['index', 'file', 'target', 'score', 'probability'], rows));
  await writeFileAtomic(join(out, README_FILE), readme(options, classifier, maps.items));
  const files = [MAPS_FILE, LOGITS_FILE, INDEX_FILE, README_FILE, ...(options.overlays === false ? [] : [`${OVERLAY_DIR}/`])];
  return { out, images: maps.items, skipped, interrupted, files };
}

/** A model-input .npy batch for display: as is when all of it lies in [0,1], else min-max scaled per image. */
function displayRange(pixels: Float32Array, n: number): Float32Array {
  const per = pixels.length / n;
  const lo = new Float32Array(n).fill(Infinity);
  const hi = new Float32Array(n).fill(-Infinity);
  for (let i = 0; i < pixels.length; i++) {
    const b = Math.floor(i / per);
    if (pixels[i] < lo[b]) lo[b] = pixels[i];
    if (pixels[i] > hi[b]) hi[b] = pixels[i];
  }
  if (lo.every((v) => v >= 0) && hi.every((v) => v <= 1)) return pixels;
  return pixels.map((v, i) => {
    const b = Math.floor(i / per);
    return (v - lo[b]) / Math.max(hi[b] - lo[b], 1e-12);
  });
}

/** softmax(row)[j], shifted by the maximum so large logits do not overflow. */
function softmaxAt(row: Float32Array, j: number): number {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return Math.exp(row[j] - max) / sum;
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

function readme(options: ExplainImagesOptions, classifier: Classifier, n: number): string {
  const [h, w] = classifier.inputShape;
  return [
    `gaze explain: ${options.method} on ${n} images`,
    '',
    `${MAPS_FILE}    float32 [${n}, ${h}, ${w}]: the raw map of each image at the model's input size (not normalized)`,
    `${LOGITS_FILE}  float32 [${n}, ${classifier.numClasses}]: the model's pre-softmax scores`,
    `${INDEX_FILE}   index, file (or .npy row), target class, score (the target's logit), probability (softmax)`,
    `${OVERLAY_DIR}/    one PNG per image: the map (min-max scaled, jet) over the image, with a colour bar in the map's units`,
    '',
    "In Python: maps = np.load('maps.npy'); logits = np.load('logits.npy')",
    '',
  ].join('\n');
}
