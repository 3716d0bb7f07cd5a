import { tf } from '../tf.js';
import { computeOutput, type KernelArgs } from './kernel-io.js';
import { nearestTaps } from './resize-sampling.js';

/**
 * ResizeNearestNeighborGrad as the exact adjoint of tfjs's forward kernel: each output pixel's
 * gradient goes to the input pixel it copied. tfjs 4.22's own kernels ignore `halfPixelCenters`.
 */
// images: [B,H,W,C] (shape only), dy: [B,h,w,C] -> dx: [B,H,W,C]
export function resizeNearestNeighborGrad({ inputs, backend, attrs }: KernelArgs<'images' | 'dy'>): tf.TensorInfo {
  const [batch, inH, inW, channels] = inputs.images.shape;
  const [, outH, outW] = inputs.dy.shape;
  const alignCorners = Boolean(attrs.alignCorners);
  const halfPixel = Boolean(attrs.halfPixelCenters);
  const rows = nearestTaps(inH, outH, alignCorners, halfPixel);
  const cols = nearestTaps(inW, outW, alignCorners, halfPixel);
  return computeOutput(backend, inputs.images.shape, 'float32', [inputs.dy], (dx, dy) => {
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < outH; r++) {
        for (let c = 0; c < outW; c++) {
          const dst = ((b * inH + rows[r]) * inW + cols[c]) * channels;
          const src = ((b * outH + r) * outW + c) * channels;
          for (let d = 0; d < channels; d++) dx[dst + d] += dy[src + d];
        }
      }
    }
  });
}
