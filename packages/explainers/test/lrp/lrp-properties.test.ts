import { initBackend, tf } from '@gaze/engine';
import { createClassifier, type LayersClassifier } from '@gaze/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildLrpGraph, lrpRelevance, type LrpRules } from '../../src/index.js';
import { images, maxDiff, pseudo, values, variable } from './helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const build = (type: string, config: Record<string, unknown>, shape: [number, number, number], classes: number, seed = 11) =>
  createClassifier({ type, ...config }, { inputShape: shape, numClasses: classes, seed, baseDir: process.cwd(), where: 'backbone' }) as Promise<LayersClassifier>;

function suffixed(classifier: LayersClassifier, suffix: string): tf.Variable[] {
  return classifier.weights.filter((w) => w.name.replace(/_\d+$/, '').endsWith(suffix));
}

function relevanceOf(classifier: LayersClassifier, x: tf.Tensor4D, target: tf.Tensor1D, rules: LrpRules) {
  const graph = buildLrpGraph(classifier, 'lrp');
  const { relevance, logits } = lrpRelevance(graph, x, target, rules, 'logit');
  const out = { r: values(relevance), z: values(logits), sums: values(tf.tidy(() => tf.sum(relevance, [1, 2, 3]))) };
  tf.dispose([relevance, logits]);
  graph.dispose();
  return out;
}

const argmax = (logits: tf.Tensor2D) => tf.tidy(() => tf.cast(tf.argMax(logits, 1), 'int32') as tf.Tensor1D);

describe('batch norm folding', () => {
  it('LRP of conv + BN equals LRP of the folded conv', async () => {
    const bn = await build('vgg-small', { channels: [4, 6], batchNorm: true }, [8, 8, 3], 3);
    const plain = await build('vgg-small', { channels: [4, 6] }, [8, 8, 3], 3);
    // Random BN statistics; the folded net gets w' = w g / sqrt(v + 1e-5), b' = beta - m g / sqrt(v + 1e-5).
    for (const [b, filters] of [
      [1, 4],
      [2, 6],
    ] as const) {
      const gamma = pseudo(filters, -1, 1.5, b);
      const beta = pseudo(filters, -0.5, 0.5, b + 10);
      const mean = pseudo(filters, -0.3, 0.3, b + 20);
      const variance = pseudo(filters, 0.2, 2, b + 30);
      variable(bn, `block${b}_bn1/gamma`).assign(tf.tensor1d(gamma));
      variable(bn, `block${b}_bn1/beta`).assign(tf.tensor1d(beta));
      variable(bn, `block${b}_bn1/moving_mean`).assign(tf.tensor1d(mean));
      variable(bn, `block${b}_bn1/moving_variance`).assign(tf.tensor1d(variance));
      const scale = Array.from(gamma, (g, i) => g / Math.sqrt(variance[i] + 1e-5));
      const kernel = variable(bn, `block${b}_conv1/kernel`);
      variable(plain, `block${b}_conv1/kernel`).assign(tf.tidy(() => tf.mul(kernel, tf.tensor1d(scale))));
      variable(plain, `block${b}_conv1/bias`).assign(tf.tensor1d(scale.map((s, i) => beta[i] - mean[i] * s)));
    }
    variable(plain, 'logits/kernel').assign(variable(bn, 'logits/kernel'));
    variable(plain, 'logits/bias').assign(variable(bn, 'logits/bias'));
    const x = images([3, 8, 8, 3]);
    const t = tf.tensor1d([0, 1, 2], 'int32');
    for (const rule of ['epsilon', 'zplus', 'alpha-beta'] as const) {
      for (const firstLayer of ['zb', 'same'] as const) {
        const rules: LrpRules = { rule, epsilon: 1e-6, alpha: 2, firstLayer };
        const a = relevanceOf(bn, x, t, rules);
        const b = relevanceOf(plain, x, t, rules);
        expect(maxDiff(a.z, b.z)).toBeLessThan(1e-4);
        const scale = Math.max(...b.r.map(Math.abs));
        expect(maxDiff(a.r, b.r) / scale).toBeLessThan(1e-3);
      }
    }
    tf.dispose([x, t]);
    bn.dispose();
    plain.dispose();
  });
});

