import type { NativeKernels } from '@gaze/native';
import type { tf } from '../tf.js';
import { convInfoFromAttrs, poolInfoFromAttrs } from './conv-geometry.js';
import { heapFloats, type KernelArgs, type WasmLike } from './kernel-io.js';

/**
 * wasm kernels that hand convolutions and the max-pooling gradient to the oneDNN addon (@gaze/native), on views of the wasm
 * heap: no copies, and oneDNN's own threads. Each covers NHWC float32 convolutions (any stride,
 * padding and dilation); anything else (NCHW, fused activations other than ReLU, broadcast
 * biases) goes to the kernel registered before it.
 */


type Body = (args: KernelArgs<string>) => tf.TensorInfo;
type ConvInfo = ReturnType<typeof convInfoFromAttrs>;

/**
 * Bottom/right padding as the output size implies it (oneDNN checks the sizes add up; tfjs's
 * numeric padding can list more than the last window reaches). Negative where the last window
 * stops short of the input's end (a strided 'valid' convolution: a 1x1 stride-2 one over an even
 * size skips the last row).
 */
function farPadding(info: ConvInfo): { bottom: number; right: number } {
  const { top, left } = info.padInfo;
  return {
    bottom: (info.outHeight - 1) * info.strideHeight + (info.filterHeight - 1) * info.dilationHeight + 1 - info.inHeight - top,
    right: (info.outWidth - 1) * info.strideWidth + (info.filterWidth - 1) * info.dilationWidth + 1 - info.inWidth - left,
  };
}

/**
 * The far padding a forward convolution hands oneDNN: 0 where it is negative, which oneDNN's size
 * check accepts (it floors the division, as tfjs does) and which leaves the unread rows out. Only
 * forward: oneDNN 2.6's backward kernels given such a geometry wrote out of bounds (a heap
 * corruption seen in BR-NPA's tests), so the gradients keep the engine's kernels for it.
 */
function forwardFarPadding(info: ConvInfo): { bottom: number; right: number } {
  const { bottom, right } = farPadding(info);
  return { bottom: Math.max(0, bottom), right: Math.max(0, right) };
}

/** The 18-int geometry the addon reads (see @gaze/native). */
function geometry(info: ConvInfo, flags: number, far = farPadding(info)): Int32Array {
  const { top, left } = info.padInfo;
  const { bottom, right } = far;
  return Int32Array.from([
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.filterHeight, info.filterWidth, info.outChannels,
    info.outHeight, info.outWidth, info.strideHeight, info.strideWidth,
    top, left, bottom, right, info.dilationHeight, info.dilationWidth, flags,
  ]);
}

function supported(info: ConvInfo, attrs: Record<string, unknown>, far: { bottom: number; right: number }, ...dtypes: string[]): boolean {
  const { top, left } = info.padInfo;
  const { bottom, right } = far;
  return attrs.dataFormat !== 'NCHW' && dtypes.every((d) => d === 'float32') && Math.min(top, left, bottom, right) >= 0;
}


/** Conv2D and FusedConv2D (bias [Co], activation linear or relu) on oneDNN. */
export function nativeConvForward(native: NativeKernels, fallback: Body, fused: boolean): Body {
  return (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as WasmLike;
    const x = inputs.x;
    const filter = inputs.filter;
    const bias = fused ? inputs.bias : undefined;
    const activation = fused ? ((attrs.activation as string | undefined) ?? 'linear') : 'linear';
    const info = convInfoFromAttrs(x.shape, filter.shape, attrs, { dilations: true });
    const biasOk = bias === undefined || (bias.shape.length === 1 && bias.shape[0] === info.outChannels && bias.dtype === 'float32');
    const far = forwardFarPadding(info);
    if (!supported(info, attrs, far, x.dtype, filter.dtype) || !biasOk || (activation !== 'linear' && activation !== 'relu') || (fused && inputs.preluActivationWeights)) {
      return fallback(args);
    }
    const out = backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
    // Views after the allocation, which may grow the heap.
    native.conv2dForward(geometry(info, activation === 'relu' ? 1 : 0, far), heapFloats(backend, x), heapFloats(backend, filter), bias ? heapFloats(backend, bias) : null, heapFloats(backend, out));
    return out;
  };
}

/** The kernel name of relu?(conv2d(x, filter) + bias + addend) in one oneDNN pass (engine op conv2dBiasActivation's `add`). */
export const CONV_ADD_KERNEL = 'GazeConv2DBiasAddActivation';

/**
 * conv2d + bias + a residual term + ReLU as one oneDNN convolution with post-ops, on the wasm
 * heap. It has no fallback of its own: conv2dBiasActivation calls it only for what it covers
 * (NHWC float32, bias [Co] or none, an addend of the output's shape, no dilation).
 */
