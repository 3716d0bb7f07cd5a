import { GazeError, didYouMean, saveLayersModel, tf } from '@gaze/engine';
import { z } from 'zod';
import type { Classifier, ForwardOptions } from '../classifier.js';
import { Preprocess, applyPreprocess } from './preprocess.js';

/** The key under `userDefinedMetadata` in model.json where a saved classifier keeps its spec. */
export const CLASSIFIER_METADATA_KEY = 'gazeClassifier';
export const CLASSIFIER_FORMAT_VERSION = 1;

/**
 * Everything besides the LayersModel that makes it a Classifier: which layer outputs are the taps
 * and the logits, and the input preprocessing. It is saved next to the model (as model.json
 * metadata) so `loadClassifier` rebuilds the same classifier.
 */
export const ClassifierSpec = z.object({
  version: z.literal(CLASSIFIER_FORMAT_VERSION),
  type: z.string(),
  inputShape: z.tuple([z.int(), z.int(), z.int()]),
  numClasses: z.int().positive(),
  /** Tap name -> the layer whose output it is, in forward order. */
  taps: z.array(z.object({ name: z.string(), layer: z.string() })),
  /** The tap CAM-style explainers use when none is named; absent: the last tap. */
  camTap: z.string().optional(),
  /**
   * Where the logits come from: a layer's output, or (`input`) the input of an activation layer,
   * e.g. the scores a separate softmax layer would normalize.
   */
  logits: z.object({ layer: z.string(), from: z.enum(['output', 'input']) }),
  preprocess: Preprocess,
  /** The backbone config it was built from, for the record. */
  config: z.unknown().optional(),
});
export type ClassifierSpec = z.infer<typeof ClassifierSpec>;

/**
 * A Classifier over a tfjs LayersModel: vgg-small and resnet-small build one, layers-model loads
 * one. Each set of requested outputs gets one multi-output model over the same layers (cached),
 * so logits and taps come from a single pass and the executor frees what nothing asked for.
 */
export class LayersClassifier implements Classifier {
  readonly type: string;
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  readonly taps: string[];
  readonly camTap: string | undefined;
  readonly trainableWeights: tf.Variable[];
  readonly weights: tf.Variable[];
  readonly parameterCount: number;
  readonly activationsPerImage: number;
  private readonly tapTensors = new Map<string, tf.SymbolicTensor>();
  private readonly logitsTensor: tf.SymbolicTensor;
  private readonly graphs = new Map<string, tf.LayersModel>();
  private readonly neededWithTap = new Map<number, Set<string>>();
  private disposed = false;

  constructor(
    /** The whole network, input -> ... -> the model's own outputs; owns the layers. */
    readonly model: tf.LayersModel,
    readonly spec: ClassifierSpec,
  ) {
    this.type = spec.type;
    this.inputShape = [...spec.inputShape];
    this.numClasses = spec.numClasses;
    this.taps = spec.taps.map((t) => t.name);
    if (spec.camTap !== undefined && !this.taps.includes(spec.camTap)) {
      throw new GazeError(`the classifier spec names camTap '${spec.camTap}', which is not one of its taps (${this.taps.join(', ')})`);
    }
    this.camTap = spec.camTap ?? this.taps.at(-1);
    for (const tap of spec.taps) this.tapTensors.set(tap.name, layerOutput(model, tap.layer));
    const logitsLayer = model.getLayer(spec.logits.layer);
    this.logitsTensor = spec.logits.from === 'output' ? layerOutput(model, spec.logits.layer) : (logitsLayer.input as tf.SymbolicTensor);
    // LayerVariable.read() is the tf.Variable itself; its identity survives setWeights/assign.
    this.trainableWeights = model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.weights = model.weights.map((w) => w.read() as tf.Variable);
    this.parameterCount = this.trainableWeights.reduce((n, w) => n + w.size, 0);
    this.activationsPerImage = model.layers.reduce((n, layer) => {
      try {
        const shape = layer.outputShape as (number | null)[];
        return n + (Array.isArray(shape[0]) ? 0 : shape.slice(1).reduce<number>((a, d) => a * (d ?? 1), 1));
      } catch {
        return n; // a layer applied at several shapes: left out of the estimate
      }
    }, 0);
  }

