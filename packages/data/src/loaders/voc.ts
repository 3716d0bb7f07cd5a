import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GazeError } from '@gaze/engine';
import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import { boxArea } from '../box.js';
import { commonDatasetKeys, pipelineFor, registerDataset, type DatasetContext, type DatasetFactory } from '../registry.js';
import { datasetFromSources, type ItemSource } from '../split.js';
import { SPLIT_NAMES, type Box, type Dataset, type DatasetInfo, type SplitName } from '../types.js';
import { ImageFit, ImageSize, ShorterSide, checkShorterSide, decodeImage, mapLimited, sizeHW } from './image-decode.js';

/** The 20 classes in the order of the VOC devkit (VOCinit.m), which fixes the label indices. */
export const VOC_CLASSES = [
  'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
] as const;

export const VocConfig = z.strictObject({
  /** A year's directory, e.g. `VOCdevkit/VOC2007` (holding JPEGImages/, Annotations/, ImageSets/Main/); relative to the config's directory. */
  root: z.string().min(1),
  /** Output side, or [H, W]. */
  size: ImageSize.default(64),
  fit: ImageFit.default('fill'),
  /** Scale the shorter side to this, then crop the centre `size` (torchvision's Resize(256) + CenterCrop(224)); `fit` is then not used. */
  shorterSide: ShorterSide,
  /** Which `ImageSets/Main/<name>.txt` lists each split (VOC2012 has no public test list: e.g. train: train, val: val, test: val). */
  imageSets: z
    .strictObject({ train: z.string().min(1).default('train'), val: z.string().min(1).default('val'), test: z.string().min(1).default('test') })
    .default({ train: 'train', val: 'val', test: 'test' }),
  ...commonDatasetKeys,
}).superRefine(checkShorterSide);
export type VocConfig = z.infer<typeof VocConfig>;

/** Annotation files read in flight while loading. */
const READ_CONCURRENCY = 32;

export interface VocAnnotation {
  /** Every object, in file order, in pixel-edge coordinates. */
  boxes: Box[];
  /** The primary object's class: the largest non-difficult object (first on ties). */
  label: number;
  /** Sorted unique classes of all objects. */
  classes: number[];
}

const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: true });

/** fast-xml-parser gives one child as an object and several as an array. */
function asArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** The primary object: the largest non-difficult one; if every object is difficult, the largest. */
function primaryLabel(boxes: readonly Box[]): number {
  const pool = boxes.some((b) => !b.difficult) ? boxes.filter((b) => !b.difficult) : boxes;
  let best = pool[0];
  for (const b of pool) if (boxArea(b) > boxArea(best)) best = b;
  return best.label;
}

/**
 * Parses one VOC annotation (also the format of ILSVRC's bounding-box XMLs); `file` names it in
 * errors. Object names are looked up in `classes` (default the VOC classes); with `unknown:
 * 'skip'` an object of another class is left out instead of failing, and a file with no object
 * of a listed class gives undefined (the caller leaves the image out).
 */
export function parseVocAnnotation(xml: string, file: string, classes?: readonly string[], unknown?: 'error'): VocAnnotation;
export function parseVocAnnotation(xml: string, file: string, classes: readonly string[], unknown: 'skip'): VocAnnotation | undefined;
export function parseVocAnnotation(xml: string, file: string, classes: readonly string[] = VOC_CLASSES, unknown: 'error' | 'skip' = 'error'): VocAnnotation | undefined {
  let doc: { annotation?: { object?: unknown } };
  try {
    doc = parser.parse(xml);
  } catch (e) {
    throw new GazeError(`not valid XML: ${e instanceof Error ? e.message : String(e)}`, { where: file });
  }
  const objects = asArray(doc.annotation?.object as Record<string, unknown> | Record<string, unknown>[] | undefined);
  if (!doc.annotation || objects.length === 0) throw new GazeError('the annotation has no <object>', { where: file, hint: 'every image listed in ImageSets/Main has at least one object' });
  const boxes = objects.flatMap((o, k): Box[] => {
    const name = String(o.name ?? '').trim();
    const label = classes.indexOf(name);
    if (label < 0 && unknown === 'skip') return [];
    if (label < 0) throw new GazeError(`object ${k + 1} has the unknown class '${name}'`, { where: file, hint: `the classes are ${classes.length > 30 ? `${classes.slice(0, 30).join(', ')}, ...` : classes.join(', ')}` });
    const bb = (o.bndbox ?? {}) as Record<string, unknown>;
    const [xmin, ymin, xmax, ymax] = ['xmin', 'ymin', 'xmax', 'ymax'].map((key) => Number(bb[key]));
    if (![xmin, ymin, xmax, ymax].every(Number.isFinite) || xmax < xmin || ymax < ymin) {
      throw new GazeError(`object ${k + 1} (${name}) has no valid <bndbox> (xmin ${bb.xmin}, ymin ${bb.ymin}, xmax ${bb.xmax}, ymax ${bb.ymax})`, { where: file });
    }
    // VOC pixels are 1-based and inclusive: pixel columns xmin..xmax are edges xmin-1..xmax.
    return [{ x0: Math.max(0, xmin - 1), y0: Math.max(0, ymin - 1), x1: xmax, y1: ymax, label, difficult: String(o.difficult ?? '0').trim() === '1' }];
  });
  // Only in skip mode (an unknown class throws otherwise): every object was of an unlisted class.
  if (boxes.length === 0) return undefined;
  return { boxes, label: primaryLabel(boxes), classes: [...new Set(boxes.map((b) => b.label))].sort((a, b) => a - b) };
}

