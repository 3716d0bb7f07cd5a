import { GazeError, tf } from '@gaze/engine';
import {
  Attributes,
  averagePoolNhwc,
  convFilters,
  convGeometry,
  convNhwc,
  hostToTensor,
  maxPoolNhwc,
  maxPoolPads,
  poolGeometry,
  type ConvGeometry,
  type HostTensor,
  type OnnxClassifier,
  type OnnxNode,
} from '@gaze/onnx';
import type { LinearMap, Part } from './rules.js';
import { KeptTensors, batchNormAffine, foldAffine, foldBias, matMulMap, maxPoolRelevance, positiveMap, signedParts, upstreamOf, type Affine, type LrpStep, type LrpSteps } from './steps.js';

/** The ONNX ops LRP propagates relevance through (a classifier's path from the image to the logits). */
export const ONNX_LRP_OPS = [
  'Conv (any groups)',
  'Gemm (alpha = beta = 1, no transA)',
  'MatMul (constant 2-D weight)',
  'BatchNormalization',
  'Relu',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Flatten / Reshape to [N, features]',
  'Add',
  'Concat (channels)',
  'Pad (zeros around the image plane)',
  'Identity',
  'Dropout',
] as const;

/**
 * The LRP steps of an ONNX classifier: its runtime nodes between the image and the logits, each
 * run the way its op is defined. Feature maps are NHWC (as the importer stores them), vectors
 * [N, K]; a Flatten of a feature map flattens in ONNX's (NCHW) order, and its relevance goes
 * back through the same permutation.
 */
