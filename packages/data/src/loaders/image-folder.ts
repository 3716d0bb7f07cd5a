import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { GazeError, didYouMean, hash32 } from '@gaze/engine';
import { z } from 'zod';
import { commonDatasetKeys, pipelineFor, registerDataset, type DatasetContext, type DatasetFactory } from '../registry.js';
import { datasetFromSources, type ItemSource } from '../split.js';
import { SPLIT_NAMES, type Box, type Dataset, type DatasetInfo, type SplitName } from '../types.js';
import { parseVocAnnotation, type VocAnnotation } from './voc.js';
import { ImageFit, ImageSize, ShorterSide, checkShorterSide, decodeFailureReason, decodeImage, imageHeaderSize, listImageFiles, mapLimited, sizeHW } from './image-decode.js';

export const ImageFolderConfig = z.strictObject({
  /** `root/<class>/*.png|jpg|jpeg|webp`, or `root/{train,val,test}/<class>/...`; relative to the config's directory. */
  root: z.string().min(1),
  /** Output side, or [H, W]. */
  size: ImageSize.default(64),
  fit: ImageFit.default('fill'),
  /** Scale the shorter side to this, then crop the centre `size` (torchvision's Resize(256) + CenterCrop(224)); `fit` is then not used. */
  shorterSide: ShorterSide,
  /** Share of files (by hash of their path) in `val`: of all files, or of `train/` when the root has split folders without `val/`. */
  valFraction: z.number().min(0).max(0.9).default(0.1),
  /** Share of files in `test` when the root has no split folders. */
  testFraction: z.number().min(0).max(0.9).default(0.1),
  /** Put every image in this split instead (a folder kept for evaluation, e.g. ILSVRC's val images: `split: test`). */
  split: z.enum(SPLIT_NAMES).optional(),
  /**
   * A class list, one class per line in label order: the first word is the class folder's name
   * (or the annotations' object name), the rest of the line its display name. ImageNet's
   * `LOC_synset_mapping.txt` (`n01440764 tench, Tinca tinca`) lists the 1000 wnids in the order
   * torchvision's weights index them. Default: the sorted folder names.
   */
  classes: z.string().min(1).optional(),
  /**
   * A folder of per-image XML annotations in Pascal VOC's format (ILSVRC 2012's
   * `ILSVRC2012_bbox_val_v3` is one): `<file stem>.xml` gives the image's boxes; a root with the
   * images directly in it (ILSVRC's flat val folder) takes each image's class from them.
   */
  annotations: z.string().min(1).optional(),
  ...commonDatasetKeys,
}).superRefine(checkShorterSide);
export type ImageFolderConfig = z.infer<typeof ImageFolderConfig>;

const LAYOUT = '<root>/<class>/<image>.{png,jpg,jpeg,webp} or <root>/{train,val,test}/<class>/<image>';
/** Header reads in flight while scanning (file handles, not CPU, are the limit). */
const SCAN_CONCURRENCY = 16;
/** Unreadable files named in the log line; the rest are counted. */
const LOG_NAMES = 20;

interface FileEntry {
  /** Path relative to the root with `/` separators: the item id and the key of the CSV files. */
  rel: string;
  label: number;
  split: SplitName;
}

function subdirectories(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort();
}

/** A stable number in [0, 1) per path: adding or removing files never moves the others. */
function pathFraction(rel: string): number {
  return hash32(rel) / 4294967296;
}

/** Every image under the root with its class and split. */
function listFiles(root: string, config: ImageFolderConfig, order: ClassOrder | undefined, where: string): { classNames: string[]; files: FileEntry[]; layout: 'split folders' | 'class folders' | 'flat' } {
  const hashedSplit = (rel: string): SplitName => {
    const u = pathFraction(rel);
    return u < config.testFraction ? 'test' : u < config.testFraction + config.valFraction ? 'val' : 'train';
  };
  const top = subdirectories(root);
  if (top.length === 0) {
    // A flat folder (ILSVRC 2012's val images): the classes come from the annotations.
    const flat = listImageFiles(root, { recursive: false });
    if (flat.length > 0) return { classNames: order?.names ?? [], files: flat.map((rel): FileEntry => ({ rel, label: -1, split: hashedSplit(rel) })), layout: 'flat' };
  }
  const splitLayout = top.includes('train') && top.every((d) => (SPLIT_NAMES as readonly string[]).includes(d));
  // Class folders by split folder; '' is the root itself.
  const groups: [string, string[]][] = splitLayout ? top.map((split) => [split, subdirectories(join(root, split))]) : [['', top]];
  const folders = [...new Set(groups.flatMap(([, classes]) => classes))];
  if (order) {
    const stray = folders.filter((f) => !order.index.has(f));
    if (stray.length > 0) {
      const guess = didYouMean(stray[0], order.ids);
      throw new GazeError(`class folder '${stray[0]}' is not in the class list${guess ? ` (did you mean '${guess}'?)` : ''}${stray.length > 1 ? ` (nor ${stray.length - 1} more)` : ''}`, {
        where: `${where}.classes`,
        hint: 'every class folder must be a line of the classes file',
      });
    }
  }
  const folderNames = [...folders].sort();
  // Looked up once per class folder, from a map (ImageNet: 1000 classes, 1.28M files).
  const labels = order?.index ?? new Map(folderNames.map((name, i) => [name, i]));
  const carveVal = splitLayout && !top.includes('val');
  const files = groups.flatMap(([split, classes]) =>
    classes.flatMap((cls) => {
      const label = labels.get(cls)!;
      return listImageFiles(join(root, split, cls), { recursive: false }).map((f): FileEntry => {
        const rel = posix.join(split, cls, f);
        if (!splitLayout) return { rel, label, split: hashedSplit(rel) };
        return { rel, label, split: carveVal && split === 'train' && pathFraction(rel) < config.valFraction ? 'val' : (split as SplitName) };
      });
    }),
  );
  return { classNames: order?.names ?? folderNames, files, layout: splitLayout ? 'split folders' : 'class folders' };
}

