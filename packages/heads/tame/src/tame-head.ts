import type { Batch } from '@gaze/data';
import { FusedMomentum, GazeError, loadWeightMap, normalizePerSample, resize, saveWeightMap, tf } from '@gaze/engine';
import type { Classifier, Head, HeadContext, MapExplainer } from '@gaze/models';
import { TameAttention, type BranchInput } from './attention.js';
import { MAX_MAP_SIDE, type TameConfig } from './config.js';
import { tameLoss } from './loss.js';

const FORMAT = 'gaze-head-tame';

/**
 * The taps TAME attends over: the configured ones, else the classifier's last three block
 * outputs (shallowest first; taps named `*.conv`, a block's pre-pool conv, are left out), as the
 * reference taps VGG-16's pool3/4/5 and ResNet-50's layer2/3/4.
 */
export function tameTaps(classifier: Classifier, config: Pick<TameConfig, 'taps'>, where: string): string[] {
  const taps = config.taps ?? classifier.taps.filter((t) => !t.endsWith('.conv')).slice(-3);
  for (const [i, tap] of taps.entries()) {
    if (!classifier.taps.includes(tap)) {
      throw new GazeError(`tap '${tap}' is not one of the ${classifier.type} classifier's taps`, { where: `${where}.taps.${i}`, hint: `use some of: ${classifier.taps.join(', ')}` });
    }
  }
  return taps;
}

/** The feature shapes of `taps` for one image of the classifier's input size. */
function branchInputs(classifier: Classifier, taps: string[]): BranchInput[] {
  return tf.tidy(() => {
    const features = classifier.features(tf.zeros([1, ...classifier.inputShape]) as tf.Tensor4D, taps);
    return taps.map((tap) => ({ tap, shape: features[tap].shape.slice(1) as [number, number, number] }));
  });
}

/**
 * TAME on a frozen classifier: trains the attention so that the image masked by the target
 * class's map keeps that class (cross-entropy) with small (area) and smooth (TV) maps. Masking is
 * in pixel space, before the classifier's normalisation, as in the reference. The classifier runs
 * in inference mode throughout (its batch norms use their moving statistics and are not updated;
 * the reference left a frozen ResNet-50 in train mode).
 */
export class TameHead implements Head {
  readonly type = 'tame';
  readonly taps: string[];
  readonly attention: TameAttention;
  private readonly optimizer: FusedMomentum;
  /** The head's bias variables (the reference's second parameter group). */
  private readonly biasNames: Set<string>;

  constructor(
    readonly classifier: Classifier,
    readonly config: TameConfig,
    context: HeadContext,
  ) {
    this.taps = tameTaps(classifier, config, context.where);
    const inputs = branchInputs(classifier, this.taps);
    const side = Math.min(inputs[0].shape[0], MAX_MAP_SIDE);
    this.attention = new TameAttention(inputs, classifier.numClasses, config.variant, side, context.seed);
    this.optimizer = new FusedMomentum(config.train.lr, config.train.momentum, true);
    this.biasNames = new Set(this.trainableWeights.filter((v) => this.attention.isBias(v)).map((v) => v.name));
  }

  get trainableWeights(): tf.Variable[] {
    return this.attention.trainableWeights;
  }

  get schedule(): { epochs: number; batchSize: number; lr: number } {
    const { epochs, batchSize, lr } = this.config.train;
    return { epochs, batchSize, lr };
  }

