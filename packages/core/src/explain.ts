import { GazeError, isGazeError, tf } from '@gaze/engine';
import { createExplainer, type Explainer } from '@gaze/explainers';
import type { Classifier } from '@gaze/models';
import { explainerEntry } from '@gaze/runner';
import { ensureBackend } from './backend.js';
import { openImageInput, type ImageInput, type ImageOptions } from './images.js';
import { classifierOf, type GazeModel } from './model.js';

/** Which class each map explains: each image's top prediction, one class for all, or one per image. */
export type Target = 'predicted' | number | readonly number[];

/** Options of {@link explain}; any other key is an option of the method (checked against it). */
export interface ExplainOptions extends ImageOptions {
  /** An explanation method by name: one of `explainerTypes()` (gradcam, gradient, rise, ...). */
  method: string;
  /** The tap a CAM method explains (a PyTorch module path, a layer name); default the model's last feature map. */
  layer?: string;
  /** Default `'predicted'`: the argmax of each image's logits. */
  target?: Target;
  /** Min-max scale each map to [0,1] (what the metrics see); default false: the method's raw values. */
  normalize?: boolean;
  /** Images per forward/backward pass (default 8, as `gaze explain --batch`). */
  batch?: number;
  /** Seed of random methods (RISE masks, SmoothGrad noise); default 0, as `gaze explain`. */
  seed?: number;
  /** The method's options, for names explain() itself uses (integrated-gradients' `method`); merged over the top-level ones. */
  options?: Record<string, unknown>;
  /** Method options (rise: n, cells, p; smoothgrad: samples, noise; ...). */
  [methodOption: string]: unknown;
}

/**
 * Maps of one method for a batch of images, as plain arrays: `data` holds N maps of H x W
 * (row-major, image after image: map i is `data.subarray(i*H*W, (i+1)*H*W)`), at the model's input
 * resolution. Raw (the method's own units: a CAM's ReLU'd weighted activations upsampled, a
 * gradient's channel reduction...) unless explained with `normalize: true`, then each map is
 * min-max scaled to [0,1] (a constant map becomes zeros).
 */
export interface ExplainResult {
  data: Float32Array;
  /** [N, H, W]. */
  shape: [number, number, number];
  /** The class each map explains, per image. */
  targets: number[];
  /** Per map: the file (relative to a folder, or as given) or the row index of an array. */
  ids: string[];
  method: string;
  normalized: boolean;
  /** Folder files that could not be decoded (left out of the maps). */
  skipped: { file: string; reason: string }[];
}

/** explain()'s own keys; everything else goes to the method. */
const EXPLAIN_KEYS = ['method', 'target', 'normalize', 'batch', 'seed', 'resize', 'options'] as const;

/** The method entry and its explainer, checked the way `gaze explain` checks them. */
export function buildExplainer(classifier: Classifier, method: unknown, methodOptions: Record<string, unknown>, seed: number, where: string): Explainer {
  if (typeof method !== 'string' || method === '') {
    throw new GazeError(`${where} needs a method`, { where: `${where} method`, hint: "e.g. { method: 'gradcam' }; explainerTypes() lists them" });
  }
  let entry: { type: string } & Record<string, unknown>;
  try {
    entry = explainerEntry(method, methodOptions);
  } catch (error) {
    // explainerEntry names the CLI flags (--layer, --set key); here they are option keys.
    if (!isGazeError(error)) throw error;
    throw new GazeError(error.message, { where: `${where} options`, hint: error.hint, cause: error });
  }
  try {
    return createExplainer(entry, { classifier, seed, where: `${where} ${method}` });
  } catch (error) {
    // A model file exposes only the taps it was loaded with.
    if (isGazeError(error) && /has no tap/.test(error.message) && typeof entry.layer === 'string') {
      throw new GazeError(error.message, { where: error.where, hint: `${error.hint}; or load a model file with loadModel(path, { layers: ['${entry.layer}'] })`, cause: error });
    }
    throw error;
  }
}

function checkInteger(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new GazeError(`${name} must be an integer >= ${min}, got ${String(value)}`, { where: name });
  return value;
}

