import { tf } from '@gaze/engine';
import type { LinearMap, Part } from './rules.js';

/**
 * The steps the LRP engine runs (engine.ts), whatever they were built from: a tfjs layers model
 * (layers-graph.ts) or an ONNX graph (onnx-graph.ts).
 */

export type StepId = number | string;

export type StepKind = 'weighted' | 'affine' | 'identity' | 'reshape' | 'crop' | 'maxpool' | 'avgpool' | 'gap' | 'add' | 'concat';

/** A per-channel affine map y = x * scale + shift (inference-time batch norm). */
export interface Affine {
  scale: tf.Tensor1D;
  shift: tf.Tensor1D;
}

export interface LrpStep {
  /** The layer or node name, for messages. */
  name: string;
  /** The layer class or op type (Conv2D, Dense, Conv, Gemm, ...). */
  op: string;
  kind: StepKind;
  inputs: StepId[];
  output: StepId;
  /** The step's output from its inputs (inference). */
  forward(inputs: tf.Tensor[]): tf.Tensor;
  /** weighted: its linear map, with a following batch norm folded in when given. avgpool/gap/add: their positive map. */
  linear?(fold?: Affine): LinearMap;
  /** affine: its scale and shift. */
  affine?(): Affine;
  /** identity/reshape/crop/maxpool/concat: each input's relevance from the output's. */
  pass?(relevance: tf.Tensor, inputs: tf.Tensor[], output: tf.Tensor): tf.Tensor[];
  /** Its output is relu'd (a fused relu activation or a Relu op), so >= 0. */
  relu?: boolean;
  /** affine: the weighted step it folds into (set by buildLrpGraph). */
  foldedInto?: LrpStep;
}

/** What a builder hands the engine: the steps in forward order. */
export interface LrpSteps {
  /** Frees what the builder keeps on the device (weights moved there, what is derived from them). */
  dispose(): void;
  inputId: StepId;
  logitsId: StepId;
  steps: LrpStep[];
}

/** Steps whose map keeps the box l <= x <= h as f(l) <= f(x) <= f(h) (monotone, single input). */
export const MONOTONE = new Set<StepKind>(['identity', 'reshape', 'crop', 'maxpool', 'avgpool', 'gap']);
/** Parameter-free linear steps: alpha-beta is taken as z+ there. */
export const PARAMETER_FREE = new Set<StepKind>(['avgpool', 'gap', 'add']);

/**
 * The nodes `from` depends on, walked back through `producer` (undefined for a graph input or a
 * constant) and each node's `inputs`.
 */
export function upstreamOf<N>(from: StepId, producer: (id: StepId) => N | undefined, inputs: (node: N) => StepId[]): Set<N> {
  const needed = new Set<N>();
  const stack = [from];
  while (stack.length > 0) {
    const node = producer(stack.pop()!);
    if (node === undefined || needed.has(node)) continue;
    needed.add(node);
    stack.push(...inputs(node));
  }
  return needed;
}

function tensorsIn(value: unknown): tf.Tensor[] {
  if (value instanceof tf.Tensor) return [value];
  if (value instanceof Map) return [...value.values()].flatMap(tensorsIn);
  if (Array.isArray(value)) return value.flatMap(tensorsIn);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(tensorsIn);
  return [];
}

/**
 * Tensors a graph keeps on the device between calls (weights moved there, what is derived from
 * them), freed together by dispose(); a later use builds them again. Builds make new tensors
 * (never return a source), since they are disposed.
 */
export class KeptTensors {
  private readonly resets: (() => void)[] = [];

  /** `build()`, made on first use and kept. */
  once<T>(build: () => T): () => T {
    const get = this.derived(build);
    return () => get();
  }

  /**
   * `build(...sources)`, kept until a source holds other data: a tf.Variable's assign gives it a
   * new dataId, and the sanity check re-initializes a model's weights in place under one explainer.
   */
  derived<A extends (tf.Tensor | null)[], T>(build: (...sources: A) => T): (...sources: A) => T {
    let key: (object | null)[] | undefined;
    let value: T | undefined;
    const reset = () => {
      if (key) tf.dispose(tensorsIn(value));
      key = value = undefined;
    };
    this.resets.push(reset);
    return (...sources) => {
      const ids = sources.map((t) => t?.dataId ?? null);
      if (!key || ids.some((id, i) => id !== key![i])) {
        reset();
        // tf.keep: the caller's tidy must not free them.
        tf.tidy(() => {
          value = build(...sources);
          for (const t of tensorsIn(value)) tf.keep(t);
        });
        key = ids;
      }
      return value!;
    };
  }

  dispose(): void {
    for (const reset of this.resets) reset();
  }
}

/** Kernel parts by sign, made once per map. */
export function signedParts<T extends tf.Tensor>(kernel: T): (part: Part) => T {
  const kernels: Partial<Record<Part, T>> = {};
  return (part) => (kernels[part] ??= part === 'all' ? kernel : part === 'pos' ? (tf.relu(kernel) as T) : (tf.minimum(kernel, 0) as T));
}

/** A bias through a following affine map: b * scale + shift (no bias: the shift). */
export function foldBias(bias: tf.Tensor | null, fold: Affine): tf.Tensor {
  return tf.add(bias ? tf.mul(bias, fold.scale) : tf.zerosLike(fold.shift), fold.shift);
}