export function buildOnnxLrpSteps(classifier: OnnxClassifier, method: string, where?: string): LrpSteps {
  const { program, graph, spec, map } = classifier;
  const inputId = spec.input;
  const logitsId = spec.logits;
  const unsupported = (node: OnnxNode, why: string) =>
    new GazeError(`${method}: node '${node.name}' (${node.opType}) ${why}`, {
      where,
      hint: `LRP propagates relevance through ${ONNX_LRP_OPS.join(', ')}; explain this model with a gradient or perturbation method (gradcam, rise, integrated-gradients) instead`,
    });

  // The nodes the logits need.
  const needed = upstreamOf(
    logitsId,
    (name) => program.producerOf(name as string),
    (node) => node.inputs.filter((i) => i && !program.isStatic(i)),
  );
  const [height, width, channels] = classifier.inputShape;
  // Logical (ONNX) shapes at the load-time batch; the image input is [N, C, H, W].
  const shapeOf = (name: string): number[] => (name === inputId ? [1, channels, height, width] : (map.values.get(name)?.shape ?? []));
  const rank = (name: string) => shapeOf(name).length;
  const constant = (node: OnnxNode, i: number): HostTensor => {
    const t = node.inputs[i] ? program.staticValue(node.inputs[i]) : undefined;
    if (!t) throw unsupported(node, `takes input ${i} from the image's computation; LRP needs it constant (a weight)`);
    return t;
  };

  const steps: LrpStep[] = [];
  // Weights move to the device once per graph (a VGG-16's are 0.5 GB) and stay until dispose().
  const kept = new KeptTensors();
  for (const node of program.nodes) {
    if (!needed.has(node)) continue;
    const attrs = new Attributes(node, graph.file);
    const inputs = node.inputs.filter((i) => i && !program.isStatic(i));
    const output = node.outputs[0];
    const base = { name: node.name, op: node.opType, inputs, output };
    let step: LrpStep;
    switch (node.opType) {
      case 'Conv': {
        if (rank(inputs[0]) !== 4) throw unsupported(node, 'is not a 2-D convolution');
        const w = constant(node, 1);
        const b = node.inputs[2] ? constant(node, 2) : undefined;
        const [, c, h, wd] = shapeOf(inputs[0]);
        const g = convGeometry(attrs, w.shape, [1, h, wd, c]);
        if (!g) throw unsupported(node, 'has weights that do not fit its input');
        const filters = kept.once(() => convFilters(w, g));
        const bias = kept.once(() => (b ? hostToTensor(b) : tf.zeros([g.outChannels])));
        step = {
          ...base,
          kind: 'weighted',
          forward: ([x]) => convNhwc(x as tf.Tensor4D, filters(), g, b && bias()),
          linear: (fold) => convLinear(filters(), b ? bias() : null, g, fold),
        };
        break;
      }
      case 'Gemm':
      case 'MatMul': {
        if (rank(inputs[0]) !== 2) throw unsupported(node, `is applied to a rank-${rank(inputs[0])} tensor; LRP takes [N, features]`);
        if (inputs.length !== 1) throw unsupported(node, 'multiplies two computed tensors');
        const gemm = node.opType === 'Gemm';
        if (gemm && (attrs.float('alpha', 1) !== 1 || attrs.float('beta', 1) !== 1 || attrs.int('transA', 0) !== 0)) throw unsupported(node, 'scales or transposes its input (alpha, beta, transA)');
        const w = constant(node, 1);
        const transB = gemm && attrs.int('transB', 0) === 1;
        const c = gemm && node.inputs[2] ? constant(node, 2) : undefined;
        // The weight as stored ([N, K] with transB, as torch writes a Linear): the matmul transposes it.
        const kernel = kept.once(() => hostToTensor(w) as tf.Tensor2D);
        const bias = kept.once(() => (c ? tf.reshape(hostToTensor(c), [-1]) : tf.zeros([w.shape[transB ? 0 : 1]])));
        step = {
          ...base,
          kind: 'weighted',
          forward: ([a]) => (c ? tf.add(tf.matMul(a as tf.Tensor2D, kernel(), false, transB), bias()) : tf.matMul(a as tf.Tensor2D, kernel(), false, transB)),
          linear: (fold) => {
            const w = fold ? foldAffine(kernel(), c ? bias() : null, fold, transB ? 0 : 1) : { kernel: kernel(), bias: c ? bias() : null };
            return matMulMap(w.kernel, w.bias, transB);
          },
        };
        break;
      }
      case 'BatchNormalization': {
        const params = [1, 2, 3, 4].map((i) => constant(node, i));
        const epsilon = attrs.float('epsilon', 1e-5);
        const affine = kept.once(() => {
          const [gamma, beta, mean, variance] = params.map((t) => hostToTensor(t));
          return batchNormAffine(gamma, beta, mean, variance, epsilon);
        });
        if (rank(inputs[0]) !== 4 && rank(inputs[0]) !== 2) throw unsupported(node, `normalizes a rank-${rank(inputs[0])} tensor`);
        step = {
          ...base,
          kind: 'affine',
          affine,
          forward: ([x]) => tf.add(tf.mul(x, affine().scale), affine().shift),
        };
        break;
      }
      case 'Relu':
        step = { ...base, kind: 'identity', relu: true, forward: ([x]) => tf.relu(x), pass: (r) => [r] };
        break;
      case 'Identity':
      case 'Dropout':
        step = { ...base, kind: 'identity', forward: ([x]) => x.clone(), pass: (r) => [r] };
        break;
      case 'MaxPool':
      case 'AveragePool': {
        const [, , h, wd] = shapeOf(inputs[0]);
        const g = poolGeometry(attrs, h, wd);
        if (typeof g === 'string') throw unsupported(node, `uses ${g}`);
        if (node.opType === 'MaxPool') {
          step = {
            ...base,
            kind: 'maxpool',
            forward: ([x]) => maxPoolNhwc(x as tf.Tensor4D, g),
            pass: (r, [a], y) => [maxPoolRelevance(a as tf.Tensor4D, y as tf.Tensor4D, r as tf.Tensor4D, g.kernel, g.strides, maxPoolPads(g))],
          };
        } else {
          const countIncludePad = attrs.int('count_include_pad', 0) === 1;
          const pool = ([x]: tf.Tensor[]) => averagePoolNhwc(x as tf.Tensor4D, g, countIncludePad);
          step = { ...base, kind: 'avgpool', forward: pool, linear: () => positiveMap(pool) };
        }
        break;
      }
      case 'GlobalAveragePool': {
        const pool = ([x]: tf.Tensor[]) => tf.mean(x, [1, 2], true);
        step = { ...base, kind: 'gap', forward: pool, linear: () => positiveMap(pool) };
        break;
      }
      case 'Flatten':
      case 'Reshape': {
        const target = shapeOf(output);
        if (target.length !== 2) throw unsupported(node, `reshapes to rank ${target.length}; LRP takes flattening to [N, features] only`);
        const fromMap = rank(inputs[0]) === 4;
        step = {
          ...base,
          kind: 'reshape',
          // A feature map flattens in ONNX's order: channels first.
          forward: ([x]) => tf.reshape(fromMap ? tf.transpose(x, [0, 3, 1, 2]) : x, [x.shape[0], -1]),
          pass: (r, [a]) => {
            if (!fromMap) return [tf.reshape(r, a.shape)];
            const [n, h, w, c] = a.shape;
            return [tf.transpose(tf.reshape(r, [n, c, h, w]), [0, 2, 3, 1])];
          },
        };
        break;
      }
      case 'Pad': {
        const mode = attrs.string('mode', 'constant');
        const pads = graph.opset < 11 ? attrs.ints('pads') : Array.from(constant(node, 1).data);
        const value = graph.opset < 11 ? attrs.float('value', 0) : node.inputs[2] ? constant(node, 2).data[0] : 0;
        const r = rank(inputs[0]);
        // [N, C, H, W] begins then ends; only H and W, with zeros, and none negative.
        const spatialOnly = r === 4 && pads.length === 8 && [0, 1, 4, 5].every((i) => pads[i] === 0) && pads.every((p) => p >= 0);
        if (mode !== 'constant' || value !== 0 || !spatialOnly || (graph.opset >= 18 && node.inputs[3])) throw unsupported(node, 'pads with a mode, value or axes other than zeros around the image plane');
        const padding: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [pads[2], pads[6]], [pads[3], pads[7]], [0, 0]];
        step = {
          ...base,
          kind: 'crop',
          forward: ([x]) => tf.pad(x, padding),
          pass: (rel, [a]) => [tf.slice(rel, [0, pads[2], pads[3], 0], a.shape)],
        };
        break;
      }
      case 'Add':
        if (inputs.length !== 2 || rank(inputs[0]) !== rank(inputs[1])) throw unsupported(node, 'adds a constant or tensors of different ranks');
        step = { ...base, kind: 'add', forward: (xs) => tf.addN(xs), linear: () => positiveMap((xs) => tf.addN(xs)) };
        break;
      case 'Concat': {
        const r = rank(inputs[0]);
        const axis = attrs.int('axis');
        if (inputs.length !== node.inputs.length || (axis !== 1 && axis !== 1 - r)) throw unsupported(node, 'concatenates along an axis other than the channels, or with constants');
        const stored = r === 4 ? 3 : 1;
        step = {
          ...base,
          kind: 'concat',
          forward: (xs) => tf.concat(xs, stored),
          pass: (rel, xs) => tf.split(rel, xs.map((x) => x.shape[stored] as number), stored),
        };
        break;
      }
      default:
        throw unsupported(node, 'is not an op LRP propagates relevance through');
    }
    steps.push(step);
  }
  if (!steps.some((s) => s.inputs.includes(inputId))) throw new GazeError(`${method}: no step of ${graph.file} reads the image input '${inputId}'`, { where });
  return { inputId, logitsId, steps, dispose: () => kept.dispose() };
}

/**
 * A Conv's linear map over NHWC inputs, filters split by sign; a batch norm after it folds into
 * the filters' output channels (for depthwise and grouped filters, in their channel order).
 */
function convLinear(filters: tf.Tensor4D[], bias: tf.Tensor | null, g: ConvGeometry, fold?: Affine): LinearMap {
  let folded = filters;
  let b = bias;
  if (fold) {
    const perFilter = filters.map((f) => f.shape[3] * (g.kind === 'depthwise' ? f.shape[2] : 1));
    let at = 0;
    folded = filters.map((f, k) => {
      const scale = tf.slice(fold.scale, [at], [perFilter[k]]);
      at += perFilter[k];
      const [, , inner, outer] = f.shape;
      return tf.mul(f, g.kind === 'depthwise' ? tf.reshape(scale, [inner, outer]) : scale) as tf.Tensor4D;
    });
    b = foldBias(bias, fold);
  }
  const parts = folded.map((f) => signedParts(f));
  return {
    apply: ([a], part: Part) => convNhwc(a as tf.Tensor4D, parts.map((p) => p(part)), g),
    bias: b,
  };
}
