import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Batch, Dataset } from '@gaze/data';
import { GazeError, Rng, loadWeightMap, normalizePerSample, resize, saveWeightMap, tf } from '@gaze/engine';
import {
  correctCount,
  createTrainOptimizer,
  crossEntropy,
  decayedVariables,
  evaluateClassifier,
  loadClassifier,
  type Classifier,
  type ForwardOptions,
  type Head,
  type HeadContext,
  type MapExplainer,
  type TrainOptimizer,
} from '@gaze/models';
import type { BrnpaConfig } from './config.js';
import { partMaps, representativeAttention, type PartAttention } from './representatives.js';
import { attentionCost } from './speed.js';

const FORMAT = 'gaze-head-brnpa';

/**
 * The BR-NPA network as a Classifier (what its maps explain and the evaluators score): the
 * backbone copy up to the tap, the non-parametric part attention, and a bias-free linear layer on
 * the concatenated part vectors. Taps are the copy's, up to and including the attended one.
 */
export class BrnpaClassifier implements Classifier {
  readonly type: string;
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  readonly taps: string[];
  readonly camTap: string;

  constructor(
    readonly backbone: Classifier,
    readonly tap: string,
    readonly kernel: tf.Variable, // [K*C, classes]
    readonly options: { parts: number; refine: boolean; dropout: number },
  ) {
    this.type = `${backbone.type}+brnpa`;
    this.inputShape = backbone.inputShape;
    this.numClasses = backbone.numClasses;
    this.taps = backbone.taps.slice(0, backbone.taps.indexOf(tap) + 1);
    this.camTap = tap;
  }

  /** Logits and part attention from the attended tap's features [B,h,w,C]. */
  fromFeatures(features: tf.Tensor4D, options: ForwardOptions = {}): { logits: tf.Tensor2D; parts: PartAttention } {
    const result = tf.tidy(() => {
      const parts = representativeAttention(features, this.options);
      const [b, k, c] = parts.vectors.shape;
      let z = tf.reshape(parts.vectors, [b, k * c]) as tf.Tensor2D;
      if (options.training && this.options.dropout > 0) z = tf.dropout(z, this.options.dropout) as tf.Tensor2D;
      return { logits: tf.matMul(z, this.kernel as tf.Tensor2D), parts: { ...parts } };
    });
    return result as { logits: tf.Tensor2D; parts: PartAttention };
  }

  logits(x: tf.Tensor4D, options: ForwardOptions = {}): tf.Tensor2D {
    return this.forward(x, [], options).logits;
  }

  features(x: tf.Tensor4D, taps: string[], options: ForwardOptions = {}): Record<string, tf.Tensor4D> {
    this.checkTaps(taps);
    return this.backbone.features(x, taps, options);
  }

  forward(x: tf.Tensor4D, taps: string[], options: ForwardOptions = {}): { logits: tf.Tensor2D; features: Record<string, tf.Tensor4D> } {
    this.checkTaps(taps);
    return tf.tidy(() => {
      const features = this.backbone.features(x, [...new Set([...taps, this.tap])], options);
      const { logits } = this.fromFeatures(features[this.tap], options);
      return { logits, features: Object.fromEntries(taps.map((t) => [t, features[t]])) };
    });
  }

  logitsWithTap(x: tf.Tensor4D, tap: string, a: tf.Tensor4D, options: ForwardOptions = {}): tf.Tensor2D {
    this.checkTaps([tap]);
    if (tap === this.tap) return tf.tidy(() => this.fromFeatures(a, options).logits);
    // Substituting an earlier tap would need the backbone copy's own logitsWithTap up to the attended tap.
    throw new GazeError(`the brnpa network substitutes only its attended tap '${this.tap}', not '${tap}'`, { hint: `explain it at tap ${this.tap}` });
  }

  get trainableWeights(): tf.Variable[] {
    return [...this.backbone.trainableWeights, this.kernel];
  }

  get weights(): tf.Variable[] {
    return [...this.backbone.weights, this.kernel];
  }

  get parameterCount(): number {
    return this.trainableWeights.reduce((n, v) => n + v.size, 0);
  }

  async save(): Promise<void> {
    throw new GazeError('a brnpa network is saved with its head (checkpoints/heads/<name>), not as a classifier', { hint: 'load it through the brnpa head config' });
  }

  private checkTaps(taps: string[]): void {
    const unknown = taps.find((t) => !this.taps.includes(t));
    if (unknown) throw new GazeError(`the brnpa network has no tap '${unknown}'`, { hint: `its taps: ${this.taps.join(', ')}` });
  }

