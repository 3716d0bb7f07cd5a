import { z } from 'zod';

/**
 * BR-NPA's config (`heads: [{ type: brnpa, ... }]`). Defaults from the reference code
 * (github.com/TristanGomez44/br_npa): three parts, refined representatives, no bias in
 * the linear layer, SGD with momentum 0.9.
 */
export const BrnpaConfig = z.strictObject({
  /** The tap whose feature map is attended; default: the classifier's last tap (the reference: ResNet-50 layer4). */
  tap: z.string().optional(),
  /** Number of part maps (representatives). */
  parts: z.int().min(1).default(3),
  /** Replace each representative by the similarity-weighted mean of the features (the reference; false: --br_npa_norefine). */
  refine: z.boolean().default(true),
  /** Dropout before the linear layer. */
  dropout: z.number().min(0).lt(1).default(0),
  /**
   * The explanation scored by the evaluators: `sum` of the part maps (each weighted by the feature
   * norm), or the `first` (most active) part, which is what the reference's metrics score.
   */
  explain: z.enum(['sum', 'first']).default('sum'),
  /**
   * The paper's second step, higher resolution by distillation: after `train.epochs`, a student
   * copy of the network whose last `stages` stages keep their input resolution (stride 1; the
   * run's backbone must be resnet-small) takes the network's weights and learns for `epochs` more
   * to match its class distribution: `alpha * T^2 * KL(teacher || student) + (1 - alpha) * CE` at
   * temperature T (the reference's defaults: alpha 1, T 1). The student's finer maps are then the
   * explanations.
   */
  highResolution: z
    .strictObject({
      epochs: z.int().min(1).default(4),
      stages: z.int().min(1).default(1),
      temperature: z.number().positive().default(1),
      alpha: z.number().min(0).max(1).default(1),
    })
    .optional(),
  /** The copy of the classifier and the linear layer train jointly: SGD with momentum, one-cycle. */
  train: z
    .strictObject({
      epochs: z.int().min(1).default(4),
      batchSize: z.int().min(1).default(32),
      lr: z.number().positive().default(0.01),
      momentum: z.number().min(0).max(1).default(0.9),
      weightDecay: z.number().min(0).default(0),
    })
    .prefault({}),
});
export type BrnpaConfig = z.infer<typeof BrnpaConfig>;
