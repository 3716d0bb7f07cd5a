import { tf } from '../tf.js';

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** Conv geometry (output size, padding) from a conv kernel's attrs, as the forward op computed it. */
export function convInfoFromAttrs(
  inShape: readonly number[],
  filterShape: readonly number[],
  attrs: Record<string, unknown>,
  options: { depthwise?: boolean; dilations?: boolean } = {},
): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | [number, number],
    options.dilations ? ((attrs.dilations as number | [number, number] | undefined) ?? 1) : 1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as Rounding,
    options.depthwise ?? false,
  );
}

/** Pooling geometry from a pooling-gradient kernel's attrs. */
export function poolInfoFromAttrs(inShape: readonly number[], attrs: Record<string, unknown>): Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    inShape as [number, number, number, number],
    attrs.filterSize as number | [number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as Rounding,
  );
}

/**
 * Visits every (output pixel, filter tap) pair whose input pixel lies inside the image, with
 * pixel indices (multiply by the channel count for offsets): `outPixel` into [B,Ho,Wo],
 * `inPixel` into [B,H,W], `tap` into [KH,KW].
 */
export function forEachConvTap(info: Conv2DInfo, visit: (outPixel: number, inPixel: number, tap: number) => void): void {
  const { batchSize, inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const outPixel = (b * outHeight + oh) * outWidth + ow;
        for (let i = 0; i < filterHeight; i++) {
          const h = oh * strideHeight + i * dilationHeight - top;
          if (h < 0 || h >= inHeight) continue;
          for (let j = 0; j < filterWidth; j++) {
            const w = ow * strideWidth + j * dilationWidth - left;
            if (w < 0 || w >= inWidth) continue;
            visit(outPixel, (b * inHeight + h) * inWidth + w, i * filterWidth + j);
          }
        }
      }
    }
  }
}

/**
 * Visits every pooling window clipped to the image: `outPixel` into [B,Ho,Wo], and the window's
 * rows [h0,h1) and columns [w0,w1) of batch item `b`.
 */
export function forEachPoolWindow(
  info: Conv2DInfo,
  visit: (outPixel: number, b: number, h0: number, h1: number, w0: number, w1: number) => void,
): void {
  const { batchSize, inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = Math.max(0, oh * strideHeight - top);
      const h1 = Math.min(inHeight, oh * strideHeight - top + filterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = Math.max(0, ow * strideWidth - left);
        const w1 = Math.min(inWidth, ow * strideWidth - left + filterWidth);
        visit((b * outHeight + oh) * outWidth + ow, b, h0, h1, w0, w1);
      }
    }
  }
}
