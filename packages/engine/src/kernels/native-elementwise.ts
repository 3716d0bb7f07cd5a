import type { NativeKernels } from '@gaze/native';
import { tf } from '../tf.js';
import { poolInfoFromAttrs } from './conv-geometry.js';
import { heapFloats, type KernelArgs, type WasmLike } from './kernel-io.js';

/**
 * The kernels around the convolutions on oneDNN (@gaze/native), over views of the wasm heap:
 * sums (a conv bias's gradient sums dy over batch, height and width; wasm transposes first),
 * broadcasting binary ops (bias adds), ReLU and its gradient, and max pooling. On wasm each is a
 * single-threaded pass, and once the convolutions ran on oneDNN together they were a third of a
 * training step. Tensors smaller than NATIVE_MIN_ELEMENTS stay on wasm, where a call costs less.
 */

type Body = (args: KernelArgs<string>) => tf.TensorInfo;

/** Below this many output elements the wasm kernel is faster than a oneDNN call. */
export const NATIVE_MIN_ELEMENTS = 1 << 15;

const MAX_RANK = 12;

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Sum (or Mean) of a float32 tensor over one contiguous run of axes (any other pattern stays on
 * wasm): one matrix product with a vector of ones.
 */
export function nativeSum(native: NativeKernels, fallback: Body, mean = false): Body {
  return (args) => {
    const x = args.inputs.x;
    const backend = args.backend as unknown as WasmLike;
    if (x.dtype !== 'float32' || x.shape.length === 0 || x.shape.length > MAX_RANK || size(x.shape) < NATIVE_MIN_ELEMENTS) return fallback(args);
    const axes = [...new Set(tf.util.parseAxisParam(args.attrs.axis as number | number[], [...x.shape]))].sort((p, q) => p - q);
    const first = axes[0];
    const last = axes[axes.length - 1];
    if (axes.length === 0 || last - first + 1 !== axes.length) return fallback(args);
    const outer = size(x.shape.slice(0, first));
    const inner = size(x.shape.slice(last + 1));
    const reduced = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const outShape = args.attrs.keepDims ? reduced : x.shape.filter((_, i) => !axes.includes(i));
    const out = backend.makeOutput(outShape, 'float32');
    const count = size(x.shape) / (outer * inner);
    native.reduceSum(outer, count, inner, heapFloats(backend, x), heapFloats(backend, out));
    if (mean) {
      const sums = heapFloats(backend, out);
      for (let i = 0; i < sums.length; i++) sums[i] /= count;
    }
    return out;
  };
}

/** oneDNN's binary op codes (see @gaze/native). */
export const BINARY_OPS = { Add: 0, Multiply: 1, Sub: 2, RealDiv: 3, Maximum: 4, Minimum: 5 } as const;
const COMMUTATIVE = new Set(['Add', 'Multiply', 'Maximum', 'Minimum']);

/**
 * a (op) b with numpy broadcasting, where one operand has the output's shape (oneDNN broadcasts
 * only its second source; a commutative op swaps the operands when a is the broadcast one).
 */
export function nativeBinary(native: NativeKernels, kernelName: keyof typeof BINARY_OPS, fallback: Body): Body {
  return (args) => {
    const { a, b } = args.inputs;
    const backend = args.backend as unknown as WasmLike;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const outShape = tf.broadcast_util.assertAndGetBroadcastShape([...a.shape], [...b.shape]);
    if (outShape.length === 0 || outShape.length > MAX_RANK || size(outShape) < NATIVE_MIN_ELEMENTS) return fallback(args);
    const padded = (shape: readonly number[]) => [...new Array(outShape.length - shape.length).fill(1), ...shape];
    const pa = padded(a.shape);
    const pb = padded(b.shape);
    const full = (shape: number[]) => shape.every((d, i) => d === outShape[i]);
    let order: [tf.TensorInfo, number[], tf.TensorInfo, number[]];
    if (full(pa)) order = [a, pa, b, pb];
    else if (COMMUTATIVE.has(kernelName) && full(pb)) order = [b, pb, a, pa];
    else return fallback(args);
    const [first, firstDims, second, secondDims] = order;
    const out = backend.makeOutput(outShape, 'float32');
    if (native.binary(BINARY_OPS[kernelName], Int32Array.from(firstDims), Int32Array.from(secondDims), heapFloats(backend, first), heapFloats(backend, second), heapFloats(backend, out))) {
      return out;
    }
    backend.disposeData(out.dataId);
    return fallback(args);
  };
}

/** Below this many multiply-adds a matrix product stays on wasm. */
export const NATIVE_MIN_MATMUL_MACS = 1 << 18;

/** BatchMatMul of float32 [..., m, k] x [..., k, n] whose batch dims are equal or one of them is 1. */
export function nativeBatchMatMul(native: NativeKernels, fallback: Body): Body {
  return (args) => {
    const { a, b } = args.inputs;
    const backend = args.backend as unknown as WasmLike;
    const transposeA = Boolean(args.attrs.transposeA);
    const transposeB = Boolean(args.attrs.transposeB);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return fallback(args);
    const [ra, ca] = a.shape.slice(-2);
    const [rb, cb] = b.shape.slice(-2);
    const [m, k] = transposeA ? [ca, ra] : [ra, ca];
    const [kb, n] = transposeB ? [cb, rb] : [rb, cb];
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    const sa = size(batchA);
    const sb = size(batchB);
    const sameBatch = batchA.length === batchB.length && batchA.every((d, i) => d === batchB[i]);
    const broadcast = (sa === 1 && batchA.length <= batchB.length) || (sb === 1 && batchB.length <= batchA.length);
    if (k !== kb || !(sameBatch || broadcast) || Math.max(sa, sb) * m * n * k < NATIVE_MIN_MATMUL_MACS) return fallback(args);
    const batchShape = sa >= sb && batchA.length >= batchB.length ? batchA : batchB;
    const out = backend.makeOutput([...batchShape, m, n], 'float32');
    native.matmul(sa, sb, m, k, n, transposeA, transposeB, heapFloats(backend, a), heapFloats(backend, b), heapFloats(backend, out));
    return out;
  };
}

