import { Rng, initBackend, tf } from '@gaze/engine';
import { assertNoTensorLeak } from '@gaze/engine/testing';
import type { LayersClassifier } from '@gaze/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExplainer, igBaseline, igQuadrature, inputGradients, integratedGradients, smoothGradients, type Explainer } from '../../src/index.js';
import { columns, denseNet, maxDiff, normalCdf, values } from './helpers.js';

// A linear classifier on [2,3,2] images (12 inputs, flattened h,w,c), 2 classes, normalizing
// (x - 0.2) / 0.5: z_k = sum_i W_ik (x_i - 0.2) / 0.5 + b_k, so dz_k/dx = 2 W_k exactly.
// prettier-ignore
const W0 = [1, -2, 0.5, 0.25, -3, 1, 2, 2, 0, -0.5, 1.5, -1];
// prettier-ignore
const W1 = [-1, 0.5, 0.75, 0, 1, 1, 0.25, -2, 3, -1, 0.5, 0];
// prettier-ignore
const X = [0.5, 0.25, 1, 0, 0.2, 0.4, 0.25, 0.75, 0, 1, 0.8, 0.5];
const B = [0.1, -0.3];

let linear: LayersClassifier;
// A ReLU unit on [2,2,1]: y_0 = relu(v.x - 0.35), y_1 = 0 (tf.oneHot needs 2 classes), v.x = 0.4*0.5 + 0.8*0.25 + 0.2*1 + 0.8*0.5 = 1 at X2.
const V = [0.4, 0.8, 0.2, 0.8];
const X2 = [0.5, 0.25, 1, 0.5];
let relu: LayersClassifier;
let x: tf.Tensor4D;
let x2: tf.Tensor4D;
const t0 = () => tf.tensor1d([0], 'int32');

beforeAll(async () => {
  await initBackend('wasm');
  linear = denseNet([2, 3, 2], { kernel: columns(W0, W1), bias: B }, { mean: [0.2], std: [0.5] });
  relu = denseNet([2, 2, 1], { kernel: [[1, 0]], bias: [0, 0] }, { hidden: { kernel: V.map((v) => [v]), bias: [-0.35] } });
  x = tf.tensor4d(X, [1, 2, 3, 2]);
  x2 = tf.tensor4d(X2, [1, 2, 2, 1]);
});

afterAll(() => {
  tf.dispose([x, x2]);
  linear.dispose();
  relu.dispose();
});

const make = (classifier: LayersClassifier, entry: { type: string } & Record<string, unknown>, seed = 0): Explainer =>
  createExplainer(entry, { classifier, seed, where: 'explainers.0' });

async function mapOf(explainer: Explainer, input: tf.Tensor4D, target: tf.Tensor1D): Promise<number[]> {
  const m = await explainer.explain(input, target);
  const v = values(m);
  tf.dispose([m, target]);
  return v;
}

describe('gradient (saliency)', () => {
  it('equals 2 W_t on a linear net (the normalization included) and maps max_c |.|', async () => {
    const g = inputGradients(linear, x, t0(), 'logit');
    expect(maxDiff(values(g), W0.map((w) => 2 * w))).toBeLessThan(1e-6);
    g.dispose();
    // max_c |2 W0| per pixel: (0,0) max(2,4)=4, (0,1) 1, (0,2) 6, (1,0) 4, (1,1) 1, (1,2) 3; min-max (v-1)/5
    const map = await mapOf(make(linear, { type: 'gradient' }), x, t0());
    expect(maxDiff(map, [0.6, 0, 1, 0.6, 0, 0.4])).toBeLessThan(1e-6);
  });

  it('differentiates the softmax probability with score: probability', () => {
    // p0 = sigmoid(z0 - z1), dp0/dx = p0 (1 - p0) (2 W0 - 2 W1)
    const z = [W0, W1].map((w, k) => w.reduce((s, wi, i) => s + (wi * (X[i] - 0.2)) / 0.5, B[k]));
    const p0 = 1 / (1 + Math.exp(z[1] - z[0]));
    const g = inputGradients(linear, x, t0(), 'probability');
    expect(maxDiff(values(g), W0.map((w, i) => p0 * (1 - p0) * 2 * (w - W1[i])))).toBeLessThan(1e-6);
    g.dispose();
  });
});

