import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import { IMAGE_EXTENSIONS, decodeImage, decodeFailureReason } from '@gaze/data';
import { GazeError, NpyWriter, readNpy, tf, writeFileAtomic, type NpyArray } from '@gaze/engine';
import { createExplainer, explainerFactory, explainerTypes } from '@gaze/explainers';
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

/** Every image file under `dir` (recursively, hidden ones left out), relative, in sorted order. */
export function listImageFiles(dir: string): string[] {
  const root = resolve(dir);
  const out: string[] = [];
  const visit = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.name.startsWith('.')) continue;
      const full = join(d, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.isFile() && (IMAGE_EXTENSIONS as readonly string[]).includes(extname(entry.name).toLowerCase())) out.push(relative(root, full).split(sep).join('/'));
    }
  };
  visit(root);
  return out;
}

/**
 * Reads `--images`: a folder (decoded and cropped to the model's input) or a .npy array
 * [N,3,H,W] (PyTorch's layout) or [N,H,W,3], checked against the model's input size.
 */
export async function openImages(path: string, inputShape: readonly [number, number, number], options: { shorterSide?: number } = {}): Promise<ImageSource> {
  const full = resolve(path);
  if (!existsSync(full)) throw new GazeError(`no images at ${full}`, { where: '--images', hint: 'give a folder of .png/.jpg/.jpeg/.webp files or a .npy array [N,3,H,W]' });
  const [h, w, c] = inputShape;
  if (statSync(full).isDirectory()) {
    const files = listImageFiles(full);
    if (files.length === 0) throw new GazeError(`${full} holds no image files (.png, .jpg, .jpeg, .webp)`, { where: '--images' });
    if (c !== 3) throw new GazeError(`the model takes ${c}-channel images; a folder of images decodes to RGB`, { where: '--images', hint: 'give a .npy array with the model input instead' });
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

function imageCount(source: ImageSource): number {
  return source.kind === 'folder' ? source.files.length : source.array.shape[0];
}

/** Images [b, H, W, C] for items [start, end); a folder's unreadable files come back in `skipped`. */
async function loadBatch(source: ImageSource, start: number, end: number, [h, w, c]: readonly [number, number, number]): Promise<{ x: tf.Tensor4D; ids: string[]; skipped: { file: string; reason: string }[] }> {
  if (source.kind === 'npy') {
    const per = h * w * c;
    const data = Float32Array.from(source.array.data.subarray(start * per, end * per));
    const x = tf.tidy(() => {
      const t = source.layout === 'NCHW' ? tf.transpose(tf.tensor4d(data, [end - start, c, h, w]), [0, 2, 3, 1]) : tf.tensor4d(data, [end - start, h, w, c]);
      return t as tf.Tensor4D;
    });
    return { x, ids: Array.from({ length: end - start }, (_, i) => String(start + i)), skipped: [] };
  }
  const decoded = await Promise.all(
    source.files.slice(start, end).map(async (file) => {
      try {
        return await decodeImage(join(source.dir, file), file, { size: [h, w], fit: 'fill', shorterSide: source.shorterSide });
      } catch (error) {
        return { file, reason: decodeFailureReason(error) };
      }
    }),
  );
  const ok = decoded.filter((d): d is Awaited<ReturnType<typeof decodeImage>> => 'image' in d);
  const skipped = decoded.filter((d): d is { file: string; reason: string } => !('image' in d));
  const data = new Float32Array(ok.length * h * w * 3);
  ok.forEach((d, i) => data.set(d.image, i * h * w * 3));
  return { x: tf.tensor4d(data, [ok.length, h, w, 3]), ids: ok.map((d) => d.id), skipped };
}

/** An overlay file name for an item id: its path with separators as '__', extension dropped. */
export function overlayName(id: string): string {
  return id.replace(/\.[^./]+$/, '').replace(/[\\/]+/g, '__').replace(/[^A-Za-z0-9._-]/g, '_');
}

/** The explainer entry for `method` with `options`, checked: an unknown method or key is a GazeError naming the flag. */
export function explainerEntry(method: string, options: Record<string, unknown>): { type: string } & Record<string, unknown> {
  if (!explainerTypes().includes(method)) {
    explainerFactory(method); // throws the did-you-mean
  }
  const schema = explainerFactory(method).configSchema;
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
  const [h, w] = classifier.inputShape;
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
      const { x, ids, skipped: lost } = await loadBatch(images, b * options.batchSize, Math.min(total, (b + 1) * options.batchSize), classifier.inputShape);
      for (const s of lost) options.log?.(`skipped unreadable ${s.file} (${s.reason})`);
      skipped.push(...lost);
      if (ids.length > 0) {
        const logits = classifier.logits(x);
        const logitValues = (await logits.data()) as Float32Array;
        const k = classifier.numClasses;
        const targets = ids.map((_, i) => (options.target === 'predicted' ? argmax(logitValues.subarray(i * k, (i + 1) * k)) : options.target));
        const target = tf.tensor1d(targets, 'int32');
        const map = await explainer.explain(x, target, { normalize: false });
        const mapValues = (await map.data()) as Float32Array;
        const probabilities = tf.tidy(() => tf.softmax(logits).dataSync());
        await maps.append(mapValues);
        await logitsFile.append(logitValues);
        const pixels = options.overlays === false ? undefined : await displayImages(x);
        for (let i = 0; i < ids.length; i++) {
          const index = maps.items - ids.length + i;
          const score = logitValues[i * k + targets[i]];
          rows.push([index, ids[i], targets[i], score, probabilities[i * k + targets[i]]]);
          if (pixels) {
            const png = await renderOverlay({
              image: { image: pixels.subarray(i * h * w * 3, (i + 1) * h * w * 3), height: h, width: w, channels: 3, caption: '' },
              map: mapValues.subarray(i * h * w, (i + 1) * h * w),
              title: `${ids[i]}  ${options.method}  target ${targets[i]}`,
            });
            await writeFileAtomic(join(out, OVERLAY_DIR, `${overlayName(ids[i])}.png`), png);
          }
        }
        tf.dispose([x, logits, target, map]);
      } else {
        x.dispose();
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

/** The batch as displayable RGB in [0,1]: folder images are already; a model-input .npy is min-max scaled per image. */
async function displayImages(x: tf.Tensor4D): Promise<Float32Array> {
  const shown = tf.tidy(() => {
    const channels = x.shape[3] === 3 ? x : tf.tile(x.slice([0, 0, 0, 0], [-1, -1, -1, 1]), [1, 1, 1, 3]);
    const min = tf.min(channels, [1, 2, 3], true);
    const max = tf.max(channels, [1, 2, 3], true);
    const inRange = tf.logicalAnd(tf.greaterEqual(tf.min(min), 0), tf.lessEqual(tf.max(max), 1)).dataSync()[0] === 1;
    return inRange ? channels.clone() : tf.div(tf.sub(channels, min), tf.maximum(tf.sub(max, min), 1e-12));
  });
  const data = (await shown.data()) as Float32Array;
  shown.dispose();
  return data;
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