  // x: [B,H,W,C] in [0,1] -> [B,numClasses]
  logits(x: tf.Tensor4D, options: ForwardOptions = {}): tf.Tensor2D {
    return this.forward(x, [], options).logits;
  }

  // x: [B,H,W,C] in [0,1] -> name -> [B,h,w,c]
  features(x: tf.Tensor4D, taps: string[], options: ForwardOptions = {}): Record<string, tf.Tensor4D> {
    this.checkTaps(taps);
    if (taps.length === 0) return {};
    return tf.tidy(() => this.run(x, taps, false, options).features);
  }

  // x: [B,H,W,C] in [0,1] -> logits [B,numClasses] and name -> [B,h,w,c]
  forward(x: tf.Tensor4D, taps: string[], options: ForwardOptions = {}): { logits: tf.Tensor2D; features: Record<string, tf.Tensor4D> } {
    this.checkTaps(taps);
    return tf.tidy(() => {
      const { logits, features } = this.run(x, taps, true, options);
      return { logits: logits!, features };
    });
  }

  // x: [B,H,W,C] in [0,1], a: the tap's [B,h,w,c] -> [B,numClasses]
  logitsWithTap(x: tf.Tensor4D, tap: string, a: tf.Tensor4D, options: ForwardOptions = {}): tf.Tensor2D {
    this.assertAlive();
    this.checkTaps([tap]);
    this.checkInput(x);
    const tapTensor = this.tapTensors.get(tap)!;
    if (a.shape.some((d, i) => i > 0 && d !== tapTensor.shape[i])) {
      throw new Error(`logitsWithTap: tap ${tap} is [B,${tapTensor.shape.slice(1).join(',')}], got [${a.shape.join(',')}]`);
    }
    // Runs the layer graph node by node (layers are in topological order), substituting the tap,
    // and only the layers the logits still need once the tap is given (not those feeding only it).
    const needed = this.layersNeededWithTap(tapTensor.id);
    return tf.tidy(() => {
      const values = new Map<number, tf.Tensor>();
      values.set(this.model.inputs[0].id, applyPreprocess(x, this.spec.preprocess));
      values.set(tapTensor.id, a);
      for (const layer of this.model.layers) {
        if (layer.inboundNodes.length === 0 || layer.getClassName() === 'InputLayer' || !needed.has(layer.name)) continue;
        if (layer.inboundNodes.length > 1) throw new Error(`logitsWithTap: layer ${layer.name} is applied more than once; shared layers are not supported`);
        const node = layer.inboundNodes[0];
        const inputs = node.inputTensors.map((t) => values.get(t.id));
        if (inputs.some((v) => v === undefined)) throw new Error(`logitsWithTap: layer ${layer.name} runs before its inputs`);
        const output = layer.apply(inputs.length === 1 ? inputs[0]! : (inputs as tf.Tensor[]), { training: options.training ?? false }) as tf.Tensor;
        const symbolic = node.outputTensors[0];
        values.set(symbolic.id, symbolic.id === tapTensor.id ? a : output);
      }
      const logits = values.get(this.logitsTensor.id);
      if (!logits) throw new Error('logitsWithTap: the logits were not computed');
      return logits as tf.Tensor2D;
    });
  }

