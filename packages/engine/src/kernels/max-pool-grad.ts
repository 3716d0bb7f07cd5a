import type { tf } from '../tf.js';
import { forEachPoolWindow, poolInfoFromAttrs } from './conv-geometry.js';
import { computeOutput, type KernelArgs } from './kernel-io.js';

/**
 * MaxPoolGrad for wasm, replacing the one tfjs-backend-wasm 4.22 ships. That kernel starts each
 * window's running max at FLT_MIN (the smallest positive float), so a window whose values are
 * all <= 0 routes its gradient to offset 0 of the tensor, and it breaks ties towards the last
 * maximum. Here each window's gradient goes to its first maximum in row-major window order, as
 * the CPU backend and TensorFlow do.
 */
// input: [B,H,W,C], dy: [B,Ho,Wo,C] -> dx: [B,H,W,C]
export function maxPoolGrad({ inputs, backend, attrs }: KernelArgs<'dy' | 'input' | 'output'>): tf.TensorInfo {
  const info = poolInfoFromAttrs(inputs.input.shape, attrs);
  const { inHeight, inWidth, inChannels: C } = info;
  return computeOutput(backend, inputs.input.shape, 'float32', [inputs.input, inputs.dy], (dx, x, dy) => {
    forEachPoolWindow(info, (outPixel, b, h0, h1, w0, w1) => {
      for (let c = 0; c < C; c++) {
        let best = -Infinity;
        let at = -1;
        for (let h = h0; h < h1; h++) {
          for (let w = w0; w < w1; w++) {
            const i = ((b * inHeight + h) * inWidth + w) * C + c;
            if (at < 0 || x[i] > best) {
              best = x[i];
              at = i;
            }
          }
        }
        if (at >= 0) dx[at] += dy[outPixel * C + c];
      }
    });
  });
}
