import { GazeError, tf } from '@gaze/engine';
import { BATCH_NORM, CLASSIFIER_FORMAT_VERSION, LayersClassifier, apply, seededInit, type SeededInit } from '@gaze/models';

/**
 * The shared attention module of DIA (Huang et al., "DIANet", AAAI 2020) and EAN (Huang et al.,
 * 2020): `lstm` is DIA's modified LSTM cell, `se` a squeeze-and-excitation unit, `none` no module.
 */
export type AttentionUnit = 'lstm' | 'se' | 'none';
/** One module per stage (each stage its own parameters), or one for the whole network. */
export type SharingScope = 'stage' | 'network';

export interface AttentionResnetSpec {
  inputShape: [number, number, number];
  numClasses: number;
  seed: number;
  /** Output channels per stage (resnet-small's `channels`). */
  channels: number[];
  blocksPerStage: number;
  /**
   * The stride of each stage's first block; default resnet-small's (1, then 2). A 1 where
   * resnet-small has 2 keeps that stage at the previous resolution (BR-NPA's higher-resolution
   * student); conv kernels do not depend on the stride, so weights copy across by name.
   */
  strides?: number[];
  mean: number[];
  std: number[];
  unit: AttentionUnit;
  share: SharingScope;
  /** The module's bottleneck is channels / reduction wide (the paper: 4 on CIFAR, 20 on ImageNet). */
  reduction: number;
  /**
   * Per block, in forward order (stage by stage), whether it uses the shared module; default every
   * block. A block without it neither reads nor advances the LSTM state (EAN's searched schemes).
   */
  connections?: boolean[];
  /** The classifier's `type` (for the record and reports). */
  type?: string;
}

/**
 * The DIA-LSTM cell as tf.layers layers: every layer is created once per shared module and then
 * applied at each connected block, so the block calls share one set of parameters and the layer
 * graph carries the state (h, c) from block to block. With m = GAP(u_t):
 *   [i, f, g, o] = phi_ih(m) + phi_hh(h_{t-1}),  phi(z) = W2 relu(W1 z + b1) + b2
 *   c_t = sigma(f) c_{t-1} + sigma(i) tanh(g),   h_t = sigma(o) sigma(c_t)
 * (sigmoid, not tanh, on c_t so that h_t in (0,1) can rescale channels). W2 is kept as four
 * C/r -> C layers, one per gate: the same parameters as one C/r -> 4C layer split in four.
 */
class LstmUnit {
  private readonly ih: { squeeze: tf.layers.Layer; gates: tf.layers.Layer[] };
  private readonly hh: { squeeze: tf.layers.Layer; gates: tf.layers.Layer[] };
  /** A fixed all-zero projection: h_0 as a graph tensor, so the first block computes phi_hh(0) like every other. */
  private readonly zero: tf.layers.Layer;
  private state: { h: tf.SymbolicTensor; c: tf.SymbolicTensor | undefined } | undefined;
  private calls = 0;

  constructor(
    readonly name: string,
    readonly channels: number,
    reduction: number,
    init: SeededInit['dense'],
  ) {
    const hidden = Math.max(1, Math.floor(channels / reduction));
    const phi = (prefix: string) => ({
      squeeze: tf.layers.dense({ name: `${name}_${prefix}_squeeze`, units: hidden, activation: 'relu', kernelInitializer: init() }),
      gates: ['i', 'f', 'g', 'o'].map((gate) => tf.layers.dense({ name: `${name}_${prefix}_${gate}`, units: channels, kernelInitializer: init() })),
    });
    this.ih = phi('ih');
    this.hh = phi('hh');
    this.zero = tf.layers.dense({ name: `${name}_h0`, units: channels, useBias: false, kernelInitializer: 'zeros', trainable: false });
  }

  /** Starts a new sequence of blocks (h = c = 0): the first block of each stage, or of the network. */
  reset(): void {
    this.state = undefined;
  }

