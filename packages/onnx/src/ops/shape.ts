import { tf } from '@gaze/engine';
import {
  hostConcat,
  hostExpand,
  hostGather,
  hostSlice,
  hostTensor,
  hostTranspose,
  numbersOf,
  sizeOf,
  type HostDtype,
  type HostTensor,
} from '../runtime/host-tensor.js';
import { hostDtypeOf } from '../proto/tensor-proto.js';
import { device, host, identity, inversePerm, logical, logicalShape, storedAxis, withLeadingAxes, type DeviceValue, type Value } from '../runtime/value.js';
import { alignOperands } from './elementwise.js';
import { normAxis, type Attributes, type OpContext, type OpImpl } from './op.js';

/** Reshape's target: 0 copies the input's dimension (unless allowzero), -1 takes what is left. */
export function reshapeTarget(input: readonly number[], requested: readonly number[], allowZero: boolean): number[] {
  const out = requested.map((d, i) => (d === 0 && !allowZero ? input[i] : d));
  const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const total = sizeOf(input);
  const inferred = out.indexOf(-1);
  if (inferred >= 0) out[inferred] = known === 0 ? 0 : total / known;
  if (sizeOf(out) !== total || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`cannot reshape [${input.join(',')}] to [${requested.join(',')}]`);
  }
  return out;
}

function reshapeValue(v: Value, shape: number[]): Value {
  if (v.kind === 'host') return host({ ...v.t, shape });
  return device(tf.reshape(logical(v), shape));
}

/** Axes from the `axes` attribute (before `fromOpset`) or the second input (from it). */
function axesOf(inputs: (HostTensor | undefined)[] | undefined, ctxHost: ((i: number) => HostTensor | undefined) | undefined, attrs: Attributes, opset: number, fromOpset: number): number[] | undefined {
  if (opset < fromOpset) return attrs.has('axes') ? attrs.ints('axes') : undefined;
  const t = inputs ? inputs[1] : ctxHost?.(1);
  return t ? numbersOf(t) : undefined;
}

function squeezeAxes(shape: readonly number[], axes: number[] | undefined): number[] {
  return axes ? axes.map((a) => normAxis(a, shape.length)) : shape.flatMap((d, i) => (d === 1 ? [i] : []));
}

/** Drops unit logical axes from a device value, keeping the stored order of the rest. */
function squeezeDevice(v: DeviceValue, axes: number[]): DeviceValue {
  const drop = new Set(axes);
  const keptStored = v.perm.flatMap((p, i) => (drop.has(p) ? [] : [i]));
  const renumber = (p: number) => p - axes.filter((a) => a < p).length;
  return device(tf.reshape(v.tensor, keptStored.map((i) => v.tensor.shape[i])), keptStored.map((i) => renumber(v.perm[i])));
}

/** Inserts unit logical axes (positions in the output) into a device value; they go last in storage. */
function unsqueezeDevice(v: DeviceValue, axes: number[]): DeviceValue {
  const rank = v.perm.length + axes.length;
  const inserted = axes.map((a) => normAxis(a, rank)).sort((a, b) => a - b);
  const old = identity(rank).filter((a) => !inserted.includes(a)); // old logical axis i -> old[i]
  return device(tf.reshape(v.tensor, [...v.tensor.shape, ...inserted.map(() => 1)]), [...v.perm.map((p) => old[p]), ...inserted]);
}

/** Per logical axis (start, size, step) of an ONNX Slice, after its clamping rules. */
export function sliceRanges(shape: readonly number[], starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined): { start: number; size: number; step: number }[] {
  const ranges = shape.map((d) => ({ start: 0, size: d, step: 1 }));
  const list = axes ?? starts.map((_, i) => i);
  list.forEach((a, i) => {
    const axis = normAxis(a, shape.length);
    const dim = shape[axis];
    const step = steps?.[i] ?? 1;
    let start = starts[i] < 0 ? starts[i] + dim : starts[i];
    let end = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      start = Math.min(Math.max(start, 0), dim);
      end = Math.min(Math.max(end, 0), dim);
      ranges[axis] = { start, size: Math.max(0, Math.ceil((end - start) / step)), step };
    } else {
      start = Math.min(Math.max(start, 0), dim - 1);
      end = Math.min(Math.max(end, -1), dim - 1);
      ranges[axis] = { start, size: Math.max(0, Math.ceil((start - end) / -step)), step };
    }
  });
  return ranges;
}

