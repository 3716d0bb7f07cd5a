/**
 * `sanity-randomization`: the model parameter randomization test (Adebayo et al., "Sanity Checks
 * for Saliency Maps", NeurIPS 2018; reference code adebayoj/sanity_checks_saliency, metrics.md
 * section 5). A method whose maps explain the model must change when the model's parameters are
 * destroyed; a method that ignores the model (an edge detector) keeps its maps.
 *
 * Definition as implemented, per batch (its first `images` images):
 * - units = the classifier's layers with trainable weights (randomize-layers.ts; a non-layers
 *   classifier falls back to trainable weights grouped by name prefix), optionally restricted to
 *   `layers`, ordered top-down (logits first, as the reference's `Logits, Mixed_7c, ...`);
 * - cascading: for k = 1..L the top k units are re-initialized (cumulatively), the explainer is
 *   called on the images, and the new maps are compared with the original ones (`ctx.maps`);
 * - independent: for each unit alone (everything else original) the same;
 * - re-initialization: He normal for conv kernels, Glorot uniform for dense kernels, zeros for
 *   biases/beta, ones for gamma, batch-norm moving statistics kept (the reference re-runs the
 *   trainable variables' initializers); seeded by (run seed, unit, weight);
 * - which class is explained: `target: 'randomized-prediction'` (default, the reference: the argmax
 *   of the RANDOMIZED model's logits on the image) or `'original'` (ctx.targets, the class the
 *   original maps explain);
 * - after the last step the classifier's weights are restored bit-identically, also when the
 *   explainer throws (try/finally over a snapshot of every weight).
 * Similarities between an original map o and a randomized map m (similarity.ts):
 * - Spearman rank correlation of the flattened maps after the reference's `abs_grayscale_norm`
 *   (2-D maps: |m| / max|m|). Maps here are already in [0,1], and a rank correlation is invariant
 *   under any increasing transform, so that normalization cannot change the value; it is applied
 *   for fidelity (it would only matter for negative values, which the contract excludes). The
 *   reference's second, signed variant (`diverging_norm`) coincides with it on [0,1] maps and is
 *   not reported. Constant maps: 0 against a non-constant map, 1 against a constant one (scipy: NaN).
 * - SSIM (skimage gaussian_weights=True: window 11, sigma 1.5, K1 .01, K2 .03, sample covariance)
 *   of the maps after the reference's per-map min-max (`normalize_image`), which is the only
 *   normalization SSIM is sensitive to (it is not scale-invariant); `ssimNormalize: 'none'` compares
 *   the maps as given. Data range `ssimDataRange` = 1 for [0,1] maps. Reference quirk, not the
 *   default: the notebook called the old `compare_ssim` without data_range on float maps, which
 *   takes the float dtype range (-1, 1), i.e. R = 2 (set `ssimDataRange: 2` to reproduce it); it
 *   also passed multichannel=True on 2-D maps, which makes skimage treat every column as a
 *   channel (a mean of 1-D SSIMs), and the old skimage window was 13 taps (truncate 4). Those two
 *   are not reproduced: this is the 2-D SSIM of the maps. Non-finite map values count as 0.
 *
 * Rows per image (metric names):
 * - `sanity_cascading_spearman/<unit>`, `sanity_cascading_ssim/<unit>`: after randomizing the
 *   units from the top down to and including <unit> (the report curve);
 * - `sanity_cascading_spearman`, `sanity_cascading_ssim`: the last cascading step (every unit
 *   randomized: full randomization);
 * - `sanity_independent_spearman/<unit>`, `sanity_independent_ssim/<unit>`: <unit> alone;
 * - `sanity_independent_spearman`, `sanity_independent_ssim`: the mean over units.
 * Summaries: the mean of every metric (perImage for the bootstrap), plus `sanity_pass` = 1 when the
 * mean `sanity_cascading_spearman` (or, with cascading off, `sanity_independent_spearman`) is below
 * `passThreshold` (default 0.5; the paper gives no threshold, only "similarity should drop toward
 * 0") and 0 otherwise (no perImage: not a mean). Curves: similarity against the number of units
 * randomized (cascading, x = 0 is the original: 1) and against the randomized unit's depth from the
 * top (independent).
 *
 * Parameters (defaults): `modes` = ['cascading', 'independent']; `layers` = every unit; `images`
 * = 8 per batch (cost: (#cascading + #independent steps) explainer calls per batch); `target` =
 * 'randomized-prediction'; `batchSize` = 128 images per forward pass for the randomized
 * predictions; `passThreshold` = 0.5; `ssimDataRange` = 1; `ssimNormalize` = 'minmax'.
 */
import { GazeError, didYouMean, tf } from '@gaze/engine';
import type { DatasetInfo } from '@gaze/data';
import { z } from 'zod';
import { checkMapShape, registerEvaluator, type EvaluationContext, type Evaluator, type ImageScore, type MetricCurve, type MetricSummary } from '../evaluator.js';
import { randomizationUnits, randomizeUnit, restoreVariables, snapshotVariables, type RandomizationUnit } from './randomize-layers.js';
import { absGrayscaleNorm, minMax, spearman, ssim } from './similarity.js';