  /**
   * The channel attention [B,C] for a block whose pooled output is m [B,C]; advances the state.
   * With a gate (the search supernet), a block whose gate is off keeps the state as it was.
   */
  attend(m: tf.SymbolicTensor, gate?: Gate): tf.SymbolicTensor {
    const id = `${this.name}_t${++this.calls}`;
    const h = this.state?.h ?? apply(this.zero, m);
    const fromInput = apply(this.ih.squeeze, m);
    const fromState = apply(this.hh.squeeze, h);
    const [i, f, g, o] = this.ih.gates.map((layer, k) => {
      const sum = apply(tf.layers.add({ name: `${id}_${'ifgo'[k]}` }), [apply(layer, fromInput), apply(this.hh.gates[k], fromState)]);
      return apply(tf.layers.activation({ name: `${id}_${'ifgo'[k]}_act`, activation: k === 2 ? 'tanh' : 'sigmoid' }), sum);
    });
    const written = apply(tf.layers.multiply({ name: `${id}_ig` }), [i, g]);
    const c = this.state?.c
      ? apply(tf.layers.add({ name: `${id}_c` }), [apply(tf.layers.multiply({ name: `${id}_fc` }), [f, this.state.c]), written])
      : written; // c_0 = 0, so f * c_0 vanishes
    const next = apply(tf.layers.multiply({ name: `${id}_h` }), [o, apply(tf.layers.activation({ name: `${id}_c_act`, activation: 'sigmoid' }), c)]);
    if (!gate) {
      this.state = { h: next, c };
      return next;
    }
    // on * new + off * old, with (on, off) = (1, 0) or (0, 1) per example.
    const blend = (suffix: string, now: tf.SymbolicTensor, before: tf.SymbolicTensor | undefined) => {
      const kept = apply(tf.layers.multiply({ name: `${id}_${suffix}_on` }), [gate.on, now]);
      return before ? apply(tf.layers.add({ name: `${id}_${suffix}_gated` }), [kept, apply(tf.layers.multiply({ name: `${id}_${suffix}_off` }), [gate.off, before])]) : kept;
    };
    this.state = { h: blend('h', next, h), c: blend('c', c, this.state?.c) };
    return next;
  }
}

/** Squeeze-and-excitation (Hu et al. 2018) shared like DIA's cell: s = sigma(W2 relu(W1 m)); no state. */
class SeUnit {
  private readonly squeeze: tf.layers.Layer;
  private readonly excite: tf.layers.Layer;

  constructor(
    readonly name: string,
    readonly channels: number,
    reduction: number,
    init: SeededInit['dense'],
  ) {
    this.squeeze = tf.layers.dense({ name: `${name}_squeeze`, units: Math.max(1, Math.floor(channels / reduction)), activation: 'relu', kernelInitializer: init() });
    this.excite = tf.layers.dense({ name: `${name}_excite`, units: channels, activation: 'sigmoid', kernelInitializer: init() });
  }

  reset(): void {}

  attend(m: tf.SymbolicTensor, _gate?: Gate): tf.SymbolicTensor {
    return apply(this.excite, apply(this.squeeze, m));
  }
}

type Unit = LstmUnit | SeUnit;

/** A block's connection in the search supernet: on = 1, off = 0 when connected, the reverse when not ([B,1] each). */
interface Gate {
  on: tf.SymbolicTensor;
  off: tf.SymbolicTensor;
}

/** The tap holding the channel attention [B,1,1,C] the last block of the last stage applied (when it has one). */
export const ATTENTION_TAP = 'attention';

/** How many blocks an attention ResNet has. */
export function blockCount(spec: Pick<AttentionResnetSpec, 'channels' | 'blocksPerStage'>): number {
  return spec.channels.length * spec.blocksPerStage;
}

