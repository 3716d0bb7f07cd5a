import { describe, expect, it } from 'vitest';
import { bootstrapCi, bootstrapClassMeanCi, classMeanWeights, quantileSorted } from '../src/index.js';

describe('bootstrapCi', () => {
  it('gives [v, v] for constant values and NaN for none', () => {
    const ci = bootstrapCi(new Array(50).fill(0.25), { seed: 3 });
    expect(ci.low).toBeCloseTo(0.25, 12);
    expect(ci.high).toBeCloseTo(0.25, 12);
    expect(bootstrapCi([7], { seed: 1 })).toEqual({ low: 7, high: 7 });
    const none = bootstrapCi([]);
    expect(Number.isNaN(none.low) && Number.isNaN(none.high)).toBe(true);
  });

  it('matches the normal approximation for 0/1 values with mean 0.5', () => {
    // n = 100, p = 0.5: standard error sqrt(.25/100) = 0.05, so the 95% interval is 0.5 -/+ 1.96 * 0.05 = [0.402, 0.598].
    const values = Array.from({ length: 100 }, (_, i) => i % 2);
    for (const seed of [0, 1, 2]) {
      const ci = bootstrapCi(values, { seed, resamples: 2000 });
      expect(Math.abs(ci.low - 0.402)).toBeLessThan(0.02);
      expect(Math.abs(ci.high - 0.598)).toBeLessThan(0.02);
    }
    // A 50% interval is +/- 0.674 * 0.05 = 0.034.
    const half = bootstrapCi(values, { seed: 0, resamples: 2000, level: 0.5 });
    expect(Math.abs(half.high - half.low - 0.0674)).toBeLessThan(0.015);
  });

  it('is deterministic in its seed', () => {
    const values = Array.from({ length: 40 }, (_, i) => Math.sin(i) ** 2);
    expect(bootstrapCi(values, { seed: 5 })).toEqual(bootstrapCi(values, { seed: 5 }));
    expect(bootstrapCi(values, { seed: 5 })).not.toEqual(bootstrapCi(values, { seed: 6 }));
    expect(() => bootstrapCi(values, { level: 1 })).toThrow();
  });

  it('interpolates quantiles linearly (numpy default)', () => {
    // [1,2,3,4]: q = 0.25 -> position 0.75 -> 1.75; q = 0.5 -> 2.5.
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBe(1.75);
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 1)).toBe(4);
  });
});

describe('bootstrapClassMeanCi', () => {
  it('resamples within classes and counts empty classes 0', () => {
    // Class 0 all 1, class 1 all 0, class 2 empty: every resample gives (1 + 0 + 0) / 3.
    const values = [1, 1, 1, 0, 0];
    const classes = [0, 0, 0, 1, 1];
    const ci = bootstrapClassMeanCi(values, classes, { numClasses: 3, seed: 0 });
    expect(ci.low).toBeCloseTo(1 / 3, 12);
    expect(ci.high).toBeCloseTo(1 / 3, 12);
    const ignoring = bootstrapClassMeanCi(values, classes, { numClasses: 3, emptyClasses: 'ignore' });
    expect(ignoring.low).toBeCloseTo(0.5, 12);
  });

  it('is narrower than (or as wide as) the plain bootstrap of the reweighted values', () => {
    // Two classes of 50: class 0 has 40 hits (p = .8), class 1 has 10 (p = .2); class mean 0.5.
    // Stratified SE = sqrt(.8*.2/50 + .2*.8/50) / 2 = 0.04; the reweighted plain bootstrap's is sqrt(.5*.5/100) = 0.05.
    const classes = Array.from({ length: 100 }, (_, i) => (i < 50 ? 0 : 1));
    const values = classes.map((c, i) => (c === 0 ? (i % 5 === 0 ? 0 : 1) : i % 5 === 0 ? 1 : 0));
    const weights = classMeanWeights(classes, 2);
    const weighted = values.map((v, i) => v * weights[i]);
    expect(weighted.reduce((a, b) => a + b, 0) / 100).toBeCloseTo(0.5, 12);
    const strat = bootstrapClassMeanCi(values, classes, { numClasses: 2, seed: 0, resamples: 2000 });
    const plain = bootstrapCi(weighted, { seed: 0, resamples: 2000 });
    expect(Math.abs(strat.high - strat.low - 2 * 1.96 * 0.04)).toBeLessThan(0.02);
    expect(Math.abs(plain.high - plain.low - 2 * 1.96 * 0.05)).toBeLessThan(0.02);
  });
});
