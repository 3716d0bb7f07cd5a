import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { disposeBatch, type Batch, type Dataset, type DatasetInfo } from '@gaze/data';
import { FusedAdam, GazeError, Rng, loadWeightMap, normalizePerSample, resize, saveWeightMap, tf } from '@gaze/engine';
import { crossEntropy, loadClassifier, type Classifier, type Head, type HeadContext, type MapExplainer } from '@gaze/models';
import type { EatConfig } from './config.js';
import { citedAttributes, textualExplanation } from './text.js';

const FORMAT = 'gaze-head-eat';

/** Mean binary cross-entropy of attribute logits z against 0/1 (or certainty) targets y, the stable form. */
export function attributeLoss(z: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))))) as tf.Scalar);
}

/** Average precision of scores against 0/1 labels (mean precision at each positive, ranked by score); NaN with no positive. */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let hits = 0;
  let sum = 0;
  order.forEach((i, rank) => {
    if (labels[i] >= 0.5) {
      hits++;
      sum += hits / (rank + 1);
    }
  });
  return hits === 0 ? NaN : sum / hits;
}

/**
 * EAT on a copy of the trained classifier: the copy keeps training jointly with an attribute
 * layer (global average pool of a tap -> one logit per attribute), loss CE + attributeWeight x
 * BCE. Its explanations: Grad-CAM of the class at the copy's CAM tap (the visual explanation),
 * CAM maps of each attribute through the attribute layer (grounding), and a sentence per image.
 * The copy leaves the run's classifier (and every other method's maps) untouched.
 */
export class EatHead implements Head {
  readonly type = 'eat';
  readonly tap: string;
  readonly attributeNames: string[];
  private readonly kernel: tf.Variable; // [C, A]
  private readonly bias: tf.Variable; // [A]
  private readonly optimizer = new FusedAdam(1e-3);
  /** Per class: the sum of its training images' attribute vectors, and how many there were. */
  private readonly signatureSums: Float64Array;
  private readonly signatureCounts: Float64Array;

  /** Copies the classifier (through a saved checkpoint) and builds the head on the copy. */
  static async create(classifier: Classifier, config: EatConfig, context: HeadContext): Promise<EatHead> {
    const info = context.info;
    if (!info?.has.attributes || !info.attributeNames?.length) {
      throw new GazeError(`the eat head needs a dataset with attributes; ${info ? `'${info.type}' has none` : 'no dataset was given'}`, {
        where: context.where,
        hint: 'use shapes or cub200 (their examples carry attribute vectors)',
      });
    }
    const dir = mkdtempSync(join(tmpdir(), 'gaze-eat-'));
    try {
      await classifier.save(dir);
      return new EatHead(await loadClassifier(dir), config, context, info);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  constructor(
    /** The head's own copy of the classifier, trained jointly. */
    readonly model: Classifier,
    readonly config: EatConfig,
    context: HeadContext,
    info: DatasetInfo,
  ) {
    this.tap = config.tap ?? model.taps[model.taps.length - 1];
    if (!model.taps.includes(this.tap)) {
      throw new GazeError(`tap '${this.tap}' is not one of the ${model.type} classifier's taps`, { where: `${context.where}.tap`, hint: `use one of: ${model.taps.join(', ')}` });
    }
    this.attributeNames = info.attributeNames!;
    const channels = tf.tidy(() => model.features(tf.zeros([1, ...model.inputShape]) as tf.Tensor4D, [this.tap])[this.tap].shape[3]);
    const attributes = this.attributeNames.length;
    const rng = new Rng(context.seed, 'head:eat');
    const bound = 1 / Math.sqrt(channels);
    const draw = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-bound, bound));
    const variable = (t: tf.Tensor) => {
      const v = tf.variable(t, true);
      t.dispose();
      return v;
    };
    this.kernel = variable(tf.tensor2d(draw(channels * attributes), [channels, attributes]));
    this.bias = variable(tf.tensor1d(draw(attributes)));
    this.signatureSums = new Float64Array(model.numClasses * attributes);
    this.signatureCounts = new Float64Array(model.numClasses);
  }

  get trainableWeights(): tf.Variable[] {
    return [...this.model.trainableWeights, this.kernel, this.bias];
  }

  get schedule(): { epochs: number; batchSize: number; lr: number } {
    return this.config.train;
  }

  /** Attribute logits [B,A] from the tap's features [B,h,w,C]. */
  private attributeLogits(features: tf.Tensor4D): tf.Tensor2D {
    return tf.add(tf.matMul(tf.mean(features, [1, 2]) as tf.Tensor2D, this.kernel as tf.Tensor2D), this.bias) as tf.Tensor2D;
  }

  /** Class logits and attribute probabilities of images x (inference). */
  predict(x: tf.Tensor4D): { logits: tf.Tensor2D; attributes: tf.Tensor2D } {
    return tf.tidy(() => {
      const { logits, features } = this.model.forward(x, [this.tap]);
      return { logits, attributes: tf.sigmoid(this.attributeLogits(features[this.tap])) as tf.Tensor2D };
    });
  }

