/**
 * The map similarities of the sanity checks (Adebayo et al., NeurIPS 2018; reference notebook
 * adebayoj/sanity_checks_saliency `inceptionv3_cascading_randomization.ipynb`, metrics.md section 5),
 * on flat row-major [H*W] maps, in float64 on the CPU (the maps are downloaded anyway for the ranks).
 *
 * - `spearman`: scipy.stats.spearmanr of two flattened maps: Pearson correlation of the average
 *   ranks (ties share the mean of their ranks, scipy's `rankdata(method='average')`). scipy gives
 *   NaN when a map is constant; here a constant map against a non-constant one gives 0 (no shared
 *   ordering) and two constant maps give 1 (neither orders anything; nothing changed).
 * - `ssim`: skimage `structural_similarity(a, b, gaussian_weights=True, data_range=R)` with its
 *   defaults: Gaussian window sigma 1.5 truncated at 3.5 sigma (11 taps, normalized to sum 1),
 *   K1 = 0.01, K2 = 0.03, sample covariance (variances and covariance times NP/(NP-1), NP = 11^2),
 *   and the mean of the SSIM image over the pixels whose whole window lies inside the map (skimage
 *   filters with mode 'reflect' and then crops the (11-1)/2 = 5 px border, so the padding never
 *   reaches the mean). Maps must be at least 11x11.
 */
import { GazeError } from '@gaze/engine';

/** skimage structural_similarity with gaussian_weights=True (K1, K2 from Wang et al. 2004). */
export const SSIM_SIGMA = 1.5;
export const SSIM_TRUNCATE = 3.5;
export const SSIM_K1 = 0.01;
export const SSIM_K2 = 0.03;

export interface SsimOptions {
  /** R in C1 = (K1 R)^2, C2 = (K2 R)^2: 1 for maps in [0,1]. */
  dataRange?: number;
  sigma?: number;
  /** Window radius = floor(truncate * sigma + 0.5) (scipy's gaussian_filter). */
  truncate?: number;
  k1?: number;
  k2?: number;
  /** Scale (co)variances by NP/(NP-1), NP = window size^2 (skimage's default use_sample_covariance=True). */
  sampleCovariance?: boolean;
}

/** The 1-D Gaussian weights exp(-i^2 / (2 sigma^2)), i = -r..r, r = floor(truncate*sigma + 0.5), summing to 1. */
export function gaussianWindow(sigma = SSIM_SIGMA, truncate = SSIM_TRUNCATE): Float64Array {
  const r = Math.floor(truncate * sigma + 0.5);
  const g = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += g[i + r] = Math.exp((-0.5 * i * i) / (sigma * sigma));
  for (let i = 0; i < g.length; i++) g[i] /= sum;
  return g;
}

/** Average ranks (1-based) of values; ties get the mean of the ranks they span (scipy rankdata 'average'). */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => values[i] - values[j]);
  const ranks = new Float64Array(n);
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && values[order[end]] === values[order[start]]) end++;
    const rank = (start + 1 + end) / 2; // mean of ranks start+1 .. end
    for (let k = start; k < end; k++) ranks[order[k]] = rank;
    start = end;
  }
  return ranks;
}

/** Pearson correlation; NaN when either input has zero variance. */
function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? Math.max(-1, Math.min(1, sab / Math.sqrt(saa * sbb))) : NaN;
}

