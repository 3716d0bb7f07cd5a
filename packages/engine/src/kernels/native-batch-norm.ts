import type { NativeKernels } from '@gaze/native';
import { tf } from '../tf.js';
import { hostValuesInPlace } from '../optim/fused-optimizers.js';
import { heapFloats, type WasmLike } from './kernel-io.js';

/**
 * Training-mode batch normalization as ONE op on oneDNN, for tfjs-layers' BatchNormalization.
 * tfjs computes it as moments (Mean, Sub, Square, Mean) then FusedBatchNorm, and backpropagates
 * through every one of them: about ten single-threaded wasm kernels forward and twenty backward
 * per layer, which made batch norm most of a resnet-small training step. Here the forward is one
 * oneDNN call returning y and the batch statistics, and the backward one call returning dx, dgamma
 * and dbeta (the statistics' dependence on x included, as oneDNN's backward computes it).
 *
 * Active only where the native kernels are (wasm with @gaze/native). The batch mean and variance
 * outputs feed the moving averages, which are not differentiated; gradients reaching them are
 * ignored.
 */

export const BATCH_NORM_TRAINING = 'GazeBatchNormTraining';
const BATCH_NORM_TRAINING_GRAD = 'GazeBatchNormTrainingGrad';



export function registerNativeBatchNorm(native: NativeKernels): void {
  tf.registerKernel({
    kernelName: BATCH_NORM_TRAINING,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, scale, offset } = inputs as Record<string, tf.TensorInfo>;
      const heap = backend as unknown as WasmLike;
      const channels = x.shape[3];
      const y = heap.makeOutput([...x.shape], 'float32');
      const mean = heap.makeOutput([channels], 'float32');
      const variance = heap.makeOutput([channels], 'float32');
      native.batchNormTraining(Int32Array.from(x.shape), heapFloats(heap, x), heapFloats(heap, scale), heapFloats(heap, offset), (attrs?.epsilon as number), heapFloats(heap, y), heapFloats(heap, mean), heapFloats(heap, variance));
      return [y, mean, variance];
    },
  });
  tf.registerKernel({
    kernelName: BATCH_NORM_TRAINING_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy, scale, mean, variance } = inputs as Record<string, tf.TensorInfo>;
      const heap = backend as unknown as WasmLike;
      const channels = x.shape[3];
      const dx = heap.makeOutput([...x.shape], 'float32');
      const dscale = heap.makeOutput([channels], 'float32');
      const doffset = heap.makeOutput([channels], 'float32');
      native.batchNormTrainingBackward(Int32Array.from(x.shape), heapFloats(heap, x), heapFloats(heap, dy), heapFloats(heap, scale), heapFloats(heap, mean), heapFloats(heap, variance), (attrs?.epsilon as number), heapFloats(heap, dx), heapFloats(heap, dscale), heapFloats(heap, doffset));
      return [dx, dscale, doffset];
    },
  });
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAINING,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, true, true],
    gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
      const [x, scale, mean, variance] = saved;
      // One call for all three: tfjs runs each closure in a scope of its own.
      const [dx, dscale, doffset] = tf.engine().runKernel(BATCH_NORM_TRAINING_GRAD, { x, dy, scale, mean, variance }, attrs) as tf.Tensor[];
      return { x: () => dx, scale: () => dscale, offset: () => doffset };
    },
  });
}

/** y, batch mean and biased variance of NHWC x over its last axis, on oneDNN. */
export function batchNormTraining(x: tf.Tensor4D, scale: tf.Tensor1D, offset: tf.Tensor1D, epsilon: number): [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D] {
  return tf.engine().runKernel(BATCH_NORM_TRAINING, { x, scale, offset }, { epsilon }) as unknown as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
}

interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: { read(): tf.Tensor } | null;
  beta: { read(): tf.Tensor } | null;
  movingMean: { read(): tf.Tensor; write(t: tf.Tensor): void };
  movingVariance: { read(): tf.Tensor; write(t: tf.Tensor): void };
}

/**
 * Routes tfjs-layers' BatchNormalization training calls on wasm (NHWC, channel axis last, with
 * scale and center) to the one-op version, keeping its moving-average update exactly
 * (moving = moving - (moving - batch) * (1 - momentum)); everything else goes to its own call.
 */
export function useNativeBatchNormInLayers(): void {
  const layer = tf.layers.batchNormalization({}) as unknown as { constructor: { prototype: { call: (...args: unknown[]) => unknown } } };
  const proto = layer.constructor.prototype;
  const original = proto.call;
  if ((original as { gazeNative?: boolean }).gazeNative) return;
  const call = function (this: BatchNormLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const axis = this.axis >= 0 ? this.axis : this.axis + input.rank;
    const fits = kwargs?.training === true && tf.getBackend() === 'wasm' && input.rank === 4 && axis === 3 && input.dtype === 'float32' && this.gamma && this.beta;
    if (!fits) return original.call(this, inputs, kwargs);
    return tf.tidy(() => {
      const [y, mean, variance] = batchNormTraining(input as tf.Tensor4D, this.gamma!.read() as tf.Tensor1D, this.beta!.read() as tf.Tensor1D, this.epsilon);
      const decay = 1 - this.momentum;
      for (const [variable, value] of [[this.movingMean, mean], [this.movingVariance, variance]] as const) {
        const current = variable.read();
        // In place, one pass over C values, where nothing else holds the buffer: tfjs's three ops
        // (sub, mul, sub) in float32, each rounded as they round it, without their kernel calls.
        const moving = hostValuesInPlace(current);
        if (moving) {
          const batch = heapFloats(tf.backend() as unknown as WasmLike, value);
          const d = Math.fround(decay);
          for (let i = 0; i < moving.length; i++) moving[i] = moving[i] - Math.fround(Math.fround(moving[i] - batch[i]) * d);
          continue;
        }
        tf.tidy(() => variable.write(tf.sub(current, tf.mul(tf.sub(current, value), decay))));
      }
      return y;
    });
  };
  (call as { gazeNative?: boolean }).gazeNative = true;
  proto.call = call as (...args: unknown[]) => unknown;
}
