/**
 * The ground-truth region of an image's target class, shared by the pointing game and the energy
 * pointing game.
 *
 * - `mask`: the batch's object mask (`Batch.masks`, 1 on the image's own object), used when the
 *   target is the image's label (a mask only describes that object); a pixel is inside when its
 *   mask value is > 0.5. TorchRay's COCO protocol (union of the class's instance masks).
 * - `boxes`: the union of every box with `label === target` (all instances of the class count; VOC
 *   `difficult` boxes included, as TorchRay's `voc_as_mask`). A pixel (c, r) is inside a box when
 *   its centre is: `x0 <= c + 0.5 < x1` and `y0 <= r + 0.5 < y1`, so the integer box
 *   {x0: c, y0: r, x1: c + 1, y1: r + 1} is exactly pixel (c, r) (pixel-edge coordinates, see
 *   `Box`), and VOC's 1-based inclusive boxes (x0 = xmin - 1, x1 = xmax) cover the same pixels as
 *   TorchRay's.
 * - `auto` (default): the mask where the batch has one for the target, else the boxes.
 *
 * Besides the region it reports what the pointing game needs for its subsets: whether every box
 * of the class is VOC-`difficult` (TorchRay skips such pairs), and whether another object (a box
 * whose label is not the target, unlabelled distractors with label -1 included) is in the image.
 */
import { GazeError, type tf } from '@gaze/engine';
import type { Batch, Box } from '@gaze/data';

export type GroundTruthSource = 'auto' | 'mask' | 'boxes';

export interface TargetRegion {
  /** H*W row-major, 1 inside the region. */
  inside: Uint8Array;
  /** Pixels inside. */
  area: number;
  source: 'mask' | 'boxes';
  /** Every box of the target class is VOC-difficult (false when there are none or no boxes were used). */
  allDifficult: boolean;
  /** Another object (a box of any other label, -1 included) is in the image; undefined when the batch has no boxes. */
  otherObject?: boolean;
}

/**
 * Per image, the region of its target class, or null when the image has none (no box of the
 * class, an empty mask): such (image, class) pairs are not scored. `where` names the evaluator
 * entry for the error when the batch has neither masks nor boxes.
 */
export async function targetRegions(
  batch: Batch,
  targets: tf.Tensor1D,
  size: readonly [number, number],
  source: GroundTruthSource,
  where: string,
): Promise<(TargetRegion | null)[]> {
  const [h, w] = size;
  const n = batch.ids.length;
  const wantMask = source !== 'boxes' && batch.masks !== undefined;
  if (source === 'mask' && !batch.masks) {
    throw new GazeError('groundTruth is mask but the dataset gives no object masks', { where: `${where}.groundTruth`, hint: 'use groundTruth: boxes (or auto), or a dataset with masks' });
  }
  if (source === 'boxes' && !batch.boxes) {
    throw new GazeError('groundTruth is boxes but the dataset gives no boxes', { where: `${where}.groundTruth`, hint: 'use groundTruth: mask (or auto), or a dataset with boxes' });
  }
  if (!batch.masks && !batch.boxes) {
    throw new GazeError('this evaluator needs object masks or boxes, and the dataset gives neither', {
      where,
      hint: 'evaluate on a dataset with masks or boxes (shapes, cluttered, voc, cub200)',
    });
  }
  const [t, labels, masks] = await Promise.all([
    targets.data() as Promise<Int32Array>,
    batch.labels.data() as Promise<Int32Array>,
    wantMask ? (batch.masks!.data() as Promise<Float32Array>) : Promise.resolve(undefined),
  ]);
  const regions: (TargetRegion | null)[] = [];
  for (let b = 0; b < n; b++) {
    const boxes = batch.boxes?.[b];
    const classBoxes = boxes?.filter((box) => box.label === t[b]) ?? [];
    const allDifficult = classBoxes.length > 0 && classBoxes.every((box) => box.difficult === true);
    const otherObject = boxes ? boxes.some((box) => box.label !== t[b]) : undefined;
    const inside = new Uint8Array(h * w);
    let area = 0;
    let used: 'mask' | 'boxes';
    if (masks && t[b] === labels[b]) {
      used = 'mask';
      const offset = b * h * w;
      for (let p = 0; p < h * w; p++) {
        if (masks[offset + p] > 0.5) {
          inside[p] = 1;
          area++;
        }
      }
    } else {
      if (source === 'mask') {
        throw new GazeError(`image ${batch.ids[b]}: its mask is for class ${labels[b]}, not the target ${t[b]}`, { where: `${where}.groundTruth`, hint: 'use groundTruth: auto or boxes' });
      }
      used = 'boxes';
      for (const box of classBoxes) area += paintBox(inside, box, h, w);
    }
    regions.push(area > 0 ? { inside, area, source: used, allDifficult, otherObject } : null);
  }
  return regions;
}

/** Sets the pixels whose centres lie in `box`; returns how many were newly set. */
export function paintBox(inside: Uint8Array, box: Box, h: number, w: number): number {
  // x0 <= c + 0.5 < x1  <=>  ceil(x0 - 0.5) <= c <= ceil(x1 - 0.5) - 1
  const c0 = Math.max(0, Math.ceil(box.x0 - 0.5));
  const c1 = Math.min(w - 1, Math.ceil(box.x1 - 0.5) - 1);
  const r0 = Math.max(0, Math.ceil(box.y0 - 0.5));
  const r1 = Math.min(h - 1, Math.ceil(box.y1 - 0.5) - 1);
  let added = 0;
  for (let r = r0; r <= r1; r++) {
    for (let c = c0; c <= c1; c++) {
      const p = r * w + c;
      if (!inside[p]) {
        inside[p] = 1;
        added++;
      }
    }
  }
  return added;
}
