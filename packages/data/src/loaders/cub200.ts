import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GazeError, hash32 } from '@gaze/engine';
import { z } from 'zod';
import { commonDatasetKeys, pipelineFor, registerDataset, type DatasetContext, type DatasetFactory } from '../registry.js';
import { datasetFromSources, type ItemSource } from '../split.js';
import type { Dataset, DatasetInfo, SplitName } from '../types.js';
import { ImageFit, ImageSize, ShorterSide, checkShorterSide, decodeImage, sizeHW, type SourceRegion } from './image-decode.js';

export const Cub200Config = z.strictObject({
  /** The `CUB_200_2011` directory (holding images.txt, images/, ...); relative to the config's directory. */
  root: z.string().min(1),
  /** Output side, or [H, W]. */
  size: ImageSize.default(64),
  fit: ImageFit.default('fill'),
  /** Scale the shorter side to this, then crop the centre `size` (torchvision's Resize(256) + CenterCrop(224)); `fit` is then not used. */
  shorterSide: ShorterSide,
  /** Share of the official training images (by hash of their path) held out as `val`. */
  valFraction: z.number().min(0).max(0.9).default(0.1),
  /** `box` crops each image to its bird's box (widened by `cropMargin`) before resizing. */
  crop: z.enum(['none', 'box']).default('none'),
  /** Widening of the crop on each side, as a fraction of the box's width and height. */
  cropMargin: z.number().min(0).max(2).default(0.1),
  /** Read the 312 per-image attribute labels (needs attributes.txt and attributes/image_attribute_labels.txt). */
  attributes: z.boolean().default(true),
  ...commonDatasetKeys,
}).superRefine(checkShorterSide);
export type Cub200Config = z.infer<typeof Cub200Config>;

/** The metadata files of the CUB-200-2011 release, relative to `CUB_200_2011/`. */
export const CUB200_FILES = {
  images: 'images.txt',
  labels: 'image_class_labels.txt',
  split: 'train_test_split.txt',
  boxes: 'bounding_boxes.txt',
  classes: 'classes.txt',
  attributeLabels: 'attributes/image_attribute_labels.txt',
} as const;

/** The release ships attributes.txt next to CUB_200_2011/, not inside; look in both places. */
const ATTRIBUTE_NAME_FILES = ['attributes.txt', 'attributes/attributes.txt', '../attributes.txt'];

interface CubImage {
  /** Path under images/: the item id. */
  path: string;
  label: number;
  box: SourceRegion;
  training: boolean;
  /** Row in the attribute table. */
  row: number;
}

/** Lines of a space-separated table as (line number, fields); blank lines dropped. */
function readTable(path: string): { line: number; fields: string[] }[] {
  return readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((text, i) => ({ line: i + 1, fields: text.trim().split(/\s+/) }))
    .filter((r) => r.fields[0] !== '');
}

function tableError(path: string, line: number, message: string): GazeError {
  return new GazeError(message, { where: `${path}:${line}`, hint: 'the file is damaged or not from CUB-200-2011; restore it from the release' });
}

/** `<id> <value...>` rows as a map from id, checking every row has `fields` fields. */
function readById(path: string, fields: number): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const { line, fields: f } of readTable(path)) {
    const id = Number(f[0]);
    if (!Number.isInteger(id) || f.length < fields) throw tableError(path, line, `expected '<id>' and ${fields - 1} more field(s), got '${f.join(' ')}'`);
    out.set(id, f.slice(1));
  }
  return out;
}

/** 001.Black_footed_Albatross -> Black footed Albatross. */
export function cubClassName(raw: string): string {
  return raw.replace(/^\d+\./, '').replace(/_/g, ' ');
}

/**
 * Fills a [images x attributes] 0/1 table from `<image_id> <attribute_id> <is_present> ...`
 * lines. The file has 3.7M lines in the release, so it is scanned byte by byte; only the first
 * three fields count (some release lines carry extra fields).
 */
function readAttributeLabels(path: string, rowOf: Map<number, number>, images: number, attributes: number): Float32Array {
  const bytes = readFileSync(path);
  const table = new Float32Array(images * attributes);
  const values = [0, 0, 0];
  let line = 1;
  let field = 0;
  let inNumber = false;
  let valid = true;
  const finish = () => {
    if (field === 0 && !inNumber) return; // blank line
    if (!valid || field + (inNumber ? 1 : 0) < 3) throw tableError(path, line, 'expected <image_id> <attribute_id> <is_present> ...');
    const row = rowOf.get(values[0]);
    if (row === undefined) throw tableError(path, line, `image ${values[0]} is not in images.txt`);
    if (values[1] < 1 || values[1] > attributes) throw tableError(path, line, `attribute ${values[1]} is outside 1..${attributes}`);
    table[row * attributes + values[1] - 1] = values[2] > 0 ? 1 : 0;
  };
  for (let i = 0; i <= bytes.length; i++) {
    const b = i < bytes.length ? bytes[i] : 10;
    if (b === 10) {
      finish();
      line++;
      field = 0;
      inNumber = false;
      valid = true;
    } else if (field >= 3) {
      continue;
    } else if (b >= 48 && b <= 57) {
      values[field] = inNumber ? values[field] * 10 + b - 48 : b - 48;
      inNumber = true;
    } else if (b === 32 || b === 9 || b === 13) {
      if (inNumber) field++;
      inNumber = false;
    } else {
      valid = false;
    }
  }
  return table;
}