function readImageSet(root: string, name: string, split: SplitName, where: string): string[] {
  const path = join(root, 'ImageSets', 'Main', `${name}.txt`);
  if (!existsSync(path)) {
    throw new GazeError(`the ${split} split file ${path} is missing`, {
      where: `${where}.imageSets.${split}`,
      hint: `put one image id per line in ImageSets/Main/${name}.txt, or point imageSets.${split} at another list (VOC2012 has no test list)`,
    });
  }
  return readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((id) => id !== '');
}

export const vocDataset: DatasetFactory<VocConfig> = {
  type: 'voc',
  describe: 'Pascal VOC (user-supplied): 20 classes, multi-label; every object box with its difficult flag',
  configSchema: VocConfig,
  async create(config, context: DatasetContext): Promise<Dataset> {
    const root = resolve(context.baseDir, config.root);
    const missing = ['JPEGImages', 'Annotations', 'ImageSets/Main'].filter((d) => !existsSync(join(root, d)));
    if (missing.length > 0) {
      throw new GazeError(`Pascal VOC directories missing in ${root}: ${missing.join(', ')}`, {
        where: `${context.where}.root`,
        hint: 'root must be one year of the devkit, e.g. VOCdevkit/VOC2007, holding JPEGImages/, Annotations/ and ImageSets/Main/',
      });
    }
    const ids = Object.fromEntries(SPLIT_NAMES.map((s) => [s, readImageSet(root, config.imageSets[s], s, context.where)])) as Record<SplitName, string[]>;
    const unique = [...new Set(SPLIT_NAMES.flatMap((s) => ids[s]))];
    const parsed = await mapLimited(unique, READ_CONCURRENCY, async (id) => {
      const file = join(root, 'Annotations', `${id}.xml`);
      const xml = await readFile(file, 'utf8').catch(() => {
        throw new GazeError(`annotation ${file} is missing`, { where: file, hint: 'every id in ImageSets/Main needs Annotations/<id>.xml' });
      });
      return parseVocAnnotation(xml, file);
    });
    const annotations = new Map(unique.map((id, k) => [id, parsed[k]]));

    const [H, W] = sizeHW(config.size);
    const { pipeline, imageShape } = pipelineFor(config, [H, W, 3], context.where);
    const info: DatasetInfo = {
      type: 'voc',
      classNames: [...VOC_CLASSES],
      numClasses: VOC_CLASSES.length,
      imageShape,
      has: { masks: false, boxes: true, attributes: false, multiLabel: true },
      sizes: { train: ids.train.length, val: ids.val.length, test: ids.test.length },
      source: root,
    };
    return datasetFromSources(
      info,
      pipeline,
      (name): ItemSource => {
        const list = ids[name];
        return {
          size: list.length,
          label: (i) => annotations.get(list[i])!.label,
          read: async (i) => {
            const a = annotations.get(list[i])!;
            const decoded = await decodeImage(join(root, 'JPEGImages', `${list[i]}.jpg`), list[i], { size: [H, W], fit: config.fit, boxes: a.boxes, shorterSide: config.shorterSide });
            return { ...decoded, label: a.label, classes: [...a.classes] };
          },
        };
      },
      context.log,
    );
  },
};

registerDataset(vocDataset);