  async trainStep(batch: Batch, options: { lr: number }): Promise<Record<string, number>> {
    if (!batch.attributes) throw new GazeError('the eat head got a batch without attributes', { hint: 'train it on a dataset with attributes (shapes, cub200)' });
    const labels = Array.from(batch.labels.dataSync());
    const attributes = batch.attributes.dataSync();
    const A = this.attributeNames.length;
    labels.forEach((c, b) => {
      this.signatureCounts[c]++;
      for (let k = 0; k < A; k++) this.signatureSums[c * A + k] += attributes[b * A + k];
    });
    const parts: tf.Scalar[] = [];
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const { logits, features } = this.model.forward(batch.images, [this.tap], { training: true });
        const ce = crossEntropy(logits, batch.labels);
        const bce = attributeLoss(this.attributeLogits(features[this.tap]), batch.attributes!);
        parts.push(tf.keep(ce.clone()), tf.keep(bce.clone()));
        return tf.add(ce, tf.mul(bce, this.config.attributeWeight)) as tf.Scalar;
      }, this.trainableWeights);
      parts.unshift(tf.keep(value));
      this.optimizer.learningRate = options.lr;
      this.optimizer.applyGradients(this.trainableWeights.map((v) => ({ name: v.name, tensor: grads[v.name] })));
    });
    const stacked = tf.stack(parts);
    const [loss, ce, bce] = stacked.dataSync();
    tf.dispose([stacked, ...parts]);
    if (!Number.isFinite(loss)) throw new GazeError(`the eat loss became ${loss}`, { hint: 'lower heads.<i>.train.lr' });
    return { loss, ce, attributes: bce };
  }

  /** Grad-CAM of the target class on the head's classifier, at its CAM tap. */
  explainer(name: string): MapExplainer {
    const model = this.model;
    const tap = model.camTap ?? model.taps[model.taps.length - 1];
    const [h, w] = model.inputShape;
    return {
      name,
      classifier: model,
      explain: async (x, target) =>
        tf.tidy(() => {
          const a = model.features(x, [tap])[tap];
          const onehot = tf.oneHot(tf.cast(target, 'int32'), model.numClasses);
          const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(model.logitsWithTap(x, tap, t as tf.Tensor4D), onehot)))(a);
          const cam = tf.relu(tf.sum(tf.mul(a, tf.mean(g, [1, 2], true)), 3)) as tf.Tensor3D;
          return resize(normalizePerSample(cam), [h, w]);
        }),
    };
  }

  /** CAM maps [B,H,W] in [0,1] grounding attribute `k` in each image (through the attribute layer). */
  attributeMaps(x: tf.Tensor4D, k: number): tf.Tensor3D {
    const [h, w] = this.model.inputShape;
    return tf.tidy(() => {
      const a = this.model.features(x, [this.tap])[this.tap];
      const weights = this.kernel.slice([0, k], [this.kernel.shape[0], 1]).reshape([1, 1, 1, -1]);
      return resize(normalizePerSample(tf.relu(tf.sum(tf.mul(a, weights), 3)) as tf.Tensor3D), [h, w]);
    });
  }

  /** Per class, the fraction of its training images having each attribute. */
  signature(c: number): Float64Array {
    const A = this.attributeNames.length;
    return this.signatureSums.slice(c * A, (c + 1) * A).map((s) => (this.signatureCounts[c] > 0 ? s / this.signatureCounts[c] : 0));
  }

  /**
   * One gallery row: per image, the map grounding the first attribute its sentence cites for the
   * target class (or its most probable attribute when it cites none), captioned with its name.
   */
  async galleryRows(x: tf.Tensor4D, targets: tf.Tensor1D, name: string): Promise<{ method: string; maps: Float32Array[]; captions: string[] }[]> {
    const { logits, attributes } = this.predict(x);
    const probs = attributes.dataSync();
    tf.dispose([logits, attributes]);
    const A = this.attributeNames.length;
    const chosen = Array.from(targets.dataSync()).map((c, b) => {
      const p = probs.subarray(b * A, (b + 1) * A);
      return citedAttributes(p, this.signature(c), { threshold: this.config.threshold, count: 1 })[0] ?? p.indexOf(Math.max(...p));
    });
    const maps: Float32Array[] = [];
    const [h, w] = this.model.inputShape;
    for (const k of new Set(chosen)) {
      const m = this.attributeMaps(x, k);
      const data = m.dataSync() as Float32Array;
      chosen.forEach((kb, b) => {
        if (kb === k) maps[b] = data.slice(b * h * w, (b + 1) * h * w);
      });
      m.dispose();
    }
    return [{ method: `${name} attribute`, maps, captions: chosen.map((k) => this.attributeNames[k]) }];
  }

  async describe(batch: Batch, classNames: string[]): Promise<string[]> {
    const { logits, attributes } = this.predict(batch.images);
    const argMax = tf.argMax(logits, 1);
    const predicted = Array.from(argMax.dataSync());
    const probs = attributes.dataSync();
    const labels = batch.labels.dataSync();
    const A = this.attributeNames.length;
    tf.dispose([logits, attributes, argMax]);
    return predicted.map((c, b) => {
      const text = textualExplanation(classNames[c], this.attributeNames, probs.subarray(b * A, (b + 1) * A), this.signature(c), { threshold: this.config.threshold, count: this.config.textAttributes });
      return `${batch.ids[b]}: ${text}${labels[b] === c ? '' : ` (is ${classNames[labels[b]]})`}`;
    });
  }

  /** accuracy of the jointly trained classifier, attribute_accuracy and attribute_map on the test split. */
  async evaluate(dataset: Dataset): Promise<{ metric: string; value: number; n: number }[]> {
    const split = dataset.split('test');
    const A = this.attributeNames.length;
    const scores: number[][] = Array.from({ length: A }, () => []);
    const truth: number[][] = Array.from({ length: A }, () => []);
    let correct = 0;
    let agree = 0;
    let n = 0;
    for await (const batch of split.batches({ batchSize: this.config.train.batchSize, shuffle: false, augment: false })) {
      try {
        const { logits, attributes } = this.predict(batch.images);
        const argMax = tf.argMax(logits, 1);
        const predicted = argMax.dataSync();
        const probs = attributes.dataSync();
        tf.dispose([logits, attributes, argMax]);
        const labels = batch.labels.dataSync();
        const target = batch.attributes!.dataSync();
        for (let b = 0; b < labels.length; b++) {
          if (predicted[b] === labels[b]) correct++;
          for (let k = 0; k < A; k++) {
            const p = probs[b * A + k];
            const y = target[b * A + k];
            if (p >= this.config.threshold === y >= 0.5) agree++;
            scores[k].push(p);
            truth[k].push(y);
          }
        }
        n += labels.length;
      } finally {
        disposeBatch(batch);
      }
    }
    const aps = scores.map((s, k) => averagePrecision(s, truth[k])).filter((v) => !Number.isNaN(v));
    return [
      { metric: 'accuracy', value: correct / n, n },
      { metric: 'attribute_accuracy', value: agree / (n * A), n },
      { metric: 'attribute_map', value: aps.reduce((a, b) => a + b, 0) / aps.length, n },
    ];
  }

  async save(dir: string): Promise<void> {
    const weights: Record<string, tf.Tensor> = { 'attributes/kernel': this.kernel, 'attributes/bias': this.bias };
    this.model.weights.forEach((v, i) => (weights[`model/${i}`] = v));
    const [iterations, ...slots] = await this.optimizer.getWeights();
    weights['optimizer/iterations'] = iterations.tensor;
    slots.forEach((s, i) => (weights[`optimizer/${i}`] = s.tensor));
    try {
      await saveWeightMap(dir, weights, {
        format: FORMAT,
        tap: this.tap,
        slots: slots.length,
        signatureSums: Array.from(this.signatureSums),
        signatureCounts: Array.from(this.signatureCounts),
      });
    } finally {
      iterations.tensor.dispose();
    }
  }

  async load(dir: string): Promise<void> {
    const { weights, metadata } = await loadWeightMap(dir);
    try {
      if (metadata.format !== FORMAT || metadata.tap !== this.tap || weights['attributes/kernel']?.shape.join() !== this.kernel.shape.join()) {
        throw new GazeError(`${dir} does not hold this eat head (tap ${this.tap})`, { where: dir, hint: 'load it with the config it was trained with' });
      }
      this.kernel.assign(weights['attributes/kernel']);
      this.bias.assign(weights['attributes/bias']);
      this.model.weights.forEach((v, i) => v.assign(weights[`model/${i}`]));
      this.signatureSums.set(metadata.signatureSums as number[]);
      this.signatureCounts.set(metadata.signatureCounts as number[]);
      const slots = Number(metadata.slots ?? 0);
      if (slots > 0) {
        // Adam's slots come as [first moments..., second moments...] in trainableWeights' order.
        const names = this.trainableWeights.map((v) => v.name);
        await this.optimizer.setWeights([
          { name: 'iter', tensor: weights['optimizer/iterations'] },
          ...Array.from({ length: slots }, (_, i) => ({ name: `${names[i % names.length]}/m${i < names.length ? '' : 'v'}`, tensor: weights[`optimizer/${i}`] })),
        ]);
      }
    } finally {
      tf.dispose(Object.values(weights));
    }
  }

  dispose(): void {
    tf.dispose([this.kernel, this.bias]);
    this.optimizer.dispose();
    this.model.dispose();
  }
}
