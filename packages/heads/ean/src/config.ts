import { z } from 'zod';

/**
 * EAN's config (`heads: [{ type: ean, ... }]`): the reference's three stages (supernet, search,
 * retrain) scaled to one head training run. The first
 * `search.afterEpoch` epochs train the supernet under a random connection scheme per batch; then
 * the policy searches a scheme on the validation split; the remaining epochs fine-tune the chosen
 * network from the supernet's weights (the reference retrains it from scratch for 120 epochs).
 */
export const EanConfig = z.strictObject({
  /** The shared module: squeeze-and-excitation (default) or DIA's LSTM cell (its state advances only at connected blocks). */
  unit: z.enum(['se', 'lstm']).default('se'),
  reduction: z.int().min(1).default(4),
  /** The network's stage widths and depth; default: the run's resnet-small backbone's. */
  channels: z.array(z.int().positive()).min(1).optional(),
  blocksPerStage: z.int().positive().optional(),
  /** The explanation of the chosen network; default attention, or cam when its last stage has no module. */
  map: z.enum(['attention', 'cam']).optional(),
  search: z
    .strictObject({
      /** The search runs after this epoch (supernet epochs before it, fine-tuning after). */
      afterEpoch: z.int().min(1).default(4),
      /** Policy updates, each on `samples` schemes sampled from the policy. */
      steps: z.int().min(1).default(60),
      samples: z.int().min(1).default(3),
      /** Reward: validation accuracy (0..1) minus cost x the fraction of blocks connected. The reference's 2 points per 100% sparsity is 0.02. */
      cost: z.number().min(0).default(0.02),
      /** The first this many validation images score each scheme. */
      images: z.int().min(1).default(500),
      /**
       * Score each scheme with batch-norm batch statistics (batches of 100 search images) rather
       * than the supernet's moving ones, which average over random schemes and misjudge the dense
       * ones (the one-shot search's usual fix; the reference uses the moving statistics).
       */
      batchStatistics: z.boolean().default(true),
      /** Adam on the policy logits, and the reward baseline's decay (the reference's). */
      lr: z.number().positive().default(0.05),
      baselineDecay: z.number().min(0).max(1).default(0.95),
    })
    .prefault({}),
  /** Supernet and fine-tuning: SGD with momentum, one one-cycle schedule over all epochs. */
  train: z
    .strictObject({
      epochs: z.int().min(2).default(8),
      batchSize: z.int().min(1).default(64),
      lr: z.number().positive().default(0.1),
      momentum: z.number().min(0).max(1).default(0.9),
      weightDecay: z.number().min(0).default(5e-4),
    })
    .prefault({}),
});
export type EanConfig = z.infer<typeof EanConfig>;
