import { z } from 'zod';

/**
 * EAT's config (`heads: [{ type: eat, ... }]`). The paper's loss form and weights are not public;
 * here the attribute loss is binary cross-entropy with
 * logits on per-image 0/1 attributes, weighted by `attributeWeight` (0 trains the same way
 * without attributes: the control for "attributes guide attention").
 */
export const EatConfig = z.strictObject({
  /** Weight of the attribute loss beside the class cross-entropy. */
  attributeWeight: z.number().min(0).default(1),
  /** The tap whose global average pool feeds the attribute layer; default: the classifier's last tap. */
  tap: z.string().optional(),
  /** Attributes with a predicted probability at least this count as present (accuracy, text). */
  threshold: z.number().gt(0).lt(1).default(0.5),
  /** At most this many attributes in a textual explanation. */
  textAttributes: z.int().min(1).default(3),
  /** Joint training of a copy of the classifier with the attribute layer: Adam, one-cycle. */
  train: z
    .strictObject({
      epochs: z.int().min(1).default(4),
      batchSize: z.int().min(1).default(32),
      lr: z.number().positive().default(1e-3),
    })
    .prefault({}),
});
export type EatConfig = z.infer<typeof EatConfig>;
