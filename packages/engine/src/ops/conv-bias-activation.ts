import { CONV_ADD_KERNEL } from '../kernels/native-conv.js';
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
  /** A residual term of the output's shape, added before the activation. */
  add?: tf.Tensor4D;
  activation?: 'linear' | 'relu';
}

function ensureKernel(backendName: string): void {
  if (tf.getKernel(KERNEL, backendName)) return;
  tf.registerKernel({
    kernelName: KERNEL,
    backendName,
    kernelFunc: (args) => {
      const fused = tf.getKernel('FusedConv2D', backendName);
      if (!fused) throw new Error(`the ${backendName} backend has no FusedConv2D kernel`);
      return fused.kernelFunc(args);
    },
  });
}

/**
 * One closure per input, each run only when the tape needs that input's gradient: tfjs's fused
 * conv2d computes the filter's and the bias's gradients whenever any gradient flows through it
 * (its custom gradient returns all three), so a gradient to the input alone (TAME's masked
 * forward, saliency through a frozen network) paid a weight gradient, as costly as the
 * convolution, per layer.
 */
function ensureGradient(): void {
  if (tf.getGradient(KERNEL)) return;
  for (const kernelName of [KERNEL, CONV_ADD_KERNEL]) {
    tf.registerGradient({
      kernelName,
      inputsToSave: ['x', 'filter'],
      outputsToSave: [true],
      gradFunc: (dy, saved, attrs) => {
        const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const { strides, pad, dimRoundingMode, activation } = attrs as unknown as {
          strides: [number, number];
          pad: ConvBiasActivationArgs['pad'];
          dimRoundingMode?: 'floor' | 'round' | 'ceil';
          activation: 'linear' | 'relu';
        };
        // ReLU's gradient from its output (y > 0 exactly where its input was), through the Relu
        // kernel's registered gradient (one oneDNN pass on wasm). Each closure runs in its own
        // scope, so each takes it afresh.
        const relu = tf.getGradient('Relu')!;
        const dz = () => (activation === 'relu' ? (relu.gradFunc(dy, [y], {}) as { x: () => tf.Tensor }).x() : (dy as tf.Tensor)) as tf.Tensor4D;
        const conv = { strides, pad, dataFormat: 'NHWC', ...(dimRoundingMode ? { dimRoundingMode } : {}) } as tf.NamedAttrMap;
        return {
          x: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: dz(), filter }, { ...conv, inputShape: x.shape }) as tf.Tensor4D,
          filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dz() }, { ...conv, filterShape: filter.shape }) as tf.Tensor4D,
          bias: () => tf.sum(dz(), [0, 1, 2]),
          addend: () => dz(),
        };
      },
    });
  }
}

/**
 * relu?(conv2d(x, filter) + bias [+ add]), NHWC: `tf.fused.conv2d` outside a gradient tape; under
 * one, the same fused kernel (the activation stays fused, where tfjs would split off the bias and
 * the ReLU into passes of their own) with a gradient that computes only what the tape asks for.
 * With `add` (a residual connection), one oneDNN pass on wasm with the addon, tf ops elsewhere.
 * Dilated convolutions keep tfjs's path.
 */
export function conv2dBiasActivation(args: ConvBiasActivationArgs): tf.Tensor4D {
  const { x, filter, strides, pad, bias, add, activation = 'linear' } = args;
  const dilations = args.dilations ?? 1;
  const dilated = typeof dilations === 'number' ? dilations !== 1 : dilations.some((d) => d !== 1);
  const s: [number, number] = typeof strides === 'number' ? [strides, strides] : strides;
  const engine = tf.engine();
  const attrs = { strides: s, pad, dataFormat: 'NHWC', dilations: [1, 1], activation };
  if (add) {
    // One pass where the backend has the kernel (wasm with the oneDNN addon), else the sum and the activation after the convolution.
    const outShape = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, s, 1, pad as 'same').outShape;
    const covered = !dilated && tf.getKernel(CONV_ADD_KERNEL, tf.getBackend()) !== undefined && [x, filter, add, ...(bias ? [bias] : [])].every((t) => t.dtype === 'float32');
    if (covered && add.shape.join() === outShape.join() && (!bias || bias.shape.join() === String(filter.shape[3]))) {
      ensureGradient();
      return engine.runKernel(CONV_ADD_KERNEL, bias ? { x, filter, bias, addend: add } : { x, filter, addend: add }, attrs) as tf.Tensor4D;
    }
    const sum = tf.add(conv2dBiasActivation({ ...args, add: undefined, activation: 'linear' }), add) as tf.Tensor4D;
    return activation === 'relu' ? tf.relu(sum) : sum;
  }
  if (engine.state.gradientDepth === 0 || dilated) return tf.fused.conv2d({ x, filter, strides, pad, dilations, bias, activation });
  ensureKernel(tf.getBackend());
  ensureGradient();
  return engine.runKernel(KERNEL, bias ? { x, filter, bias } : { x, filter }, attrs) as tf.Tensor4D;
}
