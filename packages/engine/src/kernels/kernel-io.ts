import { tf } from '../tf.js';

/**
 * Backend-neutral access to kernel inputs and outputs, so one kernel body serves the wasm and
 * CPU backends. Composing registered kernels (`callKernel`) instead of `tf.*` ops keeps the tape
 * and the surrounding gradient scope away from intermediates: a tensor made with `tf.*` inside a
 * kernel can be disposed by an outer `tf.grad` scope.
 */

type Values = Float32Array | Int32Array | Uint8Array;

export interface WasmLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Values;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

interface CpuLike {
  data: { get(dataId: tf.DataId): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Values): tf.TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

export type AnyBackend = WasmLike | CpuLike;

export interface KernelArgs<I extends string> {
  inputs: Record<I, tf.TensorInfo>;
  backend: AnyBackend;
  attrs: Record<string, unknown>;
}

/** A float32 view of a tensor's data on the wasm heap; take it after any allocation (which may grow the heap) and do not keep it. */
export function heapFloats(backend: WasmLike, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

function isWasm(backend: AnyBackend): backend is WasmLike {
  return typeof (backend as WasmLike).typedArrayFromHeap === 'function';
}

/**
 * Allocates a zeroed output and hands `fill` the output and input values as typed arrays.
 * On wasm the views point into the heap: they are taken after the allocation (which may grow
 * and detach the heap) and must not be kept after `fill` returns.
 */
export function computeOutput(
  backend: AnyBackend,
  shape: number[],
  dtype: 'float32' | 'int32',
  inputs: tf.TensorInfo[],
  fill: (out: Float32Array | Int32Array, ...inputs: (Float32Array | Int32Array)[]) => void,
): tf.TensorInfo {
  if (isWasm(backend)) {
    const out = backend.makeOutput(shape, dtype);
    const views = inputs.map((i) => backend.typedArrayFromHeap(i) as Float32Array | Int32Array);
    const target = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
    target.fill(0);
    fill(target, ...views);
    return out;
  }
  const views = inputs.map((i) => backend.data.get(i.dataId).values as Float32Array | Int32Array);
  const size = shape.reduce((a, b) => a * b, 1);
  const target = dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  fill(target, ...views);
  return backend.makeTensorInfo(shape, dtype, target);
}

/** Calls a kernel the backend already registers (see the module comment for why). */
export function callKernel(
  name: string,
  backendName: string,
  backend: AnyBackend,
  inputs: Record<string, tf.TensorInfo>,
  attrs: Record<string, unknown> = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(name, backendName);
  if (!kernel) throw new Error(`backend '${backendName}' has no '${name}' kernel to build on`);
  const out = kernel.kernelFunc({
    inputs: inputs as tf.NamedTensorInfoMap,
    backend: backend as unknown as tf.KernelBackend,
    attrs: attrs as tf.NamedAttrMap,
  });
  if (Array.isArray(out)) throw new Error(`kernel '${name}' returned several outputs`);
  return out;
}

/** Frees kernel intermediates straight from the backend (they never became tfjs Tensors). */
export function disposeIntermediates(backend: AnyBackend, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}
