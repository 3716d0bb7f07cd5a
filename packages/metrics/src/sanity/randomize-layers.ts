/**
 * The units the model parameter randomization test re-initializes, and how.
 *
 * Units. For a classifier over a tfjs LayersModel (`LayersClassifier`: it exposes `model`), every
 * layer of `model.layers` with trainable weights is one unit, named by the layer, in the model's
 * (topological, forward) order. Any other classifier falls back to `classifier.trainableWeights`
 * grouped by name prefix: the variable name up to its last '/' (tfjs names weights
 * `<layer>/<weight>`), in the order the prefixes first appear. The reference
 * (adebayoj/sanity_checks_saliency `reinitlayerlist`) likewise picks the trainable variables whose
 * name contains the block's name.
 *
 * Re-initialization (the reference runs each variable's own initializer, `tf.initialize_variables`):
 * the kind of initializer the backbones here use (packages/models seeded-init.ts), seeded.
 * - kernels of convolution layers (rank >= 3, or a Conv/Depthwise/Separable layer): He normal
 *   (truncated normal, std sqrt(2 / fan_in));
 * - other kernels (dense, rank 2): Glorot uniform (the Keras default);
 * - `bias`, `beta` and any other rank-1 weight: zeros; `gamma`: ones (Keras' batch-norm defaults);
 * - non-trainable weights (batch-norm moving mean/variance) are never touched: the reference
 *   re-initializes trainable variables only.
 * Each draw is seeded by (run seed, unit name, weight name), so a unit gets the same random values
 * in the cascading and the independent test and in every batch.
 */
import { Rng, tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';

export interface RandomizationUnit {
  /** The layer name (or the weight-name prefix in the fallback). */
  name: string;
  /** The layer's class name (e.g. Conv2D, Dense) when known. */
  className?: string;
  /** The trainable variables re-initialized together. */
  variables: tf.Variable[];
}

interface LayerLike {
  name: string;
  getClassName(): string;
  trainableWeights: { read(): tf.Tensor }[];
}

/** The classifier's units in forward order (the deepest last). */
export function randomizationUnits(classifier: Classifier): RandomizationUnit[] {
  const model = (classifier as { model?: { layers?: LayerLike[] } }).model;
  if (model && Array.isArray(model.layers)) {
    return model.layers
      .filter((layer) => layer.trainableWeights.length > 0)
      .map((layer) => ({ name: layer.name, className: layer.getClassName(), variables: layer.trainableWeights.map((w) => w.read() as tf.Variable) }));
  }
  const groups = new Map<string, tf.Variable[]>();
  for (const v of classifier.trainableWeights) {
    const name = stripUniqueSuffix(v.name);
    const slash = name.lastIndexOf('/');
    const prefix = slash > 0 ? name.slice(0, slash) : name;
    if (!groups.has(prefix)) groups.set(prefix, []);
    groups.get(prefix)!.push(v);
  }
  return [...groups].map(([name, variables]) => ({ name, variables }));
}

/** tfjs appends `_<n>` to a variable name already taken: 'block1_conv1/kernel_3' -> 'block1_conv1/kernel'. */
function stripUniqueSuffix(name: string): string {
  return name.replace(/_\d+$/, '');
}

export type InitializerKind = 'heNormal' | 'glorotUniform' | 'zeros' | 'ones';

/** Which initializer a unit's variable gets (see the file comment). */
export function initializerKind(variable: tf.Variable, className?: string): InitializerKind {
  const name = stripUniqueSuffix(variable.name);
  const base = name.slice(name.lastIndexOf('/') + 1);
  if (base === 'gamma') return 'ones';
  if (variable.rank <= 1) return 'zeros';
  const conv = /conv|depthwise|separable/i.test(className ?? '') || variable.rank >= 3 || /depthwise|pointwise/.test(base);
  return conv ? 'heNormal' : 'glorotUniform';
}

/** Re-initializes every variable of `unit` in place (assign), seeded by (seed, unit, variable). */
export function randomizeUnit(unit: RandomizationUnit, seed: number): void {
  unit.variables.forEach((variable, i) => {
    const rng = new Rng(seed, `sanity-randomization:${unit.name}:${i}:${stripUniqueSuffix(variable.name)}`);
    tf.tidy(() => {
      const kind = initializerKind(variable, unit.className);
      const value =
        kind === 'zeros'
          ? tf.zerosLike(variable)
          : kind === 'ones'
            ? tf.onesLike(variable)
            : (kind === 'heNormal' ? tf.initializers.heNormal({ seed: rng.opSeed() }) : tf.initializers.glorotUniform({ seed: rng.opSeed() })).apply(variable.shape, variable.dtype);
      variable.assign(value);
    });
  });
}

/**
 * Copies of the values of `variables`, for `restore`. Every variable is copied (not only those a
 * test changes) so the classifier comes back exactly as it was whatever happened in between.
 */
export function snapshotVariables(variables: tf.Variable[]): tf.Tensor[] {
  return variables.map((v) => tf.keep(tf.clone(v)));
}

/** Assigns the snapshot back (bit-identical values). The snapshot stays the caller's to dispose. */
export function restoreVariables(variables: tf.Variable[], snapshot: tf.Tensor[]): void {
  variables.forEach((v, i) => v.assign(snapshot[i]));
}
