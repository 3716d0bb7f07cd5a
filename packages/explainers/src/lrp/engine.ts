import { GazeError, tf } from '@gaze/engine';
import { applyPreprocess, type Classifier, type Preprocess } from '@gaze/models';
import { OnnxClassifier } from '@gaze/onnx';
import { buildLayersLrpSteps } from './layers-graph.js';
import { buildOnnxLrpSteps } from './onnx-graph.js';
import { hiddenRule, negated, zBoxRule, type FirstLayerRule, type LinearMap, type RuleParams } from './rules.js';
import { KeptTensors, MONOTONE, PARAMETER_FREE, nonNegativeOutput, signedParts, type Affine, type LrpStep, type StepId } from './steps.js';

export { maxPoolRelevance, positiveMap, type Affine, type LrpStep, type LrpSteps, type StepId, type StepKind } from './steps.js';

/**
 * The LRP engine: one forward pass (step by step, in topological order) that keeps every tensor,
 * then one backward pass from the logits that hands each step's output relevance to its inputs
 * with the step's rule. A classifier becomes steps by its own builder: `layers-graph.ts` for a
 * tfjs layers model (vgg-small, resnet-small, layers-model), `onnx-graph.ts` for an ONNX model.
 *
 * - weighted (Conv2D / Dense / Conv / Gemm; a fused relu passes relevance through): the hidden
 *   rule (epsilon, z+ or alpha-beta), or the first-layer rule when it reads the image.
 * - affine (batch norm): folded into the conv/dense right before it when that feeds nothing else
 *   (w' = w g / sqrt(v + e), b' = (b - m) g / sqrt(v + e) + beta); otherwise a per-channel affine
 *   step under the hidden rule.
 * - maxpool: winner-take-all, ties split equally (as `clrp_lib.py maxPool_relprop`), whatever the rule.
 * - avgpool, gap, add: linear steps with positive weights under the hidden rule (epsilon:
 *   proportional to each input's contribution, z+: to its positive part; alpha-beta is taken as
 *   z+ there, since alpha > 1 would only amplify).
 * - identity (relu, linear activation, dropout), reshape, crop (zero padding), concat: relevance
 *   passes through (reshaped, cropped, split).
 *
 * The input normalization (preprocess) is elementwise and sits before the first step, so the
 * first layer's rule runs in normalized space. The first-layer rule (z^B) goes to every weighted
 * step that reads the normalized image directly or through monotone steps only (reshape, crop,
 * pooling, identity); its bounds are those steps applied to the per-channel normalized values of
 * pixels 0 and 1.
 */

export interface LrpRules extends RuleParams {
  firstLayer: FirstLayerRule;
}

/** z^B bounds [1,...] of one tensor. */
export interface Bounds {
  low: tf.Tensor;
  high: tf.Tensor;
}

export interface LrpGraph {
  inputId: StepId;
  logitsId: StepId;
  /** The steps between the input and the logits, in forward order. */
  steps: LrpStep[];
  /** Tensor ids known to be >= 0 (relu outputs and what pooling/reshaping keeps of them). */
  nonNegative: Set<StepId>;
  /** Per-channel z^B bounds: the normalized values of pixels 0 and 1 (in the model's channel order). */
  low: number[];
  high: number[];
  preprocess: Preprocess;
  inputShape: [number, number, number];
  /**
   * z^B bounds of the tensors the image reaches through monotone steps only (see LrpForward):
   * data-independent, so built on first use and kept until dispose().
   */
  bounds(): ReadonlyMap<StepId, Bounds>;
  /** Frees what the graph keeps on the device (weights, folded kernels, bounds); the explainer's dispose calls it. */
  dispose(): void;
}

/** Checks every step between the image and the logits and plans the passes; throws a GazeError naming an unsupported layer or node. */
export function buildLrpGraph(classifier: Classifier, method: string, where?: string): LrpGraph {
  const built = classifier instanceof OnnxClassifier ? buildOnnxLrpSteps(classifier, method, where) : buildLayersLrpSteps(classifier, method, where);
  const { inputId, logitsId, steps } = built;
  const consumers = new Map<StepId, number>();
  for (const step of steps) for (const id of step.inputs) consumers.set(id, (consumers.get(id) ?? 0) + 1);
  const stepOf = new Map<StepId, LrpStep>(); // output id -> step
  const nonNegative = new Set<StepId>();
  for (const step of steps) {
    // A batch norm folds into the conv/dense (without a relu) right before it, when that feeds nothing else and is not the logits.
    const prev = step.kind === 'affine' ? stepOf.get(step.inputs[0]) : undefined;
    if (prev?.kind === 'weighted' && !prev.relu && consumers.get(prev.output) === 1 && prev.output !== logitsId) step.foldedInto = prev;
    if (nonNegativeOutput(step.kind, step.inputs.every((id) => nonNegative.has(id)), step.relu ?? false)) nonNegative.add(step.output);
    stepOf.set(step.output, step);
  }
  const preprocess = preprocessOf(classifier, method, where);
  const channels = classifier.inputShape[2];
  const perChannel = (values: number[]) => Array.from({ length: channels }, (_, i) => (values.length === 1 ? values[0] : values[i]));
  const mean = perChannel(preprocess.mean);
  const std = perChannel(preprocess.std);
  const low = mean.map((m, i) => (0 * preprocess.scale - m) / std[i]);
  const high = mean.map((m, i) => (1 * preprocess.scale - m) / std[i]);
  const inputShape: [number, number, number] = [...classifier.inputShape];
  const kept = new KeptTensors();
  const bounds = kept.once(() => {
    const box = (v: number[]) => tf.mul(tf.ones([1, ...inputShape]), tf.tensor1d(v));
    const out = new Map<StepId, Bounds>([[inputId, { low: box(low), high: box(high) }]]);
    for (const step of steps) {
      const b = step.inputs.length === 1 ? out.get(step.inputs[0]) : undefined;
      if (b && MONOTONE.has(step.kind)) out.set(step.output, { low: step.forward([b.low]), high: step.forward([b.high]) });
    }
    return out;
  });
  return {
    inputId,
    logitsId,
    steps,
    nonNegative,
    low,
    high,
    preprocess,
    inputShape,
    bounds,
    dispose: () => {
      kept.dispose();
      built.dispose();
    },
  };
}

