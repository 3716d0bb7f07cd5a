import { conv2dBiasActivation, tf } from '@gaze/engine';
import { hostSlice, type HostTensor } from '../runtime/host-tensor.js';
import { NHWC, device, hostToTensor, inLayout, type DeviceValue, type Value } from '../runtime/value.js';
import { activate, type Attributes, type FusedActivation, type OpContext, type OpImpl } from './op.js';

/** [top, left, bottom, right] padding of a 2-D window op (Conv, MaxPool, AveragePool) from `pads` or `auto_pad`. */
export function windowPads(attrs: Attributes, inHW: readonly number[], kernel: readonly number[], strides: readonly number[], dilations: readonly number[]): [number, number, number, number] {
  const autoPad = attrs.string('auto_pad', 'NOTSET');
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < 2; i++) {
      const out = Math.ceil(inHW[i] / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - inHW[i]);
      const small = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      end.push(total - begin[i]);
    }
    return [begin[0], begin[1], end[0], end[1]];
  }
  const pads = attrs.ints('pads', [0, 0, 0, 0]);
  return [pads[0], pads[1], pads[2], pads[3]];
}

type Pad = [[number, number], [number, number], [number, number], [number, number]];

function explicitPad([top, left, bottom, right]: readonly number[]): Pad {
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}

/** One padding number when all four sides agree (what every tfjs conv kernel takes), else explicit. */
function tfPad(pads: readonly number[]): number | Pad {
  return pads.every((p) => p === pads[0]) ? pads[0] : explicitPad(pads);
}

/** A Conv node's geometry, from its attributes, weight shape and input size. */
export interface ConvGeometry {
  /** 'dense' (group 1), 'depthwise' (group = channels, one input channel per group) or 'grouped'. */
  kind: 'dense' | 'depthwise' | 'grouped';
  group: number;
  channels: number;
  outChannels: number;
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** [top, left, bottom, right] */
  pads: [number, number, number, number];
}

/** The geometry of a Conv with weights [O, I/g, kH, kW] on an NHWC input of `inputShape`; null when the weights do not fit it. */
export function convGeometry(attrs: Attributes, weightShape: readonly number[], inputShape: readonly number[]): ConvGeometry | null {
  const [outChannels, groupChannels, kh, kw] = weightShape;
  const group = attrs.int('group', 1);
  const [, height, width, channels] = inputShape;
  if (groupChannels * group !== channels) return null;
  const strides = attrs.ints('strides', [1, 1]) as [number, number];
  const dilations = attrs.ints('dilations', [1, 1]) as [number, number];
  const pads = windowPads(attrs, [height, width], [kh, kw], strides, dilations);
  const kind = group === 1 ? 'dense' : group === channels && groupChannels === 1 && outChannels % channels === 0 ? 'depthwise' : 'grouped';
  return { kind, group, channels, outChannels, kernel: [kh, kw], strides, dilations, pads };
}

/**
 * The filters in tfjs's layout, from the ONNX weights [O, I/g, kH, kW]: [kH, kW, I, O] for a
 * dense convolution, [kH, kW, C, O/C] for a depthwise one, one [kH, kW, I/g, O/g] per group
 * otherwise. Rearranged on the device.
 */
export function convFilters(w: HostTensor, g: ConvGeometry): tf.Tensor4D[] {
  if (g.kind === 'dense') return [hostToTensor(w, [2, 3, 1, 0]) as tf.Tensor4D];
  if (g.kind === 'depthwise') return [hostToTensor({ ...w, shape: [g.channels, g.outChannels / g.channels, ...g.kernel] }, [2, 3, 0, 1]) as tf.Tensor4D];
  const perGroup = g.outChannels / g.group;
  return Array.from({ length: g.group }, (_, k) => hostToTensor(groupSlice(w, k, perGroup), [2, 3, 1, 0]) as tf.Tensor4D);
}

/**
 * The convolution of NHWC `x` with `filters` (as convFilters lays them out), plus `bias` and a
 * fused activation. Grouped convolutions run group by group; strides and dilations both above 1
 * run at stride 1 and subsample (tfjs convolves with one or the other).
 */
