import { GazeError, tf } from '@gaze/engine';
import { z } from 'zod';
import type { Classifier } from '../classifier.js';
import { checkPreprocess, meanStdKeys } from './preprocess.js';
import { registerBackbone, type BackboneContext, type BackboneFactory } from './registry.js';
import { BATCH_NORM, apply, gapDenseClassifier, seededInit } from './seeded-init.js';

export const VggSmallConfig = z.strictObject({
  /** Output channels of each block; one block (and one tap) per entry. */
  channels: z.array(z.int().positive()).min(1).default([32, 64, 128]),
  /** 3x3 convs in each block before its 2x2 max pool. */
  convsPerBlock: z.int().positive().default(1),
  /** Batch norm after every conv (the conv then has no bias). */
  batchNorm: z.boolean().default(false),
  /** Dropout rate before the dense head (0: none). */
  dropout: z.number().min(0).max(0.95).default(0),
  ...meanStdKeys,
});
export type VggSmallConfig = z.infer<typeof VggSmallConfig>;

/**
 * VGG-style: blocks of [3x3 conv (+ BN) + ReLU] x convsPerBlock, then a 2x2 max pool. Each block
 * has two taps: `blockN.conv`, its last conv's rectified output (before the pool), and `blockN`,
 * the pooled output. The head is global average pooling + (dropout) + one dense layer, so the last
 * tap's channels are exactly what CAM weights. CAM-style explainers default to the last block's
 * `.conv` tap: the layer the Grad-CAM paper and the TAME/L-CAM baselines use on VGG-16 (conv5_3
 * + ReLU, before pool5).
 */
export async function vggSmall(config: VggSmallConfig, ctx: BackboneContext): Promise<Classifier> {
  const [h, w, c] = ctx.inputShape;
  checkPreprocess({ scale: 1, channelOrder: 'rgb', ...config }, c, ctx.where);
  const blocks = config.channels.length;
  if (Math.min(h, w) < 2 ** blocks) {
    throw new GazeError(`${blocks} blocks halve ${h}x${w} images below 1 pixel`, {
      where: `${ctx.where}.channels`,
      hint: `use at most ${Math.floor(Math.log2(Math.min(h, w)))} blocks at this size, or resize the images in the dataset config`,
    });
  }
  const init = seededInit(ctx.seed, 'vgg-small');
  const input = tf.input({ shape: [h, w, c], name: 'image' });
  let x = input;
  const taps: { name: string; layer: string }[] = [];
  config.channels.forEach((filters, b) => {
    const block = `block${b + 1}`;
    for (let i = 1; i <= config.convsPerBlock; i++) {
      x = apply(
        tf.layers.conv2d({
          name: `${block}_conv${i}`,
          filters,
          kernelSize: 3,
          padding: 'same',
          useBias: !config.batchNorm,
          activation: config.batchNorm ? 'linear' : 'relu',
          kernelInitializer: init.conv(),
        }),
        x,
      );
      if (config.batchNorm) {
        x = apply(tf.layers.batchNormalization({ name: `${block}_bn${i}`, ...BATCH_NORM }), x);
        x = apply(tf.layers.activation({ name: `${block}_relu${i}`, activation: 'relu' }), x);
      }
    }
    taps.push({ name: `${block}.conv`, layer: config.batchNorm ? `${block}_relu${config.convsPerBlock}` : `${block}_conv${config.convsPerBlock}` });
    x = apply(tf.layers.maxPooling2d({ name: `${block}_pool`, poolSize: 2, strides: 2 }), x);
    taps.push({ name: block, layer: `${block}_pool` });
  });
  const camTap = `block${blocks}.conv`;
  return gapDenseClassifier({ type: 'vgg-small', modelName: 'vgg_small', input, features: x, taps, camTap, numClasses: ctx.numClasses, init, dropout: config.dropout, config });
}

export const vggSmallBackbone: BackboneFactory<VggSmallConfig> = {
  type: 'vgg-small',
  describe: 'VGG-style conv blocks with max pooling, taps blockN.conv (before the pool) and blockN (after), global-average-pool + dense head',
  configSchema: VggSmallConfig,
  create: vggSmall,
};

registerBackbone(vggSmallBackbone);