function sliceDevice(v: DeviceValue, ranges: { start: number; size: number; step: number }[]): DeviceValue {
  let x = v.tensor;
  const stored = v.perm.map((p) => ranges[p]);
  const reversed = stored.flatMap((r, i) => (r.step < 0 ? [i] : []));
  if (reversed.length > 0) {
    x = tf.reverse(x, reversed);
    stored.forEach((r, i) => {
      if (r.step < 0) stored[i] = { start: x.shape[i] - 1 - r.start, size: r.size, step: -r.step };
    });
  }
  if (stored.every((r) => r.step === 1)) {
    return device(tf.slice(x, stored.map((r) => r.start), stored.map((r) => r.size)), v.perm);
  }
  const out = tf.stridedSlice(x, stored.map((r) => r.start), stored.map((r) => r.start + (r.size - 1) * r.step + 1), stored.map((r) => r.step));
  return device(out, v.perm);
}

function sliceArgs(get: (i: number) => HostTensor | undefined): { starts: number[]; ends: number[]; axes?: number[]; steps?: number[] } {
  const axes = get(3);
  const steps = get(4);
  return { starts: numbersOf(get(1)!), ends: numbersOf(get(2)!), axes: axes ? numbersOf(axes) : undefined, steps: steps ? numbersOf(steps) : undefined };
}

function splitSizes(dim: number, outputs: number, get: (i: number) => HostTensor | undefined, attrs: Attributes, opset: number): number[] {
  const given = opset >= 13 ? get(1) : undefined;
  if (given) return numbersOf(given);
  if (opset < 13 && attrs.has('split')) return attrs.ints('split');
  const n = opset >= 18 && attrs.has('num_outputs') ? attrs.int('num_outputs') : outputs;
  const size = Math.ceil(dim / n);
  return Array.from({ length: n }, (_, i) => Math.max(0, Math.min(size, dim - i * size)));
}

function castHost(t: HostTensor, to: HostDtype): HostTensor {
  if (to === 'float32') return { dtype: to, shape: t.shape, data: Float32Array.from(t.data) };
  const data = Float64Array.from(t.data, (v) => (to === 'bool' ? (v !== 0 ? 1 : 0) : Math.trunc(v)));
  return { dtype: to, shape: t.shape, data };
}

function constantValue(attrs: Attributes): HostTensor {
  if (attrs.has('value')) return attrs.tensor('value');
  if (attrs.has('value_float')) return hostTensor('float32', [], [attrs.float('value_float')]);
  if (attrs.has('value_floats')) return hostTensor('float32', [attrs.ints('value_floats').length], attrs.ints('value_floats'));
  if (attrs.has('value_int')) return hostTensor('int64', [], [attrs.int('value_int')]);
  if (attrs.has('value_ints')) return hostTensor('int64', [attrs.ints('value_ints').length], attrs.ints('value_ints'));
  return attrs.tensor('value');
}

function padsOf(get: (i: number) => HostTensor | undefined, opset: number, rank: number): { pads: number[]; value: number; axes: number[] } {
  const raw = numbersOf(get(1)!);
  const value = get(2)?.data[0] ?? 0;
  const axesInput = opset >= 18 ? get(3) : undefined;
  const axes = axesInput ? numbersOf(axesInput).map((a) => normAxis(a, rank)) : identity(rank);
  return { pads: raw, value, axes };
}

