import type { tf } from '../tf.js';
import { forEachPoolWindow, poolInfoFromAttrs } from './conv-geometry.js';
import { computeOutput, type KernelArgs } from './kernel-io.js';

/**
 * AvgPoolGrad as the exact adjoint of tfjs's forward AvgPool, which averages over the window's
 * in-bounds pixels only (TensorFlow's 'SAME' convention). tfjs 4.22's kernels divide every
 * window's gradient by the full window area, which is wrong at the borders under 'same' padding.
 */
// input: [B,H,W,C] (shape only), dy: [B,Ho,Wo,C] -> dx: [B,H,W,C]
export function avgPoolGrad({ inputs, backend, attrs }: KernelArgs<'dy' | 'input'>): tf.TensorInfo {
  const info = poolInfoFromAttrs(inputs.input.shape, attrs);
  const { inHeight, inWidth, inChannels: C } = info;
  return computeOutput(backend, inputs.input.shape, 'float32', [inputs.dy], (dx, dy) => {
    forEachPoolWindow(info, (outPixel, b, h0, h1, w0, w1) => {
      const share = 1 / Math.max(1, (h1 - h0) * (w1 - w0));
      for (let h = h0; h < h1; h++) {
        for (let w = w0; w < w1; w++) {
          const dxBase = ((b * inHeight + h) * inWidth + w) * C;
          for (let c = 0; c < C; c++) dx[dxBase + c] += dy[outPixel * C + c] * share;
        }
      }
    });
  });
}
