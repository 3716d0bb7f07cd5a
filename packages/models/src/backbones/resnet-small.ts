import { tf } from '@gaze/engine';
import { z } from 'zod';
import type { Classifier } from '../classifier.js';
import { checkPreprocess, meanStdKeys } from './preprocess.js';
import { registerBackbone, type BackboneContext, type BackboneFactory } from './registry.js';
import { BATCH_NORM, apply, gapDenseClassifier, seededInit } from './seeded-init.js';

export const ResnetSmallConfig = z.strictObject({
  /** Output channels of each stage; the stem has the first stage's. One tap per stage. */
  channels: z.array(z.int().positive()).min(1).default([16, 32, 64]),
  /** Basic blocks per stage. */
  blocksPerStage: z.int().positive().default(1),
  ...meanStdKeys,
});
export type ResnetSmallConfig = z.infer<typeof ResnetSmallConfig>;

/**
 * ResNet-style (He et al. 2016, the CIFAR variant): a 3x3 conv-BN-ReLU stem, then stages of basic
 * blocks `relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))`. The first block of stage 2 and later
 * halves the resolution with a stride-2 conv; its shortcut is then a 1x1 stride-2 conv + BN (also
 * used whenever the channel count changes), else the identity. Taps: `stem`, `stage1..stageN`
 * (each stage's last block output). Head: global average pooling + dense.
 */
export async function resnetSmall(config: ResnetSmallConfig, ctx: BackboneContext): Promise<Classifier> {
  const [h, w, c] = ctx.inputShape;
  checkPreprocess({ scale: 1, channelOrder: 'rgb', ...config }, c, ctx.where);
  const init = seededInit(ctx.seed, 'resnet-small');
  const conv = (name: string, filters: number, kernelSize: number, strides: number) =>
    tf.layers.conv2d({ name, filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: init.conv() });
  const bn = (name: string) => tf.layers.batchNormalization({ name, ...BATCH_NORM });
  const relu = (name: string) => tf.layers.activation({ name, activation: 'relu' });

  const input = tf.input({ shape: [h, w, c], name: 'image' });
  let x = apply(relu('stem_relu'), apply(bn('stem_bn'), apply(conv('stem_conv', config.channels[0], 3, 1), input)));
  const taps = [{ name: 'stem', layer: 'stem_relu' }];
  let inChannels = config.channels[0];
  config.channels.forEach((filters, s) => {
    for (let b = 1; b <= config.blocksPerStage; b++) {
      const name = `stage${s + 1}_block${b}`;
      const strides = s > 0 && b === 1 ? 2 : 1;
      let r = apply(relu(`${name}_relu1`), apply(bn(`${name}_bn1`), apply(conv(`${name}_conv1`, filters, 3, strides), x)));
      r = apply(bn(`${name}_bn2`), apply(conv(`${name}_conv2`, filters, 3, 1), r));
      const shortcut =
        strides !== 1 || inChannels !== filters ? apply(bn(`${name}_proj_bn`), apply(conv(`${name}_proj_conv`, filters, 1, strides), x)) : x;
      x = apply(relu(`${name}_out`), apply(tf.layers.add({ name: `${name}_add` }), [r, shortcut]));
      inChannels = filters;
    }
    taps.push({ name: `stage${s + 1}`, layer: `stage${s + 1}_block${config.blocksPerStage}_out` });
  });
  return gapDenseClassifier({ type: 'resnet-small', modelName: 'resnet_small', input, features: x, taps, numClasses: ctx.numClasses, init, config });
}

export const resnetSmallBackbone: BackboneFactory<ResnetSmallConfig> = {
  type: 'resnet-small',
  describe: 'ResNet-style basic-block stages with batch norm, taps stem and stage1..N, global-average-pool + dense head',
  configSchema: ResnetSmallConfig,
  create: resnetSmall,
};

registerBackbone(resnetSmallBackbone);
