import { initBackend, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { TameConfig, tameLoss, totalVariation } from '../src/index.js';

beforeAll(async () => {
  await initBackend('wasm');
});

// Two 2x2 masks, worked by hand.
const M1 = [0.1, 0.5, 0.3, 0.9]; // [[0.1, 0.5], [0.3, 0.9]]
const M2 = [1, 0, 0, 1]; // [[1, 0], [0, 1]]
const masks = () => tf.tensor3d([...M1, ...M2], [2, 2, 2]);

describe('totalVariation', () => {
  it('sums squared vertical and horizontal differences and 0.3 x the squared borders, over 2B', () => {
    // vertical: (0.3-0.1)^2 + (0.9-0.5)^2 = 0.2 and (0-1)^2 + (1-0)^2 = 2 -> 2.2
    // horizontal: (0.5-0.1)^2 + (0.9-0.3)^2 = 0.52 and 2 -> 2.52
    // borders (top, bottom, left, right rows/columns, squared): 0.26 + 0.90 + 0.10 + 1.06 = 2.32 and 4 -> 6.32
    // (2.2 + 2.52 + 0.3 * 6.32) / (2 * 2) = 1.654
    const tv = totalVariation(masks(), 0.3);
    expect(tv.dataSync()[0]).toBeCloseTo(1.654, 5);
  });
});

describe('tameLoss', () => {
  it('is 1.5 CE + 2 mean((A + 5e-4)^0.3) + 0.01 TV with the reference coefficients', () => {
    const coefficients = TameConfig.parse({}).loss;
    const logits = tf.tensor2d([2, 0, 0, 0, 1, 0], [2, 3]);
    const target = tf.tensor1d([0, 1], 'int32');
    const parts = tameLoss(masks(), logits, target, coefficients);
    // CE: image 1 log(1 + 2e^-2); image 2 log(e + 2) - 1.
    const ce = (Math.log(1 + 2 * Math.exp(-2)) + (Math.log(Math.E + 2) - 1)) / 2;
    const area = [...M1, ...M2].reduce((s, a) => s + Math.pow(a + 5e-4, 0.3), 0) / 8;
    expect(parts.ce.dataSync()[0]).toBeCloseTo(ce, 5);
    expect(parts.area.dataSync()[0]).toBeCloseTo(area, 5);
    expect(parts.tv.dataSync()[0]).toBeCloseTo(1.654, 5);
    expect(parts.total.dataSync()[0]).toBeCloseTo(1.5 * ce + 2 * area + 0.01 * 1.654, 5);
  });

  it('takes other coefficients', () => {
    const coefficients = TameConfig.parse({ loss: { ce: 0, area: 1, areaPower: 1, tv: 0 } }).loss;
    const parts = tameLoss(masks(), tf.zeros([2, 3]), tf.tensor1d([0, 1], 'int32'), coefficients);
    // mean(A + 5e-4) = (1.8 + 2) / 8 + 5e-4
    expect(parts.total.dataSync()[0]).toBeCloseTo(3.8 / 8 + 5e-4, 6);
  });
});
