import { tf } from '@gaze/engine';
import { numbersOf } from '../runtime/host-tensor.js';
import { device, hostToTensor, identity, logical, logicalShape, storedAxis, type Value } from '../runtime/value.js';
import { normAxis, type OpContext, type OpImpl } from './op.js';

/**
 * BatchNormalization with the model's running statistics (as the exported eval-mode network does;
 * torch folds most batch norms into the conv before them at export). Channels are logical axis 1;
 * on NHWC tensors they are the last stored axis and tfjs's batchNorm runs as is.
 */
function batchNormalization(ctx: OpContext): Value[] {
  const x = ctx.device(0);
  const epsilon = ctx.attrs.float('epsilon', 1e-5);
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => ctx.host(i));
  const rank = x.perm.length;
  const at = storedAxis(x, 1);
  if (at === rank - 1) {
    const [s, b, m, v] = [scale, bias, mean, variance].map((t, i) => ctx.prepared(`p${i}`, () => hostToTensor(t)) as tf.Tensor1D);
    return [device(tf.batchNorm(x.tensor, m, v, b, s, epsilon), x.perm)];
  }
  // Channels elsewhere (e.g. [N,C,L]): y = x * k + c with k, c shaped to broadcast along that axis.
  // k and c are computed on the first run only: later runs find both prepared.
  const shape = x.tensor.shape.map((d, i) => (i === at ? d : 1));
  let k: Float32Array | undefined;
  const kOf = () => (k ??= Float32Array.from(scale.data, (g, i) => g / Math.sqrt(variance.data[i] + epsilon)));
  const kt = ctx.prepared('k', () => tf.tensor(kOf(), shape));
  const ct = ctx.prepared('c', () => tf.tensor(Float32Array.from(bias.data, (b, i) => b - mean.data[i] * kOf()[i]), shape));
  return [device(tf.add(tf.mul(x.tensor, kt), ct), x.perm)];
}

/** LayerNormalization (opset 17) over the axes from `axis` to the last, with scale and optional bias of those axes' shape. */
function layerNormalization(ctx: OpContext): Value[] {
  const xValue = ctx.device(0);
  const rank = xValue.perm.length;
  const axis = normAxis(ctx.attrs.int('axis', -1), rank);
  const epsilon = ctx.attrs.float('epsilon', 1e-5);
  const x = logical(xValue);
  const axes = identity(rank).slice(axis);
  const { mean, variance } = tf.moments(x, axes, true);
  let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
  const scale = ctx.inputs[1];
  if (scale) y = tf.mul(y, scale.kind === 'host' ? ctx.prepared('scale', () => hostToTensor(scale.t)) : logical(scale));
  const bias = ctx.inputs[2];
  if (bias) y = tf.add(y, bias.kind === 'host' ? ctx.prepared('bias', () => hostToTensor(bias.t)) : logical(bias));
  if (ctx.node.outputs.filter(Boolean).length > 1) throw ctx.unsupported('LayerNormalization with Mean/InvStdDev outputs');
  return [device(y)];
}

/** Axes of a Reduce* node: the `axes` attribute before `inputFrom`, the second input from it; none: every axis. */
function reduceAxes(ctx: OpContext, inputFrom: number): number[] {
  const rank = logicalShape(ctx.inputs[0]!).length;
  const given = ctx.opset >= inputFrom ? (ctx.optionalHost(1) ? numbersOf(ctx.optionalHost(1)!) : undefined) : ctx.attrs.has('axes') ? ctx.attrs.ints('axes') : undefined;
  if (given === undefined || given.length === 0) {
    return ctx.attrs.int('noop_with_empty_axes', 0) === 1 ? [] : identity(rank);
  }
  return given.map((a) => normAxis(a, rank));
}

function reduce(f: (x: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor, inputFrom: number): OpImpl {
  return {
    device: (ctx) => {
      const x = ctx.device(0);
      const axes = reduceAxes(ctx, inputFrom);
      if (axes.length === 0) return [x];
      const keep = ctx.attrs.int('keepdims', 1) === 1;
      const stored = axes.map((a) => storedAxis(x, a));
      const y = f(x.tensor, stored, keep);
      if (keep) return [device(y, x.perm)];
      const removed = new Set(axes);
      const renumber = (p: number) => p - axes.filter((a) => a < p).length;
      return [device(y, x.perm.filter((p) => !removed.has(p)).map(renumber))];
    },
  };
}

/** Softmax along one axis (opset 13) or over the coerced 2-D view from `axis` (before). */
function softmax(log: boolean): OpImpl {
  return {
    device: (ctx) => {
      const xValue = ctx.device(0);
      const shape = logicalShape(xValue);
      const rank = shape.length;
      const apply = (t: tf.Tensor) => (log ? tf.logSoftmax(t) : tf.softmax(t));
      if (ctx.opset < 13) {
        const axis = normAxis(ctx.attrs.int('axis', 1), rank);
        const inner = shape.slice(axis).reduce((a, b) => a * b, 1);
        return [device(tf.reshape(apply(tf.reshape(logical(xValue), [-1, inner])), shape))];
      }
      const axis = normAxis(ctx.attrs.int('axis', -1), rank);
      const at = storedAxis(xValue, axis);
      if (at === rank - 1) return [device(apply(xValue.tensor), xValue.perm)];
      // Move the axis last in storage, where tfjs's softmax works.
      const order = [...identity(rank).filter((i) => i !== at), at];
      const moved = tf.transpose(xValue.tensor, order);
      return [device(apply(moved), order.map((i) => xValue.perm[i]))];
    },
  };
}

export const NORMALIZATION_OPS: Record<string, OpImpl> = {
  BatchNormalization: { device: batchNormalization },
  LayerNormalization: { device: layerNormalization },
  ReduceMean: reduce((x, axes, keep) => tf.mean(x, axes, keep), 18),
  ReduceSum: reduce((x, axes, keep) => tf.sum(x, axes, keep), 13),
  ReduceMax: reduce((x, axes, keep) => tf.max(x, axes, keep), 18),
  ReduceMin: reduce((x, axes, keep) => tf.min(x, axes, keep), 18),
  Softmax: softmax(false),
  LogSoftmax: softmax(true),
};
