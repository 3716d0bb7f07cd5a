import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GazeError, fileSystemError, tf, writeFileAtomic, writeNpy } from '@gaze/engine';
import { formatCsv, renderOverlay } from '@gaze/report';
import { INDEX_FILE, MAPS_FILE, OVERLAY_DIR, overlayName } from '@gaze/runner';
import type { ExplainResult } from './explain.js';
import { openImageInput, type ImageInput, type ImageOptions } from './images.js';
import type { GazeModel } from './model.js';

/** Options of {@link saveMaps}. */
export interface SaveMapsOptions extends ImageOptions {
  /** `npy` (default): maps.npy and index.csv; `png`: index.csv and one overlay per image; `both`. */
  format?: 'npy' | 'png' | 'both';
  /** The images the maps were made for (as given to explain()): overlays draw the map over them. Without them an overlay shows the map alone. */
  images?: ImageInput;
  /** The model the maps were made with; needed with `images` (they are fitted to its input as explain() fitted them). */
  model?: GazeModel;
}

/** What {@link saveMaps} wrote. */
export interface SavedMaps {
  dir: string;
  /** Paths relative to `dir`. */
  files: string[];
}

/**
 * Writes maps from {@link explain} to a folder, laid out as `gaze explain --out` and a run's
 * `maps/<method>/` are: `maps.npy` (float32 [N,H,W], the maps as given: raw unless explained
 * with `normalize: true`; `numpy.load` reads it), `index.csv` (`index,id,target`) and, for `png`,
 * `overlays/<id>.png` (the map over its image with a colour bar).
 *
 * @example
 * ```ts
 * const maps = await explain(model, files, { method: 'gradcam' });
 * await saveMaps(maps, 'out', { format: 'both', images: files, model });
 * ```
 */
export async function saveMaps(maps: ExplainResult, dir: string, options: SaveMapsOptions = {}): Promise<SavedMaps> {
  const format = options.format ?? 'npy';
  if (!['npy', 'png', 'both'].includes(format)) throw new GazeError(`format must be npy, png or both, got '${String(format)}'`, { where: 'saveMaps() format' });
  const [n, h, w] = maps.shape;
  if (maps.data.length !== n * h * w || maps.ids.length !== n || maps.targets.length !== n) {
    throw new GazeError(`maps hold ${maps.data.length} values, ${maps.ids.length} ids and ${maps.targets.length} targets for shape [${maps.shape.join(',')}]`, { where: 'saveMaps() maps', hint: 'pass the result of explain() as it came' });
  }
  if (options.images !== undefined && options.model === undefined) throw new GazeError('saveMaps() needs the model to fit the images to', { where: 'saveMaps() model', hint: '{ images, model }' });
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw fileSystemError(error) ?? error;
  }
  const files: string[] = [];
  if (format !== 'png') {
    await writeNpy(join(dir, MAPS_FILE), maps.data, maps.shape);
    files.push(MAPS_FILE);
  }
  await writeFileAtomic(join(dir, INDEX_FILE), formatCsv(['index', 'id', 'target'], maps.ids.map((id, i) => [i, id, maps.targets[i]])));
  files.push(INDEX_FILE);
  if (format !== 'npy') {
    const pixels = options.images !== undefined ? await imagePixels(options.images, options.model!, options, maps) : undefined;
    for (let i = 0; i < n; i++) {
      const map = maps.data.subarray(i * h * w, (i + 1) * h * w);
      const png = await renderOverlay({
        // Without the image the map is drawn over mid grey.
        image: { image: pixels?.[i] ?? new Float32Array(h * w * 3).fill(0.5), height: h, width: w, channels: 3, caption: '' },
        map,
        title: `${maps.ids[i]}  ${maps.method}  target ${maps.targets[i]}`,
      });
      const file = `${OVERLAY_DIR}/${overlayName(maps.ids[i])}.png`;
      await writeFileAtomic(join(dir, file), png);
      files.push(file);
    }
  }
  return { dir, files };
}

/** The images behind each map, [H*W*3] in [0,1], read again the way explain() read them. */
async function imagePixels(images: ImageInput, model: GazeModel, options: ImageOptions, maps: ExplainResult): Promise<Float32Array[]> {
  const [h, w, c] = model.inputShape;
  if (c !== 3 && c !== 1) throw new GazeError(`overlays draw 1- or 3-channel images; this model takes ${c}`, { where: 'saveMaps() images' });
  const source = await openImageInput(images, model, options);
  const byId = new Map<string, Float32Array>();
  const step = 16;
  for (let start = 0; start < source.count; start += step) {
    const batch = await source.batch(start, Math.min(source.count, start + step));
    const rgb = tf.tidy(() => (c === 1 ? tf.tile(batch.x, [1, 1, 1, 3]) : batch.x.clone()));
    const data = (await rgb.data()) as Float32Array;
    tf.dispose([rgb, batch.x]);
    batch.ids.forEach((id, i) => byId.set(id, data.slice(i * h * w * 3, (i + 1) * h * w * 3)));
  }
  return maps.ids.map((id) => {
    const pixels = byId.get(id);
    if (!pixels) throw new GazeError(`the images hold no image '${id}' that the maps explain`, { where: 'saveMaps() images', hint: 'pass the images given to explain()' });
    return pixels;
  });
}
