import { z } from 'zod';

/**
 * DIA's config (`heads: [{ type: dia, ... }]`). Defaults follow the reference CIFAR code
 * (github.com/gbup-group/DIANet): the LSTM unit, one per stage, reduction 4, SGD with
 * momentum 0.9; the step schedule there is a one-cycle schedule here, as for every Gaze head.
 */
export const DiaConfig = z.strictObject({
  /** The shared module: DIA's modified LSTM cell, a squeeze-and-excitation unit, or none (the plain network, the control). */
  unit: z.enum(['lstm', 'se', 'none']).default('lstm'),
  /** One module per stage (its state restarts at each stage), or one for the whole network (equal stage widths). */
  share: z.enum(['stage', 'network']).default('stage'),
  /** The module's bottleneck is channels / reduction wide. */
  reduction: z.int().min(1).default(4),
  /** The network's stage widths and depth; default: the run's resnet-small backbone's. */
  channels: z.array(z.int().positive()).min(1).optional(),
  blocksPerStage: z.int().positive().optional(),
  /**
   * The explanation: `attention` weighs the last stage's channels by the attention the last block
   * applied (class-agnostic), `cam` by the class's weights in the dense layer (class activation
   * mapping). Default: attention, or cam for `unit: none`.
   */
  map: z.enum(['attention', 'cam']).optional(),
  /** The network is trained from scratch with the module: SGD with momentum on a one-cycle schedule. */
  train: z
    .strictObject({
      epochs: z.int().min(1).default(10),
      batchSize: z.int().min(1).default(64),
      /** The one-cycle maximum learning rate. */
      lr: z.number().positive().default(0.1),
      momentum: z.number().min(0).max(1).default(0.9),
      /** Decoupled, on kernels only (not biases or batch-norm parameters). */
      weightDecay: z.number().min(0).default(5e-4),
    })
    .prefault({}),
});
export type DiaConfig = z.infer<typeof DiaConfig>;
