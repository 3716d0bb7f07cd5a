import type { tf } from '../tf.js';
import { convInfoFromAttrs } from './conv-geometry.js';
import { callKernel, computeOutput, disposeIntermediates, type KernelArgs } from './kernel-io.js';
import { upstreamKernel } from './upstream.js';

/**
 * Conv2DBackpropInput for wasm as one forward convolution on XNNPACK. tfjs-backend-wasm 4.22's
 * own kernel is a plain loop, ten times slower than the forward conv of the same size.
 *
 *   dx[b,h,w,ci] = sum_{kh,kw,co} dy[b, (h + pT - kh)/sH, (w + pL - kw)/sW, co] * W[kh,kw,ci,co]
 *
 * is the correlation of dy, zero-dilated by the stride, with W rotated by 180 degrees and its
 * channel axes swapped, padded by KH-1-pT on top (KW-1-pL left) and sized to the input. NCHW and
 * explicit paddings wider than the kernel fall back to the upstream kernel.
 */
// dy: [B,Ho,Wo,Co], filter: [KH,KW,Ci,Co] -> dx: inputShape [B,H,W,Ci]
export function conv2dBackpropInput(args: KernelArgs<'dy' | 'filter'>): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const inputShape = attrs.inputShape as [number, number, number, number];
  const info = convInfoFromAttrs(inputShape, filter.shape, attrs);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  if (attrs.dataFormat === 'NCHW' || top < 0 || left < 0) {
    return upstreamKernel('Conv2DBackpropInput', 'wasm')(args);
  }
  const [batch, outH, outW, co] = dy.shape;
  const dilatedH = (outH - 1) * sh + 1;
  const dilatedW = (outW - 1) * sw + 1;
  const bottom = info.inHeight - dilatedH - top + kh - 1;
  const right = info.inWidth - dilatedW - left + kw - 1;

  const dilated =
    sh === 1 && sw === 1
      ? dy
      : computeOutput(backend, [batch, dilatedH, dilatedW, co], 'float32', [dy], (out, src) => {
          for (let b = 0; b < batch; b++) {
            for (let i = 0; i < outH; i++) {
              for (let j = 0; j < outW; j++) {
                const from = ((b * outH + i) * outW + j) * co;
                const to = ((b * dilatedH + i * sh) * dilatedW + j * sw) * co;
                out.set(src.subarray(from, from + co), to);
              }
            }
          }
        });
  const rotated = callKernel('Reverse', 'wasm', backend, { x: filter }, { dims: [0, 1] });
  const swapped = callKernel('Transpose', 'wasm', backend, { x: rotated }, { perm: [0, 1, 3, 2] });
  const conv = callKernel(
    'Conv2D',
    'wasm',
    backend,
    { x: dilated, filter: swapped },
    {
      strides: [1, 1],
      pad: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]],
      dataFormat: 'NHWC',
      dilations: [1, 1],
      dimRoundingMode: undefined,
    },
  );
  const intermediates = [rotated, swapped];
  if (dilated !== dy) intermediates.push(dilated);
  let dx = conv;
  if (conv.shape[1] !== info.inHeight || conv.shape[2] !== info.inWidth) {
    dx = callKernel('Slice', 'wasm', backend, { x: conv }, { begin: [0, 0, 0, 0], size: [-1, info.inHeight, info.inWidth, -1] });
    intermediates.push(conv);
  }
  disposeIntermediates(backend, ...intermediates);
  return dx;
}
