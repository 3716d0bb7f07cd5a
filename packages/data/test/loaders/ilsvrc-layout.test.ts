import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@gaze/engine';
import { gazeError } from '@gaze/engine/testing';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataset, parseVocAnnotation } from '../../src/index.js';

// ILSVRC 2012 as users have it: the class list in torchvision's order (LOC_synset_mapping.txt),
// the val images flat or in wnid folders, and one Pascal-VOC-style XML of boxes per val image.
const SYNSETS = ['n01440764 tench, Tinca tinca', 'n01443537 goldfish, Carassius auratus', 'n01484850 great white shark, white shark', 'n01491361 tiger shark, Galeocerdo cuvieri'];

function xml(stem: string, objects: { wnid: string; box: [number, number, number, number] }[]): string {
  const parts = objects.map(({ wnid, box: [x0, y0, x1, y1] }) => `<object><name>${wnid}</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult><bndbox><xmin>${x0}</xmin><ymin>${y0}</ymin><xmax>${x1}</xmax><ymax>${y1}</ymax></bndbox></object>`);
  return `<annotation><folder>val</folder><filename>${stem}</filename><source><database>ILSVRC_2012</database></source><size><width>40</width><height>20</height><depth>3</depth></size><segmented>0</segmented>${parts.join('')}</annotation>`;
}

let root: string;
beforeAll(async () => {
  await initBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'gaze-ilsvrc-'));
  writeFileSync(join(root, 'LOC_synset_mapping.txt'), SYNSETS.join('\n') + '\n');
  const png = await sharp(Buffer.alloc(40 * 20 * 3, 128), { raw: { width: 40, height: 20, channels: 3 } }).jpeg().toBuffer();
  mkdirSync(join(root, 'flat'));
  mkdirSync(join(root, 'bbox'));
  mkdirSync(join(root, 'byclass', 'n01484850'), { recursive: true });
  const images = [
    ['ILSVRC2012_val_00000001', 'n01443537', [1, 1, 20, 10]],
    ['ILSVRC2012_val_00000002', 'n01491361', [11, 5, 30, 20]],
    ['ILSVRC2012_val_00000003', 'n01484850', [1, 1, 40, 20]],
  ] as const;
  for (const [stem, wnid, box] of images) {
    writeFileSync(join(root, 'flat', `${stem}.JPEG`), png);
    writeFileSync(join(root, 'bbox', `${stem}.xml`), xml(stem, [{ wnid, box: [...box] }]));
  }
  writeFileSync(join(root, 'byclass', 'n01484850', 'ILSVRC2012_val_00000003.JPEG'), png);
  writeFileSync(join(root, 'flat', 'ILSVRC2012_val_00000004.JPEG'), png); // no annotation
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const common = { size: 20, split: 'test' };

