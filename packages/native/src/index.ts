import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Kernels on oneDNN over caller-owned Float32Arrays (NHWC data, HWIO filters). A convolution's `geometry` is
 * an Int32Array of 18: [B, H, W, Ci, KH, KW, Co, Ho, Wo, strideH, strideW, padTop, padLeft,
 * padBottom, padRight, dilationH, dilationW, flags] (flags bit 0: ReLU after the bias).
 */
export interface NativeKernels {
  conv2dForward(geometry: Int32Array, x: Float32Array, w: Float32Array, bias: Float32Array | null, out: Float32Array, addend?: Float32Array | null): void;
  conv2dBackwardData(geometry: Int32Array, dy: Float32Array, w: Float32Array, dx: Float32Array): void;
  conv2dBackwardWeights(geometry: Int32Array, x: Float32Array, dy: Float32Array, dw: Float32Array): void;
  /** Max-pooling gradient; geometry Int32Array(14): [B, H, W, C, KH, KW, Ho, Wo, strideH, strideW, padTop, padLeft, padBottom, padRight]. */
  maxPoolBackward(geometry: Int32Array, x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** Training-mode batch norm over the last axis of NHWC x (shape Int32Array(4)): y, the batch mean and biased variance. */
  batchNormTraining(shape: Int32Array, x: Float32Array, gamma: Float32Array, beta: Float32Array, epsilon: number, y: Float32Array, mean: Float32Array, variance: Float32Array): void;
  /** Its gradient with respect to x, gamma and beta (the batch statistics are functions of x). */
  batchNormTrainingBackward(shape: Int32Array, x: Float32Array, dy: Float32Array, gamma: Float32Array, mean: Float32Array, variance: Float32Array, epsilon: number, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array): void;
  /** Batch norm with given statistics over the last axis of NHWC x (gamma/beta optional). */
  batchNormInference(shape: Int32Array, x: Float32Array, mean: Float32Array, variance: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, epsilon: number, y: Float32Array): void;
  /** x seen as [outer, reduced, inner]: out[o, i] = sum over r of x[o, r, i]. */
  reduceSum(outer: number, reduced: number, inner: number, x: Float32Array, out: Float32Array): void;
  /** out = a (op) b with b broadcast over a (each of bDims equals aDims' or is 1); op 0 add, 1 multiply, 2 subtract, 3 divide, 4 maximum, 5 minimum. False (out untouched) where oneDNN has only its slow reference loop for these shapes. */
  binary(op: number, aDims: Int32Array, bDims: Int32Array, a: Float32Array, b: Float32Array, out: Float32Array): boolean;
  /** out[i] = op(a[i]) x op(b[i]) over batches (a batch of 1 broadcasts); a is [batchA, m, k] ([batchA, k, m] when transposeA), b [batchB, k, n] ([batchB, n, k] when transposeB). */
  matmul(batchA: number, batchB: number, m: number, k: number, n: number, transposeA: boolean, transposeB: boolean, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** Bilinear resampling of NHWC x with half-pixel centres; dims Int32Array(6): [B, H, W, C, outH, outW]. */
  resizeBilinear(dims: Int32Array, x: Float32Array, out: Float32Array): void;
  /** Its gradient: dy [B, outH, outW, C] -> dx [B, H, W, C]. */
  resizeBilinearBackward(dims: Int32Array, dy: Float32Array, dx: Float32Array): void;
  /** out = max(x, 0). */
  relu(x: Float32Array, out: Float32Array): void;
  /** dx = x > 0 ? dy : 0. */
  reluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** Max pooling; geometry as maxPoolBackward's. */
  maxPoolForward(geometry: Int32Array, x: Float32Array, out: Float32Array): void;
  /** tfjs's Adam over one variable in float32 (m and v in place, the new values into out); constants [b1, 1-b1, b2, 1-b2, 1-b1^t, 1-b2^t, eps, -lr]. */
  adamUpdate(g: Float32Array, m: Float32Array, v: Float32Array, p: Float32Array, out: Float32Array, constants: Float32Array): void;
  /** Sets the OpenMP pool (oneDNN's threads and this addon's loops); OMP_NUM_THREADS gives its starting size. */
  setThreads(n: number): void;
  /** The pool's size. */
  threads(): number;
  onednnVersion(): string;
}

export type NativeStatus = { ok: true; kernels: NativeKernels; version: string } | { ok: false; why: string };

const ADDON = fileURLToPath(new URL('../build/Release/gaze_native.node', import.meta.url));
const STATUS = fileURLToPath(new URL('../build/status.json', import.meta.url));

let cached: NativeStatus | undefined;

/** Loads the addon once; when it is absent or fails to load, says why (from the install's build status when there is one). */
export function loadNative(): NativeStatus {
  if (cached) return cached;
  if (process.env.GAZE_NATIVE === '0') return (cached = { ok: false, why: 'turned off by GAZE_NATIVE=0' });
  if (!existsSync(ADDON)) {
    let why = 'the oneDNN addon was not built (npm rebuild @gaze/native after installing libdnnl-dev)';
    if (existsSync(STATUS)) {
      const status = JSON.parse(readFileSync(STATUS, 'utf8')) as { ok: boolean; why?: string };
      if (!status.ok && status.why) why = status.why;
    }
    return (cached = { ok: false, why });
  }
  try {
    const kernels = createRequire(import.meta.url)(ADDON) as NativeKernels;
    return (cached = { ok: true, kernels, version: kernels.onednnVersion() });
  } catch (error) {
    return (cached = { ok: false, why: `the oneDNN addon did not load: ${(error as Error).message}` });
  }
}
