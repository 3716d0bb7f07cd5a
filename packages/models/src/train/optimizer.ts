import { FusedAdam, FusedMomentum, tf } from '@gaze/engine';
import type { TrainConfig } from './train-config.js';

/**
 * Adam's moment decay rates and epsilon: the Keras / tfjs defaults (Kingma & Ba 2015 use 1e-8
 * for epsilon; tfjs uses 1e-7 so that it survives float16 backends).
 */
export const ADAM_BETA1 = 0.9;
export const ADAM_BETA2 = 0.999;
export const ADAM_EPSILON = 1e-7;

/** A variable's (or optimizer slot's) name with a tensor, as tfjs optimizers take gradients and state. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** An optimizer (engine's fused Adam / momentum: tfjs's updates, one pass per variable) with the learning rate set per step, decoupled weight decay and a saveable state. */
export interface TrainOptimizer {
  readonly kind: TrainConfig['optimizer'];
  /**
   * One update: decoupled weight decay on `decayed` (w <- w - lr * weightDecay * w, applied before
   * the gradient step, as PyTorch's AdamW does), then the optimizer step with learning rate `lr`.
   * `grads` are in the order of the trainable variables, every step the same order.
   */
  step(grads: NamedTensor[], lr: number, decayed: readonly tf.Variable[]): void;
  /** The state to checkpoint; the caller disposes the returned `owned` tensors after writing. */
  state(): Promise<{ tensors: NamedTensor[]; owned: tf.Tensor[] }>;
  /** Restores what `state()` returned (the tensors are copied; the caller disposes its own). */
  restore(tensors: NamedTensor[]): Promise<void>;
  dispose(): void;
}

// Adam's running beta powers, saved beside the moments so a resumed run is bit-exact.
const ACC_BETA1 = 'adam/accBeta1';
const ACC_BETA2 = 'adam/accBeta2';

/** Decoupled weight decay: w <- w - lr * weightDecay * w for each variable. */
export function applyWeightDecay(variables: readonly tf.Variable[], lr: number, weightDecay: number): void {
  if (weightDecay === 0 || variables.length === 0) return;
  const rate = lr * weightDecay;
  tf.tidy(() => {
    for (const v of variables) v.assign(tf.sub(v, tf.mul(v, rate)));
  });
}

/**
 * The variables weight decay applies to: kernels (rank >= 2), not biases, batch-norm scale/shift
 * or other per-channel vectors (timm's `param.ndim <= 1` rule). Those are few, do not overfit, and
 * decaying a batch-norm scale pulls the layer's output toward zero instead of regularizing.
 */
export function decayedVariables(variables: readonly tf.Variable[]): tf.Variable[] {
  return variables.filter((v) => v.rank >= 2);
}

export function createTrainOptimizer(config: Pick<TrainConfig, 'optimizer' | 'lr' | 'momentum' | 'nesterov' | 'weightDecay'>): TrainOptimizer {
  if (config.optimizer === 'adam') {
    const optimizer = new FusedAdam(config.lr, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON);
    return {
      kind: 'adam',
      step(grads, lr, decayed) {
        applyWeightDecay(decayed, lr, config.weightDecay);
        optimizer.learningRate = lr;
        optimizer.applyGradients(grads);
      },
      async state() {
        const tensors = await optimizer.getWeights();
        // getWeights creates a fresh iterations scalar (first entry); the moments are the optimizer's own.
        const extra = [
          { name: ACC_BETA1, tensor: tf.scalar(optimizer.accBeta1) },
          { name: ACC_BETA2, tensor: tf.scalar(optimizer.accBeta2) },
        ];
        return { tensors: [...tensors, ...extra], owned: [tensors[0].tensor, ...extra.map((e) => e.tensor)] };
      },
      async restore(tensors) {
        // setWeights recomputes beta^t with pow(), which differs in the last bits from the running
        // product the optimizer keeps; restore the saved products so a resumed run is bit-exact.
        const acc1 = tensors.find((t) => t.name === ACC_BETA1);
        const acc2 = tensors.find((t) => t.name === ACC_BETA2);
        await optimizer.setWeights(tensors.filter((t) => t !== acc1 && t !== acc2));
        if (acc1) optimizer.accBeta1 = (await acc1.tensor.data())[0];
        if (acc2) optimizer.accBeta2 = (await acc2.tensor.data())[0];
      },
      dispose: () => optimizer.dispose(),
    };
  }
  const optimizer = new FusedMomentum(config.lr, config.momentum, config.nesterov);
  return {
    kind: 'sgd',
    step(grads, lr, decayed) {
      applyWeightDecay(decayed, lr, config.weightDecay);
      optimizer.setLearningRate(lr);
      optimizer.applyGradients(grads);
    },
    async state() {
      const tensors = await optimizer.getWeights();
      return { tensors, owned: [tensors[0].tensor] };
    },
    restore: (tensors) => optimizer.setWeights(tensors),
    dispose: () => optimizer.dispose(),
  };
}
