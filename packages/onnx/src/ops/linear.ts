import { tf } from '@gaze/engine';
import { hostElementwise } from '../runtime/host-tensor.js';
import { device, hostToTensor, identity, logical, logicalShape, type DeviceValue, type Value } from '../runtime/value.js';
import { activate, type OpContext, type OpImpl } from './op.js';

/** Y = alpha * A' B' + beta * C; transposes go to the matmul kernel as flags (a [N,K] Linear weight is used as stored). */
function gemm(ctx: OpContext): Value[] {
  const alpha = ctx.attrs.float('alpha', 1);
  const beta = ctx.attrs.float('beta', 1);
  const transA = ctx.attrs.int('transA', 0) === 1;
  const transB = ctx.attrs.int('transB', 0) === 1;
  const a = logical(ctx.device(0)) as tf.Tensor2D;
  if (a.rank !== 2) throw ctx.unsupported(`Gemm on a rank-${a.rank} input`);
  const bInput = ctx.inputs[1]!;
  const b = (bInput.kind === 'host' ? ctx.prepared('b', () => hostToTensor(bInput.t)) : logical(bInput)) as tf.Tensor2D;
  let y: tf.Tensor = tf.matMul(a, b, transA, transB);
  if (alpha !== 1) y = tf.mul(y, alpha);
  const cInput = ctx.inputs[2];
  if (cInput && beta !== 0) {
    const c = cInput.kind === 'host' ? ctx.prepared('c', () => hostToTensor(beta === 1 ? cInput.t : hostElementwise([cInput.t], 'float32', (v) => v * beta))) : tf.mul(logical(cInput), beta);
    y = tf.add(y, c);
  }
  return [device(activate(y, ctx.fusedActivation))];
}

/** Whether a device value is its logical tensor with the last two axes swapped (what a Transpose before MatMul leaves). */
function lastTwoSwapped(v: DeviceValue): boolean {
  const r = v.perm.length;
  return r >= 2 && v.perm.every((p, i) => (i < r - 2 ? p === i : i === r - 2 ? p === r - 1 : p === r - 2));
}

/**
 * MatMul with numpy semantics. A constant 2-D right operand (a Linear layer's weight) multiplies
 * every leading row at once; a transposed operand is handed to tfjs as transposeA/B instead of
 * being rearranged.
 */
function matMul(ctx: OpContext): Value[] {
  const aValue = ctx.device(0);
  const bInput = ctx.inputs[1]!;
  const aShape = logicalShape(aValue);
  if (bInput.kind === 'host' && bInput.t.shape.length === 2 && aShape.length >= 2) {
    const b = ctx.prepared('b', () => hostToTensor(bInput.t)) as tf.Tensor2D;
    const rows = tf.reshape(logical(aValue), [-1, aShape[aShape.length - 1]]) as tf.Tensor2D;
    return [device(tf.reshape(tf.matMul(rows, b), [...aShape.slice(0, -1), bInput.t.shape[1]]))];
  }
  const bValue = ctx.device(1);
  const bShape = logicalShape(bValue);
  if (aShape.length < 2 || bShape.length < 2) {
    // Vector operands: promote, multiply, drop the promoted axis.
    const a = aShape.length === 1 ? tf.reshape(logical(aValue), [1, aShape[0]]) : logical(aValue);
    const b = bShape.length === 1 ? tf.reshape(logical(bValue), [bShape[0], 1]) : logical(bValue);
    const y = tf.matMul(a, b);
    const shape = y.shape.filter((_, i) => !((aShape.length === 1 && i === y.rank - 2) || (bShape.length === 1 && i === y.rank - 1)));
    return [device(tf.reshape(y, shape))];
  }
  const operand = (v: DeviceValue) => (lastTwoSwapped(v) ? { t: v.tensor, transposed: true } : { t: logical(v), transposed: false });
  const a = operand(aValue);
  const b = operand(bValue);
  const y = tf.matMul(a.t, b.t, a.transposed, b.transposed);
  return [device(y, identity(y.rank))];
}

export const LINEAR_OPS: Record<string, OpImpl> = {
  Gemm: { device: gemm },
  MatMul: { device: matMul },
};