describe('gradient-x-input', () => {
  it('is x * 2 W_t summed over channels, |.| or positive part', async () => {
    // x * 2W0 per pixel: (0,0) [1,-1] -> 0; (0,1) [1,0] -> 1; (0,2) [-1.2,0.8] -> -0.4;
    // (1,0) [1,3] -> 4; (1,1) [0,-1] -> -1; (1,2) [2.4,-1] -> 1.4
    const abs = await mapOf(make(linear, { type: 'gradient-x-input' }), x, t0());
    expect(maxDiff(abs, [0, 0.25, 0.1, 1, 0.25, 0.35])).toBeLessThan(1e-6);
    const pos = await mapOf(make(linear, { type: 'gradient-x-input', sign: 'positive' }), x, t0());
    expect(maxDiff(pos, [0, 0.25, 0, 1, 0, 0.35])).toBeLessThan(1e-6);
  });
});

describe('smoothgrad', () => {
  it('equals the plain gradient on a linear net (noise does not move a constant gradient)', async () => {
    const g = smoothGradients(linear, x, t0(), { samples: 20, noise: 0.15, score: 'logit', passRows: 512, rng: new Rng(0, 'test') });
    expect(maxDiff(values(g), W0.map((w) => 2 * w))).toBeLessThan(1e-5);
    g.dispose();
    const smooth = await mapOf(make(linear, { type: 'smoothgrad', samples: 10 }), x, t0());
    expect(maxDiff(smooth, [0.6, 0, 1, 0.6, 0, 0.4])).toBeLessThan(1e-5);
  });

  it('on a ReLU unit is v times the fraction of active noisy copies, near Phi(z / (sigma |v|))', () => {
    // dy/dx = v 1[v.(x+e) - 0.35 > 0]; v.x - 0.35 = 0.65, v.e ~ N(0, sigma^2 |v|^2), |v| = sqrt(1.48)
    // sigma 0.5: P(active) = Phi(0.65 / (0.5 * 1.2166)) = Phi(1.0686) = 0.857; 400 samples: sd 0.0175.
    const n = 400;
    const g = values(smoothGradients(relu, x2, t0(), { samples: n, noise: 0.5, score: 'logit', passRows: 512, rng: new Rng(0, 'test') }));
    const p = g[0] / V[0];
    for (let i = 0; i < 4; i++) expect(g[i]).toBeCloseTo(V[i] * p, 5);
    expect(Math.abs(p * n - Math.round(p * n))).toBeLessThan(1e-3); // a count of active copies
    const expected = normalCdf(0.65 / (0.5 * Math.sqrt(1.48)));
    expect(expected).toBeCloseTo(0.857, 3);
    expect(Math.abs(p - expected)).toBeLessThan(4 * 0.0175);
    // the plain gradient is v (the unit is active at x): SmoothGrad is smaller by v (1 - p), 1 - p in [0.07, 0.22]
    expect(1 - p).toBeGreaterThan(0.07);
    expect(1 - p).toBeLessThan(0.22);
  });

  it('is deterministic in the seed, and the pass size does not change it', async () => {
    // two ReLU units with different kinks, so the map's shape depends on the noise drawn
    const two = denseNet([2, 2, 1], { kernel: [[1, 0], [1, 0]], bias: [0, 0] }, { hidden: { kernel: V.map((v, i) => [v, [0.8, -0.4, 0.6, 0.1][i]]), bias: [-0.35, -0.3] } });
    const input = tf.tile(x2, [3, 1, 1, 1]) as tf.Tensor4D;
    const target = () => tf.tensor1d([0, 0, 0], 'int32');
    const a = await mapOf(make(two, { type: 'smoothgrad', samples: 8, noise: 0.5 }, 1), input, target());
    const again = await mapOf(make(two, { type: 'smoothgrad', samples: 8, noise: 0.5 }, 1), input, target());
    const b = await mapOf(make(two, { type: 'smoothgrad', samples: 8, noise: 0.5, passRows: 5 }, 1), input, target());
    const c = await mapOf(make(two, { type: 'smoothgrad', samples: 8, noise: 0.5 }, 2), input, target());
    input.dispose();
    two.dispose();
    expect(a).toEqual(again);
    expect(maxDiff(a, b)).toBeLessThan(1e-6);
    expect(maxDiff(a, c)).toBeGreaterThan(1e-3);
  });
});

