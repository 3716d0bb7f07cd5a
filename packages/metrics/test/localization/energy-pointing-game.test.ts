import { initBackend, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { EnergyPointingGameConfig, createEnergyPointingGame, createEvaluator, energyShare } from '../../src/index.js';
import { context, disposeContext, info } from './helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const energy = (keys: Record<string, unknown> = {}) => createEnergyPointingGame(EnergyPointingGameConfig.parse(keys));

describe('energy-pointing-game', () => {
  it('gives the share of the map inside the box union, rows = y', async () => {
    // 4x4 (row-major). Box of class 1: x in [0,2), y in [0,1) -> pixels (0,0), (1,0).
    // img0: values 2 at (0,0) and 1 at (1,0) inside, 1 at (3,3) outside -> 3 / 4 = 0.75.
    // img1: a map on (col 0, row 1) only: inside the transposed box (the reference's x-as-row bug), outside the real one -> 0.
    // img2: all zero -> 0 (documented; the reference divides 0 by 0).
    // img3: all ones, two overlapping boxes of class 1, cols 0-1 and cols 1-2 of rows 0-1 -> union 6 px -> 6/16.
    const m0 = new Array<number>(16).fill(0);
    m0[0] = 2;
    m0[1] = 1;
    m0[15] = 1;
    const m1 = new Array<number>(16).fill(0);
    m1[4] = 0.5; // (col 0, row 1)
    const box = { x0: 0, y0: 0, x1: 2, y1: 1, label: 1 };
    const union = [
      { x0: 0, y0: 0, x1: 2, y1: 2, label: 1 },
      { x0: 1, y0: 0, x1: 3, y1: 2, label: 1 },
      { x0: 3, y0: 3, x1: 4, y1: 4, label: 0 },
    ];
    const ctx = context({
      size: [4, 4],
      labels: [1, 1, 1, 1],
      maps: [m0, m1, new Array<number>(16).fill(0), new Array<number>(16).fill(1)],
      boxes: [[box], [box], [box], union],
    });
    const evaluator = energy();
    const rows = await evaluator.evaluate(ctx);
    expect(rows.map((r) => r.metric)).toEqual(new Array(4).fill('energy_pointing_game'));
    expect(rows[0].value).toBeCloseTo(0.75, 6);
    expect(rows[1].value).toBe(0);
    expect(rows[2].value).toBe(0);
    expect(rows[3].value).toBeCloseTo(6 / 16, 6);
    const { summaries } = evaluator.summarize(rows, info(2, [4, 4]));
    expect(summaries).toHaveLength(1);
    expect(summaries[0].metric).toBe('energy_pointing_game');
    expect(summaries[0].value).toBeCloseTo((0.75 + 0 + 0 + 0.375) / 4, 6);
    expect(summaries[0].perImage).toHaveLength(4);
    disposeContext(ctx);
  });

  it('uses the mask when there is one, and clamps negative values', async () => {
    // 2x2 map [0.1, 0.2, 0.3, 0.4]; mask = pixels 1 and 3 -> 0.6 / 1.0.
    expect(energyShare([0.1, 0.2, 0.3, 0.4], 0, Uint8Array.from([0, 1, 0, 1]))).toBeCloseTo(0.6, 12);
    // Negative values count 0: [-1, 1, 1, 0] with pixel 1 inside -> 1 / 2.
    expect(energyShare([-1, 1, 1, 0], 0, Uint8Array.from([0, 1, 0, 0]))).toBe(0.5);
    const ctx = context({ size: [2, 2], labels: [0], maps: [[0.1, 0.2, 0.3, 0.4]], masks: [[0, 1, 0, 1]], boxes: [[{ x0: 0, y0: 0, x1: 1, y1: 1, label: 0 }]] });
    const rows = await createEvaluator({ type: 'energy-pointing-game' }, { where: 'evaluation.1', seed: 0 }).evaluate(ctx);
    expect(rows[0].value).toBeCloseTo(0.6, 6);
    const boxRows = await energy({ groundTruth: 'boxes' }).evaluate(ctx);
    expect(boxRows[0].value).toBeCloseTo(0.1, 6);
    disposeContext(ctx);
  });

  it('leaves no tensor behind', async () => {
    const ctx = context({ size: [4, 4], labels: [0, 0], maps: [new Array<number>(16).fill(1), new Array<number>(16).fill(0.5)], boxes: [[{ x0: 0, y0: 0, x1: 2, y1: 2, label: 0 }], []] });
    const evaluator = energy();
    await evaluator.evaluate(ctx);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await evaluator.evaluate(ctx);
    expect(tf.memory().numTensors).toBe(before);
    disposeContext(ctx);
  });
});
