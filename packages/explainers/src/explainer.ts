import { GazeError, didYouMean, type tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';
import type { z } from 'zod';

/**
 * Every explanation method, post-hoc or a trained head, answers the same question the same way:
 * for images x ([B,H,W,C] in [0,1]) and one target class per image ([B] int32), maps [B,H,W] in
 * [0,1] at the input's resolution. The caller owns (and disposes) the returned tensor; nothing
 * else is left behind.
 */
export interface Explainer {
  /** The config entry's `name:` (or its type): what the metrics table calls the method. */
  name: string;
  explain(x: tf.Tensor4D, target: tf.Tensor1D, options?: ExplainOptions): Promise<tf.Tensor3D>;
  /** Frees what the explainer holds (cached masks, variables). */
  dispose?(): void;
}

export interface ExplainOptions {
  /**
   * Min-max normalize each map to [0,1] (the default, what every evaluator takes). `false` gives
   * the method's raw map at input resolution instead: a CAM's ReLU(sum_k w_k A_k) upsampled
   * bilinearly with half-pixel centres, a gradient's channel reduction, RISE's weighted mask sum,
   * in the method's own units (what `gaze explain` writes to maps.npy). Heads' explainers may ignore it.
   */
  normalize?: boolean;
}

export interface ExplainerContext {
  classifier: Classifier;
  /** The run seed: random methods (RISE masks, SmoothGrad noise) draw from it. */
  seed: number;
  /** The entry's display name. */
  name: string;
  /** Config key path for errors, e.g. `explainers.0`. */
  where: string;
}

export interface ExplainerFactory<C = unknown> {
  type: string;
  describe: string;
  /** The entry's own keys (without `type` and `name`). */
  configSchema: z.ZodType<C>;
  create(config: C, context: ExplainerContext): Explainer;
}

const factories = new Map<string, ExplainerFactory<never>>();

/** Adds a method under its `type:`; each method module registers itself when imported. */
export function registerExplainer<C>(factory: ExplainerFactory<C>): void {
  factories.set(factory.type, factory as ExplainerFactory<never>);
}

export function explainerTypes(): string[] {
  return [...factories.keys()].sort();
}

export function explainerFactory(type: string): ExplainerFactory<unknown> {
  const factory = factories.get(type);
  if (!factory) {
    const guess = didYouMean(type, explainerTypes());
    throw new GazeError(`unknown explainer type '${type}'${guess ? ` (did you mean '${guess}'?)` : ''}`, { hint: `use one of: ${explainerTypes().join(', ')}` });
  }
  return factory as ExplainerFactory<unknown>;
}

/**
 * Builds an explainer from a config entry `{type, name?, ...keys}`; the keys are validated against
 * the method's schema (the runner has already done so with file:line:col; this is for library use).
 */
export function createExplainer(entry: { type: string; name?: string } & Record<string, unknown>, context: Omit<ExplainerContext, 'name'> & { name?: string }): Explainer {
  const factory = explainerFactory(entry.type);
  const { type, name, ...keys } = entry;
  const parsed = factory.configSchema.safeParse(keys);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GazeError(issue.message, { where: [context.where, ...issue.path.map(String)].join('.') });
  }
  return factory.create(parsed.data, { ...context, name: name ?? context.name ?? type });
}
