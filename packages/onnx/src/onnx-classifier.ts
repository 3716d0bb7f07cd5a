import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GazeError, loadWeightMap, saveWeightMap, tf, writeDirAtomic } from '@gaze/engine';
import { applyPreprocess, checkImageBatch, checkTapNames, type Classifier, type ForwardOptions, type Preprocess } from '@gaze/models';
import type { ModelMap } from './graph/model-map.js';
import type { OnnxGraph, OnnxNode } from './proto/read-model.js';
import { OnnxProgram, type Substitution } from './runtime/program.js';
import { NHWC, device, hostToTensor, inLayout, logical, logicalShape, type DeviceValue, type Value } from './runtime/value.js';

/** What a saved ONNX classifier directory holds besides the model file. */
export const SAVED_SPEC_FILE = 'gaze-onnx.json';
export const SAVED_MODEL_FILE = 'model.onnx';
export const SAVED_WEIGHTS_DIR = 'weights';

/** How a tap's value becomes a [B,h,w,c] feature map. */
export type TapForm =
  /** An NCHW feature map [B,C,h,w]: NHWC as stored. */
  | { kind: 'spatial' }
  /** Transformer tokens [B,T,C] with T = extra + h*w: the last h*w tokens on an h x w grid (the class token(s) first are left out). */
  | { kind: 'tokens'; extra: number; grid: [number, number] };

export interface TapInfo {
  /** The name the classifier knows the tap by (the module path or value name the user gave). */
  name: string;
  /** The ONNX value it reads. */
  value: string;
  form: TapForm;
  /** [h, w, c] of the feature map it gives. */
  shape: [number, number, number];
}

/** The most tokens before a ViT's patch grid that Gaze treats as extra (class, distillation, register tokens). */
const MAX_EXTRA_TOKENS = 8;

/** Whether a value is a spatial map or a token grid at the dry run's batch size, and how. */
export function tapForm(shape: readonly number[], batch: number): { form: TapForm; shape: [number, number, number] } | undefined {
  if (shape[0] !== batch) return undefined;
  if (shape.length === 4) return { form: { kind: 'spatial' }, shape: [shape[2], shape[3], shape[1]] };
  if (shape.length === 3) {
    const tokens = shape[1];
    const side = Math.floor(Math.sqrt(tokens));
    const extra = tokens - side * side;
    if (side >= 2 && extra <= MAX_EXTRA_TOKENS) return { form: { kind: 'tokens', extra, grid: [side, side] }, shape: [side, side, shape[2]] };
  }
  return undefined;
}

export interface OnnxClassifierSpec {
  /** The graph input the image goes to. */
  input: string;
  /** The value holding the pre-softmax scores [B, numClasses]. */
  logits: string;
  taps: TapInfo[];
  camTap: string;
  preprocess: Preprocess;
  inputShape: [number, number, number];
  numClasses: number;
  trainable: boolean;
  /** The batch size the file fixes, when the export baked one into its shapes (then batches run in pieces of it). */
  fixedBatch?: number;
}

/** A tap's activation replaced by `a` for one pass (what `logitsWithTap` runs). */
type TapSubstitute = { tap: TapInfo; a: tf.Tensor4D };
/** One pass's outputs: the logits when asked for, and each tap as [B,h,w,c]. */
type Evaluated = { logits?: tf.Tensor2D; features: Record<string, tf.Tensor4D> };

/**
 * A Classifier over an ONNX graph: the image [B,H,W,C] in [0,1] is preprocessed as the model
 * expects and fed to the graph as NCHW (stored NHWC); taps are module outputs read from the same
 * pass. Frozen unless `trainable`: then the prepared weights are tf.Variables an optimizer updates.
 */
export class OnnxClassifier implements Classifier {
  readonly type = 'onnx';
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  readonly taps: string[];
  readonly camTap: string;
  readonly trainableWeights: tf.Variable[];
  readonly weights: tf.Variable[];
  readonly parameterCount: number;
  readonly activationsPerImage: number;
  private readonly tapInfo = new Map<string, TapInfo>();
  private disposed = false;

  constructor(
    readonly graph: OnnxGraph,
    readonly program: OnnxProgram,
    readonly map: ModelMap,
    readonly spec: OnnxClassifierSpec,
    /** The backbone config it was built from, for the record and for save(). */
    readonly config: Record<string, unknown>,
  ) {
    this.inputShape = [...spec.inputShape];
    this.numClasses = spec.numClasses;
    for (const t of spec.taps) this.tapInfo.set(t.name, t);
    this.taps = spec.taps.map((t) => t.name);
    this.camTap = spec.camTap;
    const variables = program.cached().filter((t): t is tf.Variable => t instanceof tf.Variable);
    this.trainableWeights = spec.trainable ? variables : [];
    this.weights = this.trainableWeights;
    this.parameterCount = parameterCounter(graph, program)(program.nodes);
    const batch = spec.fixedBatch ?? 1;
    this.activationsPerImage = map.order.filter((r) => r.tensor).reduce((n, r) => n + r.shape.reduce((a, d) => a * d, 1), 0) / batch;
  }

