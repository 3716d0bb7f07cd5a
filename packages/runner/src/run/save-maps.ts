import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DatasetInfo } from '@gaze/data';
import { GazeError, NpyWriter, SAFE_NAME, SAFE_NAME_RULE, writeDirAtomic, writeFileAtomic } from '@gaze/engine';
import { formatCsv, renderOverlay } from '@gaze/report';
import type { SaveMapsMode } from '../config/schema.js';
import { INDEX_FILE, MAPS_FILE, OVERLAY_DIR, overlayName } from '../explain/explain-images.js';

/** The run-directory folder `evaluationSet.saveMaps` writes to: maps/<method>/. */
export const MAPS_DIR = 'maps';
export const MAPS_INDEX_COLUMNS = ['index', 'id', 'file', 'label', 'target', 'score'] as const;

/** One batch of a method's maps for the predicted class, on the host. */
export interface SavedMapsBatch {
  ids: readonly string[];
  labels: ArrayLike<number>;
  targets: ArrayLike<number>;
  /** Each image's logit for its target. */
  scores: ArrayLike<number>;
  /** Raw maps [b,H,W] (the explainer's `normalize: false`). */
  maps: Float32Array;
  /** The images [b,H,W,C] in [0,1]; needed only when the writer draws overlays. */
  pixels?: Float32Array;
}

export interface MethodMapsOptions {
  mode: Exclude<SaveMapsMode, 'none'>;
  /** The most images the method will see (sizes maps.npy's header). */
  total: number;
  info: DatasetInfo;
}

/** Where the loaders that read image files keep an item's file, from its id (a Batch carries ids, not paths). */
const IMAGE_FILES: Record<string, (root: string, id: string) => string> = {
  'image-folder': (root, id) => join(root, id),
  cub200: (root, id) => join(root, 'images', id),
  voc: (root, id) => join(root, 'JPEGImages', `${id}.jpg`),
};

/** The source file of item `id`, or '' when the data is procedural or the file cannot be found. */
export function imageFile(info: DatasetInfo, id: string): string {
  const locate = IMAGE_FILES[info.type];
  if (!locate || info.source === 'procedural') return '';
  const path = locate(info.source, id);
  return existsSync(path) ? path : '';
}

/** Writes one method's maps.npy, index.csv and overlays/ into `dir`, batch by batch. */
export class MethodMapsWriter {
  private readonly rows: (string | number)[][] = [];
  private readonly overlayNames = new Set<string>();
  private count = 0;

  private constructor(
    private readonly dir: string,
    private readonly method: string,
    private readonly options: MethodMapsOptions,
    private readonly npy: NpyWriter | undefined,
  ) {}

  static async open(dir: string, method: string, options: MethodMapsOptions): Promise<MethodMapsWriter> {
    const [h, w] = options.info.imageShape;
    const npy = options.mode === 'png' ? undefined : await NpyWriter.create(join(dir, MAPS_FILE), [h, w], options.total);
    return new MethodMapsWriter(dir, method, options, npy);
  }

  get drawsOverlays(): boolean {
    return this.options.mode === 'png' || this.options.mode === 'both';
  }

  async add(batch: SavedMapsBatch): Promise<void> {
    const [h, w, c] = this.options.info.imageShape;
    await this.npy?.append(batch.maps);
    for (let i = 0; i < batch.ids.length; i++) {
      const index = this.count++;
      const id = batch.ids[i];
      this.rows.push([index, id, imageFile(this.options.info, id), batch.labels[i], batch.targets[i], batch.scores[i]]);
      if (!this.drawsOverlays) continue;
      if (!batch.pixels) throw new Error('MethodMapsWriter: overlays need the batch pixels');
      const png = await renderOverlay({
        image: { image: batch.pixels.subarray(i * h * w * c, (i + 1) * h * w * c), height: h, width: w, channels: c, caption: '' },
        map: batch.maps.subarray(i * h * w, (i + 1) * h * w),
        title: `${id}  ${this.method}  target ${batch.targets[i]} (${this.options.info.classNames[batch.targets[i]] ?? '?'})`,
      });
      await writeFileAtomic(join(this.dir, OVERLAY_DIR, `${this.uniqueOverlayName(id, index)}.png`), png);
    }
  }

  /** overlayName(id), with the row index added when two ids flatten to the same name (a/b.png, a__b.png). */
  private uniqueOverlayName(id: string, index: number): string {
    const name = overlayName(id);
    const unique = this.overlayNames.has(name) ? `${name}-${index}` : name;
    this.overlayNames.add(unique);
    return unique;
  }

  async close(): Promise<void> {
    await this.npy?.close();
    await writeFileAtomic(join(this.dir, INDEX_FILE), formatCsv([...MAPS_INDEX_COLUMNS], this.rows));
  }

  async discard(): Promise<void> {
    await this.npy?.discard();
  }
}

/**
 * Runs `write` with a writer for `<runDir>/maps/<method>/`. The folder is filled as a fresh copy
 * that replaces the old one only when `write` finishes, so a resumed run rewrites it whole and a
 * crash leaves the previous version (or none), never a mix.
 */
export async function withMethodMaps<T>(runDir: string, method: string, options: MethodMapsOptions, write: (writer: MethodMapsWriter) => Promise<T>): Promise<T> {
  // The config refuses such names already; this keeps a library caller inside the run directory too.
  if (!SAFE_NAME.test(method)) throw new GazeError(`method '${method}' cannot name a folder under ${join(runDir, MAPS_DIR)}`, { where: 'evaluationSet.saveMaps', hint: SAFE_NAME_RULE });
  let result: T | undefined;
  await writeDirAtomic(join(runDir, MAPS_DIR, method), async (tmp) => {
    const writer = await MethodMapsWriter.open(tmp, method, options);
    try {
      result = await write(writer);
    } catch (error) {
      await writer.discard();
      throw error;
    }
    await writer.close();
  });
  return result as T;
}
