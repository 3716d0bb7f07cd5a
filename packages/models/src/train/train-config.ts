import { GazeError } from '@gaze/engine';
import { z } from 'zod';

/**
 * One-cycle defaults, as in PyTorch's `torch.optim.lr_scheduler.OneCycleLR`
 * (pct_start=0.3, div_factor=25, final_div_factor=1e4).
 */
export const ONE_CYCLE_DEFAULTS = { pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4 } as const;

/** The `train:` section of a config: how a classifier is trained. */
export const TrainConfig = z.strictObject({
  epochs: z.int().min(1).default(10),
  batchSize: z.int().min(1).default(32),
  /** Batch size of the per-epoch validation pass; defaults to `batchSize`. */
  evalBatchSize: z.int().min(1).optional(),
  optimizer: z.enum(['adam', 'sgd']).default('adam'),
  /** Peak learning rate (for one-cycle: the maximum, PyTorch's max_lr). */
  lr: z.number().positive().default(1e-3),
  /** SGD momentum (0 = plain SGD). */
  momentum: z.number().min(0).max(1).default(0.9),
  /** SGD: Nesterov momentum. */
  nesterov: z.boolean().default(false),
  /**
   * Decoupled weight decay (AdamW / SGDW, Loshchilov & Hutter 2019): w <- w - lr_t * weightDecay * w
   * each step, on kernels only (variables of rank >= 2), not on biases or batch-norm scale/shift.
   */
  weightDecay: z.number().min(0).default(0),
  schedule: z.enum(['constant', 'cosine', 'one-cycle']).default('cosine'),
  /** constant / cosine: linear warm-up from lr/steps to lr over this many epochs (may be fractional). */
  warmupEpochs: z.number().min(0).default(0),
  /** cosine: the learning rate the cosine decays to at the end of training. */
  minLr: z.number().min(0).default(0),
  /** one-cycle: fraction of the steps spent rising to `lr` (PyTorch pct_start). */
  oneCyclePctStart: z.number().gt(0).lt(1).default(ONE_CYCLE_DEFAULTS.pctStart),
  /** one-cycle: the first learning rate is lr / oneCycleDivFactor (PyTorch div_factor). */
  oneCycleDivFactor: z.number().positive().default(ONE_CYCLE_DEFAULTS.divFactor),
  /** one-cycle: the last learning rate is lr / (oneCycleDivFactor * oneCycleFinalDivFactor) (PyTorch final_div_factor). */
  oneCycleFinalDivFactor: z.number().positive().default(ONE_CYCLE_DEFAULTS.finalDivFactor),
  /** Apply the dataset's train augmentations. */
  augment: z.boolean().default(true),
});
export type TrainConfig = z.infer<typeof TrainConfig>;

/**
 * Keys a resumed run may change: `epochs` (may only grow past the checkpoint's epoch) and
 * `evalBatchSize` (changes how validation is batched, not what is trained).
 */
export const RESUMABLE_KEYS: readonly (keyof TrainConfig)[] = ['epochs', 'evalBatchSize'];

/** Validates (and fills the defaults of) a train config; problems are GazeErrors naming `train.<key>`. */
export function parseTrainConfig(value: unknown, where = 'train'): TrainConfig {
  const result = TrainConfig.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new GazeError(issue.message, { where: [where, ...issue.path.map(String)].join('.') });
  }
  const config = result.data;
  if (config.schedule === 'one-cycle' && config.warmupEpochs > 0) {
    throw new GazeError('warmupEpochs does not apply to the one-cycle schedule: it warms up over oneCyclePctStart of the steps', {
      where: `${where}.warmupEpochs`,
      hint: 'remove warmupEpochs, or set oneCyclePctStart',
    });
  }
  return config;
}
