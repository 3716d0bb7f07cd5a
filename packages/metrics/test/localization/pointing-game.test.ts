import { initBackend, isGazeError, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { PointingGameConfig, argmaxFirst, createEvaluator, createPointingGame, evaluatorTypes, pointingTolerance, summaryCi, type ImageScore } from '../../src/index.js';
import { context, disposeContext, info, peak } from './helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const game = (keys: Record<string, unknown> = {}) => createPointingGame(PointingGameConfig.parse(keys));
const values = (rows: ImageScore[], metric = 'pointing_game') => rows.filter((r) => r.metric === metric).map((r) => r.value);

describe('pointing-game', () => {
  it('scales 15 px at 224 to the input and takes the first maximum', () => {
    expect(pointingTolerance({ toleranceAt224: 15 }, [224, 224])).toBe(15);
    // 15 * 32 / 224 = 2.142857...
    expect(pointingTolerance({ toleranceAt224: 15 }, [32, 48])).toBeCloseTo(15 / 7, 12);
    expect(pointingTolerance({ toleranceAt224: 15, tolerance: 4 }, [32, 32])).toBe(4);
    expect(argmaxFirst([0.5, 1, 1, 0.2], 0, 4)).toBe(1);
    expect(argmaxFirst([3, 3, 3, 3, 1, 2, 2, 0], 4, 4)).toBe(1);
    expect(evaluatorTypes()).toContain('pointing-game');
  });

  it('hits inside the box and misses outside, with the boundary decided by < vs <=', async () => {
    // 10x10, box = cols 2-3, rows 2-3 of class 0; tolerance 2 px.
    // Peaks (u, v) and the squared distance to the nearest box pixel (3, 3) or (3, 2):
    //   (3,3) inside -> 0: hit; (5,3) -> 4 = tol^2: miss under <, hit under <=;
    //   (6,3) -> 9: miss; (5,4) -> 4 + 1 = 5: miss both; (4,1) -> 1 + 1 = 2: hit both.
    const peaks: [number, number][] = [[3, 3], [5, 3], [6, 3], [5, 4], [4, 1]];
    const box = { x0: 2, y0: 2, x1: 4, y1: 4, label: 0 };
    const ctx = context({ size: [10, 10], labels: peaks.map(() => 0), maps: peaks.map(([u, v]) => peak(10, 10, u, v)), boxes: peaks.map(() => [box]) });
    expect(values(await game({ tolerance: 2 }).evaluate(ctx))).toEqual([1, 0, 0, 0, 1]);
    expect(values(await game({ tolerance: 2, inclusive: true }).evaluate(ctx))).toEqual([1, 1, 0, 0, 1]);
    // Tolerance 0: nothing is < 0 away; inclusive, only a peak inside the box hits.
    expect(values(await game({ tolerance: 0, inclusive: true }).evaluate(ctx))).toEqual([1, 0, 0, 0, 0]);
    disposeContext(ctx);
  });

  it('uses the default 15*32/224 = 2.14 px at 32x32', async () => {
    // The region is the single pixel (10, 10). Peak (12, 10): d = 2 < 2.14 hit; (12, 11): d = sqrt(5) = 2.24 miss;
    // (10, 8): d = 2 hit; (13, 10): d = 3 miss.
    const peaks: [number, number][] = [[12, 10], [12, 11], [10, 8], [13, 10]];
    const box = { x0: 10, y0: 10, x1: 11, y1: 11, label: 2 };
    const ctx = context({ size: [32, 32], labels: peaks.map(() => 2), maps: peaks.map(([u, v]) => peak(32, 32, u, v)), boxes: peaks.map(() => [box]) });
    expect(values(await game().evaluate(ctx))).toEqual([1, 0, 1, 0]);
    disposeContext(ctx);
  });

  it('counts a hit on any instance of the class, never on another class, and breaks ties to the first maximum', async () => {
    // 8x8, class 1 has boxes at cols 0-1 rows 0-1 and cols 5-6 rows 5-6; class 2 has cols 0-1 rows 5-6.
    const boxes = [
      { x0: 0, y0: 0, x1: 2, y1: 2, label: 1 },
      { x0: 5, y0: 5, x1: 7, y1: 7, label: 1 },
      { x0: 0, y0: 5, x1: 2, y1: 7, label: 2 },
    ];
    const flat = new Array<number>(64).fill(0.3); // every pixel ties: the first, (0, 0), is the point
    const maps = [peak(8, 8, 6, 6), peak(8, 8, 1, 6), flat];
    const ctx = context({ size: [8, 8], labels: [1, 1, 1], maps, boxes: [boxes, boxes, boxes] });
    // Tolerance 0.5 (strict): a hit needs the peak inside a box of class 1.
    expect(values(await game({ tolerance: 0.5 }).evaluate(ctx))).toEqual([1, 0, 1]);
    disposeContext(ctx);
  });

  it('takes the mask as ground truth when the batch has one, the boxes otherwise or when asked', async () => {
    // 6x6; the mask is the pixel (4, 4); the box of the class covers cols 0-1, rows 0-1.
    const mask = new Array<number>(36).fill(0);
    mask[4 * 6 + 4] = 1;
    const box = { x0: 0, y0: 0, x1: 2, y1: 2, label: 0 };
    const maps = [peak(6, 6, 4, 4), peak(6, 6, 1, 1)];
    const ctx = context({ size: [6, 6], labels: [0, 0], maps, boxes: [[box], [box]], masks: [mask, mask] });
    expect(values(await game({ tolerance: 0.5 }).evaluate(ctx))).toEqual([1, 0]);
    expect(values(await game({ tolerance: 0.5, groundTruth: 'mask' }).evaluate(ctx))).toEqual([1, 0]);
    expect(values(await game({ tolerance: 0.5, groundTruth: 'boxes' }).evaluate(ctx))).toEqual([0, 1]);
    disposeContext(ctx);
    // A box with fractional edges covers the pixels whose centres it holds: x in [1.4, 3.5) -> cols 1, 2.
    const frac = context({ size: [6, 6], labels: [0, 0, 0], maps: [peak(6, 6, 1, 0), peak(6, 6, 2, 0), peak(6, 6, 3, 0)], boxes: [0, 1, 2].map(() => [{ x0: 1.4, y0: 0, x1: 3.5, y1: 1, label: 0 }]) });
    expect(values(await game({ tolerance: 0.5 }).evaluate(frac))).toEqual([1, 1, 0]);
    disposeContext(frac);
  });

  it('averages per-class accuracy over all classes, an empty class counting 0', async () => {
    // 3 classes. class 0: two images, one hit (acc 0.5); class 1: one image, a hit (acc 1); class 2: none (0).
    // pointing_game = (0.5 + 1 + 0) / 3 = 0.5; over images 2/3; ignoring the empty class (0.5 + 1) / 2 = 0.75.
    const box = { x0: 0, y0: 0, x1: 1, y1: 1, label: 0 };
    const box1 = { ...box, label: 1 };
    const ctx = context({ size: [4, 4], labels: [0, 0, 1], maps: [peak(4, 4, 0, 0), peak(4, 4, 3, 3), peak(4, 4, 0, 0)], boxes: [[box], [box], [box1]] });
    const evaluator = game({ tolerance: 1 });
    const rows = await evaluator.evaluate(ctx);
    expect(values(rows)).toEqual([1, 0, 1]);
    const { summaries } = evaluator.summarize(rows, info(3, [4, 4]));
    const by = Object.fromEntries(summaries.filter((s) => s.class === undefined).map((s) => [s.metric, s]));
    expect(by.pointing_game.value).toBeCloseTo(0.5, 12);
    expect(by.pointing_game.n).toBe(3);
    // The hits with their classes: the CI resamples within classes (class c has no images and counts 0).
    expect(by.pointing_game.perImage).toEqual([1, 0, 1]);
    expect(by.pointing_game.classes).toEqual({ labels: [0, 0, 1], numClasses: 3, emptyClasses: 'zero' });
    // Class a's resamples have mean 0, 0.5 or 1; class b is always 1; class c is 0: the class mean ranges over [1/3, 2/3].
    const ci = summaryCi(by.pointing_game, { seed: 0 })!;
    expect(ci.low).toBeCloseTo(1 / 3, 12);
    expect(ci.high).toBeCloseTo(2 / 3, 12);
    expect(by.pointing_game_images.value).toBeCloseTo(2 / 3, 12);
    // Per-class rows name their class in `class`, never in the metric name.
    const perClass = summaries.filter((s) => s.class !== undefined).map((s) => [s.metric, s.class, s.value, s.n]);
    expect(perClass).toEqual([
      ['pointing_game', 'a', 0.5, 2],
      ['pointing_game', 'b', 1, 1],
    ]);
    expect(summaries.every((s) => !s.metric.includes('/'))).toBe(true);
    const ignoring = game({ tolerance: 1, emptyClasses: 'ignore' }).summarize(rows, info(3, [4, 4]));
    expect(ignoring.summaries.find((s) => s.metric === 'pointing_game' && s.class === undefined)!.value).toBeCloseTo(0.75, 12);
    disposeContext(ctx);
  });

  it('skips pairs whose class boxes are all difficult and scores the EBP difficult subset', async () => {
    // 8x8 = 64 px; 1/4 is 16 px. Every map peaks at (0, 0).
    // img0: class box 2x2 = 4 px < 16 with a distractor (-1): difficult; hit.
    // img1: class box 2x2 alone: not difficult; hit.
    // img2: class box 4x5 = 20 px >= 16 with another class: not difficult; hit.
    // img3: the only class box is VOC-difficult: skipped (no row) unless skipDifficult is off.
    // img4: small box at cols 6-7 with a class-2 object: difficult; miss.
    const small = { x0: 0, y0: 0, x1: 2, y1: 2, label: 0 };
    const boxes = [
      [small, { x0: 4, y0: 4, x1: 6, y1: 6, label: -1 }],
      [small],
      [{ x0: 0, y0: 0, x1: 4, y1: 5, label: 0 }, { x0: 6, y0: 6, x1: 8, y1: 8, label: 2 }],
      [{ ...small, difficult: true }],
      [{ x0: 6, y0: 6, x1: 8, y1: 8, label: 0 }, { x0: 0, y0: 4, x1: 2, y1: 6, label: 2 }],
    ];
    const ctx = context({ size: [8, 8], labels: [0, 0, 0, 0, 0], maps: boxes.map(() => peak(8, 8, 0, 0)), boxes });
    const evaluator = game({ tolerance: 1 });
    const rows = await evaluator.evaluate(ctx);
    expect(rows.filter((r) => r.metric === 'pointing_game').map((r) => r.id)).toEqual(['img0', 'img1', 'img2', 'img4']);
    expect(rows.filter((r) => r.metric === 'pointing_game_difficult').map((r) => [r.id, r.value])).toEqual([['img0', 1], ['img4', 0]]);
    const { summaries } = evaluator.summarize(rows, info(3, [8, 8]));
    // All pairs are class 0: difficult class mean = (1/2 + 0 + 0) / 3; main = (3/4) / 3.
    expect(summaries.find((s) => s.metric === 'pointing_game_difficult')!.value).toBeCloseTo(1 / 6, 12);
    expect(summaries.find((s) => s.metric === 'pointing_game')!.value).toBeCloseTo(0.25, 12);
    const all = await game({ tolerance: 1, skipDifficult: false }).evaluate(ctx);
    expect(values(all)).toEqual([1, 1, 1, 1, 0]);
    disposeContext(ctx);
  });

  it('is built from a config entry, rejects unknown keys, and needs masks or boxes', async () => {
    const e = createEvaluator({ type: 'pointing-game', inclusive: true }, { where: 'evaluation.0', seed: 0 });
    expect(e.target).toBe('label');
    expect(() => createEvaluator({ type: 'pointing-game', tolerence: 3 }, { where: 'evaluation.0', seed: 0 })).toThrow();
    const ctx = context({ size: [4, 4], labels: [0], maps: [peak(4, 4, 0, 0)] });
    const err = await e.evaluate(ctx).catch((x: unknown) => x);
    expect(isGazeError(err)).toBe(true);
    disposeContext(ctx);
  });

  it('leaves no tensor behind', async () => {
    const box = { x0: 0, y0: 0, x1: 2, y1: 2, label: 0 };
    const ctx = context({ size: [8, 8], labels: [0, 0], maps: [peak(8, 8, 0, 0), peak(8, 8, 7, 7)], boxes: [[box], [box]], masks: [peak(8, 8, 1, 1), peak(8, 8, 1, 1)] });
    const evaluator = game();
    await evaluator.evaluate(ctx);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await evaluator.evaluate(ctx);
    expect(tf.memory().numTensors).toBe(before);
    disposeContext(ctx);
  });
});
