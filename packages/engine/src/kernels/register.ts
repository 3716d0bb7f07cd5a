import { tf } from '../tf.js';
import { avgPoolGrad } from './avg-pool-grad.js';
import { batchNormGradConfig } from './batch-norm-grad.js';
import { conv2dBackpropFilter } from './conv2d-backprop-filter.js';
import { conv2dBackpropInput } from './conv2d-backprop-input.js';
import { depthwiseConv2dBackpropFilter } from './depthwise-conv2d-backprop-filter.js';
import { depthwiseConv2dBackpropInput } from './depthwise-conv2d-backprop-input.js';
import type { KernelArgs } from './kernel-io.js';
import { maxPoolGrad } from './max-pool-grad.js';
import { registerNativeBatchNorm, useNativeBatchNormInLayers } from './native-batch-norm.js';
import { BINARY_OPS, nativeBatchMatMul, nativeBinary, nativeMaxPool, nativeResizeBilinear, nativeRelu, nativeSum, registerNativeReluGradient } from './native-elementwise.js';
import { CONV_ADD_KERNEL, nativeBatchNormInference, nativeConvAddForward, nativeConvBackwardData, nativeConvBackwardWeights, nativeConvForward, nativeMaxPoolBackward } from './native-conv.js';
import { loadNative } from '@gaze/native';
import { resizeBilinearGrad } from './resize-bilinear-grad.js';
import { resizeNearestNeighborGrad } from './resize-nearest-neighbor-grad.js';
import { unsortedSegmentSum } from './unsorted-segment-sum.js';
import { castSharing, identitySharing } from './shared-data.js';
import { rememberUpstream } from './upstream.js';

/** A kernel the engine adds to, or corrects in, a tfjs backend so models train correctly there. */
export interface EngineKernel {
  kernelName: string;
  backends: readonly ('wasm' | 'cpu')[];
  why: 'missing' | 'replaces-faulty' | 'replaces-slow';
  note: string;
}

type KernelBody = (args: KernelArgs<string>) => tf.TensorInfo;

const KERNELS: (EngineKernel & { kernelFunc: KernelBody })[] = [
  { kernelName: 'Conv2DBackpropFilter', backends: ['wasm'], why: 'missing', note: 'gradient of conv2d w.r.t. its filter', kernelFunc: conv2dBackpropFilter },
  { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backends: ['wasm'], why: 'missing', note: 'gradient of depthwise/separable conv w.r.t. its filter', kernelFunc: depthwiseConv2dBackpropFilter },
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', backends: ['wasm'], why: 'missing', note: 'gradient of depthwise/separable conv w.r.t. its input', kernelFunc: depthwiseConv2dBackpropInput },
  { kernelName: 'UnsortedSegmentSum', backends: ['wasm'], why: 'missing', note: 'gradient of gather', kernelFunc: unsortedSegmentSum },
  { kernelName: 'Conv2DBackpropInput', backends: ['wasm'], why: 'replaces-slow', note: 'upstream is a plain loop, ~10x the forward conv; now one XNNPACK conv', kernelFunc: conv2dBackpropInput },
  { kernelName: 'MaxPoolGrad', backends: ['wasm'], why: 'replaces-faulty', note: 'upstream misroutes windows whose values are all <= 0', kernelFunc: maxPoolGrad },
  { kernelName: 'ResizeBilinearGrad', backends: ['wasm', 'cpu'], why: 'replaces-faulty', note: 'upstream ignores halfPixelCenters (and cpu swaps H/W)', kernelFunc: resizeBilinearGrad },
  { kernelName: 'ResizeNearestNeighborGrad', backends: ['wasm', 'cpu'], why: 'replaces-faulty', note: 'upstream ignores halfPixelCenters', kernelFunc: resizeNearestNeighborGrad },
  { kernelName: 'Identity', backends: ['wasm'], why: 'replaces-slow', note: 'upstream copies the data; shares it (refcounted), as the CPU backend does', kernelFunc: identitySharing },
  { kernelName: 'Cast', backends: ['wasm'], why: 'replaces-slow', note: 'a cast to the same dtype copied the data (now shared), and a cast to bool wrapped -2.2 to 254 (now x != 0)', kernelFunc: castSharing },
  { kernelName: 'AvgPoolGrad', backends: ['wasm', 'cpu'], why: 'replaces-faulty', note: "upstream divides border windows by the full area under 'same' padding", kernelFunc: avgPoolGrad },
];

export const ENGINE_KERNELS: readonly EngineKernel[] = KERNELS.map(({ kernelFunc: _, ...k }) => k);

/** The engine kernels registered on one backend. */
export function engineKernelsFor(backend: string): EngineKernel[] {
  return ENGINE_KERNELS.filter((k) => (k.backends as readonly string[]).includes(backend));
}

/** Gradients the engine replaces on every backend (tfjs keeps one gradient per kernel name). */
export const ENGINE_GRADIENTS = [{ kernelName: 'FusedBatchNorm', why: 'replaces-slow', note: 'upstream tiles rsqrt(variance) to the input size; broadcasting instead' }] as const;

