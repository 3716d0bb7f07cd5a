import { GazeError, tf } from '@gaze/engine';
import { LayersClassifier, type Classifier } from '@gaze/models';
import type { LinearMap } from './rules.js';
import { KeptTensors, batchNormAffine, foldAffine, matMulMap, maxPoolRelevance, positiveMap, signedParts, upstreamOf, type LrpStep, type LrpSteps } from './steps.js';

/** The tfjs layers LRP propagates relevance through. */
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
  'Concatenate (channels)',
] as const;

type Layer = tf.layers.Layer;

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

function weight(layer: Layer, key: string): tf.Tensor | null {
  const pattern = new RegExp(`(^|/)${key}(_\\d+)?$`);
  const v = layer.weights.find((w) => pattern.test(w.originalName) || pattern.test(w.name));
  return v ? v.read() : null;
}

function convMap(layer: Layer, kernel: tf.Tensor4D, bias: tf.Tensor | null): LinearMap {
  const cfg = layer.getConfig() as { strides: number[]; padding: 'same' | 'valid'; dilationRate: number | number[] };
  const strides = cfg.strides as [number, number];
  const dilations = (Array.isArray(cfg.dilationRate) ? cfg.dilationRate : [cfg.dilationRate, cfg.dilationRate]) as [number, number];
  const k = signedParts(kernel);
  const undilated = dilations[0] === 1 && dilations[1] === 1;
  return {
    apply: ([a], part) => tf.conv2d(a as tf.Tensor4D, k(part), strides, cfg.padding, 'NHWC', dilations),
    transpose: undilated
      ? (s, part, [a]) => [tf.conv2dTranspose(s as tf.Tensor4D, k(part), a.shape as [number, number, number, number], strides, cfg.padding)]
      : undefined,
    bias,
  };
}

function poolArgs(layer: Layer) {
  const cfg = layer.getConfig() as { poolSize: number | number[]; strides: number | number[] | null; padding: 'same' | 'valid' };
  const pair = (v: number | number[]) => (Array.isArray(v) ? v : [v, v]) as [number, number];
  const poolSize = pair(cfg.poolSize);
  return { poolSize, strides: cfg.strides == null ? poolSize : pair(cfg.strides), padding: cfg.padding };
}