/** The layer graph of an attention ResNet: with `gated`, every block has the module behind a gate read from a second input. */
function buildGraph(spec: AttentionResnetSpec, gated: boolean) {
  const blocks = blockCount(spec);
  const connections = spec.connections ?? Array.from({ length: blocks }, () => true);
  if (connections.length !== blocks) throw new Error(`attentionResnet: ${connections.length} connections for ${blocks} blocks`);
  if (spec.unit !== 'none' && spec.share === 'network' && new Set(spec.channels).size > 1) {
    throw new GazeError(`one attention module for the whole network needs every stage to have the same width; channels are [${spec.channels.join(', ')}]`, {
      hint: 'use share: stage (one module per stage), or equal channels such as [32, 32, 32]',
    });
  }
  const [h, w, c] = spec.inputShape;
  const init = seededInit(spec.seed, 'resnet-small');
  // The attention modules draw from their own stream, so the backbone's weights are those of resnet-small at the same seed.
  const unitInit = seededInit(spec.seed, `attention:${spec.unit}`);
  const conv = (name: string, filters: number, kernelSize: number, strides: number) =>
    tf.layers.conv2d({ name, filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: init.conv() });
  const bn = (name: string) => tf.layers.batchNormalization({ name, ...BATCH_NORM });
  const relu = (name: string) => tf.layers.activation({ name, activation: 'relu' });
  const makeUnit = (name: string, channels: number): Unit | undefined =>
    spec.unit === 'lstm' ? new LstmUnit(name, channels, spec.reduction, unitInit.dense) : spec.unit === 'se' ? new SeUnit(name, channels, spec.reduction, unitInit.dense) : undefined;

  const input = tf.input({ shape: [h, w, c], name: 'image' });
  // Supernet: gates [B, blocks] of 0/1; fixed one-hot projections pick each block's (on, off) = (g_t, 1 - g_t).
  const gates = gated ? tf.input({ shape: [blocks], name: 'gates' }) : undefined;
  const gateLayers: { layer: tf.layers.Layer; weights: (t: number) => tf.Tensor[] }[] = [];
  const gateOf = (t: number): Gate | undefined => {
    if (!gates) return undefined;
    const onehot = (sign: number) => tf.tidy(() => tf.mul(tf.oneHot([t], blocks).reshape([blocks, 1]), sign));
    const on = tf.layers.dense({ name: `gate${t}_on`, units: 1, useBias: false, trainable: false });
    const off = tf.layers.dense({ name: `gate${t}_off`, units: 1, trainable: false });
    gateLayers.push({ layer: on, weights: () => [onehot(1)] }, { layer: off, weights: () => [onehot(-1), tf.ones([1])] });
    return { on: apply(on, gates), off: apply(off, gates) };
  };

  let x = apply(relu('stem_relu'), apply(bn('stem_bn'), apply(conv('stem_conv', spec.channels[0], 3, 1), input)));
  const taps = [{ name: 'stem', layer: 'stem_relu' }];
  let inChannels = spec.channels[0];
  let unit: Unit | undefined = spec.share === 'network' ? makeUnit('attention', spec.channels[0]) : undefined;
  let index = 0;
  let lastAttention: { stage: number; layer: string } | undefined;
  spec.channels.forEach((filters, s) => {
    // Per stage: a fresh module, whose state starts at zero. Network-wide: one module whose state carries across stages.
    if (spec.share === 'stage') unit = makeUnit(`stage${s + 1}_attention`, filters);
    for (let b = 1; b <= spec.blocksPerStage; b++) {
      const name = `stage${s + 1}_block${b}`;
      const strides = b === 1 ? (spec.strides?.[s] ?? (s > 0 ? 2 : 1)) : 1;
      let r = apply(relu(`${name}_relu1`), apply(bn(`${name}_bn1`), apply(conv(`${name}_conv1`, filters, 3, strides), x)));
      r = apply(bn(`${name}_bn2`), apply(conv(`${name}_conv2`, filters, 3, 1), r));
      if (unit && (gated || connections[index])) {
        const gate = gateOf(index);
        let a = unit.attend(apply(tf.layers.globalAveragePooling2d({ name: `${name}_squeeze` }), r), gate);
        // A gated-off block scales by on * a + off = 1.
        if (gate) a = apply(tf.layers.add({ name: `${name}_gated` }), [apply(tf.layers.multiply({ name: `${name}_gate_on` }), [gate.on, a]), gate.off]);
        r = apply(tf.layers.multiply({ name: `${name}_attend` }), [r, apply(tf.layers.reshape({ name: `${name}_attention`, targetShape: [1, 1, filters] }), a)]);
        lastAttention = { stage: s, layer: `${name}_attention` };
      }
      const shortcut =
        strides !== 1 || inChannels !== filters ? apply(bn(`${name}_proj_bn`), apply(conv(`${name}_proj_conv`, filters, 1, strides), x)) : x;
      x = apply(relu(`${name}_out`), apply(tf.layers.add({ name: `${name}_add` }), [r, shortcut]));
      inChannels = filters;
      index++;
    }
    // The last stage's last applied attention [B,1,1,C] is a tap too, for attention-weighted maps.
    if (s === spec.channels.length - 1 && lastAttention?.stage === s) taps.push({ name: ATTENTION_TAP, layer: lastAttention.layer });
    taps.push({ name: `stage${s + 1}`, layer: `stage${s + 1}_block${spec.blocksPerStage}_out` });
  });
  const pooled = apply(tf.layers.globalAveragePooling2d({ name: 'gap' }), x);
  const logits = apply(tf.layers.dense({ name: 'logits', units: spec.numClasses, kernelInitializer: init.dense() }), pooled);
  const model = tf.model({ name: 'attention_resnet', inputs: gates ? [input, gates] : input, outputs: logits });
  for (const { layer, weights } of gateLayers) {
    const values = weights(0);
    layer.setWeights(values);
    tf.dispose(values);
  }
  return { model, taps, connections };
}

