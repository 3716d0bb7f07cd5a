import { tf } from '../tf.js';
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
  const info = tf.backend_util.computeConv2DInfo(
    inputs.x.shape as [number, number, number, number],
    filterShape,
    attrs.strides as number | [number, number],
    (attrs.dilations as number | [number, number] | undefined) ?? 1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    true,
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const [kh, kw, , mult] = filterShape;
  const { top, left } = info.padInfo;
  return computeOutput(backend, filterShape, 'float32', [inputs.x, inputs.dy], (dw, x, dy) => {
    for (let b = 0; b < batchSize; b++) {
      for (let oh = 0; oh < outHeight; oh++) {
        for (let ow = 0; ow < outWidth; ow++) {
          const dyBase = ((b * outHeight + oh) * outWidth + ow) * outChannels;
          for (let i = 0; i < kh; i++) {
            const h = oh * strideHeight + i * dilationHeight - top;
            if (h < 0 || h >= inHeight) continue;
            for (let j = 0; j < kw; j++) {
              const w = ow * strideWidth + j * dilationWidth - left;
              if (w < 0 || w >= inWidth) continue;
              const xBase = ((b * inHeight + h) * inWidth + w) * inChannels;
              const dwBase = (i * kw + j) * inChannels * mult;
              for (let c = 0; c < inChannels; c++) {
                const xv = x[xBase + c];
                for (let m = 0; m < mult; m++) dw[dwBase + c * mult + m] += xv * dy[dyBase + c * mult + m];
              }
            }
          }
        }
      }
    }
  });
}
