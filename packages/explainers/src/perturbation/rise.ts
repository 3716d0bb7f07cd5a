/**
 * RISE — Randomized Input Sampling for Explanation (Petsiuk, Das, Saenko, BMVC 2018), as the
 * reference code computes it (eclique/RISE `explanations.py`, tame.md section 7):
 *
 *   masks: N binary grids of `cells` x `cells` cells, each cell kept (1) with probability p;
 *          each grid is upsampled bilinearly to (cells + 1) * cellSize pixels per side, with
 *          cellSize = ceil(H / cells) (ceil(W / cells) across), then cropped to H x W at a random
 *          shift (dy, dx) in [0, cellSize) — the reference's `generate_masks`;
 *   S_c  = 1 / (N p) * sum_i softmax(f(x * M_i))_c * M_i      (probabilities, as the reference)
 *
 * then min-max normalized per image (finishMaps; the reference's saliency is unnormalized, every
 * consumer in the TAME evaluation min-max normalizes it). Masking is in [0,1] pixel space
 * (x * M: masked pixels are black; the reference multiplies the normalized image, where they
 * become the mean colour). `cells` is the grid size s itself, so a 32x32 input gets a 7x7 grid
 * (cells of 5 px) just as a 224x224 one does (cells of 32 px).
 *
 * Masks are drawn once per explainer (seed, input size) from the engine's seeded `Rng` (stream
 * 'rise', seeded with the run seed; the grid cells of a mask row by row, then its dy and dx), and
 * reused by every explain() call: the same seed gives the same masks on every machine. They are
 * kept as a Float32Array (N * H * W floats: 16 MB at N = 4000, 32x32); above
 * RISE_MASK_CACHE_FLOATS they are rebuilt chunk by chunk from the stored grids instead.
 * For speed, every image of the batch is run against each chunk of masks in one forward pass
 * (the reference's `RISEBatch`): floor(batchSize / B) masks (at least 1) per pass.
 *
 * Deviations: the upsampling clamps at the border (tfjs/PyTorch half-pixel bilinear) where
 * skimage's `resize(mode='reflect')` reflects, which changes only the outer half cell of the
 * (cells + 1)-cell canvas.
 *
 * Parameters (defaults and sources):
 * - n: 4000 masks — the RISE paper's setting for ResNet-50 (8000 for VGG-16); the repository's
 *   notebook (`Easy_start.ipynb`) uses N = 6000.
 * - cells: 7 — the paper's s = 7 (the notebook uses s = 8).
 * - p: 0.5 — the paper's p = 0.5 (the notebook uses p1 = 0.1).
 *   (The paper's N, s, p are as recalled, the paper text was not re-read; the notebook's were
 *   read in the repository.)
 * - batchSize: 256 images per forward pass — chosen for speed on the wasm backend (the reference
 *   uses gpu_batch = 100); only speed depends on it.
 */
import { Rng, tf } from '@gaze/engine';
import type { Classifier } from '@gaze/models';
import { z } from 'zod';
import { registerExplainer, type Explainer, type ExplainerFactory, type ExplainOptions } from '../explainer.js';
import { checkExplainInputs, finishMaps, targetOneHot } from '../maps.js';

/** RISE paper, ResNet-50 experiments. */
export const RISE_N = 4000;
/** RISE paper: s = 7 grid cells per side. */
export const RISE_CELLS = 7;
/** RISE paper: each cell kept with probability p = 0.5. */
export const RISE_P = 0.5;
/** Images per forward pass; a speed setting (measured on wasm, 2 cores). */
export const RISE_BATCH_SIZE = 256;
/** Above this many mask floats (N * H * W) masks are rebuilt per chunk rather than cached (64 MB). */
export const RISE_MASK_CACHE_FLOATS = 16 * 1024 * 1024;

export const RiseConfig = z.strictObject({
  n: z.int().positive().default(RISE_N),
  cells: z.int().positive().default(RISE_CELLS),
  p: z.number().gt(0).max(1).default(RISE_P),
  batchSize: z.int().positive().default(RISE_BATCH_SIZE),
});
export type RiseConfig = z.infer<typeof RiseConfig>;

/** The random part of RISE's masks: each grid (cells x cells, 0|1) and its crop shift. */
export interface RiseMaskSet {
  n: number;
  cells: number;
  p: number;
  size: [number, number];
  /** [n, cells, cells] row-major, 0 or 1. */
  grids: Uint8Array;
  /** [n, 2]: (dy, dx) of each crop. */
  shifts: Int32Array;
  /** All masks [n, H, W] when they fit in RISE_MASK_CACHE_FLOATS. */
  cached?: Float32Array;
}

/** Draws RISE's grids and shifts from `new Rng(seed, 'rise')`; deterministic in (seed, n, cells, p, size). */
export function riseMaskSet(seed: number, n: number, cells: number, p: number, size: readonly [number, number]): RiseMaskSet {
  const rng = new Rng(seed, 'rise');
  const [H, W] = size;
  const cellH = Math.ceil(H / cells);
  const cellW = Math.ceil(W / cells);
  const grids = new Uint8Array(n * cells * cells);
  const shifts = new Int32Array(n * 2);
  for (let i = 0; i < n; i++) {
    for (let g = 0; g < cells * cells; g++) grids[i * cells * cells + g] = rng.next() < p ? 1 : 0;
    shifts[2 * i] = rng.int(cellH);
    shifts[2 * i + 1] = rng.int(cellW);
  }
  const set: RiseMaskSet = { n, cells, p, size: [H, W], grids, shifts };
  if (n * H * W <= RISE_MASK_CACHE_FLOATS) set.cached = riseMasks(set, 0, n);
  return set;
}

