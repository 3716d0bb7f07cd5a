import { tf } from '../tf.js';

/** A normalized 1-D Gaussian of odd length `size`: w[i] ∝ exp(-(i - size/2)² / (2σ²)), Σw = 1. */
export function gaussianKernel1d(size: number, sigma: number): Float32Array {
  if (!Number.isInteger(size) || size < 1 || size % 2 === 0) {
    throw new Error(`gaussian kernel size must be a positive odd integer, got ${size}`);
  }
  if (!(sigma > 0)) throw new Error(`gaussian sigma must be > 0, got ${sigma}`);
  const half = (size - 1) / 2;
  const w = new Float32Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    w[i] = Math.exp(-((i - half) ** 2) / (2 * sigma * sigma));
    sum += w[i];
  }
  for (let i = 0; i < size; i++) w[i] /= sum;
  return w;
}

export interface BlurOptions {
  /** Odd kernel width in pixels. */
  kernelSize: number;
  sigma: number;
  /**
   * Border handling: `zeros` (what RISE's insertion substrate does: conv2d with zero padding,
   * so borders darken) or `reflect` (no darkening).
   */
  padding?: 'zeros' | 'reflect';
}

/**
 * Separable Gaussian blur applied to each channel independently.
 */
// x: [B,H,W,C] -> [B,H,W,C]
export function gaussianBlur(x: tf.Tensor4D, options: BlurOptions): tf.Tensor4D {
  const { kernelSize: k, sigma, padding = 'zeros' } = options;
  const w = gaussianKernel1d(k, sigma);
  const channels = x.shape[3];
  const half = (k - 1) / 2;
  if (padding === 'reflect' && (x.shape[1] <= half || x.shape[2] <= half)) {
    throw new Error(`reflect padding needs images larger than ${half} px, got ${x.shape[1]}x${x.shape[2]}`);
  }
  return tf.tidy(() => {
    // The same 1-D taps for every channel: [k,1,C,1] down the rows, [1,k,C,1] along the columns.
    const taps = tf.tensor1d(w).reshape([k, 1, 1, 1]).tile([1, 1, channels, 1]) as tf.Tensor4D;
    const rows = taps;
    const cols = taps.reshape([1, k, channels, 1]) as tf.Tensor4D;
    if (padding === 'zeros') {
      const v = tf.depthwiseConv2d(x, rows, 1, 'same');
      return tf.depthwiseConv2d(v, cols, 1, 'same');
    }
    const padded = tf.mirrorPad(x, [[0, 0], [half, half], [half, half], [0, 0]], 'reflect');
    const v = tf.depthwiseConv2d(padded, rows, 1, 'valid');
    return tf.depthwiseConv2d(v, cols, 1, 'valid');
  });
}
