import { GazeError, tf } from '@gaze/engine';
import { LayersClassifier, type Classifier } from '@gaze/models';
import { ATTENTION_TAP, type AttentionResnetSpec } from './attention-resnet.js';

/** Stage widths, depth and normalization of the network to build: the config's, else the run's resnet-small's. */
export function networkShape(
  classifier: Classifier,
  options: { channels?: number[]; blocksPerStage?: number },
  where: string,
): Pick<AttentionResnetSpec, 'channels' | 'blocksPerStage' | 'mean' | 'std'> {
  const spec = classifier instanceof LayersClassifier ? classifier.spec : undefined;
  const backbone = (spec?.type === 'resnet-small' ? spec.config : undefined) as { channels?: number[]; blocksPerStage?: number } | undefined;
  const channels = options.channels ?? backbone?.channels;
  const blocksPerStage = options.blocksPerStage ?? backbone?.blocksPerStage;
  if (!channels || !blocksPerStage) {
    throw new GazeError(`the attention network copies a resnet-small backbone's shape, but the run's backbone is ${classifier.type}`, {
      where,
      hint: 'use backbone: { type: resnet-small } or give the head channels: [16, 32, 64] and blocksPerStage: 3',
    });
  }
  const preprocess = spec?.preprocess;
  const c = classifier.inputShape[2];
  return { channels, blocksPerStage, mean: preprocess?.mean ?? Array(c).fill(0), std: preprocess?.std ?? Array(c).fill(1) };
}

/** Names of the attention module's trainable variables (every layer of a shared module has `attention` in its name). */
export function attentionParameterCount(model: Classifier): number {
  return model.trainableWeights.filter((v) => /attention/.test(v.name)).reduce((n, v) => n + v.size, 0);
}

/**
 * Rectified maps [B,h,w] of an attention ResNet's last stage A: `attention` weighs its channels by
 * the attention its last block applied, sum_k a_k A_k (class-agnostic); `cam` by the target class's
 * dense weights, sum_k w_ck A_k (class activation mapping, Zhou et al. 2016).
 */
export function lastStageMaps(model: LayersClassifier, x: tf.Tensor4D, target: tf.Tensor1D, map: 'attention' | 'cam'): tf.Tensor3D {
  const last = model.camTap!;
  return tf.tidy(() => {
    if (map === 'attention') {
      const f = model.features(x, [last, ATTENTION_TAP]);
      return tf.relu(tf.sum(tf.mul(f[last], f[ATTENTION_TAP]), 3)) as tf.Tensor3D;
    }
    const a = model.features(x, [last])[last];
    const kernel = model.model.getLayer('logits').getWeights()[0] as tf.Tensor2D; // [C, classes]
    const weights = tf.gather(tf.transpose(kernel), tf.cast(target, 'int32')); // [B, C]
    return tf.relu(tf.sum(tf.mul(a, tf.reshape(weights, [weights.shape[0], 1, 1, -1])), 3)) as tf.Tensor3D;
  });
}