/** A kernel and bias with a following affine map folded into the kernel's output axis (`outputAxis`, the last by default). */
export function foldAffine<T extends tf.Tensor>(kernel: T, bias: tf.Tensor | null, fold: Affine, outputAxis = kernel.rank - 1): { kernel: T; bias: tf.Tensor } {
  const scale = outputAxis === kernel.rank - 1 ? fold.scale : tf.reshape(fold.scale, [-1, ...new Array<number>(kernel.rank - 1 - outputAxis).fill(1)]);
  return { kernel: tf.mul(kernel, scale) as T, bias: foldBias(bias, fold) };
}

/** A matmul's map, weight [K, N] (a Dense kernel) or [N, K] with transB (as torch writes a Linear). */
export function matMulMap(kernel: tf.Tensor2D, bias: tf.Tensor | null, transB = false): LinearMap {
  const k = signedParts(kernel);
  return {
    apply: ([a], part) => tf.matMul(a as tf.Tensor2D, k(part), false, transB),
    transpose: (s, part) => [tf.matMul(s as tf.Tensor2D, k(part), false, !transB)],
    bias,
  };
}

/** Inference-time batch norm as y = x * scale + shift, per channel (no gamma: 1, no beta: 0). */
export function batchNormAffine(gamma: tf.Tensor | null, beta: tf.Tensor | null, mean: tf.Tensor, variance: tf.Tensor, epsilon: number): Affine {
  const inv = tf.rsqrt(tf.add(variance, epsilon));
  const scale = (gamma ? tf.mul(inv, gamma) : inv) as tf.Tensor1D;
  const shift = tf.sub(beta ?? tf.zerosLike(mean), tf.mul(mean, scale)) as tf.Tensor1D;
  return { scale, shift };
}

/** A map with positive weights only (pooling, Add): its `neg` part is identically 0. */
export function positiveMap(apply: (inputs: tf.Tensor[]) => tf.Tensor): LinearMap {
  return { apply: (inputs, part) => (part === 'neg' ? null : apply(inputs)), bias: null };
}

/** Scatters t [B,Ho,Wo,C] to rows oy + sy*i and columns ox + sx*j of a [B,H,W,C] grid (zeros elsewhere). */
function scatterStrided(t: tf.Tensor4D, oy: number, ox: number, sy: number, sx: number, H: number, W: number): tf.Tensor4D {
  const [b, ho, wo, c] = t.shape;
  let g: tf.Tensor4D = t;
  if (sy > 1) g = tf.pad(g.reshape([b, ho, 1, wo * c]), [[0, 0], [0, 0], [0, sy - 1], [0, 0]]).reshape([b, ho * sy, wo, c]);
  if (sx > 1) g = tf.pad(g.reshape([b * ho * sy, wo, 1, c]), [[0, 0], [0, 0], [0, sx - 1], [0, 0]]).reshape([b, ho * sy, wo * sx, c]);
  const rows = Math.min(g.shape[1], H - oy);
  const cols = Math.min(g.shape[2], W - ox);
  g = tf.slice(g, [0, 0, 0, 0], [b, rows, cols, c]);
  return tf.pad(g, [[0, 0], [oy, H - oy - rows], [ox, W - ox - cols], [0, 0]]);
}

/**
 * Max-pool relevance: each output's relevance goes to the input position(s) holding the window's
 * maximum, split equally over ties (`clrp_lib.py maxPool_relprop`). Works for overlapping windows
 * and padding ('same', or explicit [top, left, bottom, right]; padded cells are -inf and never win).
 */
// a: [B,H,W,C] pool input, y: [B,Ho,Wo,C] its output, r: [B,Ho,Wo,C] -> [B,H,W,C]
export function maxPoolRelevance(
  a: tf.Tensor4D,
  y: tf.Tensor4D,
  r: tf.Tensor4D,
  poolSize: [number, number],
  strides: [number, number],
  padding: 'same' | 'valid' | readonly [number, number, number, number],
): tf.Tensor4D {
  const [, H, W] = a.shape;
  const [, ho, wo] = y.shape;
  const [kh, kw] = poolSize;
  const [sh, sw] = strides;
  let [top, left, bottom, right] = [0, 0, 0, 0];
  if (padding === 'same') {
    const ph = Math.max((ho - 1) * sh + kh - H, 0);
    const pw = Math.max((wo - 1) * sw + kw - W, 0);
    [top, left] = [Math.floor(ph / 2), Math.floor(pw / 2)];
    [bottom, right] = [ph - top, pw - left];
  } else if (padding !== 'valid') {
    [top, left, bottom, right] = padding;
  }
  const padded = top + left + bottom + right > 0 ? tf.pad(a, [[0, 0], [top, bottom], [left, right], [0, 0]], -Infinity) : a;
  const [b, hp, wp, c] = padded.shape;
  const hits: tf.Tensor4D[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const window = tf.stridedSlice(padded, [0, i, j, 0], [b, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, c], [1, sh, sw, 1]) as tf.Tensor4D;
      hits.push(tf.cast(tf.equal(window, y), 'float32') as tf.Tensor4D);
    }
  }
  const share = tf.div(r, tf.maximum(tf.addN(hits), 1)) as tf.Tensor4D;
  const parts: tf.Tensor4D[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) parts.push(scatterStrided(tf.mul(hits[i * kw + j], share) as tf.Tensor4D, i, j, sh, sw, hp, wp));
  }
  const sum = parts.length === 1 ? parts[0] : tf.addN(parts);
  return tf.slice(sum, [0, top, left, 0], [b, H, W, c]);
}

/** Which steps' outputs are >= 0, in order: relu'd outputs, and what monotone or adding steps keep of non-negative inputs. */
export function nonNegativeOutput(kind: StepKind, inputsNonNegative: boolean, relu: boolean): boolean {
  if (relu) return true;
  return (MONOTONE.has(kind) || kind === 'add' || kind === 'concat') && inputsNonNegative;
}