export const SANITY_IMAGES = 8;
export const SANITY_BATCH_SIZE = 128;
/** Our pass rule: mean cascading Spearman below this (the paper names no number). */
export const SANITY_PASS_THRESHOLD = 0.5;

export const SanityRandomizationConfig = z.strictObject({
  modes: z
    .array(z.enum(['cascading', 'independent']))
    .min(1)
    .default(['cascading', 'independent'])
    .refine((m) => new Set(m).size === m.length, { message: 'modes must not repeat' }),
  layers: z.array(z.string()).min(1).optional(),
  images: z.int().positive().default(SANITY_IMAGES),
  target: z.enum(['randomized-prediction', 'original']).default('randomized-prediction'),
  batchSize: z.int().positive().default(SANITY_BATCH_SIZE),
  passThreshold: z.number().default(SANITY_PASS_THRESHOLD),
  ssimDataRange: z.number().positive().default(1),
  ssimNormalize: z.enum(['minmax', 'none']).default('minmax'),
});
export type SanityRandomizationConfig = z.infer<typeof SanityRandomizationConfig>;

/** The map similarities one comparison gives. */
export interface MapSimilarity {
  spearman: number;
  ssim: number;
}

/** Spearman (after abs_grayscale_norm) and SSIM (after the configured normalization) of two [h,w] maps. */
export function mapSimilarity(original: ArrayLike<number>, randomized: ArrayLike<number>, h: number, w: number, config: Pick<SanityRandomizationConfig, 'ssimDataRange' | 'ssimNormalize'>): MapSimilarity {
  const o = finite(original);
  const r = finite(randomized);
  const norm = config.ssimNormalize === 'minmax' ? minMax : (v: Float64Array) => v;
  return {
    spearman: spearman(absGrayscaleNorm(o), absGrayscaleNorm(r)),
    ssim: ssim(norm(o), norm(r), h, w, { dataRange: config.ssimDataRange }),
  };
}

function finite(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values, (v) => (Number.isFinite(v) ? v : 0));
}

/** The units a config selects, top-down (deepest first). Unknown names are a GazeError. */
export function selectUnits(all: RandomizationUnit[], layers: string[] | undefined, where: string): RandomizationUnit[] {
  if (all.length === 0) throw new GazeError('the classifier has no trainable weights to randomize', { where });
  let units = all;
  if (layers) {
    const names = all.map((u) => u.name);
    for (const [i, name] of layers.entries()) {
      if (!names.includes(name)) {
        const guess = didYouMean(name, names);
        throw new GazeError(`the classifier has no layer with weights named '${name}'${guess ? ` (did you mean '${guess}'?)` : ''}`, {
          where: `${where}.layers.${i}`,
          hint: `its layers with weights are: ${names.join(', ')}`,
        });
      }
    }
    units = all.filter((u) => layers.includes(u.name));
  }
  return [...units].reverse();
}