  /** The tap as this classifier reads it. */
  tap(name: string): TapInfo {
    this.checkTaps([name]);
    return this.tapInfo.get(name)!;
  }

  logits(x: tf.Tensor4D, options: ForwardOptions = {}): tf.Tensor2D {
    return this.forward(x, [], options).logits;
  }

  features(x: tf.Tensor4D, taps: string[], options: ForwardOptions = {}): Record<string, tf.Tensor4D> {
    this.checkTaps(taps);
    if (taps.length === 0) return {};
    return tf.tidy(() => this.evaluate(x, taps, false, undefined, options).features);
  }

  forward(x: tf.Tensor4D, taps: string[], options: ForwardOptions = {}): { logits: tf.Tensor2D; features: Record<string, tf.Tensor4D> } {
    this.checkTaps(taps);
    return tf.tidy(() => {
      const { logits, features } = this.evaluate(x, taps, true, undefined, options);
      return { logits: logits!, features };
    });
  }

  logitsWithTap(x: tf.Tensor4D, tap: string, a: tf.Tensor4D, options: ForwardOptions = {}): tf.Tensor2D {
    this.checkTaps([tap]);
    const info = this.tapInfo.get(tap)!;
    const [h, w, c] = info.shape;
    if (a.rank !== 4 || a.shape[0] !== x.shape[0] || a.shape[1] !== h || a.shape[2] !== w || a.shape[3] !== c) {
      throw new Error(`logitsWithTap: tap ${tap} is [B,${h},${w},${c}], got [${a.shape.join(',')}]`);
    }
    return tf.tidy(() => this.evaluate(x, [], true, { tap: info, a }, options).logits!);
  }

  async save(dir: string): Promise<void> {
    this.assertAlive();
    const weights = Object.fromEntries(this.trainableWeights.map((v, i) => [`${i}`, v as tf.Tensor]));
    const externals = this.graph.externalFiles;
    await writeDirAtomic(dir, async (tmp) => {
      await copyFile(this.graph.file, join(tmp, SAVED_MODEL_FILE));
      for (const location of externals) {
        await mkdir(dirname(join(tmp, location)), { recursive: true });
        await copyFile(join(dirname(this.graph.file), location), join(tmp, location));
      }
      if (this.spec.trainable) await saveWeightMap(join(tmp, SAVED_WEIGHTS_DIR), weights, { count: this.trainableWeights.length });
      // The config as resolved: what loads this classifier again, whatever defaults it was built with.
      const { input, logits: output, preprocess, trainable } = this.spec;
      const config = { ...this.config, path: SAVED_MODEL_FILE, taps: this.taps, input, output, preprocess, trainable };
      const saved = { format: 'gaze-onnx-classifier', version: 1, spec: this.spec, config };
      await writeFile(join(tmp, SAVED_SPEC_FILE), JSON.stringify(saved, null, 2) + '\n');
    });
  }

