import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Batch, Dataset } from '@gaze/data';
import { attentionResnet, copyWeightsByName, networkShape } from '@gaze/shared-attention';
import { GazeError, Rng, normalizePerSample, resize, tf } from '@gaze/engine';
import {
  correctCount,
  createTrainOptimizer,
  crossEntropy,
  decayedVariables,
  evaluateClassifier,
  loadClassifier,
  loadNetworkState,
  saveNetworkState,
  type Classifier,
  type ForwardOptions,
  type Head,
  type HeadContext,
  type LayersClassifier,
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
 * BR-NPA (Gomez, Ling, Fréour, Mouchère, "BR-NPA: A Non-Parametric High-Resolution Attention Model to
 * improve the Interpretability of Attention", Pattern Recognition 2022) on a copy of the run's
 * classifier: the copy's features at one tap go through the non-parametric part attention, whose
 * part vectors feed a new linear layer; copy and layer train jointly. The explanations are the
 * ranked part maps (gallery rows) and their sum (or the first part) for the evaluators.
 */
export class BrnpaHead implements Head {
  readonly type = 'brnpa';
  /** The network being trained and explained: the low-resolution one, then (with highResolution) the student. */
  network: BrnpaClassifier;
  /** With highResolution, once distillation has started: the frozen low-resolution network. */
  teacher: BrnpaClassifier | undefined;
  private optimizer: TrainOptimizer;
  private trainable: tf.Variable[] | undefined;
  /** The kernels among `trainable` (weight decay's), computed with it. */
  private decayed: tf.Variable[] | undefined;
  private readonly where: string;
  private readonly seed: number;

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
    this.optimizer = this.newOptimizer();
    this.where = context.where;
    this.seed = context.seed;
    if (config.highResolution) this.studentSpec(); // fail at creation, not after training, when the backbone cannot be made finer
  }

  private newOptimizer(): TrainOptimizer {
    const t = this.config.train;
    return createTrainOptimizer({ optimizer: 'sgd', lr: t.lr, momentum: t.momentum, nesterov: false, weightDecay: t.weightDecay });
  }

  /** The student's architecture: the network's resnet-small with the last `stages` stages at stride 1. */
  private studentSpec() {
    const backbone = this.network.backbone;
    const shape = networkShape(backbone, {}, `${this.where}.highResolution`);
    const stages = this.config.highResolution!.stages;
    if (stages > shape.channels.length) {
      throw new GazeError(`highResolution.stages is ${stages} but the network has ${shape.channels.length} stages`, { where: `${this.where}.highResolution.stages` });
    }
    const strides = shape.channels.map((_, s) => (s >= shape.channels.length - stages ? 1 : s > 0 ? 2 : 1));
    return { inputShape: backbone.inputShape, numClasses: backbone.numClasses, seed: this.seed, ...shape, strides, unit: 'none' as const, share: 'stage' as const, reduction: 1 };
  }

  /** Starts distillation: the current network becomes the frozen teacher of a finer student with its weights. */
  private startDistillation(): string[] {
    const student = attentionResnet(this.studentSpec());
    copyWeightsByName((this.network.backbone as LayersClassifier).model, student.model);
    const initial = this.network.kernel.clone();
    const kernel = tf.variable(initial, true);
    initial.dispose();
    this.teacher = this.network;
    this.network = new BrnpaClassifier(student, this.tap, kernel, this.config);
    this.trainable = undefined;
    this.decayed = undefined;
    this.optimizer.dispose();
    this.optimizer = this.newOptimizer();
    const size = (c: Classifier) => tf.tidy(() => c.features(tf.zeros([1, ...c.inputShape]) as tf.Tensor4D, [this.tap])[this.tap].shape.slice(1, 3).join('x'));
    return [`higher resolution: distilling into a student whose ${this.tap} is ${size(student)} (the network's: ${size(this.teacher.backbone)})`];
  }

  async afterEpoch(epoch: number): Promise<string[]> {
    return this.config.highResolution && epoch === this.config.train.epochs && !this.teacher ? this.startDistillation() : [];
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
    const t = this.config.train;
    return { epochs: t.epochs + (this.config.highResolution?.epochs ?? 0), batchSize: t.batchSize, lr: t.lr };
  }

  async trainStep(batch: Batch, options: { lr: number }): Promise<Record<string, number>> {
    const trainable = this.trainableWeights;
    let stats: tf.Tensor | undefined;
    const distill = this.teacher && this.config.highResolution;
    const teacherLogits = distill ? this.teacher!.logits(batch.images) : undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = this.network.logits(batch.images, { training: true });
      let loss = crossEntropy(logits, batch.labels);
      if (distill) {
        // alpha * T^2 * KL(softmax(zT/T) || softmax(zS/T)), batch mean, + (1 - alpha) * CE
        const t = distill.temperature;
        const target = tf.softmax(tf.div(teacherLogits!, t));
        const kl = tf.div(tf.sum(tf.mul(target, tf.sub(tf.log(tf.add(target, 1e-12)), tf.logSoftmax(tf.div(logits, t))))), logits.shape[0]);
        loss = tf.add(tf.mul(kl, distill.alpha * t * t), tf.mul(loss, 1 - distill.alpha)) as tf.Scalar;
      }
      stats = tf.keep(tf.stack([loss, correctCount(logits, batch.labels)]));
      return loss;
    }, trainable);
    teacherLogits?.dispose();
    try {
      const [loss, correct] = await stats!.data();
      if (!Number.isFinite(loss)) throw new GazeError(`the brnpa loss became ${loss}`, { hint: "lower the head's train.lr" });
      this.decayed ??= decayedVariables(trainable);
      this.optimizer.step(trainable.map((v) => ({ name: v.name, tensor: grads[v.name] })), options.lr, this.decayed);
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
    const groups = { model: this.network.weights, ...(this.teacher ? { teacher: this.teacher.weights } : {}) };
    await saveNetworkState(dir, groups, this.optimizer, { format: FORMAT, tap: this.tap, parts: this.config.parts, distilling: this.teacher !== undefined });
  }

  async load(dir: string): Promise<void> {
    const state = await loadNetworkState(dir);
    try {
      const { metadata } = state;
      if (metadata.distilling === true && this.config.highResolution && !this.teacher) this.startDistillation();
      if (metadata.format !== FORMAT || metadata.tap !== this.tap || metadata.parts !== this.config.parts || !state.fits('model', this.network.weights)) {
        throw new GazeError(`${dir} does not hold this brnpa head (tap ${this.tap}, ${this.config.parts} parts)`, { where: dir, hint: 'load it with the config it was trained with' });
      }
      await state.restore({ model: this.network.weights, ...(this.teacher ? { teacher: this.teacher.weights } : {}) }, this.optimizer);
    } finally {
      state.dispose();
    }
  }

  dispose(): void {
    this.optimizer.dispose();
    this.network.dispose();
    this.teacher?.dispose();
  }
}