function pad(ctx: OpContext): Value[] {
  const x = ctx.device(0);
  const rank = x.perm.length;
  const mode = ctx.attrs.string('mode', 'constant');
  const { pads, value, axes } = padsOf((i) => ctx.optionalHost(i), ctx.opset, rank);
  const logicalPads = identity(rank).map(() => [0, 0] as [number, number]);
  axes.forEach((a, i) => (logicalPads[a] = [pads[i], pads[i + axes.length]]));
  if (logicalPads.some(([a, b]) => a < 0 || b < 0)) throw ctx.unsupported('negative pads (cropping)');
  const stored = x.perm.map((p) => logicalPads[p]);
  if (mode === 'constant') return [device(tf.pad(x.tensor, stored, value), x.perm)];
  if (mode === 'reflect') return [device(tf.mirrorPad(x.tensor, stored, 'reflect'), x.perm)];
  if (mode === 'edge') {
    let y = x.tensor;
    stored.forEach(([before, after], axis) => {
      if (before === 0 && after === 0) return;
      const n = y.shape[axis];
      const first = tf.slice(y, y.shape.map(() => 0), y.shape.map((d, i) => (i === axis ? 1 : d)));
      const last = tf.slice(y, y.shape.map((_, i) => (i === axis ? n - 1 : 0)), y.shape.map((d, i) => (i === axis ? 1 : d)));
      y = tf.concat([...Array(before).fill(first), y, ...Array(after).fill(last)], axis);
    });
    return [device(y, x.perm)];
  }
  throw ctx.unsupported(`Pad mode '${mode}'`, 'Gaze pads with constant, reflect and edge');
}

function gatherDevice(ctx: OpContext): Value[] {
  const data = ctx.device(0);
  const rank = data.perm.length;
  const axis = normAxis(ctx.attrs.int('axis', 0), rank);
  const indicesValue = ctx.inputs[1]!;
  const dim = logicalShape(data)[axis];
  if (indicesValue.kind === 'host') {
    const at = storedAxis(data, axis);
    const picked = tf.gather(data.tensor, staticIndices(ctx, indicesValue.t, dim), at);
    if (indicesValue.t.shape.length === 0) return [squeezeDevice(device(picked, data.perm), [axis])];
    if (indicesValue.t.shape.length === 1) return [device(picked, data.perm)];
    const flat = device(picked, data.perm);
    const shape = [...logicalShape(data).slice(0, axis), ...indicesValue.t.shape, ...logicalShape(data).slice(axis + 1)];
    return [device(tf.reshape(logical(flat), shape))];
  }
  const indices = indicesValue.kind === 'device' ? logical(indicesValue) : indicesValue;
  const normalized = tf.where(tf.less(indices, 0), tf.add(indices, dim), indices);
  return [device(tf.gather(logical(data), tf.cast(normalized, 'int32'), axis))];
}

/**
 * Gather's host indices as a 1-D int32 tensor, negatives counted from the end. Constant indices
 * without negatives keep their data array, which ctx.constant recognises and uploads once.
 */
function staticIndices(ctx: OpContext, indices: HostTensor, dim: number): tf.Tensor1D {
  const data = indices.data.some((i) => i < 0) ? Float64Array.from(indices.data, (i) => (i < 0 ? i + dim : i)) : indices.data;
  return ctx.constant({ dtype: 'int32', shape: [data.length], data }) as tf.Tensor1D;
}

function expandDevice(ctx: OpContext): Value[] {
  const shape = numbersOf(ctx.host(1));
  const x = ctx.device(0);
  const extra = Math.max(0, shape.length - x.perm.length);
  const lifted = extra > 0 ? device(tf.reshape(x.tensor, [...Array(extra).fill(1), ...x.tensor.shape]), withLeadingAxes(x.perm, extra)) : x;
  const inShape = logicalShape(lifted);
  const target = [...Array(inShape.length - shape.length).fill(1), ...shape];
  const out = target.map((d, i) => (d === 1 ? inShape[i] : d));
  return [device(tf.broadcastTo(lifted.tensor, lifted.perm.map((p) => out[p])), lifted.perm)];
}

function concatDevice(ctx: OpContext): Value[] {
  const values = ctx.inputs.filter((v): v is Value => v !== undefined);
  const { tensors, perm } = alignOperands(ctx, values);
  const rank = perm.length;
  const axis = normAxis(ctx.attrs.int('axis'), rank);
  return [device(tf.concat(tensors, perm.indexOf(axis)), perm)];
}

