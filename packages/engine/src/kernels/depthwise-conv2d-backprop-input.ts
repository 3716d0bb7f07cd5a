import type { tf } from '../tf.js';
import { convInfoFromAttrs, forEachConvTap } from './conv-geometry.js';
import { computeOutput, type KernelArgs } from './kernel-io.js';

/**
 * DepthwiseConv2dNativeBackpropInput (wasm lacks it): scatter each output gradient back through
 * the window that produced it. Honours dilation.
 *
 *   dx[b, oh*sH + kh*dH - pT, ow*sW + kw*dW - pL, c] += dy[b,oh,ow,c*M+m] * W[kh,kw,c,m]
 */
// dy: [B,Ho,Wo,C*M], filter: [KH,KW,C,M] -> dx: inputShape [B,H,W,C]
export function depthwiseConv2dBackpropInput({ inputs, backend, attrs }: KernelArgs<'dy' | 'filter'>): tf.TensorInfo {
  const inputShape = attrs.inputShape as [number, number, number, number];
  const info = convInfoFromAttrs(inputShape, inputs.filter.shape, attrs, { depthwise: true, dilations: true });
  const { inChannels: C, outChannels } = info;
  const mult = inputs.filter.shape[3];
  return computeOutput(backend, inputShape, 'float32', [inputs.dy, inputs.filter], (dx, dy, filter) => {
    forEachConvTap(info, (outPixel, inPixel, tap) => {
      const dyBase = outPixel * outChannels;
      const dxBase = inPixel * C;
      const fBase = tap * C * mult;
      for (let c = 0; c < C; c++) {
        let sum = 0;
        for (let m = 0; m < mult; m++) sum += dy[dyBase + c * mult + m] * filter[fBase + c * mult + m];
        dx[dxBase + c] += sum;
      }
    });
  });
}
