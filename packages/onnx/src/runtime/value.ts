import { tf } from '@gaze/engine';
import type { HostTensor } from './host-tensor.js';

/**
 * What flows along a graph edge while the importer runs a model.
 *
 * - `host`: a small array known without running the network (initializers, constants, and every
 *   value computed from them and from shapes: Shape -> Gather -> Concat -> Reshape). Ops whose
 *   inputs are all host values run in plain JS, so shape arithmetic costs no tfjs kernels.
 * - `device`: a tfjs tensor in a *stored layout*. `stored = transpose(logical, perm)`, i.e.
 *   `stored.shape[i] = logical.shape[perm[i]]`, where `logical` is the tensor as ONNX defines it.
 *   Images and feature maps are NCHW in ONNX and NHWC (perm [0,2,3,1]) here, so convolutions and
 *   pooling run on tfjs's native layout with no transposes; a Transpose node only changes perm,
 *   and a value is rearranged only where an op needs a specific layout (Reshape, MatMul).
 */
export type Value = HostValue | DeviceValue;

export interface HostValue {
  kind: 'host';
  t: HostTensor;
}

export interface DeviceValue {
  kind: 'device';
  tensor: tf.Tensor;
  perm: number[];
}

export const NHWC = [0, 2, 3, 1] as const;

export function identity(rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => i);
}

export function isIdentity(perm: readonly number[]): boolean {
  return perm.every((p, i) => p === i);
}

export function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

export function samePerm(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}

export function host(t: HostTensor): HostValue {
  return { kind: 'host', t };
}

export function device(tensor: tf.Tensor, perm: number[] = identity(tensor.rank)): DeviceValue {
  return { kind: 'device', tensor, perm };
}

/** The ONNX (logical) shape of a value. */
export function logicalShape(v: Value): number[] {
  if (v.kind === 'host') return v.t.shape;
  const shape = new Array<number>(v.perm.length);
  v.perm.forEach((p, i) => (shape[p] = v.tensor.shape[i]));
  return shape;
}

/** Where logical axis `axis` sits in the stored tensor. */
export function storedAxis(v: DeviceValue, axis: number): number {
  return v.perm.indexOf(axis);
}

/**
 * `x` rearranged by `order` (out.shape[i] = x.shape[order[i]]): a reshape when only unit axes
 * move (the memory order is the same), else a transpose.
 */
export function permute(x: tf.Tensor, order: readonly number[]): tf.Tensor {
  if (isIdentity(order)) return x;
  const moved = order.filter((o) => x.shape[o] !== 1);
  const keepsOrder = moved.every((o, i) => i === 0 || o > moved[i - 1]);
  return keepsOrder ? tf.reshape(x, order.map((o) => x.shape[o])) : tf.transpose(x, [...order]);
}

/** The value's tensor in the stored layout `target` (a new tensor, or the same one when it is already so). */
export function inLayout(v: DeviceValue, target: readonly number[]): tf.Tensor {
  if (samePerm(v.perm, target)) return v.tensor;
  const inv = inversePerm(v.perm);
  return permute(v.tensor, target.map((t) => inv[t]));
}

/** The value in ONNX's own layout. */
export function logical(v: DeviceValue): tf.Tensor {
  return inLayout(v, identity(v.perm.length));
}

/** A host array as a tfjs tensor (float32, or int32 for integers and booleans) in the given stored layout. */
export function hostToTensor(t: HostTensor, perm: readonly number[] = identity(t.shape.length)): tf.Tensor {
  const dtype = t.dtype === 'float32' ? 'float32' : 'int32';
  const base = tf.tensor(dtype === 'float32' ? t.data : Int32Array.from(t.data), t.shape, dtype);
  if (isIdentity(perm)) return base;
  const out = tf.transpose(base, [...perm]);
  base.dispose();
  return out;
}

/** `perm` for the same value seen at a higher rank with leading unit axes (numpy broadcasting's view). */
export function withLeadingAxes(perm: readonly number[], extra: number): number[] {
  return [...identity(extra), ...perm.map((p) => p + extra)];
}
