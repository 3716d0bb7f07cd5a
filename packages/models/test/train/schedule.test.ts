import { describe, expect, it } from 'vitest';
import { learningRateAt } from '../../src/train/schedule.js';
import { TrainConfig, parseTrainConfig } from '../../src/train/train-config.js';

const cfg = (o: Record<string, unknown>) => TrainConfig.parse({ epochs: 10, lr: 0.1, ...o });
const at = (o: Record<string, unknown>, step: number, total = 100) => learningRateAt(cfg(o), step, total);

describe('learningRateAt', () => {
  it('constant: lr at every step, after a linear warm-up', () => {
    expect(at({ schedule: 'constant' }, 0)).toBe(0.1);
    expect(at({ schedule: 'constant' }, 99)).toBe(0.1);
    // 1 of 10 epochs of 100 steps = 10 warm-up steps: step i uses lr * (i + 1) / 10
    expect(at({ schedule: 'constant', warmupEpochs: 1 }, 0)).toBeCloseTo(0.01, 12);
    expect(at({ schedule: 'constant', warmupEpochs: 1 }, 4)).toBeCloseTo(0.05, 12);
    expect(at({ schedule: 'constant', warmupEpochs: 1 }, 9)).toBeCloseTo(0.1, 12);
    expect(at({ schedule: 'constant', warmupEpochs: 1 }, 10)).toBe(0.1);
  });

  it('cosine: lr at the start, lr/2 at the midpoint, (lr + minLr)/2 with a floor', () => {
    expect(at({ schedule: 'cosine' }, 0)).toBeCloseTo(0.1, 12);
    expect(at({ schedule: 'cosine' }, 50)).toBeCloseTo(0.05, 12);
    // 0.1 * (1 + cos(pi/4)) / 2
    expect(at({ schedule: 'cosine' }, 25)).toBeCloseTo(0.08535533905932738, 12);
    expect(at({ schedule: 'cosine', minLr: 0.01 }, 50)).toBeCloseTo(0.055, 12);
    expect(at({ schedule: 'cosine' }, 99)).toBeGreaterThan(0);
    expect(at({ schedule: 'cosine' }, 99)).toBeLessThan(1e-4);
  });

  it('cosine with warm-up: linear to lr, then the cosine over the remaining steps', () => {
    // 2 of 10 epochs -> 20 warm-up steps; the cosine spans steps 20..99 (80 steps), midpoint 60
    expect(at({ warmupEpochs: 2 }, 0)).toBeCloseTo(0.005, 12);
    expect(at({ warmupEpochs: 2 }, 19)).toBeCloseTo(0.1, 12);
    expect(at({ warmupEpochs: 2 }, 20)).toBeCloseTo(0.1, 12);
    expect(at({ warmupEpochs: 2 }, 60)).toBeCloseTo(0.05, 12);
  });

  it("one-cycle: PyTorch OneCycleLR's two cosine phases", () => {
    const s = { schedule: 'one-cycle' };
    // start lr / divFactor = 0.1 / 25
    expect(at(s, 0)).toBeCloseTo(0.004, 12);
    // peak at step pctStart * total - 1 = 29
    expect(at(s, 29)).toBeCloseTo(0.1, 12);
    // phase 1, pct = 10/29: 0.1 + (0.004 - 0.1) / 2 * (cos(pi * 10/29) + 1)
    expect(at(s, 10)).toBeCloseTo(0.029516394846410082, 12);
    // phase 2 (steps 29..99) midpoint, step 64: (0.1 + 4e-7) / 2
    expect(at(s, 64)).toBeCloseTo(0.0500002, 12);
    // end lr / (divFactor * finalDivFactor)
    expect(at(s, 99)).toBeCloseTo(0.1 / (25 * 1e4), 15);
    // other factors
    expect(at({ ...s, oneCycleDivFactor: 10, oneCyclePctStart: 0.5 }, 0)).toBeCloseTo(0.01, 12);
    expect(at({ ...s, oneCycleDivFactor: 10, oneCyclePctStart: 0.5 }, 49)).toBeCloseTo(0.1, 12);
    expect(at({ ...s, oneCycleDivFactor: 10, oneCycleFinalDivFactor: 100 }, 99)).toBeCloseTo(1e-4, 15);
  });
});

describe('TrainConfig', () => {
  it('fills the defaults', () => {
    const c = TrainConfig.parse({});
    expect(c).toMatchObject({ epochs: 10, batchSize: 32, optimizer: 'adam', lr: 1e-3, momentum: 0.9, nesterov: false, weightDecay: 0, schedule: 'cosine', augment: true });
    expect(c.oneCyclePctStart).toBe(0.3);
    expect(c.oneCycleDivFactor).toBe(25);
    expect(c.oneCycleFinalDivFactor).toBe(1e4);
    expect(c.evalBatchSize).toBeUndefined();
  });

  it('names the bad key, and refuses warm-up epochs with one-cycle', () => {
    expect(() => parseTrainConfig({ lr: -1 })).toThrow(expect.objectContaining({ name: 'GazeError', where: 'train.lr' }));
    expect(() => parseTrainConfig({ lrr: 1 })).toThrow(expect.objectContaining({ name: 'GazeError', where: 'train' }));
    expect(() => parseTrainConfig({ schedule: 'one-cycle', warmupEpochs: 1 })).toThrow(expect.objectContaining({ where: 'train.warmupEpochs' }));
  });
});
