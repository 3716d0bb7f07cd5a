import { describe, expect, it } from 'vitest';
import { absGrayscaleNorm, averageRanks, gaussianWindow, minMax, spearman, ssim } from '../../src/index.js';

// Two deterministic "maps" with many ties (values on a 1/16 and a 1/12 grid).
const pattern = (n: number, mul: number, add: number, mod: number) => Array.from({ length: n }, (_, i) => ((i * mul + add) % mod) / (mod - 1));
const A12x13 = pattern(12 * 13, 37, 0, 17);
const B12x13 = pattern(12 * 13, 11, 5, 13);

/**
 * SSIM straight from the formula (Wang et al. 2004 with skimage's conventions), independent of the
 * separable implementation: for each centre whose 11x11 window lies inside, 2-D Gaussian weights
 * w_ij = exp(-(i^2 + j^2) / (2 * 1.5^2)) / sum, weighted means/variances/covariance times 121/120,
 * S = (2 mx my + C1)(2 sxy + C2) / ((mx^2 + my^2 + C1)(sx + sy + C2)), averaged.
 */
function naiveSsim(a: number[], b: number[], h: number, w: number, range = 1): number {
  const r = 5;
  const weights: number[][] = [];
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    weights.push([]);
    for (let j = -r; j <= r; j++) {
      const v = Math.exp(-(i * i + j * j) / (2 * 1.5 * 1.5));
      weights[i + r].push(v);
      sum += v;
    }
  }
  const c1 = (0.01 * range) ** 2;
  const c2 = (0.03 * range) ** 2;
  let total = 0;
  let count = 0;
  for (let y = r; y < h - r; y++) {
    for (let x = r; x < w - r; x++) {
      let mx = 0;
      let my = 0;
      let mxx = 0;
      let myy = 0;
      let mxy = 0;
      for (let i = -r; i <= r; i++) {
        for (let j = -r; j <= r; j++) {
          const wt = weights[i + r][j + r] / sum;
          const p = a[(y + i) * w + x + j];
          const q = b[(y + i) * w + x + j];
          mx += wt * p;
          my += wt * q;
          mxx += wt * p * p;
          myy += wt * q * q;
          mxy += wt * p * q;
        }
      }
      const k = 121 / 120;
      const sx = k * (mxx - mx * mx);
      const sy = k * (myy - my * my);
      const sxy = k * (mxy - mx * my);
      total += ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sx + sy + c2));
      count++;
    }
  }
  return total / count;
}

describe('spearman', () => {
  it('is 1 for identical maps and -1 for reversed ranks', () => {
    expect(spearman([0.1, 0.5, 0.3, 0.9], [0.1, 0.5, 0.3, 0.9])).toBeCloseTo(1, 14);
    // Any increasing transform keeps the ranks: still 1.
    expect(spearman([0.1, 0.5, 0.3, 0.9], [1, 25, 9, 81])).toBeCloseTo(1, 14);
    expect(spearman([1, 2, 3, 4, 5], [50, 40, 30, 20, 10])).toBeCloseTo(-1, 14);
  });

  it('gives tied values their average rank, as scipy', () => {
    expect(Array.from(averageRanks([10, 20, 20, 30, 20]))).toEqual([1, 3, 3, 5, 3]);
    expect(Array.from(averageRanks([0, 0, 0, 0]))).toEqual([2.5, 2.5, 2.5, 2.5]);
    // x = [1,2,2,3] -> ranks [1, 2.5, 2.5, 4]; y = [1,3,2,4] -> ranks [1,3,2,4]; both have mean 2.5.
    // dx = [-1.5,0,0,1.5], dy = [-1.5,.5,-.5,1.5]: sum dx dy = 4.5, sum dx^2 = 4.5, sum dy^2 = 5
    // r = 4.5 / sqrt(22.5) = 0.9486832980505138 (scipy.stats.spearmanr gives 0.9486832980505139).
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(4.5 / Math.sqrt(22.5), 14);
    // scipy.stats.spearmanr(a.ravel(), b.ravel()) on the two 12x13 tie-heavy maps: -0.006211860381759192.
    expect(spearman(A12x13, B12x13)).toBeCloseTo(-0.006211860381759192, 12);
  });

  it('defines the constant cases scipy leaves NaN', () => {
    expect(spearman([0, 0, 0], [0.1, 0.2, 0.3])).toBe(0);
    expect(spearman([0.4, 0.4], [0, 0])).toBe(1);
  });

  it('normalizes like the reference: abs / max, and min-max', () => {
    expect(Array.from(absGrayscaleNorm([-2, 1, 0, 4]))).toEqual([0.5, 0.25, 0, 1]);
    expect(Array.from(absGrayscaleNorm([0, 0]))).toEqual([0, 0]);
    expect(Array.from(minMax([2, 4, 3]))).toEqual([0, 1, 0.5]);
    expect(Array.from(minMax([3, 3]))).toEqual([0, 0]);
  });
});