export function nativeConvAddForward(native: NativeKernels): Body {
  return (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as WasmLike;
    const { x, filter, bias, addend } = inputs;
    const info = convInfoFromAttrs(x.shape, filter.shape, attrs, { dilations: true });
    const relu = attrs.activation === 'relu';
    const out = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
    const far = forwardFarPadding(info);
    if (!supported(info, attrs, far, x.dtype, filter.dtype, addend.dtype) || addend.shape.join() !== out.join() || (bias && (bias.shape.join() !== String(info.outChannels) || bias.dtype !== 'float32'))) {
      throw new Error(`${CONV_ADD_KERNEL}: unsupported call (x [${x.shape}], filter [${filter.shape}], addend [${addend.shape}])`);
    }
    const y = backend.makeOutput(out, 'float32');
    native.conv2dForward(geometry(info, relu ? 1 : 0, far), heapFloats(backend, x), heapFloats(backend, filter), bias ? heapFloats(backend, bias) : null, heapFloats(backend, y), heapFloats(backend, addend));
    return y;
  };
}

/** Conv2DBackpropInput on oneDNN. */
export function nativeConvBackwardData(native: NativeKernels, fallback: Body): Body {
  return (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as WasmLike;
    const { dy, filter } = inputs;
    const inputShape = attrs.inputShape as [number, number, number, number];
    const info = convInfoFromAttrs(inputShape, filter.shape, attrs);
    if (!supported(info, attrs, farPadding(info), dy.dtype, filter.dtype)) return fallback(args);
    const dx = backend.makeOutput([...inputShape], 'float32');
    native.conv2dBackwardData(geometry(info, 0), heapFloats(backend, dy), heapFloats(backend, filter), heapFloats(backend, dx));
    return dx;
  };
}

/** Conv2DBackpropFilter on oneDNN. */
export function nativeConvBackwardWeights(native: NativeKernels, fallback: Body): Body {
  return (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as WasmLike;
    const { x, dy } = inputs;
    const filterShape = attrs.filterShape as [number, number, number, number];
    const info = convInfoFromAttrs(x.shape, filterShape, attrs);
    if (!supported(info, attrs, farPadding(info), x.dtype, dy.dtype)) return fallback(args);
    const dw = backend.makeOutput([...filterShape], 'float32');
    native.conv2dBackwardWeights(geometry(info, 0), heapFloats(backend, x), heapFloats(backend, dy), heapFloats(backend, dw));
    return dw;
  };
}

/** MaxPoolGrad on oneDNN (its workspace from a second forward pass says where each maximum is). */
export function nativeMaxPoolBackward(native: NativeKernels, fallback: Body): Body {
  return (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as WasmLike;
    const { dy, input } = inputs;
    const info = poolInfoFromAttrs(input.shape, attrs);
    const { top, left } = info.padInfo;
    const { bottom, right } = farPadding(info);
    if (dy.dtype !== 'float32' || input.dtype !== 'float32' || Math.min(top, left, bottom, right) < 0 || info.dilationHeight !== 1 || info.dilationWidth !== 1) {
      return fallback(args);
    }
    const dx = backend.makeOutput([...input.shape], 'float32');
    const geometry = Int32Array.from([
      info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.filterHeight, info.filterWidth,
      info.outHeight, info.outWidth, info.strideHeight, info.strideWidth, top, left, bottom, right,
    ]);
    native.maxPoolBackward(geometry, heapFloats(backend, input), heapFloats(backend, dy), heapFloats(backend, dx));
    return dx;
  };
}

/** FusedBatchNorm (batch norm with given statistics, e.g. inference) on oneDNN: per-channel [C] parameters over NHWC x. */
export function nativeBatchNormInference(native: NativeKernels, fallback: Body): Body {
  return (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as unknown as WasmLike;
    const { x, mean, variance, scale, offset } = inputs as Record<string, tf.TensorInfo | undefined> as Record<string, tf.TensorInfo>;
    const channels = x.shape[3];
    // [C], or [1,1,1,C] as tfjs-layers passes when it broadcasts
    const perChannel = (t: tf.TensorInfo | undefined) =>
      t === undefined || (t.dtype === 'float32' && t.shape[t.shape.length - 1] === channels && t.shape.slice(0, -1).every((d) => d === 1));
    if (x.shape.length !== 4 || x.dtype !== 'float32' || ![mean, variance].every((t) => t !== undefined && perChannel(t)) || !perChannel(scale) || !perChannel(offset)) {
      return fallback(args);
    }
    const y = backend.makeOutput([...x.shape], 'float32');
    native.batchNormInference(
      Int32Array.from(x.shape), heapFloats(backend, x), heapFloats(backend, mean), heapFloats(backend, variance),
      scale ? heapFloats(backend, scale) : null, offset ? heapFloats(backend, offset) : null, attrs.varianceEpsilon as number, heapFloats(backend, y),
    );
    return y;
  };
}
