import type { tf } from '@gaze/engine';

/** Whether layers behave as in training (batch norm uses batch statistics and updates its moving ones). */
export interface ForwardOptions {
  training?: boolean;
}

/**
 * An image classifier with named feature taps. Inputs are [B,H,W,C] float32 in [0,1]: the mean/std
 * normalization is done inside, so callers mask and perturb in pixel space.
 */
export interface Classifier {
  /** The backbone's `type:` (vgg-small, resnet-small, layers-model). */
  readonly type: string;
  /** [H, W, C] of one input image. */
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  /** Every tap name, in forward order (the deepest last). */
  readonly taps: string[];
  /**
   * The tap Grad-CAM-style explainers use when none is named: the last conv layer's rectified
   * output, as in the Grad-CAM paper and the L-CAM/TAME baselines (VGG-16 features[29], before
   * pool5). Absent: the last tap.
   */
  readonly camTap?: string;
  /** x: [B,H,W,C] in [0,1] -> [B,numClasses] pre-softmax scores. */
  logits(x: tf.Tensor4D, options?: ForwardOptions): tf.Tensor2D;
  /** The requested taps from one forward pass: name -> [B,h,w,c]. Unknown names are a GazeError naming the known ones. */
  features(x: tf.Tensor4D, taps: string[], options?: ForwardOptions): Record<string, tf.Tensor4D>;
  /** Logits and the requested taps from the same single forward pass. */
  forward(x: tf.Tensor4D, taps: string[], options?: ForwardOptions): { logits: tf.Tensor2D; features: Record<string, tf.Tensor4D> };
  /**
   * Logits of x with the output of tap `tap` replaced by `a` (every other value computed from x as
   * usual): the function Grad-CAM-style methods differentiate with respect to a tap. With `a`
   * equal to the tap's own output it gives `logits(x)`.
   */
  logitsWithTap(x: tf.Tensor4D, tap: string, a: tf.Tensor4D, options?: ForwardOptions): tf.Tensor2D;
  /** Variables an optimizer updates. */
  readonly trainableWeights: tf.Variable[];
  /** Every variable (trainable and not, e.g. batch-norm moving statistics), in a stable order: what a checkpoint holds. */
  readonly weights: tf.Variable[];
  /** Writes the architecture, weights and preprocessing to `dir` so `loadClassifier(dir)` rebuilds it (atomic). */
  save(dir: string): Promise<void>;
  /** Trainable parameter count. */
  readonly parameterCount: number;
  /** Scalars one image's forward pass computes (every layer's output), for memory estimates; absent when unknown. */
  readonly activationsPerImage?: number;
  dispose(): void;
}
