import { z } from 'zod';

/**
 * TAME's config (`heads: [{ type: tame, ... }]`). Defaults are the reference code's for VGG-16
 * (bmezaris/TAME `train_eval_VGG16.sh`, composite_models.py).
 */
export const TameConfig = z.strictObject({
  /** Taps to attend over, shallowest first. Default: the classifier's last three block outputs (taps not named `*.conv`). */
  taps: z.array(z.string()).min(1).optional(),
  /**
   * The architecture: `tame` (conv 1x1 -> batch norm -> + features -> ReLU per branch), or an
   * ablation of the paper: `no-skip` (conv to one channel per class -> batch norm -> ReLU),
   * `no-skip-no-bn` (conv -> ReLU), `sigmoid-branch` (TAME with a sigmoid in the branches).
   */
  variant: z.enum(['tame', 'no-skip', 'no-skip-no-bn', 'sigmoid-branch']).default('tame'),
  /** The class whose mask masks the image in training: the classifier's prediction (reference) or the label. */
  target: z.enum(['predicted', 'label']).default('predicted'),
  /** Loss: ce * CE(f(x * up(A_y)), y) + area * mean((A_y + 5e-4)^areaPower) + tv * TV(A_y). */
  loss: z
    .strictObject({
      ce: z.number().min(0).default(1.5),
      area: z.number().min(0).default(2),
      areaPower: z.number().positive().default(0.3),
      tv: z.number().min(0).default(0.01),
      /** Weight of the squared border values inside TV. */
      borderPenalty: z.number().min(0).default(0.3),
    })
    .prefault({}),
  /** SGD with Nesterov momentum on a one-cycle schedule; weight decay on weights, biases at twice the rate. */
  train: z
    .strictObject({
      epochs: z.int().min(1).default(8),
      batchSize: z.int().min(1).default(32),
      /** The one-cycle maximum learning rate (biases: twice it). */
      lr: z.number().positive().default(1e-3),
      momentum: z.number().min(0).max(1).default(0.9),
      weightDecay: z.number().min(0).default(5e-4),
    })
    .prefault({}),
});
export type TameConfig = z.infer<typeof TameConfig>;

/** The attention map side: the first tap's height, at most 56 (the reference: 28 for 224 inputs). */
export const MAX_MAP_SIDE = 56;