/** The LRP steps of a classifier over a tfjs LayersModel: one per layer between the input and the logits. */
export function buildLayersLrpSteps(classifier: Classifier, method: string, where?: string): LrpSteps {
  if (!(classifier instanceof LayersClassifier) && !('model' in classifier && 'spec' in classifier)) {
    throw new GazeError(`${method} needs a classifier built from tfjs layers (vgg-small, resnet-small, layers-model) or an ONNX model; got ${classifier.type}`, { where });
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
  const needed = upstreamOf(
    logitsId,
    (id) => producer.get(id as number),
    (layer) => {
      if (layer.inboundNodes.length > 1) throw unsupported(layer, 'is applied more than once; shared layers are not supported', method, where);
      return layer.inboundNodes[0].inputTensors.map((t) => t.id);
    },
  );

  const steps: LrpStep[] = [];
  // What is derived from the weights (folded kernels, batch-norm maps), kept until they are reassigned.
  const kept = new KeptTensors();
  for (const layer of model.layers) {
    if (!needed.has(layer)) continue;
    const cls = layer.getClassName();
    if (cls === 'InputLayer') continue;
    const node = layer.inboundNodes[0];
    if (node.outputTensors.length !== 1) throw unsupported(layer, `has ${node.outputTensors.length} outputs`, method, where);
    const config = layer.getConfig() as Record<string, unknown>;
    if ('dataFormat' in config && config.dataFormat !== 'channelsLast') throw unsupported(layer, `has dataFormat ${String(config.dataFormat)}; only channelsLast is supported`, method, where);
    const inputs = node.inputTensors.map((t) => t.id);
    const output = node.outputTensors[0].id;
    const forward = (xs: tf.Tensor[]) => layer.apply(xs.length === 1 ? xs[0] : xs, { training: false }) as tf.Tensor;
    const base = { name: layer.name, op: cls, inputs, output, forward };
    let step: LrpStep;
    switch (cls) {
      case 'Conv2D':
      case 'Dense': {
        const activation = output === logitsId ? 'linear' : activationName(layer);
        if (activation !== 'relu' && activation !== 'linear') throw unsupported(layer, `has a '${activation}' activation; only relu and linear are supported`, method, where);
        if (cls === 'Dense' && node.inputTensors[0].shape.length !== 2) throw unsupported(layer, 'is applied to a tensor of rank > 2', method, where);
        // The layer's variables: an assign changes their data, not them.
        const kernel = weight(layer, 'kernel')!;
        const bias = weight(layer, 'bias');
        const folded = kept.derived((k: tf.Tensor, b: tf.Tensor | null, scale: tf.Tensor1D, shift: tf.Tensor1D) => foldAffine(k, b, { scale, shift }));
        step = {
          ...base,
          kind: 'weighted',
          relu: activation === 'relu',
          linear: (fold) => {
            const w = fold ? folded(kernel, bias, fold.scale, fold.shift) : { kernel, bias };
            return cls === 'Conv2D' ? convMap(layer, w.kernel as tf.Tensor4D, w.bias) : matMulMap(w.kernel as tf.Tensor2D, w.bias);
          },
        };
        break;
      }
      case 'Activation': {
        const activation = output === logitsId ? 'linear' : activationName(layer);
        if (activation !== 'relu' && activation !== 'linear') throw unsupported(layer, `has a '${activation}' activation; only relu and linear are supported`, method, where);
        step = { ...base, kind: 'identity', relu: activation === 'relu', pass: (r) => [r] };
        break;
      }
      case 'Dropout':
        step = { ...base, kind: 'identity', pass: (r) => [r] };
        break;
      case 'BatchNormalization': {
        const axis = (config.axis as number | number[]) ?? -1;
        const rank = node.inputTensors[0].shape.length;
        const a = Array.isArray(axis) ? axis : [axis];
        if (a.length !== 1 || (a[0] !== -1 && a[0] !== rank - 1)) throw unsupported(layer, `normalizes axis ${JSON.stringify(axis)}; only the last (channel) axis is supported`, method, where);
        const { epsilon } = config as { epsilon: number };
        const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((key) => weight(layer, key));
        const affine = kept.derived((g: tf.Tensor | null, b: tf.Tensor | null, m: tf.Tensor | null, v: tf.Tensor | null) => batchNormAffine(g, b, m!, v!, epsilon));
        step = { ...base, kind: 'affine', affine: () => affine(gamma, beta, mean, variance) };
        break;
      }
      case 'MaxPooling2D': {
        const { poolSize, strides, padding } = poolArgs(layer);
        step = { ...base, kind: 'maxpool', pass: (r, [a], y) => [maxPoolRelevance(a as tf.Tensor4D, y as tf.Tensor4D, r as tf.Tensor4D, poolSize, strides, padding)] };
        break;
      }
      case 'AveragePooling2D': {
        const { poolSize, strides, padding } = poolArgs(layer);
        step = { ...base, kind: 'avgpool', linear: () => positiveMap(([a]) => tf.avgPool(a as tf.Tensor4D, poolSize, strides, padding)) };
        break;
      }
      case 'GlobalAveragePooling2D':
        step = { ...base, kind: 'gap', linear: () => positiveMap(([a]) => tf.mean(a, [1, 2])) };
        break;
      case 'Flatten':
      case 'Reshape':
        step = { ...base, kind: 'reshape', pass: (r, [a]) => [tf.reshape(r, a.shape)] };
        break;
      case 'ZeroPadding2D': {
        const pad = config.padding as [[number, number], [number, number]];
        step = { ...base, kind: 'crop', pass: (r, [a]) => [tf.slice(r, [0, pad[0][0], pad[1][0], 0], a.shape)] };
        break;
      }
      case 'Add':
        step = { ...base, kind: 'add', linear: () => positiveMap((xs) => tf.addN(xs)) };
        break;
      case 'Concatenate': {
        const rank = node.inputTensors[0].shape.length;
        const axis = (config.axis as number) ?? -1;
        if (axis !== -1 && axis !== rank - 1) throw unsupported(layer, `concatenates axis ${axis}; only the last (channel) axis is supported`, method, where);
        step = { ...base, kind: 'concat', pass: (r, xs) => tf.split(r, xs.map((x) => x.shape[rank - 1] as number), rank - 1) };
        break;
      }
      default:
        throw unsupported(layer, 'is not supported by LRP', method, where);
    }
    steps.push(step);
  }
  return { inputId, logitsId, steps, dispose: () => kept.dispose() };
}
