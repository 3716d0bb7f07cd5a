import { GazeError, tf } from '@gaze/engine';
import { z } from 'zod';

/**
 * What a classifier does to a [0,1] image before its first layer: optionally reverse the channel
 * order (rgb -> bgr), multiply by `scale`, subtract `mean`, divide by `std`:
 * `z = (swap(x) * scale - mean) / std`. `mean` and `std` are in the model's channel order (after
 * the swap) and hold one value for every channel or one per channel.
 */
export const Preprocess = z.strictObject({
  /** Multiplies the [0,1] input first: 1 for models trained on [0,1] images, 255 for caffe-style ones. */
  scale: z.number().positive().default(1),
  mean: z.array(z.number()).min(1).default([0]),
  std: z.array(z.number().positive()).min(1).default([1]),
  /** `bgr` reverses the channels before scaling (Keras VGG-16 / ResNet-50 caffe weights expect BGR). */
  channelOrder: z.enum(['rgb', 'bgr']).default('rgb'),
});
export type Preprocess = z.infer<typeof Preprocess>;

/** torchvision's ImageNet normalization (the mean/std of every torchvision classification weight set's transforms). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/** The keys vgg-small and resnet-small accept for their input normalization. */
export const meanStdKeys = {
  /** Per channel (or one for all): [0,1] -> [-1,1] by default. */
  mean: z.array(z.number()).min(1).default([0.5]),
  std: z.array(z.number().positive()).min(1).default([0.5]),
};

/** Throws a GazeError unless `mean` and `std` have one value or one per channel. */
export function checkPreprocess(p: Preprocess, channels: number, where: string): void {
  for (const key of ['mean', 'std'] as const) {
    const n = p[key].length;
    if (n !== 1 && n !== channels) {
      throw new GazeError(`${key} has ${n} values but the images have ${channels} channel(s)`, {
        where: `${where}.${key}`,
        hint: `give one value for every channel, or ${channels} values (one per channel)`,
      });
    }
  }
}

/** x: [B,H,W,C] in [0,1] -> [B,H,W,C] as the model expects it. Differentiable; the caller tidies. */
export function applyPreprocess(x: tf.Tensor4D, p: Preprocess): tf.Tensor4D {
  let z: tf.Tensor4D = p.channelOrder === 'bgr' ? tf.reverse(x, 3) : x;
  if (p.scale !== 1) z = tf.mul(z, p.scale);
  if (p.mean.some((m) => m !== 0)) z = tf.sub(z, p.mean.length === 1 ? p.mean[0] : tf.tensor1d(p.mean));
  if (p.std.some((s) => s !== 1)) z = tf.div(z, p.std.length === 1 ? p.std[0] : tf.tensor1d(p.std));
  return z;
}