  /** Restores trained weights that `save` wrote (the variables keep their identity). */
  async restoreWeights(dir: string): Promise<void> {
    const { weights } = await loadWeightMap(dir);
    try {
      const names = Object.keys(weights);
      if (names.length !== this.trainableWeights.length) {
        throw new GazeError(`${dir} holds ${names.length} weights, the model has ${this.trainableWeights.length}`, { hint: 'the weights were saved from another model; save it again' });
      }
      this.trainableWeights.forEach((v, i) => v.assign(weights[`${i}`]));
    } finally {
      tf.dispose(Object.values(weights));
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.program.dispose();
  }

  /** One pass (or one per fixed-size piece of the batch): the logits and the taps as [B,h,w,c]. */
  private evaluate(x: tf.Tensor4D, taps: string[], withLogits: boolean, substitute: TapSubstitute | undefined, options: ForwardOptions): Evaluated {
    this.assertAlive();
    this.checkInput(x);
    const piece = this.spec.fixedBatch;
    if (piece !== undefined && x.shape[0] !== piece) {
      if (x.shape[0] % piece !== 0) throw new GazeError(`the model was exported for batches of ${piece}, and ${x.shape[0]} images do not split into them`, { hint: "export it with a dynamic batch: torch.onnx.export(..., dynamic_axes={'input': {0: 'batch'}})" });
      const parts = tf.split(x, x.shape[0] / piece);
      const aParts = substitute ? tf.split(substitute.a, x.shape[0] / piece) : [];
      const results = parts.map((p, i) => this.evaluateOnce(p as tf.Tensor4D, taps, withLogits, substitute && { tap: substitute.tap, a: aParts[i] as tf.Tensor4D }, options));
      const features: Record<string, tf.Tensor4D> = {};
      for (const t of taps) features[t] = tf.concat(results.map((r) => r.features[t])) as tf.Tensor4D;
      return { logits: withLogits ? (tf.concat(results.map((r) => r.logits!)) as tf.Tensor2D) : undefined, features };
    }
    return this.evaluateOnce(x, taps, withLogits, substitute, options);
  }

  private evaluateOnce(x: tf.Tensor4D, taps: string[], withLogits: boolean, substitute: TapSubstitute | undefined, options: ForwardOptions): Evaluated {
    const unique = [...new Set(taps)];
    const wanted = [...(withLogits ? [this.spec.logits] : []), ...unique.map((t) => this.tapInfo.get(t)!.value)];
    const input = device(applyPreprocess(x, this.spec.preprocess), [...NHWC]);
    const values = this.program.run(new Map([[this.spec.input, input]]), [...new Set(wanted)], {
      training: options.training ?? false,
      substitute: substitute && tapSubstitution(substitute.tap, substitute.a),
    });
    const features: Record<string, tf.Tensor4D> = {};
    for (const t of unique) {
      const info = this.tapInfo.get(t)!;
      features[t] = asFeatureMap(values.get(info.value)!, info);
    }
    const logits = withLogits ? (logical(asDevice(values.get(this.spec.logits)!)) as tf.Tensor2D) : undefined;
    return { logits, features };
  }

  private checkTaps(taps: string[]): void {
    checkTapNames(this.taps, taps, 'this ONNX model', `add module paths to the backbone's taps (gaze model inspect ${this.graph.file} lists them)`);
  }

  private checkInput(x: tf.Tensor): void {
    const [h, w] = this.inputShape;
    checkImageBatch(x, this.inputShape, 'the ONNX model', `resize the images to ${h}x${w} (for torchvision models: transforms: [{ type: resize, size: 256 }, { type: center-crop, size: 224 }])`);
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('this ONNX classifier was disposed');
  }
}

/** A value as a device value; a host one as float32 whatever its dtype (logits and taps are float). */
function asDevice(v: Value): DeviceValue {
  if (v.kind === 'device') return v;
  return device(hostToTensor({ ...v.t, dtype: 'float32' }));
}

/** A tap's value as [B,h,w,c]. */
function asFeatureMap(v: Value, info: TapInfo): tf.Tensor4D {
  const d = asDevice(v);
  if (info.form.kind === 'spatial') return inLayout(d, NHWC) as tf.Tensor4D;
  const [b, tokens, channels] = logicalShape(d);
  const [h, w] = info.form.grid;
  const grid = tf.slice(logical(d), [0, info.form.extra, 0], [b, tokens - info.form.extra, channels]);
  return tf.reshape(grid, [b, h, w, channels]);
}

/** logitsWithTap's replacement: a feature map stands in for the tap's value (tokens keep their class token from the real pass). */
function tapSubstitution(info: TapInfo, a: tf.Tensor4D): Substitution {
  if (info.form.kind === 'spatial') {
    return { name: info.value, needsComputed: false, replace: () => device(a, [...NHWC]) };
  }
  const { extra } = info.form;
  return {
    name: info.value,
    needsComputed: true,
    replace: (computed) => {
      const tokens = logical(asDevice(computed!));
      const [b, , channels] = tokens.shape;
      const grid = tf.reshape(a, [b, a.shape[1] * a.shape[2], channels]);
      return device(extra > 0 ? tf.concat([tf.slice(tokens, [0, 0, 0], [b, extra, channels]), grid], 1) : grid);
    },
  };
}

/**
 * Counts the float initializer elements some runtime nodes read, each array once (a weight read
 * by two nodes, or through a Reshape folded at load, which keeps its array, counts once).
 */
export function parameterCounter(graph: OnnxGraph, program: OnnxProgram): (nodes: Iterable<OnnxNode>) => number {
  const initializerData = new Set([...graph.initializers.values()].filter((t) => t.dtype === 'float32').map((t) => t.data));
  return (nodes) => {
    const seen = new Set<unknown>();
    let n = 0;
    for (const node of nodes) {
      for (const i of node.inputs) {
        const t = i ? program.staticValue(i) : undefined;
        if (!t || !initializerData.has(t.data) || seen.has(t.data)) continue;
        seen.add(t.data);
        n += t.data.length;
      }
    }
    return n;
  };
}

