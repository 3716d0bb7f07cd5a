import { tf } from '@gaze/engine';
import { hostSlice, type HostTensor } from '../runtime/host-tensor.js';
import { NHWC, device, hostToTensor, inLayout, type Value } from '../runtime/value.js';
import type { Attributes, OpContext, OpImpl } from './op.js';

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

function activate(y: tf.Tensor, activation: string): tf.Tensor {
  if (activation === 'relu') return tf.relu(y);
  if (activation === 'relu6') return tf.relu6(y);
  return y;
}

/**
 * Conv (2-D, NCHW in ONNX) on NHWC tensors. The filter [O, I/g, kH, kW] is rearranged once into
 * tfjs's layout: [kH, kW, I, O] for ordinary convolutions, [kH, kW, C, O/C] for depthwise ones
 * (group = channels), and one [kH, kW, I/g, O/g] filter per group otherwise (grouped convolutions
 * run group by group). A Relu/Clip(0,6) the planner fused in is applied inside the kernel.
 */
function conv(ctx: OpContext): Value[] {
  const x = ctx.device(0);
  if (x.perm.length !== 4) throw ctx.unsupported(`a ${x.perm.length - 2}-D convolution`, 'Gaze runs 2-D convolutions over images [N,C,H,W]');
  if (ctx.inputs[1]?.kind !== 'host') throw ctx.unsupported('a convolution whose weights are computed by the graph', 'the weights must be initializers');
  const w = ctx.host(1);
  const [outChannels, groupChannels, kh, kw] = w.shape;
  const group = ctx.attrs.int('group', 1);
  const xs = inLayout(x, NHWC);
  const [, height, width, channels] = xs.shape;
  if (groupChannels * group !== channels) {
    throw ctx.unsupported(`weights for ${groupChannels * group} input channels on an input with ${channels}`, 'the input does not fit the model (wrong number of image channels?)');
  }
  const strides = ctx.attrs.ints('strides', [1, 1]) as [number, number];
  const dilations = ctx.attrs.ints('dilations', [1, 1]) as [number, number];
  const pads = windowPads(ctx.attrs, [height, width], [kh, kw], strides, dilations);
  const biasHost = ctx.optionalHost(2);
  const bias = biasHost ? ctx.prepared('bias', () => hostToTensor(biasHost)) : undefined;
  const activation = ctx.fusedActivation ?? 'linear';
  // tfjs convolves with either strides or dilations above 1: run stride 1 and subsample.
  const subsample = strides.some((s) => s > 1) && dilations.some((d) => d > 1);
  const convStrides: [number, number] = subsample ? [1, 1] : strides;
  const finish = (y: tf.Tensor4D) => (subsample ? tf.stridedSlice(y, [0, 0, 0, 0], y.shape, [1, strides[0], strides[1], 1]) : y);

  let y: tf.Tensor;
  if (group === 1) {
    const filter = ctx.prepared('filter', () => hostToTensor(w, [2, 3, 1, 0])) as tf.Tensor4D;
    y = finish(tf.fused.conv2d({ x: xs as tf.Tensor4D, filter, strides: convStrides, pad: tfPad(pads), dilations, bias, activation }));
  } else if (group === channels && groupChannels === 1 && outChannels % channels === 0) {
    const filter = ctx.prepared('filter', () => hostToTensor({ ...w, shape: [channels, outChannels / channels, kh, kw] }, [2, 3, 0, 1])) as tf.Tensor4D;
    const pad = tfPad(pads);
    if (typeof pad === 'number') {
      y = finish(tf.fused.depthwiseConv2d({ x: xs as tf.Tensor4D, filter, strides: convStrides, pad, dilations, bias, activation }));
    } else {
      const raw = finish(tf.depthwiseConv2d(xs as tf.Tensor4D, filter, convStrides, pad, 'NHWC', dilations));
      y = activate(bias ? tf.add(raw, bias) : raw, activation);
    }
  } else {
    const perGroup = outChannels / group;
    const parts = tf.split(xs, group, 3).map((part, g) => {
      const filter = ctx.prepared(`filter/${g}`, () => hostToTensor(groupSlice(w, g, perGroup), [2, 3, 1, 0])) as tf.Tensor4D;
      return finish(tf.conv2d(part as tf.Tensor4D, filter, convStrides, tfPad(pads), 'NHWC', dilations));
    });
    const joined = tf.concat(parts, 3);
    y = activate(bias ? tf.add(joined, bias) : joined, activation);
  }
  return [device(y, [...NHWC])];
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

function poolGeometry(ctx: OpContext, height: number, width: number) {
  const kernel = ctx.attrs.ints('kernel_shape') as [number, number];
  if (kernel.length !== 2) throw ctx.unsupported(`a ${kernel.length}-D pooling window`, 'Gaze pools 2-D feature maps');
  const strides = ctx.attrs.ints('strides', [1, 1]) as [number, number];
  const dilations = ctx.attrs.ints('dilations', [1, 1]);
  if (dilations.some((d) => d !== 1)) throw ctx.unsupported('dilated pooling');
  const pads = windowPads(ctx.attrs, [height, width], kernel, strides, [1, 1]);
  const ceil = ctx.attrs.int('ceil_mode', 0) === 1;
  const extra = ceil ? [ceilExtra(height, kernel[0], strides[0], pads[0], pads[2], 1), ceilExtra(width, kernel[1], strides[1], pads[1], pads[3], 1)] : [0, 0];
  return { kernel, strides, pads, extra };
}

function maxPool(ctx: OpContext): Value[] {
  if (ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '') throw ctx.unsupported('MaxPool with an Indices output');
  const xs = inLayout(ctx.device(0), NHWC) as tf.Tensor4D;
  const { kernel, strides, pads, extra } = poolGeometry(ctx, xs.shape[1], xs.shape[2]);
  const [top, left, bottom, right] = pads;
  const all = [top, left, bottom + extra[0], right + extra[1]];
  // Padded cells never win: tfjs pools over the cells inside the input, which is -inf padding.
  const pad = all.every((p) => p === 0) ? 'valid' : explicitPad(all);
  return [device(tf.maxPool(xs, kernel, strides, pad), [...NHWC])];
}

/**
 * AveragePool: with count_include_pad the padding is added as zeros first (so it counts); the
 * cells a ceil_mode window hangs past the padded input never count, as in PyTorch.
 */
function averagePool(ctx: OpContext): Value[] {
  let xs = inLayout(ctx.device(0), NHWC) as tf.Tensor4D;
  const { kernel, strides, pads, extra } = poolGeometry(ctx, xs.shape[1], xs.shape[2]);
  const [top, left, bottom, right] = pads;
  let outer = [top, left, bottom + extra[0], right + extra[1]];
  if (ctx.attrs.int('count_include_pad', 0) === 1 && pads.some((p) => p > 0)) {
    xs = tf.pad(xs, explicitPad(pads));
    outer = [0, 0, extra[0], extra[1]];
  }
  const pad = outer.every((p) => p === 0) ? 'valid' : explicitPad(outer);
  return [device(tf.avgPool(xs, kernel, strides, pad), [...NHWC])];
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
