import { disposeBatch, type Batch, type Dataset } from '@gaze/data';
import { GazeError, Rng, normalizePerSample, resize, tf } from '@gaze/engine';
import {
  ATTENTION_TAP,
  attentionParameterCount,
  attentionResnet,
  attentionSupernet,
  blockCount,
  copyWeightsByName,
  inferenceMilliseconds,
  lastStageMaps,
  networkShape,
  type AttentionResnetSpec,
} from '@gaze/shared-attention';
import {
  applyPreprocess,
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
  type LayersClassifier,
  type MapExplainer,
  type TrainOptimizer,
} from '@gaze/models';
import type { EanConfig } from './config.js';
import { ConnectionPolicy, connectionPattern, type PolicyState } from './policy.js';

const FORMAT = 'gaze-head-ean';

/** What the search found, for the report. */
export interface SearchResult {
  connections: boolean[];
  probabilities: number[];
  /** Validation accuracy (on the search images, supernet weights) of the chosen, every-block and no-block schemes. */
  accuracy: { chosen: number; dense: number; none: number };
  rewards: number[];
}

/**
 * EAN (Huang, Liang, Liang, He, Yang, "Efficient Attention Network", arXiv 2011.14058) on
 * resnet-small: a supernet with the shared module behind a gate at every block trains under a
 * uniformly random scheme per batch; a REINFORCE policy then searches which blocks to connect
 * (reward: validation accuracy minus a cost per connection) and the chosen network is fine-tuned
 * from the supernet's weights. Like DIA it trains its own network, and its maps explain that
 * network.
 */
export class EanHead implements Head {
  readonly type = 'ean';
  readonly spec: AttentionResnetSpec;
  readonly policy: ConnectionPolicy;
  /** Set once the search has run: the chosen network, fine-tuned from there on. */
  network: LayersClassifier | undefined;
  search: SearchResult | undefined;
  private supernet: tf.LayersModel | undefined;
  private optimizer: TrainOptimizer;
  private decayed: tf.Variable[];
  /** Supernet steps taken: the gates of step k are drawn from their own stream, so a resumed run draws the same. */
  private supernetSteps = 0;
  private readonly seed: number;

  constructor(
    classifier: Classifier,
    readonly config: EanConfig,
    context: HeadContext,
  ) {
    if (config.search.afterEpoch >= config.train.epochs) {
      throw new GazeError(`the search runs after epoch ${config.search.afterEpoch}, but training has only ${config.train.epochs} epochs`, {
        where: `${context.where}.search.afterEpoch`,
        hint: 'leave epochs after the search to fine-tune the chosen network: afterEpoch < train.epochs',
      });
    }
    this.seed = context.seed;
    this.spec = {
      inputShape: classifier.inputShape,
      numClasses: classifier.numClasses,
      seed: context.seed,
      ...networkShape(classifier, config, context.where),
      unit: config.unit,
      share: 'stage',
      reduction: config.reduction,
      type: `resnet-small+ean-${config.unit}`,
    };
    this.policy = new ConnectionPolicy(blockCount(this.spec), { lr: config.search.lr, baselineDecay: config.search.baselineDecay });
    this.supernet = attentionSupernet(this.spec);
    this.optimizer = this.newOptimizer();
    this.decayed = decayedVariables(this.trainableWeights);
  }

  private newOptimizer(): TrainOptimizer {
    const t = this.config.train;
    return createTrainOptimizer({ optimizer: 'sgd', lr: t.lr, momentum: t.momentum, nesterov: false, weightDecay: t.weightDecay });
  }

  get blocks(): number {
    return this.policy.blocks;
  }

