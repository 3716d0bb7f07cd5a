import type { Batch, Dataset, DatasetInfo } from '@gaze/data';
import { GazeError, didYouMean, type tf } from '@gaze/engine';
import type { z } from 'zod';
import type { Classifier } from './classifier.js';

/**
 * A trainable attention head (TAME, EAT, ...): a module on a classifier's feature taps, trained
 * with its own objective while the backbone stays frozen (or jointly, where the method says so),
 * whose maps enter the same explainer/evaluation table as the post-hoc methods. Each head is a
 * package under packages/heads/<type> that registers its factory when imported.
 */

/** What a head's explainer answers: the same shape as @gaze/explainers' `Explainer`. */
export interface MapExplainer {
  name: string;
  /**
   * The classifier the maps explain, when it is not the run's (a head trained jointly with its
   * own copy, such as EAT): evaluators then score the maps against it.
   */
  classifier?: Classifier;
  /** x: [B,H,W,C] in [0,1], target: [B] int32 -> [B,H,W] maps in [0,1]. */
  explain(x: tf.Tensor4D, target: tf.Tensor1D): Promise<tf.Tensor3D>;
  dispose?(): void;
}

export interface Head {
  readonly type: string;
  /** The variables the head trains. */
  readonly trainableWeights: tf.Variable[];
  /** How `trainHead` trains it: epochs, batch size and the one-cycle maximum learning rate. */
  readonly schedule: { epochs: number; batchSize: number; lr: number };
  /** One optimizer step on a batch at learning rate `lr`; returns its losses (the total as `loss`). */
  trainStep(batch: Batch, options: { lr: number }): Promise<Record<string, number>>;
  /**
   * Called after each training epoch, before its checkpoint, with the dataset: where a head with
   * phases switches (EAN searches its connections on the validation split here). Lines it
   * returns are reported.
   */
  afterEpoch?(epoch: number, dataset: Dataset): Promise<string[] | void>;
  /** Its maps as an explainer named `name`. */
  explainer(name: string): MapExplainer;
  /** Writes the head's weights (and optimizer state) to `dir`, atomically. */
  save(dir: string): Promise<void>;
  /** Restores what `save` wrote; a mismatch (another head, other taps) is a GazeError. */
  load(dir: string): Promise<void>;
  /** Metrics of the head's own (beyond the shared evaluators), e.g. attribute accuracy; rows of metrics.csv under the head's name. */
  evaluate?(dataset: Dataset): Promise<{ metric: string; value: number; n: number }[]>;
  /**
   * Extra gallery rows for images x and their targets (e.g. EAT's attribute maps), each with a map
   * per image in [0,1] at the input size and optionally a caption per map; `name` is the head's.
   */
  galleryRows?(x: tf.Tensor4D, targets: tf.Tensor1D, name: string): Promise<{ method: string; maps: Float32Array[]; captions?: string[] }[]>;
  /** Lines for the report about the first images of a batch (e.g. textual explanations). */
  describe?(batch: Batch, classNames: string[]): Promise<string[]>;
  dispose(): void;
}

export interface HeadContext {
  /** The run seed: initial weights derive from it. */
  seed: number;
  /** Config key path for errors, e.g. `heads.0`. */
  where: string;
  /** The dataset's description (class and attribute names), for heads that need it. */
  info?: DatasetInfo;
}

export interface HeadFactory<C = unknown> {
  type: string;
  describe: string;
  /** The entry's own keys (without `type` and `name`). */
  configSchema: z.ZodType<C>;
  create(classifier: Classifier, config: C, context: HeadContext): Head | Promise<Head>;
}

const factories = new Map<string, HeadFactory<never>>();

/** Adds a head under its `type:`; a head package calls this when imported. */
export function registerHead<C>(factory: HeadFactory<C>): void {
  factories.set(factory.type, factory as HeadFactory<never>);
}

export function headTypes(): string[] {
  return [...factories.keys()].sort();
}

export function headFactory(type: string): HeadFactory<unknown> {
  const factory = factories.get(type);
  if (!factory) {
    const guess = didYouMean(type, headTypes());
    throw new GazeError(`unknown head type '${type}'${guess ? ` (did you mean '${guess}'?)` : ''}`, {
      hint: headTypes().length ? `use one of: ${headTypes().join(', ')}` : `no head package is loaded: heads live in packages/heads/<type> as @gaze/head-<type>`,
    });
  }
  return factory as HeadFactory<unknown>;
}
