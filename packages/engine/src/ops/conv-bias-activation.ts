import { tf } from '../tf.js';

/**
 * The kernel behind conv2dBiasActivation under a gradient tape: the backend's own FusedConv2D
 * (looked up at each call, so the oneDNN one on wasm), under a name whose gradient is the
 * engine's.
 */
const KERNEL = 'GazeConv2DBiasActivation';

export interface ConvBiasActivationArgs {
  x: tf.Tensor4D;
  /** [kH, kW, inChannels, outChannels] */
  filter: tf.Tensor4D;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
  dilations?: [number, number] | number;
  /** [outChannels] */
  bias?: tf.Tensor;
  activation?: 'linear' | 'relu';
}

const registeredOn = new Set<string>();

function ensureKernel(backendName: string): void {
  if (registeredOn.has(backendName)) return;
  tf.registerKernel({
    kernelName: KERNEL,
    backendName,
    kernelFunc: (args) => {
      const fused = tf.getKernel('FusedConv2D', backendName);
      if (!fused) throw new Error(`the ${backendName} backend has no FusedConv2D kernel`);
      return fused.kernelFunc(args);
    },
  });
  registeredOn.add(backendName);
}

let gradientRegistered = false;

/**
 * One closure per input, each run only when the tape needs that input's gradient: tfjs's fused
 * conv2d computes the filter's and the bias's gradients whenever any gradient flows through it
 * (its custom gradient returns all three), so a gradient to the input alone (TAME's masked
 * forward, saliency through a frozen network) paid a weight gradient, as costly as the
 * convolution, per layer.
 */
function ensureGradient(): void {
  if (gradientRegistered) return;
  tf.registerGradient({
    kernelName: KERNEL,
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      const { strides, pad, dimRoundingMode, activation } = attrs as unknown as {
        strides: [number, number] | number;
        pad: ConvBiasActivationArgs['pad'];
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
        activation: 'linear' | 'relu';
      };
      // ReLU's gradient from its output (y > 0 exactly where its input was), through the Relu
      // kernel's registered gradient (one oneDNN pass on wasm). Each closure runs in its own
      // scope, so each takes it afresh.
      const relu = tf.getGradient('Relu')!;
      const dz = () => (activation === 'relu' ? (relu.gradFunc(dy, [y], {}) as { x: () => tf.Tensor }).x() : (dy as tf.Tensor)) as tf.Tensor4D;
      const s = typeof strides === 'number' ? [strides, strides] : strides;
      const conv = { strides: s, pad, dataFormat: 'NHWC', ...(dimRoundingMode ? { dimRoundingMode } : {}) } as tf.NamedAttrMap;
      return {
        x: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: dz(), filter }, { ...conv, inputShape: x.shape }) as tf.Tensor4D,
        filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dz() }, { ...conv, filterShape: filter.shape }) as tf.Tensor4D,
        bias: () => tf.sum(dz(), [0, 1, 2]),
      };
    },
  });
  gradientRegistered = true;
}

/**
 * relu?(conv2d(x, filter) + bias), NHWC: `tf.fused.conv2d` outside a gradient tape; under one,
 * the same fused kernel (the activation stays fused, where tfjs would split off the bias and the
 * ReLU into passes of their own) with a gradient that computes only what the tape asks for.
 * Dilated convolutions keep tfjs's path.
 */
export function conv2dBiasActivation(args: ConvBiasActivationArgs): tf.Tensor4D {
  const { x, filter, strides, pad, bias, activation = 'linear' } = args;
  const dilations = args.dilations ?? 1;
  const dilated = typeof dilations === 'number' ? dilations !== 1 : dilations.some((d) => d !== 1);
  const engine = tf.engine();
  if (engine.state.gradientDepth === 0 || dilated) return tf.fused.conv2d({ x, filter, strides, pad, dilations, bias, activation });
  ensureKernel(tf.getBackend());
  ensureGradient();
  const inputs: Record<string, tf.Tensor> = bias ? { x, filter, bias } : { x, filter };
  const s = typeof strides === 'number' ? [strides, strides] : strides;
  return engine.runKernel(KERNEL, inputs, { strides: s, pad, dataFormat: 'NHWC', dilations: [1, 1], activation }) as tf.Tensor4D;
}
