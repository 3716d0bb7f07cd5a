import type { tf } from '../tf.js';
import { convInfoFromAttrs } from './conv-geometry.js';
import { callKernel, disposeIntermediates, type KernelArgs } from './kernel-io.js';

/**
 * Conv2DBackpropFilter for wasm (which lacks it), as one forward convolution (so it runs on XNNPACK):
 *
 *   dW[kh,kw,ci,co] = sum_{b,oh,ow} x[b, oh*sH + kh - pT, ow*sW + kw - pL, ci] * dy[b,oh,ow,co]
 *
 * which is conv2d(xT, dyT) with xT = x as [Ci,H,W,B] (channels become the batch), dyT = dy as
 * [Ho,Wo,B,Co] (the filter), stride 1 and dilation = the forward stride, then transposed back.
 * The bottom/right padding is chosen so the output is exactly [KH,KW]; when the forward pass
 * left input rows unused ('valid' with a remainder) the extra output rows are sliced off.
 */
// x: [B,H,W,Ci], dy: [B,Ho,Wo,Co] -> dW: [KH,KW,Ci,Co]
export function conv2dBackpropFilter({ inputs, backend, attrs }: KernelArgs<'x' | 'dy'>): tf.TensorInfo {
  const { x, dy } = inputs;
  const filterShape = attrs.filterShape as [number, number, number, number];
  if (attrs.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
  const info = convInfoFromAttrs(x.shape, filterShape, attrs);
  const { top, left } = info.padInfo;
  const [kh, kw] = filterShape;
  // Rows the last output position reaches, counted from the padded top; pad or crop to fit kh.
  const bottom = kh + (info.outHeight - 1) * info.strideHeight - info.inHeight - top;
  const right = kw + (info.outWidth - 1) * info.strideWidth - info.inWidth - left;

  const xT = callKernel('Transpose', 'wasm', backend, { x }, { perm: [3, 1, 2, 0] });
  const dyT = callKernel('Transpose', 'wasm', backend, { x: dy }, { perm: [1, 2, 0, 3] });
  const conv = callKernel('Conv2D', 'wasm', backend,
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      pad: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]],
      dataFormat: 'NHWC',
      dilations: [info.strideHeight, info.strideWidth],
      dimRoundingMode: undefined,
    },
  );
  let fitted = conv;
  if (conv.shape[1] !== kh || conv.shape[2] !== kw) {
    fitted = callKernel('Slice', 'wasm', backend, { x: conv }, { begin: [0, 0, 0, 0], size: [-1, kh, kw, -1] });
  }
  const dW = callKernel('Transpose', 'wasm', backend, { x: fitted }, { perm: [1, 2, 0, 3] });
  disposeIntermediates(backend, xT, dyT, conv);
  if (fitted !== conv) disposeIntermediates(backend, fitted);
  return dW;
}

