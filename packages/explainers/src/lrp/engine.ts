import { GazeError, tf } from '@gaze/engine';
import { LayersClassifier, applyPreprocess, type Classifier } from '@gaze/models';
import { hiddenRule, negated, zBoxRule, type FirstLayerRule, type LinearMap, type Part, type RuleParams } from './rules.js';

/**
 * The LRP engine over a LayersClassifier's layer graph: one forward pass (layer by layer, in the
 * model's topological order) that keeps every tensor, then one backward pass from the logits that
 * hands each layer's output relevance to its inputs with the layer's rule.
 *
 * - Conv2D / Dense (fused relu or linear activation; the relu passes relevance through): the
 *   hidden rule (epsilon, z+ or alpha-beta), or the first-layer rule when it reads the image.
 * - BatchNormalization right after a Conv2D/Dense that feeds nothing else is folded into it:
 *   w' = w g / sqrt(v + e), b' = (b - m) g / sqrt(v + e) + beta. Any other BN is a per-channel
 *   affine layer under the hidden rule.
 * - MaxPooling2D: winner-take-all, ties split equally (as `clrp_lib.py maxPool_relprop`), whatever the rule.
 * - AveragePooling2D, GlobalAveragePooling2D, Add: linear layers with positive weights under the
 *   hidden rule (epsilon: proportional to each input's contribution, z+: to its positive part;
 *   alpha-beta is taken as z+ there, since alpha > 1 would only amplify).
 * - Activation relu/linear, Dropout: identity; Flatten, Reshape: reshape; ZeroPadding2D: crop.
 *
 * The input normalization (spec.preprocess) is elementwise and sits before the first layer, so the
 * first layer's rule runs in normalized space. The first-layer rule (z^B) goes to every Conv2D/Dense
 * that reads the normalized image directly or through monotone layers only (flatten, reshape,
 * padding, pooling, dropout, relu); its bounds are those layers applied to the per-channel
 * normalized values of pixels 0 and 1.
 */

export interface LrpRules extends RuleParams {
  firstLayer: FirstLayerRule;
}

export const SUPPORTED_LAYERS = [
  'InputLayer',
  'Conv2D (relu or linear)',
  'Dense (relu or linear)',
  'BatchNormalization',
  'Activation (relu or linear)',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'Dropout',
  'Flatten',
  'Reshape',
  'ZeroPadding2D',
  'Add',
] as const;

type Layer = tf.layers.Layer;

interface Step {
  layer: Layer;
  cls: string;
  inputs: number[];
  output: number;
  /** A BN folded into the conv/dense that feeds it: that producer's step. */
  foldedInto?: Step;
}

export interface LrpGraph {
  classifier: LayersClassifier;
  inputId: number;
  logitsId: number;
  /** The layers between the input and the logits, in forward order. */
  steps: Step[];
  /** Tensor ids known to be >= 0 (relu outputs and what pooling/reshaping keeps of them). */
  nonNegative: Set<number>;
  /** Per-channel z^B bounds: the normalized values of pixels 0 and 1 (in the model's channel order). */
  low: number[];
  high: number[];
}

function activationName(layer: Layer): string {
  const activation = (layer.getConfig() as { activation?: unknown }).activation;
  return typeof activation === 'string' ? activation : 'linear';
}

function unsupported(layer: Layer, why: string, method: string, where?: string): GazeError {
  return new GazeError(`${method}: layer '${layer.name}' (${layer.getClassName()}) ${why}`, {
    where,
    hint: `LRP propagates relevance through: ${SUPPORTED_LAYERS.join(', ')}`,
  });
}