/** ResizeBilinear (forward: `backward` false) or ResizeBilinearGrad with half-pixel centres, NHWC float32; other settings stay on the kernel before. */
export function nativeResizeBilinear(native: NativeKernels, fallback: Body, backward: boolean): Body {
  return (args) => {
    const backend = args.backend as unknown as WasmLike;
    const { alignCorners, halfPixelCenters } = args.attrs as { alignCorners?: boolean; halfPixelCenters?: boolean };
    const source = args.inputs.images;
    const data = backward ? args.inputs.dy : source;
    if (alignCorners || !halfPixelCenters || source.shape.length !== 4 || data.dtype !== 'float32' || size(data.shape) < NATIVE_MIN_ELEMENTS / 4) return fallback(args);
    const [b, h, w, c] = source.shape;
    const [outH, outW] = backward ? data.shape.slice(1, 3) : (args.attrs.size as [number, number]);
    const out = backend.makeOutput(backward ? [b, h, w, c] : [b, outH, outW, c], 'float32');
    const dims = Int32Array.from([b, h, w, c, outH, outW]);
    if (backward) native.resizeBilinearBackward(dims, heapFloats(backend, data), heapFloats(backend, out));
    else native.resizeBilinear(dims, heapFloats(backend, data), heapFloats(backend, out));
    return out;
  };
}

/** ReLU forward. */
export function nativeRelu(native: NativeKernels, fallback: Body): Body {
  return (args) => {
    const x = args.inputs.x;
    const backend = args.backend as unknown as WasmLike;
    if (x.dtype !== 'float32' || size(x.shape) < NATIVE_MIN_ELEMENTS) return fallback(args);
    const out = backend.makeOutput([...x.shape], 'float32');
    native.relu(heapFloats(backend, x), heapFloats(backend, out));
    return out;
  };
}

/** Max pooling (NHWC, no dilation). */
export function nativeMaxPool(native: NativeKernels, fallback: Body): Body {
  return (args) => {
    const x = args.inputs.x;
    const backend = args.backend as unknown as WasmLike;
    if (x.dtype !== 'float32' || x.shape.length !== 4 || size(x.shape) < NATIVE_MIN_ELEMENTS) return fallback(args);
    const info = poolInfoFromAttrs(x.shape, args.attrs);
    const { top, left } = info.padInfo;
    const bottom = (info.outHeight - 1) * info.strideHeight + info.filterHeight - info.inHeight - top;
    const right = (info.outWidth - 1) * info.strideWidth + info.filterWidth - info.inWidth - left;
    if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || Math.min(top, left, bottom, right) < 0) return fallback(args);
    const out = backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
    const geometry = Int32Array.from([
      info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.filterHeight, info.filterWidth,
      info.outHeight, info.outWidth, info.strideHeight, info.strideWidth, top, left, bottom, right,
    ]);
    native.maxPoolForward(geometry, heapFloats(backend, x), heapFloats(backend, out));
    return out;
  };
}

const RELU_GRAD = 'GazeReluGrad';

/**
 * ReLU's gradient as one oneDNN op on wasm (tfjs computes dy * cast(step(x)): three passes). tfjs
 * keeps one gradient per kernel name, so the replacement keeps the upstream one for every other
 * backend and dtype.
 */
export function registerNativeReluGradient(native: NativeKernels): void {
  tf.registerKernel({
    kernelName: RELU_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { x, dy } = inputs as Record<string, tf.TensorInfo>;
      const heap = backend as unknown as WasmLike;
      const dx = heap.makeOutput([...x.shape], 'float32');
      native.reluBackward(heapFloats(heap, x), heapFloats(heap, dy), heapFloats(heap, dx));
      return dx;
    },
  });
  // Its own gradient (for second derivatives): linear in dy with the same mask; zero in x almost everywhere.
  tf.registerGradient({
    kernelName: RELU_GRAD,
    inputsToSave: ['x'],
    gradFunc: (ddx, saved) => {
      const [x] = saved;
      const g = ddx as tf.Tensor;
      return { dy: () => tf.engine().runKernel(RELU_GRAD, { x, dy: g }, {}) as tf.Tensor, x: () => tf.zerosLike(x) };
    },
  });
  const upstream = tf.getGradient('Relu');
  if (!upstream || (upstream.gradFunc as { gazeNative?: boolean }).gazeNative) return;
  const gradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const [x] = saved;
    const g = dy as tf.Tensor;
    if (tf.getBackend() === 'wasm' && x.dtype === 'float32' && g.dtype === 'float32' && x.size >= NATIVE_MIN_ELEMENTS) {
      return { x: () => tf.engine().runKernel(RELU_GRAD, { x, dy: g }, {}) as tf.Tensor };
    }
    return upstream.gradFunc(dy, saved, attrs);
  };
  (gradFunc as { gazeNative?: boolean }).gazeNative = true;
  tf.registerGradient({ kernelName: 'Relu', inputsToSave: upstream.inputsToSave, outputsToSave: upstream.outputsToSave, gradFunc });
}
