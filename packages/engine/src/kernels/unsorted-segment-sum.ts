import { tf } from '../tf.js';
import { computeOutput, type KernelArgs } from './kernel-io.js';

/**
 * UnsortedSegmentSum (wasm lacks it); tfjs uses it as the gradient of `gather` (embedding
 * lookups, selecting rows of a weight matrix by class index).
 *
 *   out[segmentIds[i...], j...] += x[i..., j...]     (ids outside [0, numSegments) are dropped)
 */
// x: [N..., D...], segmentIds: [N...] int32 -> out: [numSegments, D...]
export function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs<'x' | 'segmentIds'>): tf.TensorInfo {
  const { x, segmentIds } = inputs;
  const numSegments = attrs.numSegments as number;
  const inner = x.shape.slice(segmentIds.shape.length);
  const innerSize = inner.reduce((a, b) => a * b, 1);
  const dtype = x.dtype === 'int32' ? 'int32' : 'float32';
  return computeOutput(backend, [numSegments, ...inner], dtype, [x, segmentIds], (out, xs, ids) => {
    for (let i = 0; i < ids.length; i++) {
      const s = ids[i];
      if (s < 0 || s >= numSegments) continue;
      for (let j = 0; j < innerSize; j++) out[s * innerSize + j] += xs[i * innerSize + j];
    }
  });
}
