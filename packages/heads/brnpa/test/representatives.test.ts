import { initBackend, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { attentionCost, partMaps, representativeAttention } from '../src/index.js';

beforeAll(async () => {
  await initBackend('wasm');
});

// A 2x4 feature map (C = 3) with two clusters: A (left half) along x with norm ~3, B (right half) along y with norm ~2.
const A = [0, 1, 4, 5];
const B = [2, 3, 6, 7];
function twoClusters(noise: number): number[][] {
  const jitter = (i: number) => noise * Math.sin(7 * i + 1);
  return Array.from({ length: 8 }, (_, i) => (A.includes(i) ? [3 + jitter(i), Math.abs(jitter(i + 3)), 0] : [Math.abs(jitter(i + 5)), 2 + jitter(i), 0]));
}
const featureMap = (rows: number[][]) => tf.tensor4d(rows.flat(), [1, 2, 4, 3]);

describe('representativeAttention', () => {
  it('on two orthogonal clusters: part 1 is the stronger cluster, part 2 the other, each map uniform over its cluster', () => {
    const f = featureMap(twoClusters(0));
    const part = representativeAttention(f, { parts: 2, refine: true });
    const attention = part.attention.arraySync()[0];
    // Cosine 1 inside the cluster and 0 outside: 1/4 on each of its four positions.
    A.forEach((i) => expect(attention[0][i]).toBeCloseTo(0.25, 6));
    B.forEach((i) => expect(attention[0][i]).toBeCloseTo(0, 6));
    B.forEach((i) => expect(attention[1][i]).toBeCloseTo(0.25, 6));
    A.forEach((i) => expect(attention[1][i]).toBeCloseTo(0, 6));
    // The first maximum of each score: position 0 (norm 3), then position 2 once cluster A is damped to 0.
    expect(part.picked.arraySync()[0]).toEqual([0, 2]);
    // Refined vectors: the cluster means.
    const vectors = part.vectors.arraySync()[0];
    [3, 0, 0].forEach((v, c) => expect(vectors[0][c]).toBeCloseTo(v, 5));
    [0, 2, 0].forEach((v, c) => expect(vectors[1][c]).toBeCloseTo(v, 5));
    // Explanation maps: attention times the norm, 0.75 on A for part 1, 0.5 on B for part 2.
    const maps = partMaps(part, 2, 4).arraySync()[0];
    expect(maps[0][0]).toEqual([expect.closeTo(0.75, 5), expect.closeTo(0.75, 5), expect.closeTo(0, 5), expect.closeTo(0, 5)]);
    expect(maps[1][1]).toEqual([expect.closeTo(0, 5), expect.closeTo(0, 5), expect.closeTo(0.5, 5), expect.closeTo(0.5, 5)]);
    tf.dispose([f, part.attention, part.vectors, part.norms, part.picked]);
  });

  it('on noisy clusters still separates them, and without refinement keeps the picked vectors', () => {
    const rows = twoClusters(0.3);
    const f = featureMap(rows);
    const part = representativeAttention(f, { parts: 2, refine: false });
    const attention = part.attention.arraySync()[0];
    const mass = (k: number, cluster: number[]) => cluster.reduce((s, i) => s + attention[k][i], 0);
    expect(mass(0, A)).toBeGreaterThan(0.85);
    expect(mass(1, B)).toBeGreaterThan(0.85);
    const [p1, p2] = part.picked.arraySync()[0];
    expect(A).toContain(p1);
    expect(B).toContain(p2);
    const norms = rows.map((r) => Math.hypot(...r));
    expect(p1).toBe(norms.indexOf(Math.max(...norms)));
    const vectors = part.vectors.arraySync()[0];
    rows[p1].forEach((v, c) => expect(vectors[0][c]).toBeCloseTo(v, 5));
    rows[p2].forEach((v, c) => expect(vectors[1][c]).toBeCloseTo(v, 5));
    tf.dispose([f, part.attention, part.vectors, part.norms, part.picked]);
  });

  it('passes gradients to the features', () => {
    const f = featureMap(twoClusters(0.3));
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(representativeAttention(x as tf.Tensor4D, { parts: 2, refine: true }).vectors, tf.tensor3d([[[1, 2, 3], [4, 5, 6]]]))))(f);
    expect(tf.norm(g).dataSync()[0]).toBeGreaterThan(0.1);
    tf.dispose([f, g]);
  });

  it('costs nothing in parameters against the parametric module, whose count is the block, the 1x1 conv and their biases', async () => {
    const f = tf.randomUniform([4, 8, 8, 16], 0, 1, 'float32', 0) as tf.Tensor4D;
    const cost = await attentionCost(f, { parts: 3, refine: true });
    expect(cost.nonParametric.parameters).toBe(0);
    expect(cost.parametric.parameters).toBe(2 * 9 * 16 * 16 + 4 * 16 + 16 * 4 + 4);
    expect(cost.nonParametric.msPerImage).toBeGreaterThan(0);
    expect(cost.parametric.peakKiB).toBeGreaterThan(0);
    f.dispose();
  });
});
