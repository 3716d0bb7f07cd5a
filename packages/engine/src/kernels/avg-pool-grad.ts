import { tf } from '../tf.js';
import { computeOutput, type KernelArgs } from './kernel-io.js';

/**
 * AvgPoolGrad as the exact adjoint of tfjs's forward AvgPool, which averages over the window's
 * in-bounds pixels only (TensorFlow's 'SAME' convention). tfjs 4.22's kernels divide every
 * window's gradient by the full window area, which is wrong at the borders under 'same' padding.
 */
// input: [B,H,W,C] (shape only), dy: [B,Ho,Wo,C] -> dx: [B,H,W,C]
export function avgPoolGrad({ inputs, backend, attrs }: KernelArgs<'dy' | 'input'>): tf.TensorInfo {
  const info = tf.backend_util.computePool2DInfo(
    inputs.input.shape as [number, number, number, number],
    attrs.filterSize as number | [number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  return computeOutput(backend, inputs.input.shape, 'float32', [inputs.dy], (dx, dy) => {
    for (let b = 0; b < batchSize; b++) {
      for (let oh = 0; oh < outHeight; oh++) {
        const h0 = Math.max(0, oh * strideHeight - top);
        const h1 = Math.min(inHeight, oh * strideHeight - top + filterHeight);
        for (let ow = 0; ow < outWidth; ow++) {
          const w0 = Math.max(0, ow * strideWidth - left);
          const w1 = Math.min(inWidth, ow * strideWidth - left + filterWidth);
          const share = 1 / Math.max(1, (h1 - h0) * (w1 - w0));
          const dyBase = ((b * outHeight + oh) * outWidth + ow) * C;
          for (let h = h0; h < h1; h++) {
            for (let w = w0; w < w1; w++) {
              const dxBase = ((b * inHeight + h) * inWidth + w) * C;
              for (let c = 0; c < C; c++) dx[dxBase + c] += dy[dyBase + c] * share;
            }
          }
        }
      }
    }
  });
}
