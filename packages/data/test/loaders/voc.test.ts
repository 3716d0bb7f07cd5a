import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GazeError, initBackend } from '@gaze/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataset, disposeBatch, parseVocAnnotation, VOC_CLASSES, type Dataset, type Item } from '../../src/index.js';

// datasets/voc/fixture/VOC2007 (scripts/datasets/make-fixtures.ts): train 000001 000003 000004,
// val 000002, test 000005. 000001, 000003 and 000005 are 64x48, 000002 56x48, 000004 48x40.
const fixture = fileURLToPath(new URL('../../../../datasets/voc/fixture/VOC2007', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'gaze-voc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const [bird, bottle, car, cat, chair, cow, dog, person, sheep] = ['bird', 'bottle', 'car', 'cat', 'chair', 'cow', 'dog', 'person', 'sheep'].map((n) =>
  (VOC_CLASSES as readonly string[]).indexOf(n),
);

// [H, W] = [48, 64]: the 64x48 images keep their size, so their boxes are the XML's minus one at the start.
let ds: Dataset;
beforeAll(async () => {
  await initBackend('wasm');
  ds = await createDataset({ type: 'voc', root: fixture, size: [48, 64] });
});

function rgb(item: Item, x: number, y: number): number[] {
  const o = (y * item.width + x) * 3;
  return Array.from(item.image.subarray(o, o + 3), (v) => Math.round(v * 255));
}

describe('voc dataset', () => {
  it('has the 20 classes in devkit order, multi-label, and the split sizes of ImageSets/Main', () => {
    expect(VOC_CLASSES).toHaveLength(20);
    expect([bird, bottle, car, cat, chair, cow, dog, person, sheep]).toEqual([2, 4, 6, 7, 8, 9, 11, 14, 16]);
    expect(ds.info).toMatchObject({
      type: 'voc',
      classNames: [...VOC_CLASSES],
      numClasses: 20,
      imageShape: [48, 64, 3],
      has: { masks: false, boxes: true, attributes: false, multiLabel: true },
      sizes: { train: 3, val: 1, test: 1 },
    });
  });

  it('turns 1-based inclusive VOC boxes into pixel edges, with every object, its class and difficult flag', async () => {
    // 000001.xml: dog xmin 5 ymin 11 xmax 34 ymax 40, person 43 7 58 44.
    const a = await ds.split('train').item(0);
    expect(a.id).toBe('000001');
    expect(a.boxes).toEqual([
      { x0: 4, y0: 10, x1: 34, y1: 40, label: dog, difficult: false },
      { x0: 42, y0: 6, x1: 58, y1: 44, label: person, difficult: false },
    ]);
    expect([a.label, a.classes]).toEqual([dog, [dog, person]]);
    // The dog (150, 90, 40) fills its box.
    const [r, g, b] = rgb(a, 19, 25);
    expect(Math.abs(r - 150) + Math.abs(g - 90) + Math.abs(b - 40)).toBeLessThan(30);
    // 000003: the bird is larger but difficult, so the cat is the label.
    const c = await ds.split('train').item(1);
    expect(c.boxes).toEqual([
      { x0: 20, y0: 4, x1: 60, y1: 36, label: bird, difficult: true },
      { x0: 2, y0: 30, x1: 18, y1: 46, label: cat, difficult: false },
    ]);
    expect([c.label, c.classes]).toEqual([cat, [bird, cat]]);
  });

  it('breaks area ties by file order, falls back to difficult objects, and scales boxes of other sizes', async () => {
    // 000004 (48x40): sheep then cow, both 20x16; to 64 wide x 48 high x scales by 4/3, y by 1.2.
    const d = await ds.split('train').item(2);
    expect([d.label, d.classes]).toEqual([sheep, [cow, sheep]]);
    const [s, c] = d.boxes!;
    expect([s.x0, s.x1, c.x0, c.x1].map((v) => +v.toFixed(10))).toEqual([2.6666666667, 29.3333333333, 34.6666666667, 61.3333333333]);
    expect([s.y0, s.y1, c.y0, c.y1].map((v) => +v.toFixed(10))).toEqual([4.8, 24, 24, 43.2]);
    // 000005: bottle 8x22 and chair 32x34, both difficult: the chair.
    const e = await ds.split('test').item(0);
    expect([e.label, e.classes, e.boxes!.map((b) => b.difficult)]).toEqual([chair, [bottle, chair], [true, true]]);
    expect(ds.split('test').label(0)).toBe(chair);
    expect(ds.split('val').label(0)).toBe(car);
  });

  it('maps boxes through fit: contain with the letterbox offset', async () => {
    // 000002 (56x48) to 64x64: scale min(64/56, 64/48) -> 64 x round(54.86) = 55 rows, 4 rows of padding on top.
    // car pixels 8..47 x 20..37: x 8*64/56 .. 48*64/56, y 20*55/48 + 4 .. 38*55/48 + 4.
    const d = await createDataset({ type: 'voc', root: fixture, fit: 'contain' });
    const item = await d.split('val').item(0);
    const [b] = item.boxes!;
    expect(b.x0).toBeCloseTo((8 * 64) / 56, 10);
    expect(b.x1).toBeCloseTo((48 * 64) / 56, 10);
    expect(b.y0).toBeCloseTo((20 * 55) / 48 + 4, 10);
    expect(b.y1).toBeCloseTo((38 * 55) / 48 + 4, 10);
    expect(Math.max(...item.image.subarray(0, 4 * 64 * 3))).toBe(0); // padding rows 0..3
    const [r, g, bl] = rgb(item, 32, 37); // the car's red (200, 30, 30) at the box centre
    expect(Math.abs(r - 200) + Math.abs(g - 30) + Math.abs(bl - 30)).toBeLessThan(30);
  });

  it('batches a multi-hot classes tensor and the primary labels', async () => {
    for await (const batch of ds.split('train').batches({ batchSize: 3 })) {
      expect(batch.ids).toEqual(['000001', '000003', '000004']);
      expect(Array.from(batch.labels.dataSync())).toEqual([dog, cat, sheep]);
      const hot = batch.classes!.arraySync();
      expect(batch.classes!.shape).toEqual([3, 20]);
      expect(hot.map((row) => row.flatMap((v, k) => (v === 1 ? [k] : [])))).toEqual([
        [dog, person],
        [bird, cat],
        [cow, sheep],
      ]);
      expect(hot.flat().filter((v) => v !== 0 && v !== 1)).toEqual([]);
      expect(batch.boxes!.map((b) => b.length)).toEqual([2, 2, 2]);
      disposeBatch(batch);
    }
  });

  it('parses a single <object> and a missing <difficult>, and names the file holding an unknown class', () => {
    const one = parseVocAnnotation('<annotation><object><name>horse</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object></annotation>', 'x.xml');
    expect(one).toEqual({ boxes: [{ x0: 0, y0: 1, x1: 3, y1: 4, label: 12, difficult: false }], label: 12, classes: [12] });
    const e = (() => {
      try {
        return parseVocAnnotation('<annotation><object><name>unicorn</name></object></annotation>', 'Annotations/9.xml');
      } catch (x) {
        return x;
      }
    })() as GazeError;
    expect(e).toBeInstanceOf(GazeError);
    expect([e.message, e.where]).toEqual(["object 1 has the unknown class 'unicorn'", 'Annotations/9.xml']);
  });

  it('names a missing split file and an annotation with an unknown class', async () => {
    const copy = join(tmp, 'no-test');
    cpSync(fixture, copy, { recursive: true });
    rmSync(join(copy, 'ImageSets/Main/test.txt'));
    const e = (await createDataset({ type: 'voc', root: copy }).catch((x: unknown) => x)) as GazeError;
    expect(e).toBeInstanceOf(GazeError);
    expect(e.message).toBe(`the test split file ${join(copy, 'ImageSets/Main/test.txt')} is missing`);
    expect(e.where).toBe('dataset.imageSets.test');
    // Pointing the split at another list works (VOC2012 has no test list).
    const d = await createDataset({ type: 'voc', root: copy, imageSets: { test: 'val' } });
    expect(d.info.sizes).toEqual({ train: 3, val: 1, test: 1 });

    const bad = join(tmp, 'bad-class');
    cpSync(fixture, bad, { recursive: true });
    const xml = join(bad, 'Annotations/000002.xml');
    writeFileSync(xml, readFileSync(xml, 'utf8').replace('<name>car</name>', '<name>automobile</name>'));
    const u = (await createDataset({ type: 'voc', root: bad }).catch((x: unknown) => x)) as GazeError;
    expect(u).toBeInstanceOf(GazeError);
    expect([u.message, u.where]).toEqual(["object 1 has the unknown class 'automobile'", xml]);
  });
});