/** Spearman rank correlation of two equally long vectors (see the file comment for constant inputs). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`spearman: lengths differ (${a.length} vs ${b.length})`);
  const constA = isConstant(a);
  const constB = isConstant(b);
  if (constA || constB) return constA && constB ? 1 : 0;
  return pearson(averageRanks(a), averageRanks(b));
}

function isConstant(v: ArrayLike<number>): boolean {
  for (let i = 1; i < v.length; i++) if (v[i] !== v[0]) return false;
  return true;
}

/** Mean SSIM of two [h,w] row-major maps (skimage gaussian_weights=True; see the file comment). */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, h: number, w: number, options: SsimOptions = {}): number {
  const { dataRange = 1, sigma = SSIM_SIGMA, truncate = SSIM_TRUNCATE, k1 = SSIM_K1, k2 = SSIM_K2, sampleCovariance = true } = options;
  if (a.length !== h * w || b.length !== h * w) throw new Error(`ssim: maps must have ${h}x${w} values, got ${a.length} and ${b.length}`);
  const g = gaussianWindow(sigma, truncate);
  const win = g.length;
  const oh = h - win + 1;
  const ow = w - win + 1;
  if (oh < 1 || ow < 1) {
    throw new GazeError(`SSIM needs maps of at least ${win}x${win} pixels (its Gaussian window), got ${h}x${w}`, { hint: 'use larger images, or drop SSIM for this dataset' });
  }
  // Five filtered fields over the valid window centres: E[a], E[b], E[a^2], E[b^2], E[ab].
  const fields = [0, 1, 2, 3, 4].map(() => new Float64Array(oh * ow));
  const rows = [0, 1, 2, 3, 4].map(() => new Float64Array(h * ow)); // horizontal pass
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < ow; c++) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let s4 = 0;
      for (let k = 0; k < win; k++) {
        const x = a[r * w + c + k];
        const y = b[r * w + c + k];
        const gk = g[k];
        s0 += gk * x;
        s1 += gk * y;
        s2 += gk * x * x;
        s3 += gk * y * y;
        s4 += gk * x * y;
      }
      const o = r * ow + c;
      rows[0][o] = s0;
      rows[1][o] = s1;
      rows[2][o] = s2;
      rows[3][o] = s3;
      rows[4][o] = s4;
    }
  }
  for (let f = 0; f < 5; f++) {
    const src = rows[f];
    const dst = fields[f];
    for (let r = 0; r < oh; r++) {
      for (let c = 0; c < ow; c++) {
        let s = 0;
        for (let k = 0; k < win; k++) s += g[k] * src[(r + k) * ow + c];
        dst[r * ow + c] = s;
      }
    }
  }
  const np = win * win;
  const covNorm = sampleCovariance ? np / (np - 1) : 1;
  const c1 = (k1 * dataRange) ** 2;
  const c2 = (k2 * dataRange) ** 2;
  const [ux, uy, uxx, uyy, uxy] = fields;
  let total = 0;
  for (let i = 0; i < oh * ow; i++) {
    const vx = covNorm * (uxx[i] - ux[i] * ux[i]);
    const vy = covNorm * (uyy[i] - uy[i] * uy[i]);
    const vxy = covNorm * (uxy[i] - ux[i] * uy[i]);
    total += ((2 * ux[i] * uy[i] + c1) * (2 * vxy + c2)) / ((ux[i] * ux[i] + uy[i] * uy[i] + c1) * (vx + vy + c2));
  }
  return total / (oh * ow);
}

/** Per-map min-max to [0,1] (the reference notebook's `normalize_image`); a constant map becomes zeros (the reference divides 0 by 0). */
export function minMax(values: ArrayLike<number>): Float64Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    lo = Math.min(lo, values[i]);
    hi = Math.max(hi, values[i]);
  }
  const out = new Float64Array(values.length);
  if (hi > lo) for (let i = 0; i < values.length; i++) out[i] = (values[i] - lo) / (hi - lo);
  return out;
}

/** The reference's `abs_grayscale_norm` for a 2-D map: |m| / max|m| (an all-zero map stays zero). */
export function absGrayscaleNorm(values: ArrayLike<number>): Float64Array {
  let hi = 0;
  for (let i = 0; i < values.length; i++) hi = Math.max(hi, Math.abs(values[i]));
  const out = new Float64Array(values.length);
  if (hi > 0) for (let i = 0; i < values.length; i++) out[i] = Math.abs(values[i]) / hi;
  return out;
}