export function createSanityRandomization(config: SanityRandomizationConfig, where = 'sanity-randomization'): Evaluator {
  return {
    type: 'sanity-randomization',
    target: 'predicted',
    async evaluate(ctx: EvaluationContext): Promise<ImageScore[]> {
      const { classifier, explainer } = ctx;
      const [total, h, w] = ctx.batch.images.shape;
      checkMapShape(ctx, where);
      const n = Math.min(config.images, total);
      const hw = h * w;
      const units = selectUnits(randomizationUnits(classifier), config.layers, where);
      const x = tf.tidy(() => ctx.batch.images.slice(0, n));
      const originalTargets = tf.tidy(() => ctx.targets.slice(0, n));
      const originalMaps = tf.tidy(() => ctx.maps.slice(0, n));
      const [original, labels] = await Promise.all([originalMaps.data() as Promise<Float32Array>, ctx.batch.labels.data() as Promise<Int32Array>]);
      originalMaps.dispose();

      // One explanation of the current (randomized) model, compared with the originals: [image] -> similarity.
      const compare = async (): Promise<MapSimilarity[]> => {
        const targets = config.target === 'original' ? originalTargets : predictions(classifier, x, config.batchSize);
        let maps: tf.Tensor3D | undefined;
        try {
          maps = await explainer.explain(x, targets);
          if (maps.rank !== 3 || maps.shape[0] !== n || maps.shape[1] !== h || maps.shape[2] !== w) {
            throw new GazeError(`explainer '${explainer.name}' returned maps of shape [${maps.shape.join(',')}] for ${n} images of ${h}x${w}`, { where });
          }
          const values = (await maps.data()) as Float32Array;
          return Array.from({ length: n }, (_, b) => mapSimilarity(original.subarray(b * hw, (b + 1) * hw), values.subarray(b * hw, (b + 1) * hw), h, w, config));
        } finally {
          maps?.dispose();
          if (targets !== originalTargets) targets.dispose();
        }
      };

      const weights = classifier.weights;
      const snapshot = snapshotVariables(weights);
      const index = new Map(weights.map((v, i) => [v, i]));
      const cascading: MapSimilarity[][] = [];
      const independent: MapSimilarity[][] = [];
      try {
        if (config.modes.includes('cascading')) {
          for (const unit of units) {
            randomizeUnit(unit, ctx.seed);
            cascading.push(await compare());
          }
          restoreVariables(weights, snapshot);
        }
        if (config.modes.includes('independent')) {
          for (const unit of units) {
            randomizeUnit(unit, ctx.seed);
            try {
              independent.push(await compare());
            } finally {
              const own = unit.variables.map((v) => {
                const i = index.get(v);
                if (i === undefined) throw new Error(`sanity-randomization: unit ${unit.name} has a variable (${v.name}) that is not among the classifier's weights`);
                return i;
              });
              restoreVariables(
                own.map((i) => weights[i]),
                own.map((i) => snapshot[i]),
              );
            }
          }
        }
      } finally {
        restoreVariables(weights, snapshot);
        tf.dispose(snapshot);
        tf.dispose([x, originalTargets]);
      }

      const rows: ImageScore[] = [];
      for (let b = 0; b < n; b++) {
        const base = { id: ctx.batch.ids[b], label: labels[b] };
        for (const [mode, steps] of [
          ['cascading', cascading],
          ['independent', independent],
        ] as const) {
          if (steps.length === 0) continue;
          steps.forEach((step, k) => {
            rows.push({ ...base, metric: `sanity_${mode}_spearman/${units[k].name}`, value: step[b].spearman });
            rows.push({ ...base, metric: `sanity_${mode}_ssim/${units[k].name}`, value: step[b].ssim });
          });
          const pick = (f: (s: MapSimilarity) => number) => (mode === 'cascading' ? f(steps[steps.length - 1][b]) : steps.reduce((s, step) => s + f(step[b]), 0) / steps.length);
          rows.push({ ...base, metric: `sanity_${mode}_spearman`, value: pick((s) => s.spearman) });
          rows.push({ ...base, metric: `sanity_${mode}_ssim`, value: pick((s) => s.ssim) });
        }
      }
      return rows;
    },
    summarize(rows: ImageScore[], _info: DatasetInfo) {
      return summarizeSanity(rows, config.passThreshold);
    },
  };
}

/** Means of every metric (in first-seen order), `sanity_pass`, and the per-unit curves. */
export function summarizeSanity(rows: ImageScore[], passThreshold = SANITY_PASS_THRESHOLD): { summaries: MetricSummary[]; curves: MetricCurve[] } {
  const byMetric = new Map<string, number[]>();
  for (const r of rows) {
    if (!byMetric.has(r.metric)) byMetric.set(r.metric, []);
    byMetric.get(r.metric)!.push(r.value);
  }
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const summaries: MetricSummary[] = [...byMetric].map(([metric, values]) => ({ metric, value: mean(values), n: values.length, perImage: values }));
  const deciding = byMetric.get('sanity_cascading_spearman') ?? byMetric.get('sanity_independent_spearman');
  if (deciding) summaries.push({ metric: 'sanity_pass', value: mean(deciding) < passThreshold ? 1 : 0, n: deciding.length });

  const curves: MetricCurve[] = [];
  for (const mode of ['cascading', 'independent'] as const) {
    for (const sim of ['spearman', 'ssim'] as const) {
      const prefix = `sanity_${mode}_${sim}/`;
      const steps = [...byMetric].filter(([metric]) => metric.startsWith(prefix)).map(([, values]) => mean(values));
      if (steps.length === 0) continue;
      const title = sim === 'spearman' ? 'Spearman rank correlation with the original map' : 'SSIM with the original map';
      curves.push(
        mode === 'cascading'
          ? { metric: `sanity_cascading_${sim}`, x: steps.map((_, k) => k).concat(steps.length), y: [1, ...steps], xTitle: 'layers randomized, top-down (cascading)', yTitle: title }
          : { metric: `sanity_independent_${sim}`, x: steps.map((_, k) => k + 1), y: steps, xTitle: 'layer randomized alone (1 = top)', yTitle: title },
      );
    }
  }
  return { summaries, curves };
}

/** The argmax class of each image under the classifier's current weights: [n] int32. */
function predictions(classifier: EvaluationContext['classifier'], x: tf.Tensor4D, batchSize: number): tf.Tensor1D {
  return tf.tidy(() => {
    const parts: tf.Tensor1D[] = [];
    for (let start = 0; start < x.shape[0]; start += batchSize) {
      const size = Math.min(batchSize, x.shape[0] - start);
      parts.push(tf.tidy(() => tf.argMax(classifier.logits(x.slice(start, size)), 1) as tf.Tensor1D));
    }
    return (parts.length === 1 ? parts[0] : tf.concat(parts)).toInt() as tf.Tensor1D;
  });
}

registerEvaluator({
  type: 'sanity-randomization',
  describe: 'Model parameter randomization test (Adebayo et al. 2018): Spearman / SSIM between original maps and maps after cascading and independent layer re-initialization',
  configSchema: SanityRandomizationConfig,
  create: (config, { where }) => createSanityRandomization(config, where),
});