/** Half-pixel bilinear sampling table: output index -> (i0, i1, weight of i1) on a grid of `cells`. */
function bilinearTable(cells: number, up: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const i0 = new Int32Array(up);
  const i1 = new Int32Array(up);
  const f = new Float32Array(up);
  for (let o = 0; o < up; o++) {
    const src = Math.min(Math.max((o + 0.5) * (cells / up) - 0.5, 0), cells - 1);
    i0[o] = Math.floor(src);
    i1[o] = Math.min(i0[o] + 1, cells - 1);
    f[o] = src - i0[o];
  }
  return { i0, i1, f };
}

/** Masks [count, H, W] (values in [0,1]) for masks start..start+count-1 of a set. */
export function riseMasks(set: RiseMaskSet, start: number, count: number): Float32Array {
  const { cells, size } = set;
  const [H, W] = size;
  if (set.cached) return set.cached.subarray(start * H * W, (start + count) * H * W);
  const rows = bilinearTable(cells, (cells + 1) * Math.ceil(H / cells));
  const cols = bilinearTable(cells, (cells + 1) * Math.ceil(W / cells));
  const out = new Float32Array(count * H * W);
  for (let m = 0; m < count; m++) {
    const i = start + m;
    const grid = set.grids.subarray(i * cells * cells, (i + 1) * cells * cells);
    const [dy, dx] = [set.shifts[2 * i], set.shifts[2 * i + 1]];
    for (let y = 0; y < H; y++) {
      const r = y + dy;
      const [r0, r1, fy] = [rows.i0[r] * cells, rows.i1[r] * cells, rows.f[r]];
      for (let x = 0; x < W; x++) {
        const c = x + dx;
        const [c0, c1, fx] = [cols.i0[c], cols.i1[c], cols.f[c]];
        const top = grid[r0 + c0] * (1 - fx) + grid[r0 + c1] * fx;
        const bottom = grid[r1 + c0] * (1 - fx) + grid[r1 + c1] * fx;
        out[(m * H + y) * W + x] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

/**
 * The unnormalized RISE saliency S = 1/(N p) sum_i softmax(f(x * M_i))_c M_i of each image for its
 * target, all images against each chunk of floor(batchSize / B) masks.
 */
// x: [B,H,W,C] in [0,1], target: [B] int32 -> [B,H,W]
export async function riseSaliency(classifier: Classifier, x: tf.Tensor4D, target: tf.Tensor1D, set: RiseMaskSet, batchSize: number): Promise<tf.Tensor3D> {
  const [B, H, W, C] = x.shape;
  const perPass = Math.max(1, Math.floor(batchSize / B));
  let sum: tf.Tensor2D = tf.zeros([B, H * W]);
  try {
    for (let start = 0; start < set.n; start += perPass) {
      const count = Math.min(perPass, set.n - start);
      const next = tf.tidy(() => {
        const masks = tf.tensor2d(riseMasks(set, start, count), [count, H * W]);
        // [count,1,H,W,1] * [1,B,H,W,C] -> [count*B,H,W,C], mask-major
        const inputs = tf.reshape(tf.mul(tf.reshape(masks, [count, 1, H, W, 1]), tf.expandDims(x, 0)), [count * B, H, W, C]) as tf.Tensor4D;
        const probs = tf.reshape(tf.softmax(classifier.logits(inputs)), [count, B, -1]);
        const p = tf.sum(tf.mul(probs, tf.expandDims(targetOneHot(target, classifier.numClasses), 0)), 2) as tf.Tensor2D; // [count,B]
        return tf.add(sum, tf.matMul(p, masks, true, false)) as tf.Tensor2D;
      });
      sum.dispose();
      sum = next;
      // Let timers (progress output) run between chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return tf.tidy(() => tf.reshape(tf.div(sum, set.n * set.p), [B, H, W]) as tf.Tensor3D);
  } finally {
    sum.dispose();
  }
}

export function createRise(config: RiseConfig, ctx: { classifier: Classifier; seed: number; name: string }): Explainer {
  const { classifier } = ctx;
  const [h, w] = classifier.inputShape;
  let set: RiseMaskSet | undefined;
  return {
    name: ctx.name,
    async explain(x: tf.Tensor4D, target: tf.Tensor1D, options: ExplainOptions = {}): Promise<tf.Tensor3D> {
      checkExplainInputs(classifier, x, target, 'rise');
      set ??= riseMaskSet(ctx.seed, config.n, config.cells, config.p, [h, w]);
      const saliency = await riseSaliency(classifier, x, target, set, config.batchSize);
      try {
        return finishMaps(saliency, [h, w], options.normalize);
      } finally {
        saliency.dispose();
      }
    },
    dispose() {
      set = undefined;
    },
  };
}

export const riseExplainer: ExplainerFactory<RiseConfig> = {
  type: 'rise',
  describe: 'RISE: saliency = probability-weighted mean of N random upsampled binary masks (seeded)',
  configSchema: RiseConfig,
  create: (config, ctx) => createRise(config, ctx),
};

registerExplainer(riseExplainer);
