import type { Batch, Dataset } from '@gaze/data';
import { GazeError, normalizePerSample, resize, tf } from '@gaze/engine';
import {
  LayersClassifier,
  correctCount,
  createTrainOptimizer,
  crossEntropy,
  decayedVariables,
  evaluateClassifier,
  loadNetworkState,
  saveNetworkState,
  type Classifier,
  type Head,
  type HeadContext,
  type MapExplainer,
  type TrainOptimizer,
} from '@gaze/models';
import type { DiaConfig } from './config.js';
import { ATTENTION_TAP, attentionParameterCount, attentionResnet, inferenceMilliseconds, lastStageMaps, networkShape } from '@gaze/shared-attention';

const FORMAT = 'gaze-head-dia';

/**
 * DIA (Huang et al., "DIANet: Dense-and-Implicit Attention Network", AAAI 2020): a resnet-small
 * whose blocks share one attention module per stage, trained from scratch with it (the method
 * changes the network, so it cannot sit on the frozen run classifier). `unit: none` trains the
 * same network without the module under the same recipe: the control for "DIA improves accuracy".
 * Its maps explain its own network (the evaluators score them against it).
 */
export class DiaHead implements Head {
  readonly type = 'dia';
  readonly model: LayersClassifier;
  readonly map: 'attention' | 'cam';
  private readonly optimizer: TrainOptimizer;
  private readonly decayed: tf.Variable[];

  constructor(
    classifier: Classifier,
    readonly config: DiaConfig,
    context: HeadContext,
  ) {
    const shape = networkShape(classifier, config, context.where);
    this.model = attentionResnet({
      inputShape: classifier.inputShape,
      numClasses: classifier.numClasses,
      seed: context.seed,
      ...shape,
      unit: config.unit,
      share: config.share,
      reduction: config.reduction,
    });
    if (config.map === 'attention' && config.unit === 'none') {
      throw new GazeError('map: attention needs an attention unit; unit none has none', { where: `${context.where}.map`, hint: 'use map: cam, or unit: lstm / se' });
    }
    this.map = config.map ?? (this.model.taps.includes(ATTENTION_TAP) ? 'attention' : 'cam');
    this.optimizer = createTrainOptimizer({ optimizer: 'sgd', lr: config.train.lr, momentum: config.train.momentum, nesterov: false, weightDecay: config.train.weightDecay });
    this.decayed = decayedVariables(this.model.trainableWeights);
  }

  get trainableWeights(): tf.Variable[] {
    return this.model.trainableWeights;
  }

  get schedule(): { epochs: number; batchSize: number; lr: number } {
    return this.config.train;
  }

  async trainStep(batch: Batch, options: { lr: number }): Promise<Record<string, number>> {
    const trainable = this.model.trainableWeights;
    let stats: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = this.model.logits(batch.images, { training: true });
      const loss = crossEntropy(logits, batch.labels);
      stats = tf.keep(tf.stack([loss, correctCount(logits, batch.labels)]));
      return loss;
    }, trainable);
    try {
      const [loss, correct] = await stats!.data();
      if (!Number.isFinite(loss)) throw new GazeError(`the dia network's loss became ${loss}`, { hint: 'lower the head\'s train.lr' });
      this.optimizer.step(trainable.map((v) => ({ name: v.name, tensor: grads[v.name] })), options.lr, this.decayed);
      return { loss, accuracy: correct / batch.ids.length };
    } finally {
      tf.dispose([stats!, value, ...Object.values(grads)]);
    }
  }

  /** Maps [B,h,w] (unnormalized, rectified) of the last stage for target classes. */
  rawMaps(x: tf.Tensor4D, target: tf.Tensor1D): tf.Tensor3D {
    return lastStageMaps(this.model, x, target, this.map);
  }

  explainer(name: string): MapExplainer {
    const [h, w] = this.model.inputShape;
    return {
      name,
      classifier: this.model,
      explain: async (x, target) => tf.tidy(() => resize(normalizePerSample(this.rawMaps(x, target)), [h, w])),
    };
  }

  /** Test accuracy, the network's and the module's parameter counts, and inference time per image. */
  async evaluate(dataset: Dataset): Promise<{ metric: string; value: number; n: number }[]> {
    const test = await evaluateClassifier(this.model, dataset.split('test'), { batchSize: this.config.train.batchSize });
    return [
      { metric: 'accuracy', value: test.accuracy, n: test.n },
      { metric: 'parameters', value: this.model.parameterCount, n: 1 },
      { metric: 'attention_parameters', value: attentionParameterCount(this.model), n: 1 },
      { metric: 'inference_ms_per_image', value: inferenceMilliseconds(this.model, { batchSize: this.config.train.batchSize }), n: 1 },
    ];
  }

  async save(dir: string): Promise<void> {
    await saveNetworkState(dir, { model: this.model.weights }, this.optimizer, { format: FORMAT, unit: this.config.unit });
  }

  async load(dir: string): Promise<void> {
    const state = await loadNetworkState(dir);
    try {
      if (state.metadata.format !== FORMAT || state.metadata.unit !== this.config.unit || !state.fits('model', this.model.weights)) {
        throw new GazeError(`${dir} does not hold this dia network (unit ${this.config.unit})`, { where: dir, hint: 'load it with the config it was trained with' });
      }
      await state.restore({ model: this.model.weights }, this.optimizer);
    } finally {
      state.dispose();
    }
  }

  dispose(): void {
    this.optimizer.dispose();
    this.model.dispose();
  }
}