function preprocessOf(classifier: Classifier, method: string, where?: string): Preprocess {
  const spec = (classifier as { spec?: { preprocess?: Preprocess } }).spec;
  if (!spec?.preprocess) throw new GazeError(`${method} needs to know the ${classifier.type} classifier's input normalization`, { where });
  return spec.preprocess;
}

export interface LrpForward {
  /** Every tensor between the normalized image and the logits, by step id. */
  values: Map<StepId, tf.Tensor>;
  /**
   * z^B bounds [1,...] of the tensors the image reaches through monotone steps only (the
   * normalized image itself, its flattening, a max pool of it...): the first weighted step
   * reading one of them gets the z^B rule.
   */
  bounds: ReadonlyMap<StepId, Bounds>;
}

/** The forward pass. Call inside tf.tidy. */
// x: [B,H,W,C] in [0,1]
export function lrpForward(graph: LrpGraph, x: tf.Tensor4D): LrpForward {
  const values = new Map<StepId, tf.Tensor>();
  values.set(graph.inputId, applyPreprocess(x, graph.preprocess));
  for (const step of graph.steps) values.set(step.output, step.forward(step.inputs.map((id) => values.get(id)!)));
  return { values, bounds: graph.bounds() };
}

/** The linear map of a per-channel affine step, with weights split by sign. */
function affineMap({ scale, shift }: Affine): LinearMap {
  const k = signedParts(scale);
  return { apply: ([a], part) => tf.mul(a, k(part)), bias: shift };
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
  const relevance = new Map<StepId, tf.Tensor>([[graph.logitsId, start]]);
  const give = (id: StepId, r: tf.Tensor) => {
    const prev = relevance.get(id);
    relevance.set(id, prev ? tf.add(prev, r) : r);
  };
  for (let n = graph.steps.length - 1; n >= 0; n--) {
    const step = graph.steps[n];
    const r = relevance.get(step.output);
    if (!r) continue;
    relevance.delete(step.output);
    const inputs = step.inputs.map((id) => values.get(id)!);
    if (step.pass) {
      step.pass(r, inputs, values.get(step.output)!).forEach((part, k) => give(step.inputs[k], part));
      continue;
    }
    let map: LinearMap;
    let into = step; // the step whose inputs receive the relevance (the conv for a folded batch norm)
    if (step.kind === 'affine') {
      if (step.foldedInto) {
        into = step.foldedInto;
        map = into.linear!(step.affine!());
      } else {
        map = affineMap(step.affine!());
      }
    } else if (step.linear) {
      map = step.linear();
    } else {
      throw new Error(`lrpBackward: no rule for ${step.op} '${step.name}'`);
    }
    if (options.negateLogitsLayer && step.output === graph.logitsId) map = negated(map);
    const targets = into.inputs;
    const ins = targets.map((id) => values.get(id)!);
    let out: tf.Tensor[];
    const box = targets.length === 1 ? bounds.get(targets[0]) : undefined;
    if (rules.firstLayer === 'zb' && box && into.kind === 'weighted') {
      out = [zBoxRule(map, ins[0], r, box.low, box.high, rules.epsilon)];
    } else {
      // Parameter-free steps (pooling, Add) take alpha-beta as z+ (alpha1beta0): alpha > 1 would
      // only amplify relevance there, as they have no weights to split into signs.
      const layerRules = PARAMETER_FREE.has(into.kind) && rules.rule === 'alpha-beta' ? { ...rules, rule: 'zplus' as const } : rules;
      out = hiddenRule(map, ins, r, layerRules, targets.every((id) => graph.nonNegative.has(id)));
    }
    targets.forEach((id, k) => give(id, out[k]));
  }
  const rIn = relevance.get(graph.inputId);
  if (!rIn) throw new Error('lrpBackward: no relevance reached the input');
  return rIn as tf.Tensor4D;
}