describe('integrated gradients', () => {
  it('has the quadrature nodes and weights of each rule', () => {
    const trap = igQuadrature('riemann-trapezoid', 5);
    expect(maxDiff(trap.alphas, [0, 0.25, 0.5, 0.75, 1])).toBeLessThan(1e-12);
    expect(maxDiff(trap.weights, [0.125, 0.25, 0.25, 0.25, 0.125])).toBeLessThan(1e-12);
    expect(maxDiff(igQuadrature('riemann-right', 4).alphas, [0.25, 0.5, 0.75, 1])).toBeLessThan(1e-12);
    expect(maxDiff(igQuadrature('riemann-middle', 4).alphas, [0.125, 0.375, 0.625, 0.875])).toBeLessThan(1e-12);
    // 3-point Gauss-Legendre on [0,1]: (1 -+ sqrt(3/5))/2, 1/2; weights 5/18, 8/18, 5/18
    const gl = igQuadrature('gauss-legendre', 3);
    expect(maxDiff(gl.alphas, [(1 - Math.sqrt(0.6)) / 2, 0.5, (1 + Math.sqrt(0.6)) / 2])).toBeLessThan(1e-12);
    expect(maxDiff(gl.weights, [5 / 18, 8 / 18, 5 / 18])).toBeLessThan(1e-12);
  });

  it('equals (x - x\') * 2 W_t exactly on a linear net at any step count, rule and baseline', () => {
    for (const steps of [2, 7, 64]) {
      for (const method of ['riemann-trapezoid', 'riemann-right', 'riemann-middle', 'gauss-legendre'] as const) {
        for (const baseline of ['black', 'white'] as const) {
          const target = t0();
          const r = integratedGradients(linear, x, target, { steps, method, baseline });
          const base = baseline === 'black' ? 0 : 1;
          expect(maxDiff(values(r.attributions), X.map((xi, i) => (xi - base) * 2 * W0[i]))).toBeLessThan(1e-5);
          expect(Math.abs(values(r.gap)[0])).toBeLessThan(1e-4);
          tf.dispose([r, target]);
        }
      }
    }
    // blur baseline: (x - blur(x)) * 2 W0
    const target = t0();
    const r = integratedGradients(linear, x, target, { steps: 3, baseline: 'blur', blurSigma: 1 });
    const blurred = igBaseline(x, 'blur', 1);
    const bv = values(blurred);
    expect(maxDiff(bv, X)).toBeGreaterThan(0.05);
    expect(maxDiff(values(r.attributions), X.map((xi, i) => (xi - bv[i]) * 2 * W0[i]))).toBeLessThan(1e-5);
    tf.dispose([r, target, blurred]);
  });

  it('integrates a ReLU kink by hand: trapezoid exact, right Riemann off by one node', () => {
    // Along x' + a x (black baseline) y(a) = relu(a - 0.35): dy/dx = v for a > 0.35, else 0.
    // Exact IG = x v (1 - 0.35) = x v 0.65, sum = 0.65 = y(x) - y(0).
    // trapezoid, 11 nodes a = k/10: nodes 0.4..1 active, weights 6 * 0.1 + 0.05 = 0.65 -> exact.
    // right Riemann, 10 nodes a = k/10, k=1..10: 7 active nodes * 0.1 = 0.7 -> gap 0.05.
    const exact = X2.map((xi, i) => xi * V[i] * 0.65);
    const trap = integratedGradients(relu, x2, t0(), { steps: 11, method: 'riemann-trapezoid' });
    expect(maxDiff(values(trap.attributions), exact)).toBeLessThan(1e-5);
    expect(values(trap.difference)[0]).toBeCloseTo(0.65, 5);
    expect(values(trap.gap)[0]).toBeCloseTo(0, 5);
    const right = integratedGradients(relu, x2, t0(), { steps: 10, method: 'riemann-right' });
    expect(maxDiff(values(right.attributions), X2.map((xi, i) => xi * V[i] * 0.7))).toBeLessThan(1e-5);
    expect(values(right.gap)[0]).toBeCloseTo(0.05, 5);
    tf.dispose([trap, right]);
  });

  it('refines an image until complete: trapezoid nodes double, reusing the old ones', () => {
    // y(a) = relu(a - 0.37) along the path; exact IG sum = 0.63 = y(x) - y(0).
    // 11 nodes (a = k/10): nodes 0.4..1 active -> 0.65, gap 0.02 (3.2% of 0.63) > 1%.
    // doubled to 21 nodes (a = k/20): 0.40..1 active -> 12 * 0.05 + 0.025 = 0.625, gap -0.005 (0.8%): stop.
    const kink = denseNet([2, 2, 1], { kernel: [[1, 0]], bias: [0, 0] }, { hidden: { kernel: V.map((v) => [v]), bias: [-0.37] } });
    const uniform = integratedGradients(kink, x2, t0(), { steps: 11, tolerance: 0 });
    expect(values(uniform.gap)[0]).toBeCloseTo(0.02, 5);
    expect(values(uniform.steps)).toEqual([11]);
    const refined = integratedGradients(kink, x2, t0(), { steps: 11, tolerance: 0.01 });
    expect(values(refined.steps)).toEqual([21]);
    expect(values(refined.gap)[0]).toBeCloseTo(-0.005, 5);
    expect(maxDiff(values(refined.attributions), X2.map((xi, i) => xi * V[i] * 0.625))).toBeLessThan(1e-5);
    // maxSteps caps it
    const capped = integratedGradients(kink, x2, t0(), { steps: 11, tolerance: 0.01, maxSteps: 20 });
    expect(values(capped.steps)).toEqual([11]);
    // In a batch only the image outside tolerance is refined: a black image has y = 0 along its whole path, gap 0.
    const batch = tf.concat([x2, tf.zerosLike(x2)]) as tf.Tensor4D;
    const both = integratedGradients(kink, batch, tf.tensor1d([0, 0], 'int32'), { steps: 11, tolerance: 0.01 });
    expect(values(both.steps)).toEqual([21, 11]);
    expect(maxDiff(values(both.gap), [-0.005, 0])).toBeLessThan(1e-5);
    tf.dispose([uniform, refined, capped, batch, both]);
    kink.dispose();
  });

  it('maps the channel sum of IG: |.| or positive part', async () => {
    // black baseline: IG = x * 2 W0 = gradient-x-input's numbers
    const abs = await mapOf(make(linear, { type: 'integrated-gradients', steps: 4 }), x, t0());
    expect(maxDiff(abs, [0, 0.25, 0.1, 1, 0.25, 0.35])).toBeLessThan(1e-5);
    const pos = await mapOf(make(linear, { type: 'integrated-gradients', steps: 4, sign: 'positive' }), x, t0());
    expect(maxDiff(pos, [0, 0.25, 0, 1, 0, 0.35])).toBeLessThan(1e-5);
  });

  it('gives the same attributions whatever the pass size', () => {
    const input = tf.concat([x, tf.mul(x, 0.5), tf.sub(1, x)]) as tf.Tensor4D;
    const target = tf.tensor1d([0, 1, 0], 'int32');
    const a = integratedGradients(linear, input, target, { steps: 8 });
    const b = integratedGradients(linear, input, target, { steps: 8, passRows: 9 });
    expect(maxDiff(values(a.attributions), values(b.attributions))).toBeLessThan(1e-6);
    tf.dispose([a, b, input, target]);
  });
});

