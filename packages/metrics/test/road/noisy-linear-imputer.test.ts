import { Rng } from '@gaze/engine';
import { describe, expect, it } from 'vitest';
import { imputeNoisyLinear } from '../../src/index.js';

/** An HWC image from f(row, col, channel). */
function image(h: number, w: number, c: number, f: (r: number, col: number, ch: number) => number): Float32Array {
  const out = new Float32Array(h * w * c);
  for (let r = 0; r < h; r++) for (let col = 0; col < w; col++) for (let ch = 0; ch < c; ch++) out[(r * w + col) * c + ch] = f(r, col, ch);
  return out;
}
/** Removal flags for the listed [row, col] pixels. */
function holes(h: number, w: number, pixels: [number, number][]): Uint8Array {
  const m = new Uint8Array(h * w);
  for (const [r, col] of pixels) m[r * w + col] = 1;
  return m;
}
const block = (r0: number, r1: number, c0: number, c1: number): [number, number][] => {
  const out: [number, number][] = [];
  for (let r = r0; r <= r1; r++) for (let col = c0; col <= c1; col++) out.push([r, col]);
  return out;
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

/**
 * The reference system built literally from road_evaluation's `setup_sparse_system` (dense), solved
 * by Gaussian elimination with partial pivoting: for each removed p, sum over in-image neighbours
 * q of w_q (x_q - x_p) = 0, known x_q moved to the right-hand side.
 */
function denseReference(img: Float32Array, removed: Uint8Array, h: number, w: number, c: number): Float64Array {
  const weights: [number, number, number][] = [
    [1, 1, 1 / 12], [0, 1, 1 / 6], [-1, 1, 1 / 12], [1, -1, 1 / 12], [0, -1, 1 / 6], [-1, -1, 1 / 12], [1, 0, 1 / 6], [-1, 0, 1 / 6],
  ];
  const unknowns: number[] = [];
  for (let p = 0; p < h * w; p++) if (removed[p]) unknowns.push(p);
  const n = unknowns.length;
  const index = new Map(unknowns.map((p, i) => [p, i]));
  const out = Float64Array.from(img);
  for (let ch = 0; ch < c; ch++) {
    const A = Array.from({ length: n }, () => new Float64Array(n + 1)); // augmented [A | b]
    unknowns.forEach((p, i) => {
      const r = Math.floor(p / w);
      const col = p % w;
      for (const [dr, dc, wt] of weights) {
        const rr = r + dr;
        const cc = col + dc;
        if (rr < 0 || cc < 0 || rr >= h || cc >= w) continue;
        A[i][i] -= wt;
        const q = rr * w + cc;
        if (removed[q]) A[i][index.get(q)!] += wt;
        else A[i][n] -= wt * img[q * c + ch];
      }
    });
    for (let k = 0; k < n; k++) {
      let pivot = k;
      for (let i = k + 1; i < n; i++) if (Math.abs(A[i][k]) > Math.abs(A[pivot][k])) pivot = i;
      [A[k], A[pivot]] = [A[pivot], A[k]];
      for (let i = k + 1; i < n; i++) {
        const f = A[i][k] / A[k][k];
        for (let j = k; j <= n; j++) A[i][j] -= f * A[k][j];
      }
    }
    const x = new Float64Array(n);
    for (let i = n - 1; i >= 0; i--) {
      let s = A[i][n];
      for (let j = i + 1; j < n; j++) s -= A[i][j] * x[j];
      x[i] = s / A[i][i];
    }
    unknowns.forEach((p, i) => (out[p * c + ch] = x[i]));
  }
  return out;
}

describe('imputeNoisyLinear', () => {
  it('reproduces a linear ramp in interior holes (every channel)', () => {
    // f = .1 r + .05 c + .2 ch + .05: any linear f equals the weighted mean of a full, symmetric 8-neighbourhood.
    const ramp = image(8, 8, 3, (r, col, ch) => 0.1 * r + 0.05 * col + 0.2 * ch + 0.05);
    const removed = holes(8, 8, [...block(2, 5, 2, 4), [1, 6], [6, 1], [6, 6]]);
    const { image: out, stats } = imputeNoisyLinear(ramp, removed, 8, 8, 3, { noise: 0 });
    expect(stats.unknowns).toBe(15);
    expect(maxDiff(out, ramp)).toBeLessThan(1e-6);
  });

  it('reproduces a ramp running along the border in holes touching it', () => {
    // Top-row holes: the in-image neighbours (0,c±1), (1,c), (1,c±1) are symmetric in the column,
    // so f = .1 c + .3 (constant down the rows) is still their weighted mean. Same for a left-column
    // hole and f = .1 r + .2.
    const alongTop = image(8, 8, 2, (_r, col) => 0.1 * col + 0.3);
    const top = holes(8, 8, [[0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [0, 6], [1, 2], [1, 3]]);
    expect(maxDiff(imputeNoisyLinear(alongTop, top, 8, 8, 2, { noise: 0 }).image, alongTop)).toBeLessThan(1e-6);
    const alongLeft = image(8, 8, 1, (r) => 0.1 * r + 0.2);
    const left = holes(8, 8, [[2, 0], [3, 0], [4, 0], [3, 1]]);
    expect(maxDiff(imputeNoisyLinear(alongLeft, left, 8, 8, 1, { noise: 0 }).image, alongLeft)).toBeLessThan(1e-6);
  });

  it('flattens a ramp running into the border, as the reference does', () => {
    // 3x1 [0, 1, 2], top removed: its only in-image neighbour is (1,0) = 1 -> x = 1 (the ramp says 0).
    expect(Array.from(imputeNoisyLinear([0, 1, 2], [1, 0, 0], 3, 1, 1, { noise: 0 }).image)).toEqual([1, 1, 2]);
    // 4x1 [0, 1, 2, 3], top two removed: x0 = x1, x1 = (x0 + 2)/2 -> x0 = x1 = 2.
    const two = imputeNoisyLinear([0, 1, 2, 3], [1, 1, 0, 0], 4, 1, 1, { noise: 0 }).image;
    expect(two[0]).toBeCloseTo(2, 9);
    expect(two[1]).toBeCloseTo(2, 9);
    // 2x2 ramp r + c = [0, 1; 1, 2] with the corner (0,0) removed: in-image neighbours (0,1) and
    // (1,0) weigh 1/6, (1,1) 1/12 -> x = (1/6 + 1/6 + 2/12) / (5/12) = 6/5.
    expect(imputeNoisyLinear([0, 1, 1, 2], [1, 0, 0, 0], 2, 2, 1, { noise: 0 }).image[0]).toBeCloseTo(1.2, 6);
  });

  it('matches a dense solve of the reference system on a random image and mask', () => {
    const rng = new Rng(3, 'dense');
    const [h, w, c] = [7, 9, 2];
    const img = image(h, w, c, () => rng.next());
    const removed = Uint8Array.from({ length: h * w }, () => (rng.next() < 0.45 ? 1 : 0));
    const { image: out, stats } = imputeNoisyLinear(img, removed, h, w, c, { noise: 0 });
    expect(stats.unknowns).toBeGreaterThan(20);
    expect(maxDiff(out, denseReference(img, removed, h, w, c))).toBeLessThan(1e-6);
  });

  it('adds seeded noise to the imputed pixels only, deterministically', () => {
    const rng = new Rng(4, 'img');
    const img = image(6, 6, 3, () => rng.next());
    const removed = holes(6, 6, [[0, 0], [2, 3], [2, 4], [5, 5]]);
    const clean = imputeNoisyLinear(img, removed, 6, 6, 3, { noise: 0 }).image;
    const noisy = imputeNoisyLinear(img, removed, 6, 6, 3, { noise: 0.01, rng: new Rng(5, 'noise') }).image;
    const again = imputeNoisyLinear(img, removed, 6, 6, 3, { noise: 0.01, rng: new Rng(5, 'noise') }).image;
    expect(Array.from(again)).toEqual(Array.from(noisy));
    // Draw order: removed pixels row-major, channels fastest.
    const normals = new Rng(5, 'noise');
    for (let p = 0; p < 36; p++) {
      for (let ch = 0; ch < 3; ch++) {
        const i = p * 3 + ch;
        if (!removed[p]) expect(noisy[i]).toBe(img[i]);
        else expect((noisy[i] - clean[i]) / 0.01).toBeCloseTo(normals.normal(), 4);
      }
    }
    expect(() => imputeNoisyLinear(img, removed, 6, 6, 3, { noise: 0.01 })).toThrow(/rng/);
  });

  it('copies an image with nothing removed and zeroes one with everything removed', () => {
    expect(Array.from(imputeNoisyLinear([0.25, 0.5], [0, 0], 1, 2, 1, { noise: 0 }).image)).toEqual([0.25, 0.5]);
    expect(Array.from(imputeNoisyLinear([0.25, 0.5], [1, 1], 1, 2, 1, { noise: 0 }).image)).toEqual([0, 0]);
  });

  it('solves 32x32 and 64x64 images in few conjugate-gradient iterations', () => {
    const rng = new Rng(6, 'speed');
    for (const size of [32, 64]) {
      const img = image(size, size, 3, () => rng.next());
      const cases: [string, Uint8Array][] = [
        ['50% random', Uint8Array.from({ length: size * size }, () => (rng.next() < 0.5 ? 1 : 0))],
        ['90% block', holes(size, size, block(0, Math.floor(size * 0.95) - 1, 0, Math.floor(size * 0.95) - 1))],
      ];
      for (const [name, removed] of cases) {
        imputeNoisyLinear(img, removed, size, size, 3, { noise: 0.01, rng }); // warm-up
        const t = performance.now();
        const { stats } = imputeNoisyLinear(img, removed, size, size, 3, { noise: 0.01, rng });
        const ms = performance.now() - t;
        console.log(`impute ${size}x${size}x3 ${name}: ${ms.toFixed(1)} ms (${stats.unknowns} unknowns, ${stats.iterations} CG iterations)`);
        // Iterations, not milliseconds: a timed assertion fails on a loaded machine (timings belong to npm run bench).
        expect(stats.iterations).toBeLessThan(4 * Math.sqrt(stats.unknowns) + 20);
      }
    }
  });
});
