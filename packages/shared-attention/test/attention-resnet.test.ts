import { initBackend, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyPreprocess } from '@gaze/models';
import { ATTENTION_TAP, attentionParameterCount, attentionResnet, attentionSupernet, copyWeightsByName, type AttentionResnetSpec } from '../src/index.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const spec = (over: Partial<AttentionResnetSpec> = {}): AttentionResnetSpec => ({
  inputShape: [12, 12, 3],
  numClasses: 3,
  seed: 0,
  channels: [8, 8],
  blocksPerStage: 2,
  mean: [0.5, 0.5, 0.5],
  std: [0.25, 0.25, 0.25],
  unit: 'lstm',
  share: 'stage',
  reduction: 4,
  ...over,
});

/** Outputs of the named layers of a built model for input x. */
function layerOutputs(model: tf.LayersModel, x: tf.Tensor, names: string[]): tf.Tensor[] {
  const sub = tf.model({ inputs: model.inputs, outputs: names.map((n) => model.getLayer(n).output as tf.SymbolicTensor) });
  const out = sub.predict(x);
  return Array.isArray(out) ? out : [out];
}

describe('attentionResnet', () => {
  it('shares one module per stage: the same parameters for 2, 3 or 4 blocks, as many as the cell has', () => {
    // LSTM cell, C = 8, hidden C/r = 2: per phi 8*2+2 (squeeze) + 4*(2*8+8) (gates) = 114; phi_ih and phi_hh; two stages.
    // (A one-block stage has no forget gate: with c_0 = 0 there is nothing to forget.)
    for (const blocksPerStage of [2, 3, 4]) {
      const m = attentionResnet(spec({ blocksPerStage }));
      expect(attentionParameterCount(m)).toBe(2 * 2 * 114);
      m.dispose();
    }
    // SE: 8*2+2 + 2*8+8 = 42 per stage; one module for the network: 42 whatever the depth.
    const se = attentionResnet(spec({ unit: 'se', share: 'network', blocksPerStage: 3 }));
    expect(attentionParameterCount(se)).toBe(42);
    se.dispose();
    const plain = attentionResnet(spec({ unit: 'none' }));
    expect(attentionParameterCount(plain)).toBe(0);
    const lstm = attentionResnet(spec());
    expect(lstm.parameterCount - plain.parameterCount).toBe(2 * 2 * 114);
    plain.dispose();
    lstm.dispose();
  });

  it('carries the LSTM state from block to block: each attention is the cell applied to (m_t, h_{t-1}, c_{t-1})', () => {
    const m = attentionResnet(spec({ channels: [8], blocksPerStage: 3 }));
    const x = tf.randomUniform([2, 12, 12, 3], 0, 1, 'float32', 1);
    const names = [1, 2, 3].flatMap((b) => [`stage1_block${b}_squeeze`, `stage1_block${b}_attention`]);
    const outs = layerOutputs(m.model, x, names);
    const pooled = [0, 2, 4].map((i) => outs[i].arraySync() as number[][]);
    const attention = [1, 3, 5].map((i) => (outs[i].reshape([2, 8]).arraySync() as number[][]));
    const dense = (name: string) => {
      const [k, b] = m.model.getLayer(`stage1_attention_${name}`).getWeights().map((w) => w.arraySync() as number[][] | number[]);
      return (v: number[]) => (b as number[]).map((bias, j) => v.reduce((s, vi, i) => s + vi * (k as number[][])[i][j], bias));
    };
    const relu = (v: number[]) => v.map((a) => Math.max(0, a));
    const sig = (a: number) => 1 / (1 + Math.exp(-a));
    const phi = (prefix: string, v: number[]) => {
      const hidden = relu(dense(`${prefix}_squeeze`)(v));
      return ['i', 'f', 'g', 'o'].map((g) => dense(`${prefix}_${g}`)(hidden));
    };
    for (let n = 0; n < 2; n++) {
      let h = Array(8).fill(0);
      let c = Array(8).fill(0);
      for (let t = 0; t < 3; t++) {
        const a = phi('ih', pooled[t][n]);
        const r = phi('hh', h);
        const [i, f, g, o] = [0, 1, 2, 3].map((k) => a[k].map((v, j) => v + r[k][j]));
        c = c.map((cj, j) => sig(f[j]) * cj + sig(i[j]) * Math.tanh(g[j]));
        h = c.map((cj, j) => sig(o[j]) * sig(cj));
        attention[t][n].forEach((v, j) => expect(v).toBeCloseTo(h[j], 5));
      }
      // Without the carried state (h = c = 0 at block 3) the attention would differ.
      const a = phi('ih', pooled[2][n]);
      const r = phi('hh', Array(8).fill(0));
      const fresh = a[3].map((v, j) => sig(v + r[3][j]) * sig(sig(a[0][j] + r[0][j]) * Math.tanh(a[2][j] + r[2][j])));
      expect(Math.max(...fresh.map((v, j) => Math.abs(v - attention[2][n][j])))).toBeGreaterThan(1e-3);
    }
    tf.dispose([x, ...outs]);
    m.dispose();
  });

  it('gets gradients into the shared cell from every block', () => {
    const m = attentionResnet(spec({ channels: [8], blocksPerStage: 3 }));
    const x = tf.randomUniform([2, 12, 12, 3], 0, 1, 'float32', 2);
    const kernel = m.trainableWeights.find((v) => v.name.includes('stage1_attention_ih_squeeze') && v.rank === 2)!;
    for (const b of [1, 2, 3]) {
      const sub = tf.model({ inputs: m.model.inputs, outputs: m.model.getLayer(`stage1_block${b}_attend`).output as tf.SymbolicTensor });
      const { grads } = tf.variableGrads(() => tf.sum(sub.apply(x, { training: false }) as tf.Tensor) as tf.Scalar, [kernel]);
      const norm = tf.norm(grads[kernel.name]).dataSync()[0];
      expect(norm, `block ${b}`).toBeGreaterThan(1e-6);
      tf.dispose(Object.values(grads));
    }
    x.dispose();
    m.dispose();
  });

  it('keeps resnet-small taps, adds the last attention as a tap, and connects only the chosen blocks', () => {
    const m = attentionResnet(spec({ connections: [true, false, false, true] }));
    expect(m.taps).toEqual(['stem', 'stage1', ATTENTION_TAP, 'stage2']);
    expect(m.camTap).toBe('stage2');
    const names = m.model.layers.map((l) => l.name);
    expect(names.filter((n) => n.endsWith('_attend'))).toEqual(['stage1_block1_attend', 'stage2_block2_attend']);
    m.dispose();
    expect(() => attentionResnet(spec({ share: 'network', channels: [8, 16] }))).toThrow(/same width/);
  });
});

describe('attentionSupernet (EAN)', () => {
  it.each(['se', 'lstm'] as const)('under a scheme computes what the network built with that scheme computes (%s)', (unit) => {
    const spec: AttentionResnetSpec = { inputShape: [16, 16, 3], numClasses: 3, seed: 3, channels: [8, 8], blocksPerStage: 2, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], unit, share: 'stage', reduction: 4 };
    const supernet = attentionSupernet(spec);
    const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const xp = applyPreprocess(x, { scale: 1, mean: spec.mean, std: spec.std, channelOrder: 'rgb' });
    for (const connections of [
      [true, true, true, true],
      [false, true, false, true],
      [true, false, false, false],
      [false, false, false, false],
    ]) {
      const network = attentionResnet({ ...spec, connections });
      copyWeightsByName(supernet, network.model);
      const gates = tf.tensor2d([connections.map(Number), connections.map(Number)]);
      const a = supernet.apply([xp, gates]) as tf.Tensor;
      const b = network.logits(x);
      const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
      expect(diff, connections.join()).toBeLessThan(1e-5);
      tf.dispose([gates, a, b]);
      network.dispose();
    }
    tf.dispose([x, xp]);
    supernet.dispose();
  });
});