export function convNhwc(x: tf.Tensor4D, filters: readonly tf.Tensor4D[], g: ConvGeometry, bias?: tf.Tensor, activation: 'linear' | FusedActivation = 'linear', add?: tf.Tensor4D): tf.Tensor4D {
  const subsample = g.strides.some((s) => s > 1) && g.dilations.some((d) => d > 1);
  const strides: [number, number] = subsample ? [1, 1] : g.strides;
  const finish = (y: tf.Tensor4D) => (subsample ? tf.stridedSlice(y, [0, 0, 0, 0], y.shape, [1, g.strides[0], g.strides[1], 1]) as tf.Tensor4D : y);
  const pad = tfPad(g.pads);
  if (g.kind === 'dense') {
    // Under a gradient tape, conv2dBiasActivation computes only the gradients asked for (the input's alone for
    // TAME or saliency through the frozen network), where tfjs's fused conv computes the filter's too.
    if ((activation === 'linear' || activation === 'relu') && !subsample) return conv2dBiasActivation({ x, filter: filters[0], strides, pad, dilations: g.dilations, bias, activation, add });
    if (!add) return finish(tf.fused.conv2d({ x, filter: filters[0], strides, pad, dilations: g.dilations, bias, activation }));
  }
  if (add) return activate(tf.add(convNhwc(x, filters, g, bias), add), activation) as tf.Tensor4D;
  if (g.kind === 'depthwise' && typeof pad === 'number') return finish(tf.fused.depthwiseConv2d({ x, filter: filters[0], strides, pad, dilations: g.dilations, bias, activation }));
  const raw =
    g.kind === 'depthwise'
      ? finish(tf.depthwiseConv2d(x, filters[0], strides, pad, 'NHWC', g.dilations))
      : (tf.concat(tf.split(x, g.group, 3).map((part, k) => finish(tf.conv2d(part as tf.Tensor4D, filters[k], strides, pad, 'NHWC', g.dilations))), 3) as tf.Tensor4D);
  return activate(bias ? tf.add(raw, bias) : raw, activation) as tf.Tensor4D;
}

/**
 * Conv (2-D, NCHW in ONNX) on NHWC tensors: the filters are rearranged once into tfjs's layout
 * (convFilters) and cached; a Relu/Clip(0,6) the planner fused in is applied inside the kernel.
 */
function conv(ctx: OpContext): Value[] {
  const x = ctx.device(0);
  if (x.perm.length !== 4) throw ctx.unsupported(`a ${x.perm.length - 2}-D convolution`, 'Gaze runs 2-D convolutions over images [N,C,H,W]');
  if (ctx.inputs[1]?.kind !== 'host') throw ctx.unsupported('a convolution whose weights are computed by the graph', 'the weights must be initializers');
  const w = ctx.host(1);
  const xs = inLayout(x, NHWC) as tf.Tensor4D;
  const g = convGeometry(ctx.attrs, w.shape, xs.shape);
  if (!g) throw ctx.unsupported(`weights [${w.shape.join(',')}] (group ${ctx.attrs.int('group', 1)}) on an input with ${xs.shape[3]} channels`, 'the input does not fit the model (wrong number of image channels?)');
  // Built on the first run only; later runs find every filter prepared.
  let built: tf.Tensor4D[] | undefined;
  const filters = Array.from({ length: g.kind === 'grouped' ? g.group : 1 }, (_, k) => ctx.prepared(`filter/${k}`, () => (built ??= convFilters(w, g))[k]) as tf.Tensor4D);
  const biasHost = ctx.optionalHost(2);
  const bias = biasHost ? ctx.prepared('bias', () => hostToTensor(biasHost)) : undefined;
  const addend = ctx.fusedAddend ? (inLayout(ctx.fusedAddend as DeviceValue, NHWC) as tf.Tensor4D) : undefined;
  return [device(convNhwc(xs, filters, g, bias, ctx.fusedActivation, addend), [...NHWC])];
}

function groupSlice(w: HostTensor, g: number, perGroup: number): HostTensor {
  return hostSlice(w, w.shape.map((d, i) => (i === 0 ? { start: g * perGroup, size: perGroup, step: 1 } : { start: 0, size: d, step: 1 })));
}

/** Output length of a pooling window under ceil_mode, as PyTorch computes it (the last window starts inside the input or its left padding). */
function ceilExtra(size: number, kernel: number, stride: number, padBegin: number, padEnd: number, dilation: number): number {
  const span = (kernel - 1) * dilation + 1;
  let out = Math.ceil((size + padBegin + padEnd - span) / stride) + 1;
  if ((out - 1) * stride >= size + padBegin) out--;
  return Math.max(0, (out - 1) * stride + span - (size + padBegin + padEnd));
}

