import type { tf } from '../tf.js';
import type { KernelArgs, WasmLike } from './kernel-io.js';
import { upstreamKernel } from './upstream.js';

/**
 * Identity (and a cast to the same dtype) on wasm without a copy: the output shares the input's
 * data and bumps its reference count, as Reshape on wasm and Identity on the CPU backend do. tfjs
 * tensors are immutable (a variable's assign takes new data), so sharing is safe. tfjs-layers
 * calls Identity several times per layer; the copies were a tenth of a resnet-small step.
 */

interface RefCounted {
  incRef(dataId: tf.DataId): void;
}

export function identitySharing(args: KernelArgs<string>): tf.TensorInfo {
  const x = args.inputs.x;
  if (x.dtype === 'string') return upstreamKernel('Identity', 'wasm')(args);
  (args.backend as unknown as RefCounted).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/** Cast: shares data for the same dtype; to bool it tests != 0 (upstream wraps -2.2 to 254). */
export function castSharing(args: KernelArgs<string>): tf.TensorInfo {
  const x = args.inputs.x;
  if (args.attrs.dtype === 'bool' && x.dtype !== 'bool' && x.dtype !== 'string') {
    const backend = args.backend as unknown as WasmLike;
    const out = backend.makeOutput([...x.shape], 'bool');
    const source = backend.typedArrayFromHeap(x);
    const target = backend.typedArrayFromHeap(out);
    for (let i = 0; i < source.length; i++) target[i] = source[i] !== 0 ? 1 : 0;
    return out;
  }
  if (args.attrs.dtype !== x.dtype || x.dtype === 'string') return upstreamKernel('Cast', 'wasm')(args);
  (args.backend as unknown as RefCounted).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}