function missingFilesError(root: string, missing: string[], where: string, attributes: boolean): GazeError {
  const expected = [...Object.values(CUB200_FILES).filter((f) => attributes || !f.startsWith('attributes/')), ...(attributes ? ['attributes.txt'] : []), 'images/'];
  return new GazeError(`CUB-200-2011 files missing in ${root}: ${missing.join(', ')}`, {
    where: `${where}.root`,
    hint: `root must be the CUB_200_2011 directory of the release, holding ${expected.join(', ')}${attributes ? '; without the attribute files, set attributes: false' : ''}`,
  });
}

export const cub200Dataset: DatasetFactory<Cub200Config> = {
  type: 'cub200',
  describe: 'CUB-200-2011 (Caltech, user-supplied): 200 bird species; one box and 312 attributes per image',
  configSchema: Cub200Config,
  async create(config, context: DatasetContext): Promise<Dataset> {
    const root = resolve(context.baseDir, config.root);
    const required = Object.values(CUB200_FILES).filter((f) => config.attributes || !f.startsWith('attributes/'));
    const missing: string[] = required.filter((f) => !existsSync(join(root, f)));
    if (!existsSync(join(root, 'images'))) missing.push('images/');
    const namesFile = ATTRIBUTE_NAME_FILES.map((f) => join(root, f)).find((f) => existsSync(f));
    if (config.attributes && !namesFile) missing.push('attributes.txt');
    if (missing.length > 0) throw missingFilesError(root, missing, context.where, config.attributes);

    const file = (name: string) => join(root, name);
    const classRows = readById(file(CUB200_FILES.classes), 2);
    const classIds = [...classRows.keys()].sort((a, b) => a - b);
    classIds.forEach((id, k) => {
      if (id !== k + 1) throw tableError(file(CUB200_FILES.classes), k + 1, `class ids must run 1..${classIds.length}; found ${id} at position ${k + 1}`);
    });
    const classNames = classIds.map((id) => cubClassName(classRows.get(id)![0]));

    const paths = readById(file(CUB200_FILES.images), 2);
    const labels = readById(file(CUB200_FILES.labels), 2);
    const split = readById(file(CUB200_FILES.split), 2);
    const boxes = readById(file(CUB200_FILES.boxes), 5);
    const images: CubImage[] = [];
    const rowOf = new Map<number, number>();
    for (const [id, [path]] of paths) {
      const lookup = (table: Map<number, string[]>, name: string) => {
        const row = table.get(id);
        if (!row) throw new GazeError(`image ${id} (${path}) has no row in ${name}`, { where: file(name), hint: 'the metadata files come from different copies; restore them from the release' });
        return row;
      };
      const classId = Number(lookup(labels, CUB200_FILES.labels)[0]);
      if (!Number.isInteger(classId) || classId < 1 || classId > classNames.length) {
        throw new GazeError(`image ${id} has class ${classId}, but classes.txt lists 1..${classNames.length}`, { where: file(CUB200_FILES.labels) });
      }
      const [x, y, w, h] = lookup(boxes, CUB200_FILES.boxes).slice(0, 4).map(Number);
      if (![x, y, w, h].every(Number.isFinite) || w <= 0 || h <= 0) throw new GazeError(`image ${id} has the invalid box ${x} ${y} ${w} ${h}`, { where: file(CUB200_FILES.boxes) });
      rowOf.set(id, images.length);
      images.push({ path, label: classId - 1, box: { x0: x, y0: y, x1: x + w, y1: y + h }, training: lookup(split, CUB200_FILES.split)[0] === '1', row: images.length });
    }

    let attributeNames: string[] | undefined;
    let attributeTable: Float32Array | undefined;
    if (config.attributes && namesFile) {
      const rows = readById(namesFile, 2);
      attributeNames = [...rows.keys()].sort((a, b) => a - b).map((id, k) => {
        if (id !== k + 1) throw tableError(namesFile, k + 1, `attribute ids must run 1..${rows.size}; found ${id}`);
        return rows.get(id)!.join(' ');
      });
      attributeTable = readAttributeLabels(file(CUB200_FILES.attributeLabels), rowOf, images.length, attributeNames.length);
    }

    const bySplit: Record<SplitName, CubImage[]> = { train: [], val: [], test: [] };
    for (const im of images) {
      const name: SplitName = !im.training ? 'test' : hash32(im.path) / 4294967296 < config.valFraction ? 'val' : 'train';
      bySplit[name].push(im);
    }
    const [H, W] = sizeHW(config.size);
    const { pipeline, imageShape } = pipelineFor(config, [H, W, 3], context.where);
    const info: DatasetInfo = {
      type: 'cub200',
      classNames,
      numClasses: classNames.length,
      imageShape,
      attributeNames,
      has: { masks: false, boxes: true, attributes: attributeNames !== undefined, multiLabel: false },
      sizes: { train: bySplit.train.length, val: bySplit.val.length, test: bySplit.test.length },
      source: root,
    };
    const A = attributeNames?.length ?? 0;
    return datasetFromSources(
      info,
      pipeline,
      (name): ItemSource => {
        const list = bySplit[name];
        return {
          size: list.length,
          label: (i) => list[i].label,
          read: async (i) => {
            const im = list[i];
            const { x0, y0, x1, y1 } = im.box;
            const mx = config.cropMargin * (x1 - x0);
            const my = config.cropMargin * (y1 - y0);
            const region = config.crop === 'box' ? { x0: x0 - mx, y0: y0 - my, x1: x1 + mx, y1: y1 + my } : undefined;
            const decoded = await decodeImage(join(root, 'images', im.path), im.path, { size: [H, W], fit: config.fit, boxes: [{ ...im.box, label: im.label }], region, shorterSide: config.shorterSide });
            return { ...decoded, label: im.label, attributes: attributeTable?.slice(im.row * A, (im.row + 1) * A) };
          },
        };
      },
      context.log,
    );
  },
};

registerDataset(cub200Dataset);