describe('what a graph keeps between calls', () => {
  it('keeps folded kernels and z^B bounds, follows weights reassigned in place (as the sanity check does), and frees them on dispose', async () => {
    const net = await build('vgg-small', { channels: [4, 6], batchNorm: true }, [8, 8, 3], 3);
    const x = images([2, 8, 8, 3], 5);
    const t = tf.tensor1d([0, 2], 'int32');
    const rules: LrpRules = { rule: 'zplus', epsilon: 1e-6, alpha: 2, firstLayer: 'zb' };
    const graph = buildLrpGraph(net, 'lrp');
    const run = (g = graph) => {
      const { relevance, logits } = lrpRelevance(g, x, t, rules, 'logit');
      const r = values(relevance);
      tf.dispose([relevance, logits]);
      return r;
    };
    const start = tf.memory().numTensors;
    const before = run();
    const kept = tf.memory().numTensors;
    expect(kept).toBeGreaterThan(start);
    run();
    expect(tf.memory().numTensors).toBe(kept);
    // The first conv (z^B, its batch norm folded in) and that batch norm get new values.
    for (const name of ['block1_conv1/kernel', 'block1_bn1/gamma', 'block1_bn1/moving_mean']) {
      const v = variable(net, name);
      tf.tidy(() => v.assign(tf.add(tf.mul(v, 1.5), 0.1)));
    }
    const after = run();
    expect(tf.memory().numTensors).toBe(kept);
    const fresh = buildLrpGraph(net, 'lrp');
    const want = run(fresh);
    fresh.dispose();
    const scale = Math.max(...want.map(Math.abs));
    expect(maxDiff(before, want) / scale).toBeGreaterThan(1e-3);
    expect(maxDiff(after, want) / scale).toBeLessThan(1e-6);
    graph.dispose();
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose([x, t]);
    net.dispose();
  });
});

describe('conservation (epsilon rule, zero biases)', () => {
  const check = (net: LayersClassifier, x: tf.Tensor4D) => {
    const t = argmax(net.logits(x));
    for (const firstLayer of ['zb', 'same'] as const) {
      const { z, sums } = relevanceOf(net, x, t, { rule: 'epsilon', epsilon: 1e-9, alpha: 2, firstLayer });
      const target = values(t);
      sums.forEach((s, i) => {
        const zt = z[i * net.numClasses + target[i]];
        expect(Math.abs(s - zt)).toBeLessThan(0.01 * Math.abs(zt));
      });
    }
    t.dispose();
  };

  it('vgg-small: input relevance sums to the target logit within 1%', async () => {
    const net = await build('vgg-small', { channels: [8, 16], convsPerBlock: 2 }, [16, 16, 3], 5);
    for (const b of suffixed(net, '/bias')) b.assign(tf.zeros(b.shape));
    const x = images([4, 16, 16, 3], 2);
    check(net, x);
    x.dispose();
    net.dispose();
  });

  it('resnet-small (BN folded, no BN shift): input relevance sums to the target logit within 1%', async () => {
    const net = await build('resnet-small', { channels: [8, 16] }, [16, 16, 3], 5);
    suffixed(net, '/gamma').forEach((g, i) => g.assign(tf.tensor1d(pseudo(g.size, 0.5, 1.5, i + 1))));
    suffixed(net, '/moving_variance').forEach((v, i) => v.assign(tf.tensor1d(pseudo(v.size, 0.5, 2, i + 40))));
    for (const b of [...suffixed(net, '/beta'), ...suffixed(net, '/moving_mean'), ...suffixed(net, '/bias')]) b.assign(tf.zeros(b.shape));
    const x = images([4, 16, 16, 3], 3);
    check(net, x);
    x.dispose();
    net.dispose();
  });
});

describe('z+ on a residual net', () => {
  it('gives non-negative relevance everywhere, Add included', async () => {
    const net = await build('resnet-small', { channels: [8, 16] }, [16, 16, 3], 5);
    suffixed(net, '/beta').forEach((b, i) => b.assign(tf.tensor1d(pseudo(b.size, -0.5, 0.5, i + 7))));
    const x = images([2, 16, 16, 3], 4);
    const t = tf.tensor1d([1, 3], 'int32');
    for (const firstLayer of ['zb', 'same'] as const) {
      const graph = buildLrpGraph(net, 'lrp');
      const { relevance, logits } = lrpRelevance(graph, x, t, { rule: 'zplus', epsilon: 1e-6, alpha: 2, firstLayer }, 'abs-logit');
      const r = values(relevance);
      expect(Math.min(...r)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...r)).toBeGreaterThan(0);
      tf.dispose([relevance, logits]);
      graph.dispose();
    }
    tf.dispose([x, t]);
    net.dispose();
  });
});