/** A MaxPool / AveragePool node's window: kernel, strides, [top, left, bottom, right] pads and the extra bottom/right cells ceil_mode adds. */
export interface PoolGeometry {
  kernel: [number, number];
  strides: [number, number];
  pads: [number, number, number, number];
  extra: [number, number];
}

/** The pooling window of a node over an H x W map; a string saying what is unsupported otherwise. */
export function poolGeometry(attrs: Attributes, height: number, width: number): PoolGeometry | string {
  const kernel = attrs.ints('kernel_shape') as [number, number];
  if (kernel.length !== 2) return `a ${kernel.length}-D pooling window`;
  const strides = attrs.ints('strides', [1, 1]) as [number, number];
  const dilations = attrs.ints('dilations', [1, 1]);
  if (dilations.some((d) => d !== 1)) return 'dilated pooling';
  const pads = windowPads(attrs, [height, width], kernel, strides, [1, 1]);
  const ceil = attrs.int('ceil_mode', 0) === 1;
  const extra: [number, number] = ceil ? [ceilExtra(height, kernel[0], strides[0], pads[0], pads[2], 1), ceilExtra(width, kernel[1], strides[1], pads[1], pads[3], 1)] : [0, 0];
  return { kernel, strides, pads, extra };
}

/** The padding max pooling sees: the pads plus ceil_mode's extra cells ([top, left, bottom, right]). */
export function maxPoolPads(g: PoolGeometry): [number, number, number, number] {
  const [top, left, bottom, right] = g.pads;
  return [top, left, bottom + g.extra[0], right + g.extra[1]];
}

/** MaxPool on NHWC: padded cells never win (tfjs pools over the cells inside the input, which is -inf padding). */
export function maxPoolNhwc(x: tf.Tensor4D, g: PoolGeometry): tf.Tensor4D {
  const all = maxPoolPads(g);
  return tf.maxPool(x, g.kernel, g.strides, all.every((p) => p === 0) ? 'valid' : explicitPad(all));
}

/**
 * AveragePool on NHWC: with count_include_pad the padding is added as zeros first (so it
 * counts); the cells a ceil_mode window hangs past the padded input never count, as in PyTorch.
 */
export function averagePoolNhwc(x: tf.Tensor4D, g: PoolGeometry, countIncludePad: boolean): tf.Tensor4D {
  const [top, left, bottom, right] = g.pads;
  let input = x;
  let outer = [top, left, bottom + g.extra[0], right + g.extra[1]];
  if (countIncludePad && g.pads.some((p) => p > 0)) {
    input = tf.pad(x, explicitPad(g.pads));
    outer = [0, 0, g.extra[0], g.extra[1]];
  }
  return tf.avgPool(input, g.kernel, g.strides, outer.every((p) => p === 0) ? 'valid' : explicitPad(outer));
}

function pooling(ctx: OpContext): { xs: tf.Tensor4D; g: PoolGeometry } {
  const xs = inLayout(ctx.device(0), NHWC) as tf.Tensor4D;
  const g = poolGeometry(ctx.attrs, xs.shape[1], xs.shape[2]);
  if (typeof g === 'string') throw ctx.unsupported(g, 'Gaze pools 2-D feature maps with dilation 1');
  return { xs, g };
}

function maxPool(ctx: OpContext): Value[] {
  if (ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '') throw ctx.unsupported('MaxPool with an Indices output');
  const { xs, g } = pooling(ctx);
  return [device(maxPoolNhwc(xs, g), [...NHWC])];
}

function averagePool(ctx: OpContext): Value[] {
  const { xs, g } = pooling(ctx);
  return [device(averagePoolNhwc(xs, g, ctx.attrs.int('count_include_pad', 0) === 1), [...NHWC])];
}

function globalPool(reduce: (x: tf.Tensor, axes: number[]) => tf.Tensor): OpImpl {
  return {
    device: (ctx) => {
      const x = ctx.device(0);
      if (x.perm.length !== 4) throw ctx.unsupported(`global pooling over a rank-${x.perm.length} tensor`);
      return [device(reduce(inLayout(x, NHWC), [1, 2]), [...NHWC])];
    },
  };
}

export const CONV_OPS: Record<string, OpImpl> = {
  Conv: { device: conv },
  MaxPool: { device: maxPool },
  AveragePool: { device: averagePool },
  GlobalAveragePool: globalPool((x, axes) => tf.mean(x, axes, true)),
  GlobalMaxPool: globalPool((x, axes) => tf.max(x, axes, true)),
};