/** A class list file: ids (folder / annotation names) in label order, and display names. */
interface ClassOrder {
  ids: string[];
  names: string[];
  /** id -> label */
  index: Map<string, number>;
}

function readClassList(path: string, where: string): ClassOrder {
  if (!existsSync(path)) throw new GazeError(`class list ${path} not found`, { where, hint: 'one class per line: its folder name (an ImageNet wnid), then optionally a display name' });
  const ids: string[] = [];
  const names: string[] = [];
  const index = new Map<string, number>();
  readFileSync(path, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/).forEach((line, i) => {
    const text = line.trim();
    if (text === '') return;
    const [id, ...rest] = text.split(/\s+/);
    if (index.has(id)) throw new GazeError(`class '${id}' is listed twice`, { where: `${path}:${i + 1}` });
    index.set(id, ids.length);
    ids.push(id);
    // `n01440764 tench, Tinca tinca`: the first of the comma-separated names.
    const display = rest.join(' ').split(',')[0].trim();
    names.push(display || id);
  });
  if (ids.length === 0) throw new GazeError(`class list ${path} is empty`, { where });
  return { ids, names, index };
}

/** Per-image annotations from `<dir>/<stem>.xml` (VOC format), object names looked up in the class ids. */
async function readAnnotations(dir: string, files: readonly FileEntry[], ids: readonly string[], where: string): Promise<Map<string, VocAnnotation>> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new GazeError(`annotation folder ${dir} not found`, { where, hint: 'a folder of <image file stem>.xml files in Pascal VOC format (ILSVRC2012_bbox_val_v3/val/)' });
  const out = new Map<string, VocAnnotation>();
  await mapLimited(files, SCAN_CONCURRENCY, async (f) => {
    const stem = posix.basename(f.rel).replace(/\.[^.]+$/, '');
    const path = join(dir, `${stem}.xml`);
    if (!existsSync(path)) return;
    // An image whose objects are all of unlisted classes gets no annotation (a flat root leaves it out).
    const annotation = parseVocAnnotation(await readFile(path, 'utf8'), path, ids, 'skip');
    if (annotation) out.set(f.rel, annotation);
  });
  return out;
}

/** Comma-separated rows with their 1-based line numbers; fields may be double-quoted. */
function readCsv(path: string): { line: number; fields: string[] }[] {
  const rows: { line: number; fields: string[] }[] = [];
  // Spreadsheets often save UTF-8 with a byte-order mark.
  readFileSync(path, 'utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((text, i) => {
      if (text.trim() === '') return;
      const fields: string[] = [];
      let field = '';
      let quoted = false;
      for (let k = 0; k < text.length; k++) {
        const ch = text[k];
        if (quoted && ch === '"' && text[k + 1] === '"') {
          field += '"';
          k++;
        } else if (ch === '"') {
          quoted = !quoted;
        } else if (ch === ',' && !quoted) {
          fields.push(field.trim());
          field = '';
        } else {
          field += ch;
        }
      }
      fields.push(field.trim());
      rows.push({ line: i + 1, fields });
    });
  return rows;
}