/** Checks every layer between the image and the logits and plans the passes; throws a GazeError naming an unsupported layer. */
export function buildLrpGraph(classifier: Classifier, method: string, where?: string): LrpGraph {
  if (!(classifier instanceof LayersClassifier) && !('model' in classifier && 'spec' in classifier)) {
    throw new GazeError(`${method} needs a classifier built from tfjs layers (vgg-small, resnet-small, layers-model); got ${classifier.type}`, { where });
  }
  const c = classifier as LayersClassifier;
  const model = c.model;
  if (model.inputs.length !== 1) throw new GazeError(`${method}: the model has ${model.inputs.length} inputs; LRP needs one image input`, { where });
  const inputId = model.inputs[0].id;
  const logitsLayer = model.getLayer(c.spec.logits.layer);
  const logitsTensor = c.spec.logits.from === 'output' ? logitsLayer.inboundNodes[0].outputTensors[0] : logitsLayer.inboundNodes[0].inputTensors[0];
  const logitsId = logitsTensor.id;

  // Producers of each tensor, and the layers the logits depend on.
  const producer = new Map<number, Layer>();
  for (const layer of model.layers) {
    if (layer.inboundNodes.length === 0) continue;
    for (const t of layer.inboundNodes[0].outputTensors) producer.set(t.id, layer);
  }
  const needed = new Set<Layer>();
  const stack = [logitsId];
  while (stack.length > 0) {
    const id = stack.pop()!;
    const layer = producer.get(id);
    if (!layer || needed.has(layer)) continue;
    needed.add(layer);
    if (layer.inboundNodes.length > 1) throw unsupported(layer, 'is applied more than once; shared layers are not supported', method, where);
    for (const t of layer.inboundNodes[0].inputTensors) stack.push(t.id);
  }

  const steps: Step[] = [];
  const consumers = new Map<number, number>();
  const nonNegative = new Set<number>();
  const stepOf = new Map<number, Step>(); // output id -> step
  for (const layer of model.layers) {
    if (!needed.has(layer)) continue;
    const cls = layer.getClassName();
    if (cls === 'InputLayer') continue;
    const node = layer.inboundNodes[0];
    if (node.outputTensors.length !== 1) throw unsupported(layer, `has ${node.outputTensors.length} outputs`, method, where);
    const step: Step = { layer, cls, inputs: node.inputTensors.map((t) => t.id), output: node.outputTensors[0].id };
    const config = layer.getConfig() as Record<string, unknown>;
    if ('dataFormat' in config && config.dataFormat !== 'channelsLast') throw unsupported(layer, `has dataFormat ${String(config.dataFormat)}; only channelsLast is supported`, method, where);
    const allNonNegative = step.inputs.every((id) => nonNegative.has(id));
    let outNonNegative = false;
    switch (cls) {
      case 'Conv2D':
      case 'Dense':
      case 'Activation': {
        const activation = step.output === logitsId ? 'linear' : activationName(layer);
        if (activation !== 'relu' && activation !== 'linear') throw unsupported(layer, `has a '${activation}' activation; only relu and linear are supported`, method, where);
        if (cls === 'Dense' && (layer.inboundNodes[0].inputTensors[0].shape.length !== 2)) throw unsupported(layer, 'is applied to a tensor of rank > 2', method, where);
        outNonNegative = activation === 'relu' || (cls === 'Activation' && allNonNegative);
        break;
      }
      case 'BatchNormalization': {
        const axis = (config.axis as number | number[]) ?? -1;
        const rank = node.inputTensors[0].shape.length;
        const a = Array.isArray(axis) ? axis : [axis];
        if (a.length !== 1 || (a[0] !== -1 && a[0] !== rank - 1)) throw unsupported(layer, `normalizes axis ${JSON.stringify(axis)}; only the last (channel) axis is supported`, method, where);
        const prev = stepOf.get(step.inputs[0]);
        if (prev && (prev.cls === 'Conv2D' || prev.cls === 'Dense') && activationName(prev.layer) === 'linear') step.foldedInto = prev;
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D':
      case 'GlobalAveragePooling2D':
      case 'Dropout':
      case 'Flatten':
      case 'Reshape':
      case 'ZeroPadding2D':
      case 'Add':
        outNonNegative = allNonNegative;
        break;
      default:
        throw unsupported(layer, 'is not supported by LRP', method, where);
    }
    for (const id of step.inputs) consumers.set(id, (consumers.get(id) ?? 0) + 1);
    if (outNonNegative) nonNegative.add(step.output);
    steps.push(step);
    stepOf.set(step.output, step);
  }
  // A BN is folded only when its conv feeds nothing else.
  for (const step of steps) {
    if (step.foldedInto && ((consumers.get(step.foldedInto.output) ?? 0) !== 1 || step.foldedInto.output === logitsId)) step.foldedInto = undefined;
  }

  const p = c.spec.preprocess;
  const channels = c.inputShape[2];
  const perChannel = (values: number[]) => Array.from({ length: channels }, (_, i) => (values.length === 1 ? values[0] : values[i]));
  const mean = perChannel(p.mean);
  const std = perChannel(p.std);
  return {
    classifier: c,
    inputId,
    logitsId,
    steps,
    nonNegative,
    low: mean.map((m, i) => (0 * p.scale - m) / std[i]),
    high: mean.map((m, i) => (1 * p.scale - m) / std[i]),
  };
}

/** Layers that map a box l <= x <= h to the box f(l) <= f(x) <= f(h) (monotone, single input). */
const MONOTONE = new Set(['Activation', 'Dropout', 'Flatten', 'Reshape', 'ZeroPadding2D', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D']);

export interface LrpForward {
  /** Every tensor between the normalized image and the logits, by symbolic tensor id. */
  values: Map<number, tf.Tensor>;
  /**
   * z^B bounds [1,...] of the tensors the image reaches through monotone layers only (the
   * normalized image itself, its flattening, a max pool of it...): the first conv/dense layer
   * reading one of them gets the z^B rule.
   */
  bounds: Map<number, { low: tf.Tensor; high: tf.Tensor }>;
}

/** The forward pass. Call inside tf.tidy. */
// x: [B,H,W,C] in [0,1]
export function lrpForward(graph: LrpGraph, x: tf.Tensor4D): LrpForward {
  const values = new Map<number, tf.Tensor>();
  const bounds = new Map<number, { low: tf.Tensor; high: tf.Tensor }>();
  values.set(graph.inputId, applyPreprocess(x, graph.classifier.spec.preprocess));
  const [h, w, c] = graph.classifier.inputShape;
  const box = (v: number[]) => tf.mul(tf.ones([1, h, w, c]), tf.tensor1d(v));
  bounds.set(graph.inputId, { low: box(graph.low), high: box(graph.high) });
  const run = (step: Step, inputs: tf.Tensor[]) => step.layer.apply(inputs.length === 1 ? inputs[0] : inputs, { training: false }) as tf.Tensor;
  for (const step of graph.steps) {
    values.set(step.output, run(step, step.inputs.map((id) => values.get(id)!)));
    const b = step.inputs.length === 1 ? bounds.get(step.inputs[0]) : undefined;
    if (b && MONOTONE.has(step.cls)) bounds.set(step.output, { low: run(step, [b.low]), high: run(step, [b.high]) });
  }
  return { values, bounds };
}

function weight(layer: Layer, key: string): tf.Tensor | null {
  const pattern = new RegExp(`(^|/)${key}(_\\d+)?$`);
  const v = layer.weights.find((w) => pattern.test(w.originalName) || pattern.test(w.name));
  return v ? v.read() : null;
}

function positiveMap(apply: (inputs: tf.Tensor[]) => tf.Tensor): LinearMap {
  return { apply: (inputs, part) => (part === 'neg' ? null : apply(inputs)), bias: null };
}

function convMap(layer: Layer, kernel: tf.Tensor4D, bias: tf.Tensor | null): LinearMap {
  const cfg = layer.getConfig() as { strides: number[]; padding: 'same' | 'valid'; dilationRate: number | number[] };
  const strides = cfg.strides as [number, number];
  const dilations = (Array.isArray(cfg.dilationRate) ? cfg.dilationRate : [cfg.dilationRate, cfg.dilationRate]) as [number, number];
  const kernels: Partial<Record<Part, tf.Tensor4D>> = {};
  const k = (part: Part) => (kernels[part] ??= part === 'all' ? kernel : part === 'pos' ? tf.relu(kernel) : (tf.minimum(kernel, 0) as tf.Tensor4D));
  const undilated = dilations[0] === 1 && dilations[1] === 1;
  return {
    apply: ([a], part) => tf.conv2d(a as tf.Tensor4D, k(part), strides, cfg.padding, 'NHWC', dilations),
    transpose: undilated
      ? (s, part, [a]) => [tf.conv2dTranspose(s as tf.Tensor4D, k(part), a.shape as [number, number, number, number], strides, cfg.padding)]
      : undefined,
    bias,
  };
}

function denseMap(kernel: tf.Tensor2D, bias: tf.Tensor | null): LinearMap {
  const kernels: Partial<Record<Part, tf.Tensor2D>> = {};
  const k = (part: Part) => (kernels[part] ??= part === 'all' ? kernel : part === 'pos' ? tf.relu(kernel) : (tf.minimum(kernel, 0) as tf.Tensor2D));
  return {
    apply: ([a], part) => tf.matMul(a as tf.Tensor2D, k(part)),
    transpose: (s, part) => [tf.matMul(s as tf.Tensor2D, k(part), false, true)],
    bias,
  };
}

/** A BatchNormalization's inference-time affine map y = x * scale + shift, per channel. */
function batchNormAffine(layer: Layer): { scale: tf.Tensor1D; shift: tf.Tensor1D } {
  const cfg = layer.getConfig() as { epsilon: number };
  const mean = weight(layer, 'moving_mean')!;
  const variance = weight(layer, 'moving_variance')!;
  const gamma = weight(layer, 'gamma');
  const beta = weight(layer, 'beta');
  const inv = tf.rsqrt(tf.add(variance, cfg.epsilon));
  const scale = (gamma ? tf.mul(inv, gamma) : inv) as tf.Tensor1D;
  const shift = tf.sub(beta ?? tf.zerosLike(mean), tf.mul(mean, scale)) as tf.Tensor1D;
  return { scale, shift };
}

/** The conv/dense layer's map, with a following BN folded in when given. */
function weightedMap(layer: Layer, bn?: Layer): LinearMap {
  let kernel = weight(layer, 'kernel')!;
  let bias = weight(layer, 'bias');
  if (bn) {
    const { scale, shift } = batchNormAffine(bn);
    kernel = tf.mul(kernel, scale); // scales the output-channel (last) axis
    bias = tf.add(bias ? tf.mul(bias, scale) : tf.zerosLike(shift), shift);
  }
  return layer.getClassName() === 'Conv2D' ? convMap(layer, kernel as tf.Tensor4D, bias) : denseMap(kernel as tf.Tensor2D, bias);
}

function poolArgs(layer: Layer) {
  const cfg = layer.getConfig() as { poolSize: number | number[]; strides: number | number[] | null; padding: 'same' | 'valid' };
  const pair = (v: number | number[]) => (Array.isArray(v) ? v : [v, v]) as [number, number];
  const poolSize = pair(cfg.poolSize);
  return { poolSize, strides: cfg.strides == null ? poolSize : pair(cfg.strides), padding: cfg.padding };
}

/** Scatters t [B,Ho,Wo,C] to rows oy + sy*i and columns ox + sx*j of a [B,H,W,C] grid (zeros elsewhere). */
function scatterStrided(t: tf.Tensor4D, oy: number, ox: number, sy: number, sx: number, H: number, W: number): tf.Tensor4D {
  const [b, ho, wo, c] = t.shape;
  let g: tf.Tensor4D = t;
  if (sy > 1) g = tf.pad(g.reshape([b, ho, 1, wo * c]), [[0, 0], [0, 0], [0, sy - 1], [0, 0]]).reshape([b, ho * sy, wo, c]);
  if (sx > 1) g = tf.pad(g.reshape([b * ho * sy, wo, 1, c]), [[0, 0], [0, 0], [0, sx - 1], [0, 0]]).reshape([b, ho * sy, wo * sx, c]);
  const rows = Math.min(g.shape[1], H - oy);
  const cols = Math.min(g.shape[2], W - ox);
  g = tf.slice(g, [0, 0, 0, 0], [b, rows, cols, c]);
  return tf.pad(g, [[0, 0], [oy, H - oy - rows], [ox, W - ox - cols], [0, 0]]);
}

/**
 * Max-pool relevance: each output's relevance goes to the input position(s) holding the window's
 * maximum, split equally over ties (`clrp_lib.py maxPool_relprop`). Works for overlapping windows
 * and 'same' padding (padded cells are -inf and never win).
 */
// a: [B,H,W,C] pool input, y: [B,Ho,Wo,C] its output, r: [B,Ho,Wo,C] -> [B,H,W,C]
export function maxPoolRelevance(a: tf.Tensor4D, y: tf.Tensor4D, r: tf.Tensor4D, poolSize: [number, number], strides: [number, number], padding: 'same' | 'valid'): tf.Tensor4D {
  const [, H, W] = a.shape;
  const [, ho, wo] = y.shape;
  const [kh, kw] = poolSize;
  const [sh, sw] = strides;
  let top = 0;
  let left = 0;
  let padded = a;
  if (padding === 'same') {
    const ph = Math.max((ho - 1) * sh + kh - H, 0);
    const pw = Math.max((wo - 1) * sw + kw - W, 0);
    top = Math.floor(ph / 2);
    left = Math.floor(pw / 2);
    padded = tf.pad(a, [[0, 0], [top, ph - top], [left, pw - left], [0, 0]], -Infinity);
  }
  const [b, hp, wp, c] = padded.shape;
  const hits: tf.Tensor4D[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const window = tf.stridedSlice(padded, [0, i, j, 0], [b, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, c], [1, sh, sw, 1]) as tf.Tensor4D;
      hits.push(tf.cast(tf.equal(window, y), 'float32') as tf.Tensor4D);
    }
  }
  const share = tf.div(r, tf.maximum(tf.addN(hits), 1)) as tf.Tensor4D;
  const parts: tf.Tensor4D[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) parts.push(scatterStrided(tf.mul(hits[i * kw + j], share) as tf.Tensor4D, i, j, sh, sw, hp, wp));
  }
  const sum = parts.length === 1 ? parts[0] : tf.addN(parts);
  return tf.slice(sum, [0, top, left, 0], [b, H, W, c]);
}

export interface BackwardOptions {
  /** CLRP2: the logits layer's weights (and bias) are negated for this pass. */
  negateLogitsLayer?: boolean;
}

/**
 * The backward pass: relevance at the logits [B,K] -> relevance at the normalized input [B,H,W,C].
 * Call inside tf.tidy with the values from `lrpForward`.
 */
export function lrpBackward(graph: LrpGraph, forward: LrpForward, start: tf.Tensor2D, rules: LrpRules, options: BackwardOptions = {}): tf.Tensor4D {
  const { values, bounds } = forward;
  const relevance = new Map<number, tf.Tensor>([[graph.logitsId, start]]);
  const give = (id: number, r: tf.Tensor) => {
    const prev = relevance.get(id);
    relevance.set(id, prev ? tf.add(prev, r) : r);
  };
  for (let n = graph.steps.length - 1; n >= 0; n--) {
    const step = graph.steps[n];
    const r = relevance.get(step.output);
    if (!r) continue;
    relevance.delete(step.output);
    const inputs = step.inputs.map((id) => values.get(id)!);
    const layer = step.layer;
    let map: LinearMap | null = null;
    let into = step; // the step whose inputs receive the relevance (the conv for a folded BN)
    switch (step.cls) {
      case 'Activation':
      case 'Dropout':
        give(step.inputs[0], r);
        continue;
      case 'Flatten':
      case 'Reshape':
        give(step.inputs[0], tf.reshape(r, inputs[0].shape));
        continue;
      case 'ZeroPadding2D': {
        const [b, h, w, c] = inputs[0].shape;
        const pad = (layer.getConfig() as { padding: [[number, number], [number, number]] }).padding;
        give(step.inputs[0], tf.slice(r, [0, pad[0][0], pad[1][0], 0], [b, h, w, c]));
        continue;
      }
      case 'MaxPooling2D': {
        const { poolSize, strides, padding } = poolArgs(layer);
        give(step.inputs[0], maxPoolRelevance(inputs[0] as tf.Tensor4D, values.get(step.output) as tf.Tensor4D, r as tf.Tensor4D, poolSize, strides, padding));
        continue;
      }
      case 'AveragePooling2D': {
        const { poolSize, strides, padding } = poolArgs(layer);
        map = positiveMap(([a]) => tf.avgPool(a as tf.Tensor4D, poolSize, strides, padding));
        break;
      }
      case 'GlobalAveragePooling2D':
        map = positiveMap(([a]) => tf.mean(a, [1, 2]));
        break;
      case 'Add':
        map = positiveMap((xs) => tf.addN(xs));
        break;
      case 'Conv2D':
      case 'Dense':
        map = weightedMap(layer);
        break;
      case 'BatchNormalization':
        if (step.foldedInto) {
          into = step.foldedInto;
          map = weightedMap(into.layer, layer);
        } else {
          const { scale, shift } = batchNormAffine(layer);
          const scales: Partial<Record<Part, tf.Tensor>> = {};
          const k = (part: Part) => (scales[part] ??= part === 'all' ? scale : part === 'pos' ? tf.relu(scale) : tf.minimum(scale, 0));
          map = { apply: ([a], part) => tf.mul(a, k(part)), bias: shift };
        }
        break;
      default:
        throw new Error(`lrpBackward: no rule for ${step.cls}`);
    }
    if (options.negateLogitsLayer && step.output === graph.logitsId) map = negated(map);
    const targets = into.inputs;
    const ins = targets.map((id) => values.get(id)!);
    let out: tf.Tensor[];
    const box = targets.length === 1 ? bounds.get(targets[0]) : undefined;
    if (rules.firstLayer === 'zb' && box && (into.cls === 'Conv2D' || into.cls === 'Dense')) {
      out = [zBoxRule(map, ins[0], r, box.low, box.high, rules.epsilon)];
    } else {
      // Parameter-free layers (pooling, Add) take alpha-beta as z+ (alpha1beta0): alpha > 1 would
      // only amplify relevance there, as they have no weights to split into signs.
      const parameterFree = into.cls === 'AveragePooling2D' || into.cls === 'GlobalAveragePooling2D' || into.cls === 'Add';
      const layerRules = parameterFree && rules.rule === 'alpha-beta' ? { ...rules, rule: 'zplus' as const } : rules;
      out = hiddenRule(map, ins, r, layerRules, targets.every((id) => graph.nonNegative.has(id)));
    }
    targets.forEach((id, k) => give(id, out[k]));
  }
  const rIn = relevance.get(graph.inputId);
  if (!rIn) throw new Error('lrpBackward: no relevance reached the input');
  return rIn as tf.Tensor4D;
}