  dispose(): void {
    this.kernel.dispose();
    this.backbone.dispose();
  }
}

/**
 * BR-NPA (Gomez, Ling, Mouchère, "BR-NPA: A Non-Parametric High-Resolution Attention Model to
 * improve the Interpretability of Attention", Pattern Recognition 2022) on a copy of the run's
 * classifier: the copy's features at one tap go through the non-parametric part attention, whose
 * part vectors feed a new linear layer; copy and layer train jointly. The explanations are the
 * ranked part maps (gallery rows) and their sum (or the first part) for the evaluators.
 */
export class BrnpaHead implements Head {
  readonly type = 'brnpa';
  readonly network: BrnpaClassifier;
  private readonly optimizer: TrainOptimizer;
  private trainable: tf.Variable[] | undefined;

  static async create(classifier: Classifier, config: BrnpaConfig, context: HeadContext): Promise<BrnpaHead> {
    const tap = config.tap ?? classifier.taps[classifier.taps.length - 1];
    if (!classifier.taps.includes(tap)) {
      throw new GazeError(`tap '${tap}' is not one of the ${classifier.type} classifier's taps`, { where: `${context.where}.tap`, hint: `use one of: ${classifier.taps.join(', ')}` });
    }
    const dir = mkdtempSync(join(tmpdir(), 'gaze-brnpa-'));
    try {
      await classifier.save(dir);
      return new BrnpaHead(await loadClassifier(dir), tap, config, context);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  constructor(
    copy: Classifier,
    readonly tap: string,
    readonly config: BrnpaConfig,
    context: HeadContext,
  ) {
    const channels = tf.tidy(() => copy.features(tf.zeros([1, ...copy.inputShape]) as tf.Tensor4D, [tap])[tap].shape[3]);
    const inputs = config.parts * channels;
    // PyTorch's Linear default: uniform in +-1/sqrt(fan in), from the run seed.
    const rng = new Rng(context.seed, 'head:brnpa');
    const bound = 1 / Math.sqrt(inputs);
    const init = tf.tensor2d(Float32Array.from({ length: inputs * copy.numClasses }, () => rng.uniform(-bound, bound)), [inputs, copy.numClasses]);
    const kernel = tf.variable(init, true);
    init.dispose();
    this.network = new BrnpaClassifier(copy, tap, kernel, config);
    const t = config.train;
    this.optimizer = createTrainOptimizer({ optimizer: 'sgd', lr: t.lr, momentum: t.momentum, nesterov: false, weightDecay: t.weightDecay });
  }

  /** The variables the loss reaches: the backbone up to the tap and the linear layer (not the copy's unused classifier head). */
  get trainableWeights(): tf.Variable[] {
    if (!this.trainable) {
      const x = tf.zeros([1, ...this.network.inputShape]) as tf.Tensor4D;
      const { grads } = tf.variableGrads(() => tf.sum(this.network.logits(x, { training: false })) as tf.Scalar, this.network.trainableWeights);
      this.trainable = this.network.trainableWeights.filter((v) => grads[v.name] !== undefined);
      tf.dispose([x, ...Object.values(grads)]);
    }
    return this.trainable;
  }

  get schedule(): { epochs: number; batchSize: number; lr: number } {
    return this.config.train;
  }

  async trainStep(batch: Batch, options: { lr: number }): Promise<Record<string, number>> {
    const trainable = this.trainableWeights;
    let stats: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = this.network.logits(batch.images, { training: true });
      const loss = crossEntropy(logits, batch.labels);
      stats = tf.keep(tf.stack([loss, correctCount(logits, batch.labels)]));
      return loss;
    }, trainable);
    try {
      const [loss, correct] = await stats!.data();
      if (!Number.isFinite(loss)) throw new GazeError(`the brnpa loss became ${loss}`, { hint: "lower the head's train.lr" });
      this.optimizer.step(trainable.map((v) => ({ name: v.name, tensor: grads[v.name] })), options.lr, decayedVariables(trainable));
      return { loss, accuracy: correct / batch.ids.length };
    } finally {
      tf.dispose([stats!, value, ...Object.values(grads)]);
    }
  }