/** Registers (or re-registers over upstream) the engine's kernels for `backend`; idempotent. */
export function registerEngineKernels(backend: 'wasm' | 'cpu'): void {
  if (tf.getGradient('FusedBatchNorm')?.gradFunc !== batchNormGradConfig.gradFunc) tf.registerGradient(batchNormGradConfig);
  // Once per backend: a second pass would take the native kernels for upstream ones.
  if (registered.has(backend)) return;
  registerOwnKernels(backend);
  if (backend === 'wasm') registerNativeKernels();
  registered.add(backend);
}

const registered = new Set<string>();

/** Kernels the oneDNN addon runs on wasm's heap when it is built (see nativeKernelStatus). */
export const NATIVE_KERNELS = [
  'Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'MaxPool', 'MaxPoolGrad', 'FusedBatchNorm',
  'ResizeBilinear', 'ResizeBilinearGrad', 'BatchMatMul', 'Sum', 'Mean', 'Add', 'Multiply', 'Sub', 'RealDiv', 'Maximum', 'Minimum', 'Relu',
] as const;

let nativeRegistered = false;

/** Whether the wasm backend's convolutions run on oneDNN (@gaze/native), and if not, why. */
export function nativeKernelStatus(): { active: boolean; detail: string } {
  const native = loadNative();
  if (!native.ok) return { active: false, detail: native.why };
  return { active: nativeRegistered, detail: `oneDNN ${native.version}: ${NATIVE_KERNELS.join(', ')}, ReLU's gradient, training-mode batch norm, conv + residual add` };
}

function registerNativeKernels(): void {
  const native = loadNative();
  if (!native.ok || nativeRegistered) return;
  const bodies: Record<(typeof NATIVE_KERNELS)[number], (fallback: KernelBody) => KernelBody> = {
    Conv2D: (fallback) => nativeConvForward(native.kernels, fallback, false),
    FusedConv2D: (fallback) => nativeConvForward(native.kernels, fallback, true),
    Conv2DBackpropInput: (fallback) => nativeConvBackwardData(native.kernels, fallback),
    Conv2DBackpropFilter: (fallback) => nativeConvBackwardWeights(native.kernels, fallback),
    MaxPoolGrad: (fallback) => nativeMaxPoolBackward(native.kernels, fallback),
    FusedBatchNorm: (fallback) => nativeBatchNormInference(native.kernels, fallback),
    MaxPool: (fallback) => nativeMaxPool(native.kernels, fallback),
    ResizeBilinear: (fallback) => nativeResizeBilinear(native.kernels, fallback, false),
    ResizeBilinearGrad: (fallback) => nativeResizeBilinear(native.kernels, fallback, true),
    BatchMatMul: (fallback) => nativeBatchMatMul(native.kernels, fallback),
    Sum: (fallback) => nativeSum(native.kernels, fallback),
    Mean: (fallback) => nativeSum(native.kernels, fallback, true),
    Relu: (fallback) => nativeRelu(native.kernels, fallback),
    ...(Object.fromEntries(
      (Object.keys(BINARY_OPS) as (keyof typeof BINARY_OPS)[]).map((name) => [name, (fallback: KernelBody) => nativeBinary(native.kernels, name, fallback)]),
    ) as Record<keyof typeof BINARY_OPS, (fallback: KernelBody) => KernelBody>),
  };
  for (const name of NATIVE_KERNELS) {
    const existing = tf.getKernel(name, 'wasm');
    if (!existing) continue;
    // The kernel it replaces (upstream or the engine's own) serves the cases oneDNN does not take.
    const fallback = existing.kernelFunc as unknown as KernelBody;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: bodies[name](fallback) as unknown as tf.KernelFunc, setupFunc: existing.setupFunc, disposeFunc: existing.disposeFunc });
  }
  tf.registerKernel({ kernelName: CONV_ADD_KERNEL, backendName: 'wasm', kernelFunc: nativeConvAddForward(native.kernels) as unknown as tf.KernelFunc });
  registerNativeBatchNorm(native.kernels);
  registerNativeReluGradient(native.kernels);
  useNativeBatchNormInLayers();
  nativeRegistered = true;
}

function registerOwnKernels(backend: 'wasm' | 'cpu'): void {
  for (const kernel of KERNELS) {
    if (!(kernel.backends as readonly string[]).includes(backend)) continue;
    const existing = tf.getKernel(kernel.kernelName, backend);
    if (existing?.kernelFunc === (kernel.kernelFunc as unknown)) continue;
    if (existing) {
      rememberUpstream(kernel.kernelName, backend, existing.kernelFunc);
      tf.unregisterKernel(kernel.kernelName, backend);
    }
    tf.registerKernel({
      kernelName: kernel.kernelName,
      backendName: backend,
      kernelFunc: kernel.kernelFunc as unknown as tf.KernelFunc,
      // Keep the upstream setup (wasm kernels bind their C++ entry points there) so a
      // replacement can still fall back to the upstream kernel.
      setupFunc: existing?.setupFunc,
      disposeFunc: existing?.disposeFunc,
    });
  }
}