describe('ssim', () => {
  it('uses an 11-tap Gaussian window with sigma 1.5 summing to 1', () => {
    const g = gaussianWindow();
    expect(g.length).toBe(11);
    expect(g.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 15);
    let sum = 0;
    for (let i = -5; i <= 5; i++) sum += Math.exp(-(i * i) / 4.5);
    expect(g[5]).toBeCloseTo(1 / sum, 15);
    expect(g[0]).toBeCloseTo(Math.exp(-25 / 4.5) / sum, 15);
  });

  it('is 1 for identical maps', () => {
    expect(ssim(A12x13, A12x13, 12, 13)).toBeCloseTo(1, 12);
  });

  it('gives the luminance term alone for two constant maps', () => {
    // Variances and covariance are 0, so S = (2ab + C1) / (a^2 + b^2 + C1) * (0 + C2) / (0 + C2).
    const c1 = 0.01 ** 2;
    const value = ssim(new Array(144).fill(0.2), new Array(144).fill(0.5), 12, 12);
    expect(value).toBeCloseTo((2 * 0.2 * 0.5 + c1) / (0.04 + 0.25 + c1), 12); // skimage: 0.6897621509824198
  });

  it('matches the formula computed independently, and skimage, on a small image', () => {
    // A constant shift: the structure term is exactly 1, only the luminance term drops.
    const shifted = A12x13.map((v) => v + 0.3);
    expect(ssim(A12x13, shifted, 12, 13)).toBeCloseTo(naiveSsim(A12x13, shifted, 12, 13), 12);
    expect(ssim(A12x13, shifted, 12, 13)).toBeCloseTo(0.8981845139012661, 12); // skimage 0.26 structural_similarity(gaussian_weights=True, data_range=1)
    expect(ssim(A12x13, B12x13, 12, 13)).toBeCloseTo(naiveSsim(A12x13, B12x13, 12, 13), 12);
    expect(ssim(A12x13, B12x13, 12, 13)).toBeCloseTo(0.029047139254764768, 12); // skimage, data_range=1
    expect(ssim(A12x13, B12x13, 12, 13, { dataRange: 2 })).toBeCloseTo(naiveSsim(A12x13, B12x13, 12, 13, 2), 12);
    expect(ssim(A12x13, B12x13, 12, 13, { dataRange: 2 })).toBeCloseTo(0.0453822458462651, 12); // skimage, data_range=2
    // 32x32 maps (the quickstart's size): skimage gives -0.018873473962508932.
    const c = pattern(1024, 37, 0, 29);
    const d = pattern(1024, 7, 3, 31);
    expect(ssim(c, d, 32, 32)).toBeCloseTo(-0.018873473962508932, 12);
  });

  it('refuses maps smaller than its window', () => {
    expect(() => ssim(new Array(100).fill(0), new Array(100).fill(0), 10, 10)).toThrow(/at least 11x11/);
  });
});