  /** Part maps [B,K,h,w] (feature-norm weighted) of images x, part 1 the most active. */
  partMaps(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const features = this.network.backbone.features(x, [this.tap])[this.tap];
      const [, h, w] = features.shape;
      return partMaps(representativeAttention(features, this.config), h, w);
    });
  }

  explainer(name: string): MapExplainer {
    const [h, w] = this.network.inputShape;
    return {
      name,
      classifier: this.network,
      explain: async (x) =>
        tf.tidy(() => {
          const maps = this.partMaps(x);
          const chosen = this.config.explain === 'first' ? tf.squeeze(tf.slice(maps, [0, 0, 0, 0], [-1, 1, -1, -1]), [1]) : tf.sum(maps, 1);
          return resize(normalizePerSample(chosen as tf.Tensor3D), [h, w]);
        }),
    };
  }

  /** One gallery row per part, in rank order. */
  async galleryRows(x: tf.Tensor4D, _targets: tf.Tensor1D, name: string): Promise<{ method: string; maps: Float32Array[] }[]> {
    const [h, w] = this.network.inputShape;
    const k = this.config.parts;
    const maps = tf.tidy(() => {
      const parts = this.partMaps(x);
      const [b, , ph, pw] = parts.shape;
      const flat = tf.reshape(parts, [b * k, ph, pw]) as tf.Tensor3D;
      return resize(normalizePerSample(flat), [h, w]);
    });
    const data = maps.dataSync() as Float32Array;
    maps.dispose();
    const size = h * w;
    return Array.from({ length: k }, (_, part) => ({
      method: `${name} part ${part + 1}`,
      maps: Array.from({ length: x.shape[0] }, (_, b) => data.slice((b * k + part) * size, (b * k + part + 1) * size)),
    }));
  }

  /**
   * Test accuracy and parameters of the BR-NPA network, and the cost of its attention step against
   * a parametric attention module at the same resolution (B-CNN's map head): time per image,
   * peak memory and parameters.
   */
  async evaluate(dataset: Dataset): Promise<{ metric: string; value: number; n: number }[]> {
    const batchSize = this.config.train.batchSize;
    const test = await evaluateClassifier(this.network, dataset.split('test'), { batchSize });
    const features = tf.tidy(() => this.network.backbone.features(tf.randomUniform([batchSize, ...this.network.inputShape], 0, 1, 'float32', 0) as tf.Tensor4D, [this.tap])[this.tap]);
    try {
      const cost = await attentionCost(features, { parts: this.config.parts, refine: this.config.refine });
      return [
        { metric: 'accuracy', value: test.accuracy, n: test.n },
        { metric: 'parameters', value: this.network.parameterCount, n: 1 },
        { metric: 'attention_ms_per_image', value: cost.nonParametric.msPerImage, n: 1 },
        { metric: 'attention_peak_kib', value: cost.nonParametric.peakKiB, n: 1 },
        { metric: 'attention_parameters', value: 0, n: 1 },
        { metric: 'parametric_attention_ms_per_image', value: cost.parametric.msPerImage, n: 1 },
        { metric: 'parametric_attention_peak_kib', value: cost.parametric.peakKiB, n: 1 },
        { metric: 'parametric_attention_parameters', value: cost.parametric.parameters, n: 1 },
      ];
    } finally {
      features.dispose();
    }
  }

  async save(dir: string): Promise<void> {
    const weights: Record<string, tf.Tensor> = {};
    this.network.weights.forEach((v, i) => (weights[`model/${i}`] = v));
    const { tensors, owned } = await this.optimizer.state();
    tensors.forEach((t, i) => (weights[`optimizer/${i}`] = t.tensor));
    try {
      await saveWeightMap(dir, weights, { format: FORMAT, tap: this.tap, parts: this.config.parts, slots: tensors.map((t) => t.name) });
    } finally {
      tf.dispose(owned);
    }
  }

  async load(dir: string): Promise<void> {
    const { weights, metadata } = await loadWeightMap(dir);
    try {
      const fits = this.network.weights.every((v, i) => weights[`model/${i}`]?.shape.join() === v.shape.join());
      if (metadata.format !== FORMAT || metadata.tap !== this.tap || metadata.parts !== this.config.parts || !fits) {
        throw new GazeError(`${dir} does not hold this brnpa head (tap ${this.tap}, ${this.config.parts} parts)`, { where: dir, hint: 'load it with the config it was trained with' });
      }
      this.network.weights.forEach((v, i) => v.assign(weights[`model/${i}`]));
      const slots = (metadata.slots as string[] | undefined) ?? [];
      await this.optimizer.restore(slots.map((name, i) => ({ name, tensor: weights[`optimizer/${i}`] })));
    } finally {
      tf.dispose(Object.values(weights));
    }
  }

  dispose(): void {
    this.optimizer.dispose();
    this.network.dispose();
  }
}
