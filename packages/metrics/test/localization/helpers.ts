import { tf } from '@gaze/engine';
import type { Batch, Box, DatasetInfo } from '@gaze/data';
import type { Explainer } from '@gaze/explainers';
import type { Classifier } from '@gaze/models';
import type { EvaluationContext } from '../../src/index.js';

export function info(numClasses: number, size: [number, number], has: Partial<DatasetInfo['has']> = {}): DatasetInfo {
  return {
    type: 'test',
    classNames: Array.from({ length: numClasses }, (_, k) => String.fromCharCode(97 + k)),
    numClasses,
    imageShape: [size[0], size[1], 1],
    has: { masks: false, boxes: true, attributes: false, multiLabel: false, ...has },
    sizes: { train: 0, val: 0, test: 0 },
    source: 'procedural',
  };
}

/** A map [H,W] that is 0 everywhere but 1 at (col u, row v). */
export function peak(h: number, w: number, u: number, v: number): number[] {
  const m = new Array<number>(h * w).fill(0);
  m[v * w + u] = 1;
  return m;
}

/** An explainer that is never called by the localization evaluators. */
export const unusedExplainer: Explainer = {
  name: 'unused',
  explain: async () => {
    throw new Error('not called');
  },
};

/**
 * A context over B black images of size [H,W,1], labels, per-image maps (flat H*W each), boxes and
 * optional masks (flat H*W each). The caller disposes it with `disposeContext`.
 */
export function context(args: {
  size: [number, number];
  labels: number[];
  maps: number[][];
  boxes?: Box[][];
  masks?: number[][];
  numClasses?: number;
  targets?: number[];
}): EvaluationContext {
  const [h, w] = args.size;
  const n = args.labels.length;
  const batch: Batch = {
    images: tf.zeros([n, h, w, 1]) as tf.Tensor4D,
    labels: tf.tensor1d(args.labels, 'int32'),
    masks: args.masks ? tf.tensor3d(args.masks.flat(), [n, h, w]) : undefined,
    boxes: args.boxes,
    ids: args.labels.map((_, i) => `img${i}`),
  };
  return {
    classifier: undefined as unknown as Classifier,
    explainer: unusedExplainer,
    batch,
    maps: tf.tensor3d(args.maps.flat(), [n, h, w]),
    targets: tf.tensor1d(args.targets ?? args.labels, 'int32'),
    info: info(args.numClasses ?? 3, args.size, { masks: !!args.masks, boxes: !!args.boxes }),
    seed: 0,
  };
}

export function disposeContext(ctx: EvaluationContext): void {
  tf.dispose([ctx.batch.images, ctx.batch.labels, ctx.maps, ctx.targets]);
  ctx.batch.masks?.dispose();
}
