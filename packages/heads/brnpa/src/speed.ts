import { Rng, tf } from '@gaze/engine';
import { representativeAttention } from './representatives.js';

export interface StepCost {
  /** Median time of one inference pass over the batch, per image. */
  msPerImage: number;
  /** The most tensor memory held at once during one pass (tfjs's engine count), KiB. */
  peakKiB: number;
  parameters: number;
}

/**
 * A parametric attention module at the same resolution, the one BR-NPA's paper compares with
 * (the B-CNN baseline of the reference code): a basic residual block C -> C, a 1x1 conv to K+1
 * maps with a ReLU, and each of the first K maps pooling the features. Random weights: only its
 * cost is measured. Batch norm is in inference form (a per-channel scale and shift).
 */
export function parametricAttention(channels: number, parts: number, seed = 0): { apply: (f: tf.Tensor4D) => tf.Tensor2D; parameters: number; dispose: () => void } {
  const rng = new Rng(seed, 'parametric-attention');
  const tensor = (shape: number[], scale: number) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale), shape);
  const he = Math.sqrt(2 / (9 * channels));
  const w1 = tensor([3, 3, channels, channels], he);
  const w2 = tensor([3, 3, channels, channels], he);
  const scales = [tensor([channels], 0.1), tensor([channels], 0.1)].map((t) => tf.add(t, 1));
  const shifts = [tensor([channels], 0.1), tensor([channels], 0.1)];
  const wMaps = tensor([1, 1, channels, parts + 1], Math.sqrt(2 / channels));
  const bMaps = tensor([parts + 1], 0.1);
  const owned = [w1, w2, ...scales, ...shifts, wMaps, bMaps];
  const parameters = 2 * 9 * channels * channels + 4 * channels + channels * (parts + 1) + (parts + 1);
  return {
    parameters,
    apply: (f) =>
      tf.tidy(() => {
        let r = tf.relu(tf.add(tf.mul(tf.conv2d(f, w1 as tf.Tensor4D, 1, 'same'), scales[0]), shifts[0])) as tf.Tensor4D;
        r = tf.relu(tf.add(tf.add(tf.mul(tf.conv2d(r, w2 as tf.Tensor4D, 1, 'same'), scales[1]), shifts[1]), f)) as tf.Tensor4D;
        const maps = tf.relu(tf.add(tf.conv2d(r, wMaps as tf.Tensor4D, 1, 'valid'), bMaps)) as tf.Tensor4D; // [B,h,w,K+1]
        const pooled = Array.from({ length: parts }, (_, k) => tf.mean(tf.mul(f, tf.slice(maps, [0, 0, 0, k], [-1, -1, -1, 1])), [1, 2]));
        return tf.concat(pooled, 1) as tf.Tensor2D;
      }),
    dispose: () => tf.dispose(owned),
  };
}

async function measure(step: () => tf.Tensor, images: number, repeats = 5): Promise<Omit<StepCost, 'parameters'>> {
  step().dispose(); // warm-up: kernel set-up and caches
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    const out = step();
    await out.data();
    times.push(performance.now() - started);
    out.dispose();
  }
  const profile = await tf.profile(() => step());
  (profile.result as tf.Tensor).dispose();
  times.sort((a, b) => a - b);
  return { msPerImage: times[Math.floor(repeats / 2)] / images, peakKiB: profile.peakBytes / 1024 };
}

/**
 * BR-NPA's attention step (representatives, maps and part vectors) against the parametric module
 * on the same features [B,h,w,C]: the paper's "faster and smaller" claim, measured.
 */
export async function attentionCost(features: tf.Tensor4D, options: { parts: number; refine: boolean }): Promise<{ nonParametric: StepCost; parametric: StepCost }> {
  const images = features.shape[0];
  const nonParametric = await measure(() => {
    const part = representativeAttention(features, options);
    const out = tf.reshape(part.vectors, [images, -1]);
    tf.dispose([part.attention, part.vectors, part.norms, part.picked]);
    return out;
  }, images);
  const module = parametricAttention(features.shape[3], options.parts);
  try {
    const parametric = await measure(() => module.apply(features), images);
    return { nonParametric: { ...nonParametric, parameters: 0 }, parametric: { ...parametric, parameters: module.parameters } };
  } finally {
    module.dispose();
  }
}
