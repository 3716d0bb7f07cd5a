import { loadWeightMap, saveWeightMap, tf } from '@gaze/engine';
import type { TrainOptimizer } from './optimizer.js';

/**
 * A head's checkpoint when it trains whole networks (dia, ean, brnpa): groups of tensors saved
 * in order under `<group>/<i>`, the optimizer's state under `optimizer/<i>` (its slot names in the
 * metadata) and the head's own metadata. Atomic, as saveWeightMap is.
 */
export async function saveNetworkState(
  dir: string,
  groups: Record<string, readonly tf.Tensor[]>,
  optimizer: TrainOptimizer,
  metadata: Record<string, unknown>,
): Promise<void> {
  const weights: Record<string, tf.Tensor> = {};
  for (const [group, tensors] of Object.entries(groups)) tensors.forEach((t, i) => (weights[`${group}/${i}`] = t));
  const { tensors, owned } = await optimizer.state();
  tensors.forEach((t, i) => (weights[`optimizer/${i}`] = t.tensor));
  try {
    await saveWeightMap(dir, weights, { ...metadata, groups: Object.fromEntries(Object.entries(groups).map(([g, t]) => [g, t.length])), slots: tensors.map((t) => t.name) });
  } finally {
    tf.dispose(owned);
  }
}

/** What saveNetworkState wrote: check `metadata` and `fits` first, then `restore`; always `dispose`. */
export interface NetworkState {
  metadata: Record<string, unknown>;
  /** Whether group `group` holds as many tensors as `variables`, each of the same shape. */
  fits(group: string, variables: readonly tf.Variable[]): boolean;
  /** Assigns group `group` to `variables` (in order) and restores the optimizer when given. */
  restore(assignments: Record<string, readonly tf.Variable[]>, optimizer?: TrainOptimizer): Promise<void>;
  dispose(): void;
}

export async function loadNetworkState(dir: string): Promise<NetworkState> {
  const { weights, metadata } = await loadWeightMap(dir);
  const counts = (metadata.groups ?? {}) as Record<string, number>;
  return {
    metadata,
    fits: (group, variables) => counts[group] === variables.length && variables.every((v, i) => weights[`${group}/${i}`]?.shape.join() === v.shape.join()),
    async restore(assignments, optimizer) {
      for (const [group, variables] of Object.entries(assignments)) variables.forEach((v, i) => v.assign(weights[`${group}/${i}`]));
      const slots = (metadata.slots as string[] | undefined) ?? [];
      if (optimizer) await optimizer.restore(slots.map((name, i) => ({ name, tensor: weights[`optimizer/${i}`] })));
    },
    dispose: () => tf.dispose(Object.values(weights)),
  };
}
