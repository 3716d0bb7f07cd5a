import { tf } from '../tf.js';
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
  return computeOutput(backend, inputs.input.shape, 'float32', [inputs.input, inputs.dy], (dx, x, dy) => {
    for (let b = 0; b < batchSize; b++) {
      for (let oh = 0; oh < outHeight; oh++) {
        const h0 = Math.max(0, oh * strideHeight - top);
        const h1 = Math.min(inHeight, oh * strideHeight - top + filterHeight);
        for (let ow = 0; ow < outWidth; ow++) {
          const w0 = Math.max(0, ow * strideWidth - left);
          const w1 = Math.min(inWidth, ow * strideWidth - left + filterWidth);
          const dyBase = ((b * outHeight + oh) * outWidth + ow) * C;
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
            if (at >= 0) dx[at] += dy[dyBase + c];
          }
        }
      }
    }
  });
}
