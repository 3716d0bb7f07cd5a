import type { tf } from '../tf.js';
import { convInfoFromAttrs, forEachConvTap } from './conv-geometry.js';
import { computeOutput, type KernelArgs } from './kernel-io.js';

/**
 * DepthwiseConv2dNativeBackpropFilter (wasm lacks it). Depthwise convs cost as much as their
 * input, so a direct loop is adequate and exact; unlike the CPU backend's kernel it honours
 * dilation.
 *
 *   dW[kh,kw,c,m] = sum_{b,oh,ow} x[b, oh*sH + kh*dH - pT, ow*sW + kw*dW - pL, c] * dy[b,oh,ow,c*M+m]
 */
// x: [B,H,W,C], dy: [B,Ho,Wo,C*M] -> dW: [KH,KW,C,M]
export function depthwiseConv2dBackpropFilter({ inputs, backend, attrs }: KernelArgs<'x' | 'dy'>): tf.TensorInfo {
  const filterShape = attrs.filterShape as [number, number, number, number];
  const info = convInfoFromAttrs(inputs.x.shape, filterShape, attrs, { depthwise: true, dilations: true });
  const { inChannels: C, outChannels } = info;
  const mult = filterShape[3];
  return computeOutput(backend, filterShape, 'float32', [inputs.x, inputs.dy], (dw, x, dy) => {
    forEachConvTap(info, (outPixel, inPixel, tap) => {
      const dyBase = outPixel * outChannels;
      const xBase = inPixel * C;
      const dwBase = tap * C * mult;
      for (let c = 0; c < C; c++) {
        const xv = x[xBase + c];
        for (let m = 0; m < mult; m++) dw[dwBase + c * mult + m] += xv * dy[dyBase + c * mult + m];
      }
    });
  });
}