function transposeOrder(attrs: Attributes, rank: number): number[] {
  return attrs.has('perm') ? attrs.ints('perm') : identity(rank).reverse();
}

export const SHAPE_OPS: Record<string, OpImpl> = {
  Shape: {
    // The only op whose device input gives a host output: shapes are known while planning.
    host: ([x], attrs) => [shapeOf(x!.shape, attrs)],
    device: (ctx) => [host(shapeOf(logicalShape(ctx.inputs[0]!), ctx.attrs))],
  },
  Size: {
    host: ([x]) => [hostTensor('int64', [], [sizeOf(x!.shape)])],
    device: (ctx) => [host(hostTensor('int64', [], [sizeOf(logicalShape(ctx.inputs[0]!))]))],
  },
  Reshape: {
    host: ([x, s], attrs) => [{ ...x!, shape: reshapeTarget(x!.shape, numbersOf(s!), attrs.int('allowzero', 0) === 1) }],
    device: (ctx) => {
      const x = ctx.inputs[0]!;
      return [reshapeValue(x, reshapeTarget(logicalShape(x), numbersOf(ctx.host(1)), ctx.attrs.int('allowzero', 0) === 1))];
    },
  },
  Flatten: {
    host: ([x], attrs) => [{ ...x!, shape: flattened(x!.shape, attrs) }],
    device: (ctx) => [reshapeValue(ctx.inputs[0]!, flattened(logicalShape(ctx.inputs[0]!), ctx.attrs))],
  },
  Transpose: {
    host: ([x], attrs) => [hostTranspose(x!, transposeOrder(attrs, x!.shape.length))],
    device: (ctx) => {
      const x = ctx.device(0);
      const inv = inversePerm(transposeOrder(ctx.attrs, x.perm.length));
      return [device(x.tensor, x.perm.map((p) => inv[p]))];
    },
  },
  Squeeze: {
    host: (inputs, attrs, _node, opset) => [{ ...inputs[0]!, shape: removeAxes(inputs[0]!.shape, squeezeAxes(inputs[0]!.shape, axesOf(inputs, undefined, attrs, opset, 13))) }],
    device: (ctx) => {
      const x = ctx.device(0);
      return [squeezeDevice(x, squeezeAxes(logicalShape(x), axesOf(undefined, (i) => ctx.optionalHost(i), ctx.attrs, ctx.opset, 13)))];
    },
  },
  Unsqueeze: {
    host: (inputs, attrs, _node, opset) => [{ ...inputs[0]!, shape: insertAxes(inputs[0]!.shape, axesOf(inputs, undefined, attrs, opset, 13)!) }],
    device: (ctx) => [unsqueezeDevice(ctx.device(0), axesOf(undefined, (i) => ctx.optionalHost(i), ctx.attrs, ctx.opset, 13)!)],
  },
  Concat: {
    host: (inputs, attrs) => {
      const parts = inputs.filter((t): t is HostTensor => t !== undefined);
      return [hostConcat(parts, normAxis(attrs.int('axis'), parts[0].shape.length))];
    },
    device: concatDevice,
  },
  Split: {
    host: (inputs, attrs, node, opset) => {
      const x = inputs[0]!;
      const axis = normAxis(attrs.int('axis', 0), x.shape.length);
      const sizes = splitSizes(x.shape[axis], node.outputs.length, (i) => inputs[i], attrs, opset);
      let start = 0;
      return sizes.map((size) => {
        const ranges = x.shape.map((d, i) => (i === axis ? { start, size, step: 1 } : { start: 0, size: d, step: 1 }));
        start += size;
        return hostSlice(x, ranges);
      });
    },
    device: (ctx) => {
      const x = ctx.device(0);
      const axis = normAxis(ctx.attrs.int('axis', 0), x.perm.length);
      const sizes = splitSizes(logicalShape(x)[axis], ctx.node.outputs.length, (i) => ctx.optionalHost(i), ctx.attrs, ctx.opset);
      return tf.split(x.tensor, sizes, storedAxis(x, axis)).map((t) => device(t, x.perm));
    },
  },
  Slice: {
    host: (inputs) => {
      const { starts, ends, axes, steps } = sliceArgs((i) => inputs[i]);
      return [hostSlice(inputs[0]!, sliceRanges(inputs[0]!.shape, starts, ends, axes, steps))];
    },
    device: (ctx) => {
      const x = ctx.device(0);
      const { starts, ends, axes, steps } = sliceArgs((i) => ctx.optionalHost(i));
      return [sliceDevice(x, sliceRanges(logicalShape(x), starts, ends, axes, steps))];
    },
  },
  Gather: {
    host: ([x, indices], attrs) => [hostGather(x!, indices!, normAxis(attrs.int('axis', 0), x!.shape.length))],
    device: gatherDevice,
  },
  Expand: {
    host: ([x, shape]) => [hostExpand(x!, numbersOf(shape!))],
    device: expandDevice,
  },
  Range: {
    host: ([start, limit, delta]) => {
      const [s, l, d] = [start!.data[0], limit!.data[0], delta!.data[0]];
      const n = Math.max(Math.ceil((l - s) / d), 0);
      return [hostTensor(start!.dtype, [n], Array.from({ length: n }, (_, i) => s + i * d))];
    },
  },
  ConstantOfShape: {
    host: ([shape], attrs) => {
      const value = attrs.has('value') ? attrs.tensor('value') : hostTensor('float32', [1], [0]);
      const dims = numbersOf(shape!);
      return [hostTensor(value.dtype, dims, new Array(sizeOf(dims)).fill(value.data[0]))];
    },
  },
  Constant: { host: (_inputs, attrs) => [constantValue(attrs)] },
  Identity: { host: ([x]) => [x!], device: (ctx) => [ctx.inputs[0]!] },
  Dropout: {
    host: ([x]) => [x!],
    device: (ctx) => {
      const x = ctx.inputs[0]!;
      const ratio = ctx.opset >= 12 ? (ctx.optionalHost(1)?.data[0] ?? 0.5) : ctx.attrs.float('ratio', 0.5);
      if (!ctx.training || x.kind === 'host' || ratio === 0) return [x];
      return [device(tf.dropout(x.tensor, ratio), x.perm)];
    },
  },
  Cast: {
    host: ([x], attrs) => [castHost(x!, castTarget(attrs))],
    device: (ctx) => {
      const x = ctx.device(0);
      const to = castTarget(ctx.attrs);
      if (to === 'bool') return [device(tf.cast(tf.notEqual(x.tensor, 0), 'int32'), x.perm)];
      return [device(tf.cast(x.tensor, to === 'float32' ? 'float32' : 'int32'), x.perm)];
    },
  },
  Pad: { device: pad },
};

function castTarget(attrs: Attributes): HostDtype {
  const to = hostDtypeOf(attrs.int('to'));
  if (!to) throw new Error(`Cast to ONNX element type ${attrs.int('to')} is not supported`);
  return to;
}

function shapeOf(shape: readonly number[], attrs: Attributes): HostTensor {
  const rank = shape.length;
  const start = Math.min(Math.max(normAxis(attrs.int('start', 0), rank), 0), rank);
  const end = Math.min(Math.max(normAxis(attrs.int('end', rank), rank), 0), rank);
  const dims = shape.slice(start, end);
  return hostTensor('int64', [dims.length], dims);
}

function flattened(shape: readonly number[], attrs: Attributes): number[] {
  const axis = normAxis(attrs.int('axis', 1), shape.length);
  return [sizeOf(shape.slice(0, axis)), sizeOf(shape.slice(axis))];
}

function removeAxes(shape: readonly number[], axes: number[]): number[] {
  return shape.filter((_, i) => !axes.includes(i));
}

function insertAxes(shape: readonly number[], axes: number[]): number[] {
  const rank = shape.length + axes.length;
  const inserted = new Set(axes.map((a) => normAxis(a, rank)));
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(inserted.has(i) ? 1 : shape[k++]);
  return out;
}