/** Checks a fixed target (a class, or one per image) against the model; undefined for 'predicted'. */
function checkTarget(target: Target, numClasses: number, count: number): number[] | number | undefined {
  if (target === 'predicted') return undefined;
  const bad = (v: unknown) => typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= numClasses;
  if (typeof target === 'number') {
    if (bad(target)) throw new GazeError(`target ${target} is not a class of this model (0 to ${numClasses - 1})`, { where: 'target', hint: "give 'predicted', a class index, or one class index per image" });
    return target;
  }
  if (Array.isArray(target)) {
    if (target.length !== count) throw new GazeError(`target lists ${target.length} classes for ${count} images`, { where: 'target', hint: 'give one class index per image' });
    const i = target.findIndex(bad);
    if (i >= 0) throw new GazeError(`target[${i}] = ${String(target[i])} is not a class of this model (0 to ${numClasses - 1})`, { where: `target.${i}` });
    return [...target];
  }
  throw new GazeError(`target must be 'predicted', a class index or an array of them, got ${JSON.stringify(target)}`, { where: 'target' });
}

/** Index of the first maximum (ties to the first, as `gaze explain`). */
function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/**
 * Explains a model's predictions: one map per image from one method, for the predicted class or
 * the given target(s). Every tensor it makes is freed; the result is plain data (no tfjs needed to
 * read it). Unknown methods and option keys are a GazeError (with did-you-mean).
 *
 * @example
 * ```ts
 * const model = await loadModel('model.onnx');
 * const maps = await explain(model, ['cat.jpg', 'dog.jpg'], { method: 'gradcam' });
 * console.log(maps.shape, maps.targets); // [2, 224, 224] [281, 207]
 * const rise = await explain(model, 'images/', { method: 'rise', n: 2000, target: 281, normalize: true });
 * ```
 */
export async function explain(model: GazeModel, images: ImageInput, options: ExplainOptions): Promise<ExplainResult> {
  const classifier = classifierOf(model, 'explain()');
  if (!options || typeof options !== 'object') throw new GazeError('explain() needs options with a method', { where: 'explain()', hint: "e.g. { method: 'gradcam' }" });
  await ensureBackend();
  const { method, target = 'predicted', normalize = false, batch = 8, seed = 0, resize, options: nested, ...topLevel } = options;
  const methodOptions = { ...topLevel, ...(nested ?? {}) };
  for (const [k, v] of Object.entries(methodOptions)) if (v === undefined) delete methodOptions[k];
  checkInteger(batch, 'batch', 1);
  checkInteger(seed, 'seed', 0);
  let explainer: Explainer;
  try {
    explainer = buildExplainer(classifier, method, methodOptions, seed, 'explain()');
  } catch (error) {
    if (isGazeError(error) && /has no option/.test(error.message)) {
      throw new GazeError(error.message, { where: error.where, hint: `${error.hint ?? ''}; explain() itself takes ${EXPLAIN_KEYS.join(', ')}`, cause: error });
    }
    throw error;
  }
  try {
    const source = await openImageInput(images, model, { resize });
    const fixed = checkTarget(target, classifier.numClasses, source.count);
    const [h, w] = classifier.inputShape;
    const k = classifier.numClasses;
    const chunks: Float32Array[] = [];
    const targets: number[] = [];
    const ids: string[] = [];
    const skipped: ExplainResult['skipped'] = [];
    for (let start = 0; start < source.count; start += batch) {
      const end = Math.min(source.count, start + batch);
      const loaded = await source.batch(start, end);
      skipped.push(...loaded.skipped);
      const held: tf.Tensor[] = [loaded.x];
      try {
        const n = loaded.ids.length;
        if (n === 0) continue;
        let batchTargets: number[];
        if (fixed === undefined) {
          const logits = classifier.logits(loaded.x);
          held.push(logits);
          const values = (await logits.data()) as Float32Array;
          batchTargets = Array.from({ length: n }, (_, i) => argmax(values.subarray(i * k, (i + 1) * k)));
        } else {
          batchTargets = typeof fixed === 'number' ? new Array<number>(n).fill(fixed) : loaded.indices.map((i) => fixed[i]);
        }
        const t = tf.tensor1d(batchTargets, 'int32');
        held.push(t);
        const map = await explainer.explain(loaded.x, t, { normalize });
        held.push(map);
        chunks.push((await map.data()) as Float32Array);
        targets.push(...batchTargets);
        ids.push(...loaded.ids);
      } finally {
        tf.dispose(held);
      }
    }
    const data = new Float32Array(ids.length * h * w);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.length;
    }
    return { data, shape: [ids.length, h, w], targets, ids, method: method as string, normalized: normalize, skipped };
  } finally {
    explainer.dispose?.();
  }
}