  /** Names of the layers between the tap and the logits (those whose outputs the logits need when the tap's output is given). */
  private layersNeededWithTap(tapId: number): Set<string> {
    const cached = this.neededWithTap.get(tapId);
    if (cached) return cached;
    const neededTensors = new Set<number>([this.logitsTensor.id]);
    const layers = new Set<string>();
    for (const layer of [...this.model.layers].reverse()) {
      const node = layer.inboundNodes[0];
      if (!node || !node.outputTensors.some((t) => neededTensors.has(t.id) && t.id !== tapId)) continue;
      layers.add(layer.name);
      for (const t of node.inputTensors) neededTensors.add(t.id);
    }
    this.neededWithTap.set(tapId, layers);
    return layers;
  }

  async save(dir: string): Promise<void> {
    this.assertAlive();
    await saveLayersModel(this.model, dir, { [CLASSIFIER_METADATA_KEY]: this.spec });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // The cached graphs share the model's layers; disposing the model frees every variable.
    this.graphs.clear();
    this.model.dispose();
  }

  private run(x: tf.Tensor4D, taps: string[], withLogits: boolean, options: ForwardOptions) {
    this.assertAlive();
    this.checkInput(x);
    const unique = [...new Set(taps)];
    const graph = this.graph(unique, withLogits);
    const z = applyPreprocess(x, this.spec.preprocess);
    const out = graph.apply(z, { training: options.training ?? false });
    const list = Array.isArray(out) ? out : [out];
    const offset = withLogits ? 1 : 0;
    const features: Record<string, tf.Tensor4D> = {};
    unique.forEach((name, i) => (features[name] = list[offset + i] as tf.Tensor4D));
    return { logits: withLogits ? (list[0] as tf.Tensor2D) : undefined, features };
  }

  /** The model from the input to [logits?, ...taps], built once per set of outputs. */
  private graph(taps: string[], withLogits: boolean): tf.LayersModel {
    const key = `${withLogits ? 'logits|' : ''}${taps.join('|')}`;
    let graph = this.graphs.get(key);
    if (!graph) {
      const outputs = [...(withLogits ? [this.logitsTensor] : []), ...taps.map((t) => this.tapTensors.get(t)!)];
      graph = tf.model({ inputs: this.model.inputs, outputs });
      this.graphs.set(key, graph);
    }
    return graph;
  }

  private checkTaps(taps: string[]): void {
    checkTapNames(this.taps, taps, this.type);
  }

  private checkInput(x: tf.Tensor): void {
    checkImageBatch(x, this.inputShape, this.type, 'resize the images in the dataset config (transforms: [{ type: resize, size: [H, W] }]) to the size the classifier was built for');
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error(`this ${this.type} classifier was disposed`);
  }
}

/** Throws a GazeError naming the first of `taps` not in `known` (`${label} has no tap ...`); `hint` follows the list of taps. */
export function checkTapNames(known: readonly string[], taps: readonly string[], label: string, hint?: string): void {
  for (const tap of taps) {
    if (known.includes(tap)) continue;
    const guess = didYouMean(tap, [...known]);
    throw new GazeError(`${label} has no tap '${tap}'${guess ? ` (did you mean '${guess}'?)` : ''}`, {
      hint: `its taps are: ${known.join(', ')}${hint ? `; ${hint}` : ''}`,
    });
  }
}

/** Throws a GazeError unless `x` is a [B,H,W,C] batch of `inputShape` images (`${label} takes ...`). */
export function checkImageBatch(x: tf.Tensor, [h, w, c]: readonly [number, number, number], label: string, hint: string): void {
  if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
    throw new GazeError(`${label} takes [B,${h},${w},${c}] images, got [${x.shape.join(',')}]`, { hint });
  }
}

/** The output of a layer that is applied once in `model`. */
export function layerOutput(model: tf.LayersModel, name: string): tf.SymbolicTensor {
  const layer = model.getLayer(name);
  const out = layer.inboundNodes.length > 1 ? layer.getOutputAt(0) : layer.output;
  if (Array.isArray(out)) throw new Error(`layer '${name}' has ${out.length} outputs; a tap or logits layer needs one`);
  return out;
}
