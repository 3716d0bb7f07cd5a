import { initBackend, isGazeError, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClassifier, type LayersClassifier } from '@gaze/models';
import { buildLrpGraph, createExplainer, lrpRelevance, maxPoolRelevance, type LrpRules } from '../../src/index.js';
import { maxDiff, values, wrap } from './helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/**
 * x (2 pixels, 1 channel) -> flatten -> dense `hidden` (2 units, relu) -> dense `logits` (2).
 * W1 = [[1, -1], [2, 1]] (row: input, column: unit), b1 = 0; W2 = w2, b2.
 */
function denseNet(w2: number[][], b2: number[], mean = [0], std = [1]) {
  const input = tf.input({ shape: [1, 2, 1] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const hiddenLayer = tf.layers.dense({ units: 2, activation: 'relu', name: 'hidden' });
  const logitsLayer = tf.layers.dense({ units: 2, name: 'logits' });
  const out = logitsLayer.apply(hiddenLayer.apply(flat)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  hiddenLayer.setWeights([tf.tensor2d([[1, -1], [2, 1]]), tf.zeros([2])]);
  logitsLayer.setWeights([tf.tensor2d(w2), tf.tensor1d(b2)]);
  return wrap(model, 2, mean, std);
}

const rules = (r: Partial<LrpRules>): LrpRules => ({ rule: 'epsilon', epsilon: 1e-9, alpha: 2, firstLayer: 'same', ...r });

function relevance(classifier: ReturnType<typeof denseNet>, pixels: number[], target: number, r: LrpRules, start: 'logit' | 'abs-logit' = 'logit') {
  const graph = buildLrpGraph(classifier, 'lrp');
  const x = tf.tensor4d(pixels, [1, 1, pixels.length, 1]);
  const t = tf.tensor1d([target], 'int32');
  const { relevance: rel, logits } = lrpRelevance(graph, x, t, r, start);
  const out = { r: values(rel), z: values(logits) };
  tf.dispose([x, t, rel, logits]);
  graph.dispose();
  return out;
}

describe('LRP rules by hand on dense-relu-dense', () => {
  // x = [0.5, 1]: hidden pre-activations [0.5*1 + 1*2, 0.5*-1 + 1*1] = [2.5, 0.5] -> relu [2.5, 0.5].
  // W2 = [[1, 0.5], [-2, 1]]: logits [2.5 - 1, 1.25 + 0.5] = [1.5, 1.75]. Target 0: R = [1.5, 0].
  const w2 = [
    [1, 0.5],
    [-2, 1],
  ];

  it('epsilon rule: R_i = a_i w_ij / z_j R_j, conserving the logit', () => {
    const net = denseNet(w2, [0, 0]);
    // top: R_h = [2.5*1/1.5*1.5, 0.5*-2/1.5*1.5] = [2.5, -1]
    // input: R_x1 = 0.5*1/2.5*2.5 + 0.5*-1/0.5*(-1) = 0.5 + 1 = 1.5;  R_x2 = 1*2/2.5*2.5 + 1*1/0.5*(-1) = 2 - 2 = 0
    const { r, z } = relevance(net, [0.5, 1], 0, rules({ rule: 'epsilon' }));
    expect(maxDiff(z, [1.5, 1.75])).toBeLessThan(1e-6);
    expect(maxDiff(r, [1.5, 0])).toBeLessThan(1e-5);
    net.dispose();

    // With b2 = [0.5, 0]: z_0 = 2 but the denominators include the bias, so the relevance is the
    // same as above: the bias absorbs 0.5 of the 2 (sum R_in = 1.5 = z_0 - b).
    const biased = denseNet(w2, [0.5, 0]);
    const out = relevance(biased, [0.5, 1], 0, rules({ rule: 'epsilon' }));
    expect(out.z[0]).toBeCloseTo(2, 6);
    expect(maxDiff(out.r, [1.5, 0])).toBeLessThan(1e-5);
    biased.dispose();
  });

  it('z+ rule: only positive contributions, non-negative', () => {
    const net = denseNet(w2, [0, 0]);
    // top, column 0: w+ = [1, 0] -> z+ = 2.5 -> R_h = [2.5/2.5*1.5, 0] = [1.5, 0]
    // input, unit h1: w+ = [1, 2], z+ = 0.5 + 2 = 2.5 -> R_x = [0.5/2.5*1.5, 2/2.5*1.5] = [0.3, 1.2]
    const { r } = relevance(net, [0.5, 1], 0, rules({ rule: 'zplus' }));
    expect(maxDiff(r, [0.3, 1.2])).toBeLessThan(1e-5);
    net.dispose();
  });

  it('alpha2beta1 rule: 2 (positive share) - 1 (negative share)', () => {
    const net = denseNet(w2, [0, 0]);
    // top, column 0: contributions h1*1 = 2.5 (+), h2*-2 = -1 (-): z+ = 2.5, z- = -1
    //   R_h1 = 2*(2.5/2.5)*1.5 = 3;  R_h2 = -1*(-1/-1)*1.5 = -1.5
    // h1 (R=3), column [1, 2]: contributions 0.5, 2 (both +): z+ = 2.5, z- = 0 (nothing to give)
    //   x1 += 2*0.5/2.5*3 = 1.2;  x2 += 2*2/2.5*3 = 4.8
    // h2 (R=-1.5), column [-1, 1]: contributions -0.5 (-), 1 (+): z+ = 1, z- = -0.5
    //   x1 += -1*(-0.5/-0.5)*(-1.5) = 1.5;  x2 += 2*(1/1)*(-1.5) = -3
    // R_x = [2.7, 1.8]
    const { r } = relevance(net, [0.5, 1], 0, rules({ rule: 'alpha-beta', alpha: 2 }));
    expect(maxDiff(r, [2.7, 1.8])).toBeLessThan(1e-5);
    net.dispose();
  });

  it('z^B first layer with the bounds of the normalization', () => {
    // (x - 0.5) / 0.5: pixels [0.5, 1] -> [0, 1]; bounds l = (0-0.5)/0.5 = -1, h = 1.
    // hidden: [0*1 + 1*2, 0*-1 + 1*1] = [2, 1]; W2 = [[1, 0.5], [-1, 1]]: z_0 = 2 - 1 = 1.
    const net = denseNet(
      [
        [1, 0.5],
        [-1, 1],
      ],
      [0, 0],
      [0.5],
      [0.5],
    );
    // top (z+): w+ = [1, 0] -> R_h = [1, 0]
    // z^B for h1, column [1, 2] (w- = 0): x1: 0*1 - (-1)*1 = 1; x2: 1*2 - (-1)*2 = 4; sum 5 -> R_x = [0.2, 0.8]
    const { r, z } = relevance(net, [0.5, 1], 0, rules({ rule: 'zplus', firstLayer: 'zb' }));
    expect(z[0]).toBeCloseTo(1, 6);
    expect(maxDiff(r, [0.2, 0.8])).toBeLessThan(1e-5);
    // z^B terms with negative weights, target 1: W2 column 1 = [0.5, 1], z_1 = 1 + 1 = 2
    //   top (z+): z+ = 2*0.5 + 1*1 = 2 -> R_h = [2*0.5/2*2, 1*1/2*2] = [1, 1]
    //   h1: [0.2, 0.8] * 1
    //   h2, column [-1, 1] (w+ = [0, 1], w- = [-1, 0]): x1: 0*-1 - (-1)*0 - 1*(-1) = 1; x2: 1*1 - (-1)*1 - 0 = 2; sum 3 -> [1/3, 2/3]
    //   R_x = [0.2 + 1/3, 0.8 + 2/3]
    const two = relevance(net, [0.5, 1], 1, rules({ rule: 'zplus', firstLayer: 'zb' }));
    expect(maxDiff(two.r, [0.2 + 1 / 3, 0.8 + 2 / 3])).toBeLessThan(1e-5);
    net.dispose();
  });

  it('starts from |z_t| by default and from z_t with start: logit', () => {
    // W2 column 0 = [-1, 0.5]: z_0 = -2.5 + 0.25 = -2.25 (x = [0.5, 1], hidden [2.5, 0.5]).
    const net = denseNet(
      [
        [-1, 1],
        [0.5, 1],
      ],
      [0, 0],
    );
    // epsilon top: R_h = [2.5*-1/-2.25 R, 0.5*0.5/-2.25 R]; with R = z_0 = -2.25: [-2.5, 0.25]
    // input (epsilon): h1 -> x gets [0.5/2.5, 2/2.5] R_h1 = [-0.5, -2]; h2 (z = 0.5) -> [-0.5/0.5, 1/0.5] R_h2 = [-0.25, 0.5]
    //   start logit: R_x = [-0.75, -1.5] (sums to z_0); start |z_0| flips every sign: [0.75, 1.5]
    const signed = relevance(net, [0.5, 1], 0, rules({ rule: 'epsilon' }), 'logit');
    expect(maxDiff(signed.r, [-0.75, -1.5])).toBeLessThan(1e-5);
    const abs = relevance(net, [0.5, 1], 0, rules({ rule: 'epsilon' }), 'abs-logit');
    expect(maxDiff(abs.r, [0.75, 1.5])).toBeLessThan(1e-5);
    net.dispose();
  });
});

describe('LRP rules by hand on a 1-block vgg-small (conv same-padding, relu, 2x2 max pool, GAP, dense)', () => {
  it('epsilon, z+, alpha-beta and z^B through the conv', async () => {
    const net = (await createClassifier({ type: 'vgg-small', channels: [1], mean: [0], std: [1] }, { inputShape: [2, 2, 1], numClasses: 2, seed: 0, baseDir: process.cwd(), where: 'backbone' })) as LayersClassifier;
    // kernel: centre 1, left neighbour -0.5 -> y[i][j] = x[i][j] - 0.5 x[i][j-1] (zero padding)
    const kernel = new Array(9).fill(0);
    kernel[4] = 1;
    kernel[3] = -0.5;
    net.weights[0].assign(tf.tensor4d(kernel, [3, 3, 1, 1]));
    net.weights[1].assign(tf.zeros([1]));
    net.weights[2].assign(tf.tensor2d([[2, -1]]));
    net.weights[3].assign(tf.zeros([2]));
    // x = [[0.5, 1], [0.25, 0]] -> y = [[0.5, 1 - 0.25], [0.25, 0 - 0.125]] -> relu [[0.5, 0.75], [0.25, 0]]
    // -> max pool 0.75 (at (0,1)) -> GAP 0.75 -> z = [1.5, -0.75]; target 0: R = 1.5 reaches conv unit (0,1),
    // whose contributions are x01 * 1 = 1 and x00 * -0.5 = -0.25 (z = 0.75).
    const graph = buildLrpGraph(net, 'lrp');
    const x = tf.tensor4d([0.5, 1, 0.25, 0], [1, 2, 2, 1]);
    const t = tf.tensor1d([0], 'int32');
    const cases: [Partial<LrpRules>, number[]][] = [
      // epsilon: x01 = 1/0.75 * 1.5 = 2, x00 = -0.25/0.75 * 1.5 = -0.5
      [{ rule: 'epsilon' }, [-0.5, 2, 0, 0]],
      // z+: only x01 contributes positively: 1.5
      [{ rule: 'zplus' }, [0, 1.5, 0, 0]],
      // alpha2beta1: the dense has only a positive contribution (0.75 * 2), so R_gap = alpha * 1.5 = 3;
      // GAP and pooling are parameter-free (z+): 3 reaches the conv unit. There x01 = 2 * 1/1 * 3 = 6,
      // x00 = -1 * (-0.25/-0.25) * 3 = -3
      [{ rule: 'alpha-beta', alpha: 2 }, [-3, 6, 0, 0]],
      // z^B (l = 0, h = 1): x01: 1*1 - 0 = 1; x00: 0.5*-0.5 - 1*(-0.5) = 0.25; sum 1.25 -> [0.3, 1.2]
      [{ rule: 'zplus', firstLayer: 'zb' }, [0.3, 1.2, 0, 0]],
    ];
    for (const [r, want] of cases) {
      const { relevance: rel, logits } = lrpRelevance(graph, x, t, rules(r), 'logit');
      expect(maxDiff(values(logits), [1.5, -0.75])).toBeLessThan(1e-6);
      expect(maxDiff(values(rel), want)).toBeLessThan(1e-5);
      tf.dispose([rel, logits]);
    }
    tf.dispose([x, t]);
    net.dispose();
  });
});

describe('max pooling', () => {
  it('gives each window relevance to its maximum, ties split equally (hand case, through explain)', async () => {
    // [2,4,1] -> 2x2 max pool -> [1,2,1] -> flatten -> logits, W = [[1, 0], [1, 0]], b = 0
    const input = tf.input({ shape: [2, 4, 1] });
    const pool = tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(input) as tf.SymbolicTensor;
    const logitsLayer = tf.layers.dense({ units: 2, name: 'logits' });
    const out = logitsLayer.apply(tf.layers.flatten().apply(pool)) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    logitsLayer.setWeights([tf.tensor2d([[1, 0], [1, 0]]), tf.zeros([2])]);
    const net = wrap(model, 2);
    // windows [[.25,.75],[0,.75]] -> max .75 (2 ties), [[.5,.5],[.25,.5]] -> max .5 (3 ties)
    // z_0 = 1.25; epsilon on the dense: R_pool = [0.75, 0.5]
    // input relevance [[0, .375, 1/6, 1/6], [0, .375, 0, 1/6]]
    const x = tf.tensor4d([0.25, 0.75, 0.5, 0.5, 0, 0.75, 0.25, 0.5], [1, 2, 4, 1]);
    const t = tf.tensor1d([0], 'int32');
    const graph = buildLrpGraph(net, 'lrp');
    const { relevance: rel, logits } = lrpRelevance(graph, x, t, rules({ rule: 'epsilon' }), 'logit');
    expect(maxDiff(values(rel), [0, 0.375, 1 / 6, 1 / 6, 0, 0.375, 0, 1 / 6])).toBeLessThan(1e-6);
    // the map: relu(sum over channels), min-max: [[0, 1, 4/9, 4/9], [0, 1, 0, 4/9]]
    const lrp = createExplainer({ type: 'lrp', rule: 'epsilon', start: 'logit' }, { classifier: net, seed: 0, where: 'explainers.0' });
    const map = await lrp.explain(x, t);
    expect(map.shape).toEqual([1, 2, 4]);
    expect(maxDiff(values(map), [0, 1, 4 / 9, 4 / 9, 0, 1, 0, 4 / 9])).toBeLessThan(1e-6);
    tf.dispose([x, t, rel, logits, map]);
    net.dispose();
  });

  it('matches a brute-force winner-take-all for overlapping windows and same padding', () => {
    // Values on a coarse grid so windows have ties.
    const [b, h, w, c] = [2, 5, 6, 2];
    const a = Array.from({ length: b * h * w * c }, (_, i) => Math.floor(((Math.sin(i * 3.7 + 1) + 1) / 2) * 4) / 4);
    const cases: { k: [number, number]; s: [number, number]; p: 'same' | 'valid' }[] = [
      { k: [3, 3], s: [2, 2], p: 'same' },
      { k: [2, 2], s: [1, 1], p: 'valid' },
      { k: [2, 3], s: [2, 1], p: 'valid' },
    ];
    for (const { k, s, p } of cases) {
      const x = tf.tensor4d(a, [b, h, w, c]);
      const y = tf.maxPool(x, k, s, p);
      const [, ho, wo] = y.shape;
      const r = Array.from({ length: b * ho * wo * c }, (_, i) => 1 + (i % 7));
      const rt = tf.tensor4d(r, y.shape);
      const got = maxPoolRelevance(x, y, rt, k, s, p);
      // brute force: pad as tfjs 'same' does, find each window's maximum positions
      const ph = p === 'same' ? Math.max((ho - 1) * s[0] + k[0] - h, 0) : 0;
      const pw = p === 'same' ? Math.max((wo - 1) * s[1] + k[1] - w, 0) : 0;
      const top = Math.floor(ph / 2);
      const left = Math.floor(pw / 2);
      const want = new Array(a.length).fill(0);
      const at = (n: number, i: number, j: number, ch: number) => ((n * h + i) * w + j) * c + ch;
      for (let n = 0; n < b; n++)
        for (let oi = 0; oi < ho; oi++)
          for (let oj = 0; oj < wo; oj++)
            for (let ch = 0; ch < c; ch++) {
              const cells: number[] = [];
              let best = -Infinity;
              for (let di = 0; di < k[0]; di++)
                for (let dj = 0; dj < k[1]; dj++) {
                  const i = oi * s[0] + di - top;
                  const j = oj * s[1] + dj - left;
                  if (i < 0 || j < 0 || i >= h || j >= w) continue;
                  const v = a[at(n, i, j, ch)];
                  if (v > best) {
                    best = v;
                    cells.length = 0;
                  }
                  if (v === best) cells.push(at(n, i, j, ch));
                }
              const rel = r[((n * ho + oi) * wo + oj) * c + ch];
              for (const cell of cells) want[cell] += rel / cells.length;
            }
      expect(maxDiff(values(got), want)).toBeLessThan(1e-5);
      tf.dispose([x, y, rt, got]);
    }
  });
});

describe('unsupported layers', () => {
  it('is a GazeError naming the layer class and the supported ones', async () => {
    const input = tf.input({ shape: [4, 4, 1] });
    const up = tf.layers.upSampling2d({ size: [2, 2], name: 'up' }).apply(input) as tf.SymbolicTensor;
    const gap = tf.layers.globalAveragePooling2d({}).apply(up) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2, name: 'logits' }).apply(gap) as tf.SymbolicTensor;
    const net = wrap(tf.model({ inputs: input, outputs: out }), 2);
    let error: unknown;
    try {
      createExplainer({ type: 'clrp' }, { classifier: net, seed: 0, where: 'explainers.1' });
    } catch (e) {
      error = e;
    }
    expect(isGazeError(error)).toBe(true);
    expect((error as Error).message).toMatch(/'up' \(UpSampling2D\)/);
    expect((error as { hint: string }).hint).toMatch(/Conv2D.*MaxPooling2D.*Add/);
    expect((error as { where: string }).where).toBe('explainers.1');

    // A conv with a tanh activation is not a ReLU network.
    const input2 = tf.input({ shape: [4, 4, 1] });
    const conv = tf.layers.conv2d({ filters: 2, kernelSize: 3, activation: 'tanh', name: 'conv' }).apply(input2) as tf.SymbolicTensor;
    const out2 = tf.layers.dense({ units: 2, name: 'logits' }).apply(tf.layers.flatten().apply(conv)) as tf.SymbolicTensor;
    const net2 = wrap(tf.model({ inputs: input2, outputs: out2 }), 2);
    expect(() => createExplainer({ type: 'lrp' }, { classifier: net2, seed: 0, where: 'e' })).toThrow(/'conv' \(Conv2D\) has a 'tanh' activation/);
    net.dispose();
    net2.dispose();
  });

  it('validates its config keys', () => {
    const net = denseNet([[1, 0], [0, 1]], [0, 0]);
    expect(() => createExplainer({ type: 'lrp', rule: 'gamma' }, { classifier: net, seed: 0, where: 'explainers.0' })).toThrow();
    expect(() => createExplainer({ type: 'clrp', variant: 'clrp3' }, { classifier: net, seed: 0, where: 'explainers.0' })).toThrow();
    // clrp2 under epsilon: a_i (-w_ij) / (-z_j) = a_i w_ij / z_j, the dual equals the signal -> refused.
    expect(() => createExplainer({ type: 'clrp', variant: 'clrp2', rule: 'epsilon' }, { classifier: net, seed: 0, where: 'explainers.0' })).toThrow(/all-zero/);
    expect(() => createExplainer({ type: 'clrp', beta: 1 }, { classifier: net, seed: 0, where: 'explainers.0' })).toThrow(/beta/);
    net.dispose();
  });
});
