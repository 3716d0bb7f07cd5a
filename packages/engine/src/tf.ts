// Every package reaches TensorFlow.js through this module, so the whole project shares one tfjs
// instance (kernels, gradients and backends are registered on it) and one place pins its version.
import * as tf from '@tensorflow/tfjs';

export { tf };
export type Tensor = tf.Tensor;
export type Tensor1D = tf.Tensor1D;
export type Tensor2D = tf.Tensor2D;
export type Tensor3D = tf.Tensor3D;
export type Tensor4D = tf.Tensor4D;
export type Variable = tf.Variable;
