import { tf } from '../tf.js';
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
  const filterShape = inputs.filter.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
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
  return computeOutput(backend, inputShape, 'float32', [inputs.dy, inputs.filter], (dx, dy, filter) => {
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
              const dxBase = ((b * inHeight + h) * inWidth + w) * inChannels;
              const fBase = (i * kw + j) * inChannels * mult;
              for (let c = 0; c < inChannels; c++) {
                let sum = 0;
                for (let m = 0; m < mult; m++) sum += dy[dyBase + c * mult + m] * filter[fBase + c * mult + m];
                dx[dxBase + c] += sum;
              }
            }
          }
        }
      }
    }
  });
}