function normalizePath(p: string): string {
  return posix.normalize(p.replace(/\\/g, '/')).replace(/^\.\//, '');
}

function csvNumber(text: string, path: string, line: number, column: string): number {
  const v = Number(text);
  if (text === '' || !Number.isFinite(v)) {
    throw new GazeError(`'${text}' in column ${column} is not a number`, { where: `${path}:${line}`, hint: 'every value after the path must be a number' });
  }
  return v;
}

/** `boxes.csv`: `path,x0,y0,x1,y1` rows, pixel-edge coordinates of the original image. */
function readBoxes(path: string): Map<string, Omit<Box, 'label'>[]> {
  const [header, ...rows] = readCsv(path);
  const expected = ['path', 'x0', 'y0', 'x1', 'y1'];
  if (!header || header.fields.map((f) => f.toLowerCase()).join(',') !== expected.join(',')) {
    throw new GazeError(`boxes.csv must start with the header '${expected.join(',')}'`, { where: `${path}:1`, hint: 'one row per box: image path relative to the root, then pixel-edge coordinates' });
  }
  const byPath = new Map<string, Omit<Box, 'label'>[]>();
  for (const { line, fields } of rows) {
    if (fields.length !== 5) throw new GazeError(`expected 5 fields, got ${fields.length}`, { where: `${path}:${line}`, hint: `rows are ${expected.join(',')}` });
    const [x0, y0, x1, y1] = fields.slice(1).map((f, k) => csvNumber(f, path, line, expected[k + 1]));
    if (!(x1 > x0 && y1 > y0)) throw new GazeError(`box ${x0},${y0},${x1},${y1} is empty: x1 must exceed x0 and y1 exceed y0`, { where: `${path}:${line}` });
    const key = normalizePath(fields[0]);
    byPath.set(key, [...(byPath.get(key) ?? []), { x0, y0, x1, y1 }]);
  }
  return byPath;
}

/** `attributes.csv`: `path,<name1>,<name2>,...` rows of numbers. */
function readAttributes(path: string): { names: string[]; byPath: Map<string, Float32Array> } {
  const [header, ...rows] = readCsv(path);
  if (!header || header.fields[0].toLowerCase() !== 'path' || header.fields.length < 2 || header.fields.slice(1).some((n) => n === '')) {
    throw new GazeError(`attributes.csv must start with a header 'path,<name1>,<name2>,...'`, { where: `${path}:1` });
  }
  const names = header.fields.slice(1);
  const byPath = new Map<string, Float32Array>();
  for (const { line, fields } of rows) {
    if (fields.length !== names.length + 1) {
      throw new GazeError(`expected ${names.length + 1} fields (path and ${names.length} attributes), got ${fields.length}`, { where: `${path}:${line}` });
    }
    byPath.set(normalizePath(fields[0]), Float32Array.from(fields.slice(1), (f, k) => csvNumber(f, path, line, names[k])));
  }
  return { names, byPath };
}

function describeSkipped(list: { rel: string; reason: string }[]): string {
  const named = list.slice(0, LOG_NAMES).map((s) => `${s.rel} (${s.reason})`);
  const more = list.length > LOG_NAMES ? `, and ${list.length - LOG_NAMES} more` : '';
  return `image-folder: skipped ${list.length} unreadable file${list.length === 1 ? '' : 's'}: ${named.join(', ')}${more}`;
}

export const imageFolderDataset: DatasetFactory<ImageFolderConfig> = {
  type: 'image-folder',
  describe: 'your images in one folder per class (optional train/val/test folders, boxes.csv, attributes.csv)',
  configSchema: ImageFolderConfig,
  async create(config, context: DatasetContext): Promise<Dataset> {
    const root = resolve(context.baseDir, config.root);
    if (!existsSync(root) || !statSync(root).isDirectory()) {
      throw new GazeError(`image folder ${root} not found`, { where: `${context.where}.root`, hint: `expected ${LAYOUT}` });
    }
    if (config.valFraction + config.testFraction >= 1) {
      throw new GazeError(`valFraction ${config.valFraction} + testFraction ${config.testFraction} leaves nothing to train on`, { where: context.where, hint: 'keep their sum below 1' });
    }
    const order = config.classes ? readClassList(resolve(context.baseDir, config.classes), `${context.where}.classes`) : undefined;
    const listed = listFiles(root, config, order, context.where);
    if (listed.files.length === 0) {
      throw new GazeError(`no images in ${root}`, { where: `${context.where}.root`, hint: `expected ${LAYOUT}` });
    }

    // Read every header now, so an unreadable file is reported once, up front, not mid-epoch.
    const unreadable: { rel: string; reason: string }[] = [];
    const readable = await mapLimited(listed.files, SCAN_CONCURRENCY, async (f) => {
      try {
        await imageHeaderSize(join(root, f.rel));
        return true;
      } catch (e) {
        unreadable.push({ rel: f.rel, reason: decodeFailureReason(e) });
        return false;
      }
    });
    let files = listed.files.filter((_, i) => readable[i]);
    if (unreadable.length > 0) context.log(describeSkipped(unreadable.sort((a, b) => (a.rel < b.rel ? -1 : 1))));

    if (listed.layout === 'flat' && (!config.annotations || !order)) {
      throw new GazeError(`${root} holds images but no class folders, so the annotations (for each image's class) and the class list (which name is which label) are needed`, {
        where: `${context.where}.${config.annotations ? 'classes' : 'annotations'}`,
        hint: 'sort the images into one folder per class, or set annotations (ILSVRC2012_bbox_val_v3/val) and classes (LOC_synset_mapping.txt)',
      });
    }
    // Annotations name objects by class id: the class list's, or the folder names.
    const classIds = order?.ids ?? listed.classNames;
    const classNames = order?.names ?? listed.classNames;
    const annotations = config.annotations ? await readAnnotations(resolve(context.baseDir, config.annotations), files, classIds, `${context.where}.annotations`) : undefined;
    if (listed.layout === 'flat') {
      const without = files.filter((f) => !annotations!.has(f.rel));
      if (without.length > 0) context.log(`image-folder: ${without.length} image(s) have no annotation of a listed class and are left out: ${without.slice(0, LOG_NAMES).map((f) => f.rel).join(', ')}`);
      files = files.filter((f) => annotations!.has(f.rel)).map((f) => ({ ...f, label: annotations!.get(f.rel)!.label }));
    }

    const known = new Set(listed.files.map((f) => f.rel));
    const boxesPath = join(root, 'boxes.csv');
    if (annotations && existsSync(boxesPath)) throw new GazeError(`both boxes.csv and annotations give boxes for ${root}`, { where: `${context.where}.annotations`, hint: 'keep one of them' });
    const boxes: Map<string, (Omit<Box, 'label'> & { label?: number })[]> | undefined = existsSync(boxesPath) ? readBoxes(boxesPath) : annotations && new Map([...annotations].map(([rel, a]) => [rel, a.boxes]));
    const attributesPath = join(root, 'attributes.csv');
    const attributes = existsSync(attributesPath) ? readAttributes(attributesPath) : undefined;
    for (const [name, keys] of [['boxes.csv', boxes?.keys()], ['attributes.csv', attributes?.byPath.keys()]] as const) {
      const stray = [...(keys ?? [])].filter((k) => !known.has(k));
      if (stray.length > 0) context.log(`image-folder: ${name} names ${stray.length} path(s) not among the images, ignored: ${stray.slice(0, LOG_NAMES).join(', ')}`);
    }
    if (attributes) {
      const without = files.filter((f) => !attributes.byPath.has(f.rel)).length;
      if (without > 0) context.log(`image-folder: ${without} image(s) have no row in attributes.csv; their attributes are all 0`);
    }

    if (config.split) {
      if (listed.layout === 'split folders') throw new GazeError(`split: ${config.split} puts every image in one split, but ${root} has split folders`, { where: `${context.where}.split`, hint: 'leave split out, or point root at one of the split folders' });
      files = files.map((f) => ({ ...f, split: config.split! }));
    }
    const bySplit = Object.fromEntries(SPLIT_NAMES.map((s) => [s, files.filter((f) => f.split === s)])) as Record<SplitName, FileEntry[]>;
    if (bySplit.train.length === 0 && !config.split) {
      throw new GazeError(`the train split of ${root} is empty (${files.length} readable images in all)`, { where: `${context.where}.root`, hint: 'add images, or lower valFraction/testFraction' });
    }
    const [H, W] = sizeHW(config.size);
    const { pipeline, imageShape } = pipelineFor(config, [H, W, 3], context.where);
    const info: DatasetInfo = {
      type: 'image-folder',
      classNames,
      numClasses: classNames.length,
      imageShape,
      attributeNames: attributes?.names,
      has: { masks: false, boxes: boxes !== undefined, attributes: attributes !== undefined, multiLabel: false },
      sizes: { train: bySplit.train.length, val: bySplit.val.length, test: bySplit.test.length },
      source: root,
    };
    const noAttributes = new Float32Array(attributes?.names.length ?? 0);
    return datasetFromSources(
      info,
      pipeline,
      (name): ItemSource => {
        const list = bySplit[name];
        return {
          size: list.length,
          label: (i) => list[i].label,
          read: async (i) => {
            const f = list[i];
            // boxes.csv boxes are the image's class; annotation boxes keep their objects' classes.
            const fileBoxes = boxes && (boxes.get(f.rel) ?? []).map((b): Box => ({ ...b, label: b.label ?? f.label }));
            const decoded = await decodeImage(join(root, f.rel), f.rel, { size: [H, W], fit: config.fit, boxes: fileBoxes, shorterSide: config.shorterSide });
            return { ...decoded, label: f.label, attributes: attributes && (attributes.byPath.get(f.rel) ?? noAttributes).slice() };
          },
        };
      },
      context.log,
    );
  },
};

registerDataset(imageFolderDataset);
