import { Rng, tf } from '@gaze/engine';

/**
 * Weight initializers whose draws are a function of the run seed: every layer gets its own op seed
 * from one stream, so the same seed gives the same weights and adding a layer at the end changes
 * no earlier one. (tfjs initializers take a seed; unseeded ones would read Math.random.)
 */
type Initializer = ReturnType<typeof tf.initializers.heNormal>;

export interface SeededInit {
  /** He (Kaiming) normal for conv kernels before a ReLU (He et al. 2015). */
  conv(): Initializer;
  /** Glorot uniform for the dense classifier head (the Keras default). */
  dense(): Initializer;
}

export function seededInit(seed: number, type: string): SeededInit {
  const stream = new Rng(seed, `${type}:init`);
  return {
    conv: () => tf.initializers.heNormal({ seed: stream.opSeed() }),
    dense: () => tf.initializers.glorotUniform({ seed: stream.opSeed() }),
  };
}

/** Batch-norm settings shared by the small backbones: PyTorch's momentum 0.1 (tfjs: 0.9) and epsilon. */
export const BATCH_NORM = { momentum: 0.9, epsilon: 1e-5 } as const;

export function apply(layer: tf.layers.Layer, input: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor {
  return layer.apply(input) as tf.SymbolicTensor;
}