  /** Pre-sigmoid maps [B,S,S,K] for images x. */
  maps(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const features = this.classifier.features(x, this.taps);
      return this.attention.apply(this.taps.map((t) => features[t]), false);
    });
  }

  async trainStep(batch: Batch, options: { lr: number }): Promise<Record<string, number>> {
    const { images: x, labels } = batch;
    const [h, w] = this.classifier.inputShape;
    const coefficients = this.config.loss;
    const parts: tf.Scalar[] = [];
    tf.tidy(() => {
      // The frozen classifier's features and prediction: constants for the head's gradient.
      const { logits, features } = this.classifier.forward(x, this.taps);
      const target = (this.config.target === 'label' ? tf.cast(labels, 'int32') : tf.argMax(logits, 1)) as tf.Tensor1D;
      const taps = this.taps.map((t) => features[t]);
      const { value, grads } = tf.variableGrads(() => {
        const masks = TameAttention.select(tf.sigmoid(this.attention.apply(taps, true)), target);
        const masked = tf.mul(x, resize(masks, [h, w]).expandDims(3)) as tf.Tensor4D;
        const loss = tameLoss(masks, this.classifier.logits(masked), target, coefficients);
        parts.push(...[loss.ce, loss.area, loss.tv].map((p) => tf.keep(p.clone())));
        return loss.total;
      }, this.trainableWeights);
      parts.unshift(tf.keep(value));
      // The reference's two parameter groups: weights with coupled weight decay, biases at twice
      // the rate without (applied inside the optimizer's pass over each variable).
      const decay = this.config.train.weightDecay;
      this.optimizer.setLearningRate(options.lr);
      this.optimizer.applyGradients(grads, (name) => (this.biasNames.has(name) ? { scale: 2 } : { decay }));
    });
    // One read-back for the four numbers (each dataSync waits for the step).
    const stacked = tf.stack(parts);
    const [loss, ce, area, tv] = stacked.dataSync();
    tf.dispose([stacked, ...parts]);
    if (!Number.isFinite(loss)) {
      throw new GazeError(`the TAME loss became ${loss}`, { hint: 'lower heads.<i>.train.lr (the one-cycle maximum), or check the classifier for NaN weights' });
    }
    return { loss, ce, area, tv };
  }

  explainer(name: string): MapExplainer {
    const [h, w] = this.classifier.inputShape;
    return {
      name,
      // The target class's pre-sigmoid map, min-max normalised per image, upsampled (the reference's inference).
      explain: async (x, target) => tf.tidy(() => resize(normalizePerSample(TameAttention.select(this.maps(x), target)), [h, w])),
    };
  }

  /** The head's variables and its optimizer's momentum slots (by position: tfjs keeps them in the order the gradients come, always trainableWeights' order). */
  async save(dir: string): Promise<void> {
    const [iterations, ...slots] = await this.optimizer.getWeights();
    const optimizer = Object.fromEntries([['optimizer/iterations', iterations.tensor], ...slots.map((s, i) => [`optimizer/${i}`, s.tensor])]);
    try {
      await saveWeightMap(dir, { ...this.attention.namedWeights(), ...optimizer }, { format: FORMAT, variant: this.config.variant, taps: this.taps, numClasses: this.classifier.numClasses, slots: slots.length });
    } finally {
      iterations.tensor.dispose(); // getWeights makes a fresh iterations scalar; the slots are the optimizer's own
    }
  }

  async load(dir: string): Promise<void> {
    const { weights, metadata } = await loadWeightMap(dir);
    try {
      const same = metadata.format === FORMAT && metadata.variant === this.config.variant && JSON.stringify(metadata.taps) === JSON.stringify(this.taps);
      if (!same) {
        throw new GazeError(`${dir} holds a ${String(metadata.format)} (${String(metadata.variant)}, taps ${JSON.stringify(metadata.taps)}), not this TAME head (${this.config.variant}, taps ${JSON.stringify(this.taps)})`, {
          where: dir,
          hint: 'load it with the config it was trained with, or retrain the head',
        });
      }
      for (const [name, variable] of Object.entries(this.attention.namedWeights())) {
        const saved = weights[name];
        if (!saved || saved.shape.join() !== variable.shape.join()) throw new GazeError(`${dir} has no ${name} of shape [${variable.shape}]`, { where: dir });
        variable.assign(saved);
      }
      const slots = Number(metadata.slots ?? 0);
      if (slots > 0) {
        const names = this.trainableWeights.map((v) => v.name);
        await this.optimizer.setWeights([
          { name: 'iter', tensor: weights['optimizer/iterations'] },
          ...Array.from({ length: slots }, (_, i) => ({ name: `${names[i]}/momentum`, tensor: weights[`optimizer/${i}`] })),
        ]);
      }
    } finally {
      tf.dispose(Object.values(weights));
    }
  }

  dispose(): void {
    this.attention.dispose();
    this.optimizer.dispose();
  }
}