  get trainableWeights(): tf.Variable[] {
    return this.network ? this.network.trainableWeights : this.supernet!.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  get schedule(): { epochs: number; batchSize: number; lr: number } {
    return this.config.train;
  }

  /** Supernet logits of images x [B,H,W,C] in [0,1] under one connection scheme. */
  supernetLogits(x: tf.Tensor4D, connections: boolean[], training = false): tf.Tensor2D {
    return tf.tidy(() => {
      const gates = tf.tile(tf.tensor2d([connections.map((c) => (c ? 1 : 0))], [1, this.blocks]), [x.shape[0], 1]);
      const preprocess = { scale: 1, mean: this.spec.mean, std: this.spec.std, channelOrder: 'rgb' as const };
      return this.supernet!.apply([applyPreprocess(x, preprocess), gates], { training }) as tf.Tensor2D;
    });
  }

  /** The supernet's scheme for its next step: each block on with probability 1/2, from a stream per step. */
  private randomScheme(): boolean[] {
    const rng = new Rng(this.seed, `ean:gates:${this.supernetSteps}`);
    return Array.from({ length: this.blocks }, () => rng.next() < 0.5);
  }

  async trainStep(batch: Batch, options: { lr: number }): Promise<Record<string, number>> {
    const trainable = this.trainableWeights;
    // The supernet trains under a uniformly random scheme per batch (the reference's per-mini-batch mask).
    const scheme = this.network ? undefined : this.randomScheme();
    let stats: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = scheme ? this.supernetLogits(batch.images, scheme, true) : this.network!.logits(batch.images, { training: true });
      const loss = crossEntropy(logits, batch.labels);
      stats = tf.keep(tf.stack([loss, correctCount(logits, batch.labels)]));
      return loss;
    }, trainable);
    try {
      const [loss, correct] = await stats!.data();
      if (!Number.isFinite(loss)) throw new GazeError(`the ean ${scheme ? 'supernet' : 'network'}'s loss became ${loss}`, { hint: "lower the head's train.lr" });
      this.optimizer.step(trainable.map((v) => ({ name: v.name, tensor: grads[v.name] })), options.lr, this.decayed);
      if (scheme) this.supernetSteps++;
      return { loss, accuracy: correct / batch.ids.length };
    } finally {
      tf.dispose([stats!, value, ...Object.values(grads)]);
    }
  }

  async afterEpoch(epoch: number, dataset: Dataset): Promise<string[]> {
    if (epoch !== this.config.search.afterEpoch || this.network) return [];
    const result = await this.runSearch(dataset);
    this.choose(result.connections);
    this.search = result;
    return searchLines(result, this.spec.blocksPerStage);
  }

  /** The policy-gradient search on the first `search.images` validation images, with the supernet's weights. */
  async runSearch(dataset: Dataset): Promise<SearchResult> {
    const { steps, samples, cost, images } = this.config.search;
    const batches: { x: tf.Tensor4D; y: tf.Tensor1D }[] = [];
    let n = 0;
    for await (const batch of dataset.split('val').batches({ batchSize: 100, shuffle: false, augment: false })) {
      const take = Math.min(batch.ids.length, images - n);
      batches.push({ x: batch.images.slice(0, take), y: batch.labels.slice(0, take) });
      n += take;
      disposeBatch(batch);
      if (n >= images) break;
    }
    if (n === 0) throw new GazeError('the ean search scores schemes on the validation split, which is empty', { where: 'dataset', hint: 'give the val split some images' });
    // Schemes are scored with batch-norm batch statistics: the supernet's moving statistics
    // average over random schemes and fit none in particular (scored with them, every-block
    // schemes collapse to chance and the search learns to connect nothing). Those forwards move
    // the moving statistics, so they are put back afterwards.
    const batchStats = this.config.search.batchStatistics;
    const moving = batchStats ? this.supernet!.weights.filter((w) => !w.trainable).map((w) => w.read() as tf.Variable) : [];
    const saved = moving.map((v) => v.clone());
    const accuracy = (scheme: boolean[]) => {
      let correct = 0;
      for (const { x, y } of batches) {
        const c = tf.tidy(() => correctCount(this.supernetLogits(x, scheme, batchStats), y));
        correct += c.dataSync()[0];
        c.dispose();
      }
      return correct / n;
    };
    const reward = (scheme: boolean[]) => accuracy(scheme) - (cost * scheme.filter(Boolean).length) / this.blocks;
    try {
      const rng = new Rng(this.seed, 'ean:search');
      const rewards: number[] = [];
      for (let step = 0; step < steps; step++) {
        const drawn = Array.from({ length: samples }, () => this.policy.sample(rng));
        const r = drawn.map(reward);
        this.policy.update(drawn, r);
        rewards.push(r.reduce((a, b) => a + b, 0) / r.length);
      }
      const connections = this.policy.best();
      return {
        connections,
        probabilities: this.policy.probabilities(),
        accuracy: { chosen: accuracy(connections), dense: accuracy(connections.map(() => true)), none: accuracy(connections.map(() => false)) },
        rewards,
      };
    } finally {
      moving.forEach((v, i) => v.assign(saved[i]));
      tf.dispose([...saved, ...batches.flatMap((b) => [b.x, b.y])]);
    }
  }

  /** Builds the network of a scheme with the supernet's weights and trains it from here on. */
  choose(connections: boolean[]): void {
    const network = attentionResnet({ ...this.spec, connections });
    copyWeightsByName(this.supernet!, network.model);
    this.supernet!.dispose();
    this.supernet = undefined;
    this.network = network;
    this.optimizer.dispose();
    this.optimizer = this.newOptimizer();
    this.decayed = decayedVariables(network.trainableWeights);
  }

  private requireNetwork(what: string): LayersClassifier {
    if (!this.network) throw new GazeError(`the ean head has not searched its connections yet, so it has no network to ${what}`, { hint: 'train it past search.afterEpoch first' });
    return this.network;
  }

  explainer(name: string): MapExplainer {
    const network = this.requireNetwork('explain');
    const map = this.config.map ?? (network.taps.includes(ATTENTION_TAP) ? 'attention' : 'cam');
    if (map === 'attention' && !network.taps.includes(ATTENTION_TAP)) {
      throw new GazeError('the searched network has no module in its last stage, so it has no attention map', { hint: 'use map: cam for this head' });
    }
    const [h, w] = network.inputShape;
    return { name, classifier: network, explain: async (x, target) => tf.tidy(() => resize(normalizePerSample(lastStageMaps(network, x, target, map)), [h, w])) };
  }

  /**
   * The chosen network's test accuracy, parameters and inference time, and the parameters and
   * inference time of the same network with the module at every block and at none.
   */
  async evaluate(dataset: Dataset): Promise<{ metric: string; value: number; n: number }[]> {
    const network = this.requireNetwork('evaluate');
    const batchSize = this.config.train.batchSize;
    const test = await evaluateClassifier(network, dataset.split('test'), { batchSize });
    const rows = [
      { metric: 'accuracy', value: test.accuracy, n: test.n },
      { metric: 'connected_blocks', value: (network.spec.config as { connections: boolean[] }).connections.filter(Boolean).length, n: 1 },
      { metric: 'parameters', value: network.parameterCount, n: 1 },
      { metric: 'attention_parameters', value: attentionParameterCount(network), n: 1 },
      { metric: 'inference_ms_per_image', value: inferenceMilliseconds(network, { batchSize }), n: 1 },
    ];
    for (const [label, on] of [['dense', true], ['none', false]] as const) {
      const other = attentionResnet({ ...this.spec, connections: Array.from({ length: this.blocks }, () => on) });
      rows.push({ metric: `${label}_parameters`, value: other.parameterCount, n: 1 }, { metric: `${label}_inference_ms_per_image`, value: inferenceMilliseconds(other, { batchSize }), n: 1 });
      other.dispose();
    }
    return rows;
  }

  async describe(): Promise<string[]> {
    return this.search ? searchLines(this.search, this.spec.blocksPerStage) : [`connections ${connectionPattern(this.policy.best(), this.spec.blocksPerStage)} (P(connect) ${fmt(this.policy.probabilities())})`];
  }

  /** The variables of the supernet, or of the chosen network once there is one. */
  private modelVariables(): tf.Variable[] {
    return this.network ? this.network.weights : this.supernet!.weights.map((w) => w.read() as tf.Variable);
  }

  async save(dir: string): Promise<void> {
    await saveNetworkState(dir, { model: this.modelVariables() }, this.optimizer, {
      format: FORMAT,
      unit: this.config.unit,
      blocks: this.blocks,
      phase: this.network ? 'network' : 'supernet',
      connections: this.network ? (this.network.spec.config as { connections: boolean[] }).connections : null,
      search: this.search ?? null,
      policy: this.policy.state() as unknown as Record<string, unknown>,
      supernetSteps: this.supernetSteps,
    });
  }

  async load(dir: string): Promise<void> {
    const state = await loadNetworkState(dir);
    try {
      const { metadata } = state;
      if (metadata.format !== FORMAT || metadata.unit !== this.config.unit || metadata.blocks !== this.blocks) {
        throw new GazeError(`${dir} does not hold this ean head (unit ${this.config.unit}, ${this.blocks} blocks)`, { where: dir, hint: 'load it with the config it was trained with' });
      }
      if (metadata.phase === 'network' && !this.network) this.choose(metadata.connections as boolean[]);
      if (!state.fits('model', this.modelVariables())) {
        throw new GazeError(`${dir} holds an ean head of another shape`, { where: dir, hint: 'load it with the config it was trained with' });
      }
      await state.restore({ model: this.modelVariables() }, this.optimizer);
      this.policy.restore(metadata.policy as unknown as PolicyState);
      this.search = (metadata.search as SearchResult | null) ?? undefined;
      this.supernetSteps = Number(metadata.supernetSteps ?? 0);
    } finally {
      state.dispose();
    }
  }

  dispose(): void {
    this.optimizer.dispose();
    this.supernet?.dispose();
    this.network?.dispose();
  }
}

const fmt = (values: number[]) => values.map((p) => p.toFixed(2)).join(' ');

function searchLines(result: SearchResult, blocksPerStage: number): string[] {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const connected = result.connections.filter(Boolean).length;
  return [
    `searched connections ${connectionPattern(result.connections, blocksPerStage)} (${connected} of ${result.connections.length} blocks; P(connect) ${fmt(result.probabilities)})`,
    `search-set accuracy with the supernet's weights: chosen ${pct(result.accuracy.chosen)}, every block ${pct(result.accuracy.dense)}, no block ${pct(result.accuracy.none)}; mean reward ${result.rewards[0]?.toFixed(4)} -> ${result.rewards.at(-1)?.toFixed(4)}`,
  ];
}
