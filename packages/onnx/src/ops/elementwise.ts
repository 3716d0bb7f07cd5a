import { tf } from '@gaze/engine';
import { hostElementwise, isIntegral, type HostDtype } from '../runtime/host-tensor.js';
import { device, inLayout, logicalShape, withLeadingAxes, type DeviceValue, type Value } from '../runtime/value.js';
import type { OpContext, OpImpl } from './op.js';

/**
 * Broadcasting elementwise ops. On tfjs, every operand is brought to the stored layout of the
 * highest-rank device operand (lower-rank operands are first seen with leading unit axes, as numpy
 * broadcasting does), so an NHWC feature map plus a [C,1,1] constant adds the constant as
 * [1,1,1,C] and the result stays NHWC.
 */
export function alignOperands(ctx: OpContext, values: Value[]): { tensors: tf.Tensor[]; perm: number[] } {
  const rank = Math.max(...values.map((v) => logicalShape(v).length));
  const reference = values.find((v): v is DeviceValue => v.kind === 'device' && v.perm.length === rank) ?? values.find((v): v is DeviceValue => v.kind === 'device');
  const perm = reference ? withLeadingAxes(reference.perm, rank - reference.perm.length) : Array.from({ length: rank }, (_, i) => i);
  const tensors = values.map((v) => {
    if (v.kind === 'host') {
      const shape = [...Array(rank - v.t.shape.length).fill(1), ...v.t.shape];
      return ctx.constant({ ...v.t, shape }, perm);
    }
    const extra = rank - v.perm.length;
    const lifted: DeviceValue = extra === 0 ? v : { kind: 'device', tensor: tf.reshape(v.tensor, [...Array(extra).fill(1), ...v.tensor.shape]), perm: withLeadingAxes(v.perm, extra) };
    return inLayout(lifted, perm);
  });
  return { tensors, perm };
}

function binary(f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, h: (a: number, b: number, integral: boolean) => number, out?: HostDtype): OpImpl {
  return {
    host: ([a, b]) => [hostElementwise([a!, b!], out ?? a!.dtype, (x, y) => h(x, y, isIntegral(a!.dtype)))],
    device: (ctx) => {
      const { tensors, perm } = alignOperands(ctx, [ctx.inputs[0]!, ctx.inputs[1]!]);
      return [device(f(tensors[0], tensors[1]), perm)];
    },
  };
}

function unary(f: (x: tf.Tensor, ctx: OpContext) => tf.Tensor, h?: (v: number) => number): OpImpl {
  return {
    host: h ? ([x]) => [hostElementwise([x!], x!.dtype, h)] : undefined,
    device: (ctx) => {
      const x = ctx.device(0);
      return [device(f(x.tensor, ctx), x.perm)];
    },
  };
}

/** ONNX Div truncates integer division toward zero. */
const divide = (a: number, b: number, integral: boolean) => (integral ? Math.trunc(a / b) : a / b);

/** Pow with a constant exponent of 2 or 0.5 runs as square / sqrt (cheaper, and their gradients are exact at 0). */
function power(ctx: OpContext): Value[] {
  const exponent = ctx.inputs[1]!;
  if (exponent.kind === 'host' && exponent.t.data.length === 1) {
    const e = exponent.t.data[0];
    const x = ctx.device(0);
    if (e === 2) return [device(tf.square(x.tensor), x.perm)];
    if (e === 1) return [x];
    if (e === 0.5) return [device(tf.sqrt(x.tensor), x.perm)];
  }
  const { tensors, perm } = alignOperands(ctx, [ctx.inputs[0]!, exponent]);
  return [device(tf.pow(tensors[0], tensors[1]), perm)];
}

function hardSigmoid(x: tf.Tensor, alpha: number, beta: number): tf.Tensor {
  return tf.clipByValue(tf.add(tf.mul(x, alpha), beta), 0, 1);
}

/** Clip's bounds: its optional inputs 1 and 2 (every opset Gaze reads, 11 on). */
function clipBounds(ctx: OpContext): [number, number] {
  const min = ctx.optionalHost(1);
  const max = ctx.optionalHost(2);
  return [min ? min.data[0] : -Infinity, max ? max.data[0] : Infinity];
}

