import { tf } from '../tf.js';

/**
 * Bilinear resize of images [B,H,W,C] or maps [B,H,W] to `size`. Defaults to half-pixel centres,
 * which is PyTorch's `interpolate(mode='bilinear', align_corners=False)` as the reference code
 * uses it (tfjs's own default is the legacy TF1 sampling grid).
 */
// x: [B,H,W,C] | [B,H,W] -> same rank at [B,h,w(,C)]
export function resize<T extends tf.Tensor3D | tf.Tensor4D>(
  x: T,
  size: readonly [number, number],
  options: { alignCorners?: boolean } = {},
): T {
  const alignCorners = options.alignCorners ?? false;
  return tf.tidy(() => {
    const images = x.rank === 3 ? (x.expandDims(-1) as tf.Tensor4D) : (x as tf.Tensor4D);
    const [h, w] = [images.shape[1], images.shape[2]];
    const out =
      h === size[0] && w === size[1]
        ? images.clone()
        : tf.image.resizeBilinear(images, [size[0], size[1]], alignCorners, !alignCorners);
    return (x.rank === 3 ? out.squeeze([3]) : out) as T;
  });
}