/**
 * resnet-small (@gaze/models) with a shared attention module rescaling each connected block's
 * residual branch, after its last batch norm and before the shortcut is added (where SE and DIA
 * sit): `out = relu(u * a(u) + shortcut(x))`. Same layer names, taps (stem, stage1..N) and head
 * as resnet-small, so `unit: none` builds the plain network. The layer graph shares the module's
 * layers across blocks, so the result saves, loads and explains as any Gaze classifier.
 */
export function attentionResnet(spec: AttentionResnetSpec): LayersClassifier {
  const { model, taps, connections } = buildGraph(spec, false);
  const { inputShape, numClasses, seed: _seed, ...config } = spec;
  return new LayersClassifier(model, {
    version: CLASSIFIER_FORMAT_VERSION,
    type: spec.type ?? (spec.unit === 'none' ? 'resnet-small' : `resnet-small+${spec.unit}`),
    inputShape,
    numClasses,
    taps,
    camTap: taps.at(-1)!.name,
    logits: { layer: 'logits', from: 'output' },
    preprocess: { scale: 1, mean: spec.mean, std: spec.std, channelOrder: 'rgb' },
    config: { ...config, connections },
  });
}

/**
 * EAN's supernet: the attention ResNet with the module wired into every block behind a gate, the
 * gates a second input [B, blocks] of 0/1, so one set of weights trains under any connection
 * scheme (a random one per batch) and scores any scheme. Layer names match attentionResnet's, so
 * a chosen scheme's network takes its weights by name. Inputs are preprocessed images.
 */
export function attentionSupernet(spec: AttentionResnetSpec): tf.LayersModel {
  return buildGraph(spec, true).model;
}

/** Copies every weight of `to`'s layers from the same-named layers of `from` (a supernet to a chosen network). */
export function copyWeightsByName(from: tf.LayersModel, to: tf.LayersModel): void {
  for (const layer of to.layers) {
    if (layer.weights.length === 0) continue;
    const source = from.getLayer(layer.name);
    layer.setWeights(source.getWeights());
  }
}