function clip(x: tf.Tensor, ctx: OpContext): tf.Tensor {
  const [min, max] = clipBounds(ctx);
  if (min === 0 && max === 6) return tf.relu6(x);
  if (min === 0 && max === Infinity) return tf.relu(x);
  return tf.clipByValue(x, Math.max(min, -3.4e38), Math.min(max, 3.4e38));
}

function where(ctx: OpContext): Value[] {
  const { tensors, perm } = alignOperands(ctx, [ctx.inputs[0]!, ctx.inputs[1]!, ctx.inputs[2]!]);
  const shape = tensors.reduce<number[]>((s, t) => tf.broadcast_util.assertAndGetBroadcastShape(s, t.shape), []);
  const [c, a, b] = tensors.map((t) => (t.shape.every((d, i) => d === shape[i]) && t.rank === shape.length ? t : tf.broadcastTo(t, shape)));
  return [device(tf.where(tf.cast(c, 'bool'), a, b), perm)];
}

export const ELEMENTWISE_OPS: Record<string, OpImpl> = {
  Add: binary(tf.add, (a, b) => a + b),
  Sub: binary(tf.sub, (a, b) => a - b),
  Mul: binary(tf.mul, (a, b) => a * b),
  Div: binary(tf.div, divide),
  Pow: { host: ([a, b]) => [hostElementwise([a!, b!], a!.dtype, (x, y) => x ** y)], device: power },
  Max: binary(tf.maximum, (a, b) => Math.max(a, b)),
  Min: binary(tf.minimum, (a, b) => Math.min(a, b)),
  Equal: binary((a, b) => tf.cast(tf.equal(a, b), 'int32'), (a, b) => (a === b ? 1 : 0), 'bool'),
  Less: binary((a, b) => tf.cast(tf.less(a, b), 'int32'), (a, b) => (a < b ? 1 : 0), 'bool'),
  Greater: binary((a, b) => tf.cast(tf.greater(a, b), 'int32'), (a, b) => (a > b ? 1 : 0), 'bool'),
  Where: {
    host: ([c, a, b]) => [hostElementwise([c!, a!, b!], a!.dtype, (k, x, y) => (k ? x : y))],
    device: where,
  },
  Not: unary((x) => tf.sub(1, x), (v) => (v ? 0 : 1)),
  Neg: unary((x) => tf.neg(x), (v) => -v),
  Abs: unary((x) => tf.abs(x), Math.abs),
  Sqrt: unary((x) => tf.sqrt(x), Math.sqrt),
  Reciprocal: unary((x) => tf.reciprocal(x), (v) => 1 / v),
  Exp: unary((x) => tf.exp(x), Math.exp),
  Log: unary((x) => tf.log(x), Math.log),
  Floor: unary((x) => tf.floor(x), Math.floor),
  Ceil: unary((x) => tf.ceil(x), Math.ceil),
  Erf: unary((x) => tf.erf(x)),
  Tanh: unary((x) => tf.tanh(x), Math.tanh),
  Sigmoid: unary((x) => tf.sigmoid(x)),
  // A Relu the planner folded into the conv before it passes its input through.
  Relu: unary((x) => tf.relu(x), (v) => Math.max(v, 0)),
  LeakyRelu: unary((x, ctx) => tf.leakyRelu(x, ctx.attrs.float('alpha', 0.01))),
  Elu: unary((x, ctx) => (ctx.attrs.float('alpha', 1) === 1 ? tf.elu(x) : tf.where(tf.greater(x, 0), x, tf.mul(ctx.attrs.float('alpha', 1), tf.sub(tf.exp(x), 1))))),
  Softplus: unary((x) => tf.softplus(x)),
  // torch exports nn.Hardsigmoid with alpha 1/6 (ONNX's default is 0.2).
  HardSigmoid: unary((x, ctx) => hardSigmoid(x, ctx.attrs.float('alpha', 0.2), ctx.attrs.float('beta', 0.5))),
  HardSwish: unary((x) => tf.mul(x, hardSigmoid(x, 1 / 6, 0.5))),
  Clip: unary(clip),
  Gelu: unary((x, ctx) =>
    ctx.attrs.string('approximate', 'none') === 'tanh'
      ? tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))))
      : tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))),
  ),
};

