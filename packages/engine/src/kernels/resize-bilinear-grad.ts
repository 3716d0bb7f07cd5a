import { tf } from '../tf.js';
import { computeOutput, type KernelArgs } from './kernel-io.js';
import { bilinearTaps } from './resize-sampling.js';

/**
 * ResizeBilinearGrad as the exact adjoint of tfjs's forward ResizeBilinear. tfjs 4.22's own
 * kernels (CPU and wasm) ignore `halfPixelCenters`, so the gradient of PyTorch-style
 * (align_corners=False) upsampling, the one TAME trains through, came out as the gradient of a
 * different grid; the CPU kernel also swaps height and width for non-square images.
 */
// images: [B,H,W,C] (shape only), dy: [B,h,w,C] -> dx: [B,H,W,C]
export function resizeBilinearGrad({ inputs, backend, attrs }: KernelArgs<'images' | 'dy'>): tf.TensorInfo {
  const [batch, inH, inW, channels] = inputs.images.shape;
  const [, outH, outW] = inputs.dy.shape;
  const alignCorners = Boolean(attrs.alignCorners);
  const halfPixel = Boolean(attrs.halfPixelCenters);
  const rows = bilinearTaps(inH, outH, alignCorners, halfPixel);
  const cols = bilinearTaps(inW, outW, alignCorners, halfPixel);
  return computeOutput(backend, inputs.images.shape, 'float32', [inputs.dy], (dx, dy) => {
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < outH; r++) {
        const top = (b * inH + rows.lo[r]) * inW;
        const bottom = (b * inH + rows.hi[r]) * inW;
        const fr = rows.frac[r];
        for (let c = 0; c < outW; c++) {
          const fc = cols.frac[c];
          const tl = (top + cols.lo[c]) * channels;
          const tr = (top + cols.hi[c]) * channels;
          const bl = (bottom + cols.lo[c]) * channels;
          const br = (bottom + cols.hi[c]) * channels;
          const src = ((b * outH + r) * outW + c) * channels;
          for (let d = 0; d < channels; d++) {
            const g = dy[src + d];
            dx[tl + d] += g * (1 - fr) * (1 - fc);
            dx[tr + d] += g * (1 - fr) * fc;
            dx[bl + d] += g * fr * (1 - fc);
            dx[br + d] += g * fr * fc;
          }
        }
      }
    }
  });
}