describe('image-folder: the ILSVRC 2012 val layouts', () => {
  it('a flat val folder: each image\'s class from its XML, indexed by the class list (torchvision\'s order), with its boxes', async () => {
    const lines: string[] = [];
    const ds = await createDataset({ type: 'image-folder', root: join(root, 'flat'), annotations: join(root, 'bbox'), classes: join(root, 'LOC_synset_mapping.txt'), ...common }, { seed: 0, log: (l) => lines.push(l) });
    expect(ds.info.numClasses).toBe(4);
    expect(ds.info.classNames).toEqual(['tench', 'goldfish', 'great white shark', 'tiger shark']);
    expect(ds.info.has.boxes).toBe(true);
    expect(lines.join('\n')).toContain('1 image(s) have no annotation of a listed class and are left out: ILSVRC2012_val_00000004.JPEG');
    const all = ['train', 'val', 'test'] as const;
    const items = (await Promise.all(all.map(async (s) => Promise.all(Array.from({ length: ds.split(s).size }, (_, i) => ds.split(s).item(i)))))).flat();
    const byId = Object.fromEntries(items.map((it) => [it.id, it]));
    expect(Object.keys(byId).sort()).toEqual(['ILSVRC2012_val_00000001.JPEG', 'ILSVRC2012_val_00000002.JPEG', 'ILSVRC2012_val_00000003.JPEG']);
    expect(byId['ILSVRC2012_val_00000001.JPEG'].label).toBe(1);
    expect(byId['ILSVRC2012_val_00000002.JPEG'].label).toBe(3);
    // 40x20 to 20x20 (fill): x halves. VOC pixels are 1-based inclusive: xmin 11 .. xmax 30 -> edges 10 .. 30.
    expect(byId['ILSVRC2012_val_00000002.JPEG'].boxes).toEqual([{ x0: 5, y0: 4, x1: 15, y1: 20, label: 3, difficult: false }]);
  });

  it('wnid folders (torchvision\'s ImageNet layout) index by the class list even when only some classes are there', async () => {
    const ds = await createDataset({ type: 'image-folder', root: join(root, 'byclass'), annotations: join(root, 'bbox'), classes: join(root, 'LOC_synset_mapping.txt'), ...common }, { seed: 0, log: () => {} });
    expect(ds.info.numClasses).toBe(4);
    const split = ['train', 'val', 'test'].map((s) => ds.split(s as 'test')).find((s) => s.size > 0)!;
    const item = await split.item(0);
    expect(item.label).toBe(2);
    expect(item.boxes?.[0].label).toBe(2);
  });

  it('leaves out an image whose XML has only objects of unlisted classes, and counts it with the unannotated', async () => {
    const ids = SYNSETS.map((l) => l.split(' ')[0]);
    const unlisted = xml('x', [{ wnid: 'n09999999', box: [1, 1, 5, 5] }]);
    expect(parseVocAnnotation(unlisted, 'x.xml', ids, 'skip')).toBeUndefined();
    expect(() => parseVocAnnotation(unlisted, 'x.xml', ids)).toThrow("object 1 has the unknown class 'n09999999'");
    // A listed object among unlisted ones keeps the image, with that object's box only.
    expect(parseVocAnnotation(xml('y', [{ wnid: 'n09999999', box: [1, 1, 5, 5] }, { wnid: 'n01440764', box: [2, 2, 9, 9] }]), 'y.xml', ids, 'skip')?.boxes).toEqual([{ x0: 1, y0: 1, x1: 9, y1: 9, label: 0, difficult: false }]);

    const dir = join(root, 'mixed');
    mkdirSync(join(dir, 'images'), { recursive: true });
    mkdirSync(join(dir, 'bbox'));
    const png = await sharp(Buffer.alloc(40 * 20 * 3, 90), { raw: { width: 40, height: 20, channels: 3 } }).png().toBuffer();
    for (const stem of ['a', 'b']) writeFileSync(join(dir, 'images', `${stem}.png`), png);
    writeFileSync(join(dir, 'bbox', 'a.xml'), xml('a', [{ wnid: 'n01443537', box: [1, 1, 20, 10] }]));
    writeFileSync(join(dir, 'bbox', 'b.xml'), xml('b', [{ wnid: 'n09999999', box: [1, 1, 20, 10] }, { wnid: 'n08888888', box: [2, 2, 8, 8] }]));
    const lines: string[] = [];
    const ds = await createDataset({ type: 'image-folder', root: join(dir, 'images'), annotations: join(dir, 'bbox'), classes: join(root, 'LOC_synset_mapping.txt'), ...common }, { seed: 0, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain('1 image(s) have no annotation of a listed class and are left out: b.png');
    expect(ds.split('test').size).toBe(1);
    expect((await ds.split('test').item(0)).label).toBe(1);
  });

  it('explains what is missing: a folder outside the class list, a flat folder without annotations or classes', async () => {
    writeFileSync(join(root, 'short-list.txt'), SYNSETS.slice(0, 2).join('\n'));
    const stray = await gazeError(() => createDataset({ type: 'image-folder', root: join(root, 'byclass'), classes: join(root, 'short-list.txt'), ...common }, { seed: 0, log: () => {} }));
    expect(stray.message).toContain("class folder 'n01484850' is not in the class list");
    expect(stray.where).toBe('dataset.classes');
    const flat = await gazeError(() => createDataset({ type: 'image-folder', root: join(root, 'flat'), ...common }, { seed: 0, log: () => {} }));
    expect(flat.message).toContain('holds images but no class folders');
    expect(flat.where).toBe('dataset.annotations');
  });
});
