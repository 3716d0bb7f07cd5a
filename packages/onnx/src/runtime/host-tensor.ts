/**
 * Host tensors: the small arrays ONNX graphs compute shapes with (Shape -> Gather -> Concat ->
 * Reshape) and the initializers before they become tfjs tensors. Integers (int64, int32) and
 * booleans are held as float64 numbers, exact for every shape value; floats as float32.
 */

export type HostDtype = 'float32' | 'int64' | 'int32' | 'bool';

export interface HostTensor {
  dtype: HostDtype;
  shape: number[];
  /** Row-major (C order) values. */
  data: Float32Array | Float64Array;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function isIntegral(dtype: HostDtype): boolean {
  return dtype !== 'float32';
}

export function hostTensor(dtype: HostDtype, shape: number[], values: ArrayLike<number>): HostTensor {
  const data = dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
  if (data.length !== sizeOf(shape)) throw new Error(`host tensor [${shape.join(',')}] needs ${sizeOf(shape)} values, got ${data.length}`);
  return { dtype, shape: [...shape], data };
}

export function scalarOf(t: HostTensor): number {
  if (t.data.length !== 1) throw new Error(`expected one value, got [${t.shape.join(',')}]`);
  return t.data[0];
}

/** The values as plain numbers (shape vectors, axes lists). */
export function numbersOf(t: HostTensor): number[] {
  return Array.from(t.data);
}

export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** numpy-style broadcast of two shapes; undefined when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return undefined;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Room for `n` values of `dtype` (floats as float32; integers and booleans as float64). */
function hostData(dtype: HostDtype, n: number): Float32Array | Float64Array {
  return dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
}

/**
 * A strided view of t's values copied out row-major in `shape`: out[i] = t.data[offset +
 * sum over axes of coordinate(i, axis) * strides[axis]]. Transpose, slice and broadcast are each
 * such a view (permuted, stepped or zero strides).
 */
function stridedCopy(t: HostTensor, shape: readonly number[], strides: readonly number[], offset = 0): HostTensor {
  const n = sizeOf(shape);
  const outStrides = stridesOf(shape);
  const out = hostData(t.dtype, n);
  for (let i = 0; i < n; i++) {
    let rest = i;
    let index = offset;
    for (let axis = 0; axis < shape.length; axis++) {
      const coordinate = Math.floor(rest / outStrides[axis]);
      rest -= coordinate * outStrides[axis];
      index += coordinate * strides[axis];
    }
    out[i] = t.data[index];
  }
  return { dtype: t.dtype, shape: [...shape], data: out };
}

/** t's values read at every index of the (broadcast-compatible, larger or equal) `shape`. */
function broadcastTo(t: HostTensor, shape: readonly number[]): HostTensor {
  const strides = stridesOf(t.shape);
  const lead = shape.length - t.shape.length;
  // Per output axis, the input's stride (0 where it broadcasts).
  return stridedCopy(t, shape, shape.map((_, axis) => (axis < lead || t.shape[axis - lead] === 1 ? 0 : strides[axis - lead])));
}

/** Elementwise f over broadcast inputs. */
export function hostElementwise(inputs: HostTensor[], dtype: HostDtype, f: (...v: number[]) => number): HostTensor {
  let shape: number[] = [];
  for (const t of inputs) {
    const s = broadcastShapes(shape, t.shape);
    if (!s) throw new Error(`shapes [${shape.join(',')}] and [${t.shape.join(',')}] do not broadcast`);
    shape = s;
  }
  const views = inputs.map((t) => broadcastTo(t, shape).data);
  const out = hostData(dtype, sizeOf(shape));
  const args = new Array<number>(inputs.length);
  for (let i = 0; i < out.length; i++) {
    for (let k = 0; k < views.length; k++) args[k] = views[k][i];
    out[i] = f(...args);
  }
  return { dtype, shape, data: out };
}

/** A permutation of the axes: out.shape[i] = t.shape[perm[i]]. */
export function hostTranspose(t: HostTensor, perm: readonly number[]): HostTensor {
  const strides = stridesOf(t.shape);
  return stridedCopy(t, perm.map((p) => t.shape[p]), perm.map((p) => strides[p]));
}

/** Elements along `axis` at `indices` (negative indices count from the end), as ONNX Gather. */
export function hostGather(t: HostTensor, indices: HostTensor, axis: number): HostTensor {
  const dim = t.shape[axis];
  const outer = sizeOf(t.shape.slice(0, axis));
  const inner = sizeOf(t.shape.slice(axis + 1));
  const picks = numbersOf(indices).map((i) => (i < 0 ? i + dim : i));
  for (const p of picks) if (p < 0 || p >= dim) throw new Error(`Gather index ${p} is out of range for an axis of ${dim}`);
  const shape = [...t.shape.slice(0, axis), ...indices.shape, ...t.shape.slice(axis + 1)];
  const out = hostData(t.dtype, sizeOf(shape));
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const p of picks) {
      const base = (a * dim + p) * inner;
      for (let k = 0; k < inner; k++) out[o++] = t.data[base + k];
    }
  }
  return { dtype: t.dtype, shape, data: out };
}

/** Concatenation along `axis`. */
export function hostConcat(parts: HostTensor[], axis: number): HostTensor {
  const first = parts[0];
  const shape = [...first.shape];
  shape[axis] = parts.reduce((n, p) => n + p.shape[axis], 0);
  const outer = sizeOf(first.shape.slice(0, axis));
  const out = hostData(first.dtype, sizeOf(shape));
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const p of parts) {
      const block = sizeOf(p.shape.slice(axis));
      out.set(p.data.subarray(a * block, (a + 1) * block), o);
      o += block;
    }
  }
  return { dtype: first.dtype, shape, data: out };
}

/** One strided range per axis (start, size, step), as an ONNX Slice after its clamping. */
export function hostSlice(t: HostTensor, ranges: { start: number; size: number; step: number }[]): HostTensor {
  const strides = stridesOf(t.shape);
  const offset = ranges.reduce((sum, r, axis) => sum + r.start * strides[axis], 0);
  return stridedCopy(t, ranges.map((r) => r.size), ranges.map((r, axis) => r.step * strides[axis]), offset);
}

/** t repeated to `shape` by broadcasting (ONNX Expand: the result has the broadcast of both shapes). */
export function hostExpand(t: HostTensor, shape: readonly number[]): HostTensor {
  const target = broadcastShapes(t.shape, shape);
  if (!target) throw new Error(`cannot expand [${t.shape.join(',')}] to [${shape.join(',')}]`);
  return broadcastTo(t, target);
}