describe('config and memory', () => {
  it('validates keys and fills paper defaults', () => {
    expect(() => make(linear, { type: 'smoothgrad', sigma: 0.2 })).toThrow();
    expect(() => make(linear, { type: 'integrated-gradients', method: 'simpson' })).toThrow();
    expect(() => make(linear, { type: 'gradient', score: 'softmax' })).toThrow();
  });

  it('leaves no tensor behind in any method', async () => {
    const input = tf.tile(x, [3, 1, 1, 1]) as tf.Tensor4D;
    const target = tf.tensor1d([0, 1, 0], 'int32');
    for (const entry of [
      { type: 'gradient' },
      { type: 'gradient', score: 'probability' },
      { type: 'gradient-x-input' },
      { type: 'smoothgrad', samples: 4, passRows: 5 },
      { type: 'integrated-gradients', steps: 4, passRows: 5 },
      { type: 'integrated-gradients', steps: 4, baseline: 'blur' },
    ]) {
      const explainer = make(linear, entry);
      await assertNoTensorLeak(() => explainer.explain(input, target), { runs: 2, label: entry.type });
    }
    await assertNoTensorLeak(() => integratedGradients(linear, input, target, { steps: 3, passRows: 4 }), { runs: 2, label: 'integratedGradients' });
    tf.dispose([input, target]);
  });
});
