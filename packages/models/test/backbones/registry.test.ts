import { initBackend, tf } from '@gaze/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { backboneTypes, createClassifier, parseBackboneConfig } from '../../src/index.js';
import { context, gazeError } from './helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('backbone registry', () => {
  it('registers the four backbones on import', () => {
    expect(backboneTypes()).toEqual(['checkpoint', 'layers-model', 'resnet-small', 'vgg-small']);
  });

  it('fills in the documented defaults', () => {
    expect(parseBackboneConfig({ type: 'vgg-small' }).config).toEqual({ channels: [32, 64, 128], convsPerBlock: 1, batchNorm: false, dropout: 0, mean: [0.5], std: [0.5] });
    expect(parseBackboneConfig({ type: 'resnet-small' }).config).toEqual({ channels: [16, 32, 64], blocksPerStage: 1, mean: [0.5], std: [0.5] });
    expect(parseBackboneConfig({ type: 'layers-model', path: 'm' }, 'model').config).toEqual({
      path: 'm',
      preprocess: { scale: 1, mean: [0], std: [1], channelOrder: 'rgb' },
    });
  });

  it('names the key path and suggests a fix for config errors', async () => {
    let e = await gazeError(() => parseBackboneConfig({ type: 'vgg-smal' }, 'config.yaml:3:3 backbone'));
    expect(e.where).toBe('config.yaml:3:3 backbone.type');
    expect(e.message).toBe("unknown backbone type 'vgg-smal' (did you mean 'vgg-small'?)");
    expect(e.hint).toBe('use one of: checkpoint, layers-model, resnet-small, vgg-small');

    e = await gazeError(() => parseBackboneConfig({ type: 'vgg-small', chanels: [8] }));
    expect(e.where).toBe('backbone');
    expect(e.message).toBe("unknown key 'chanels' (did you mean 'channels'?)");

    e = await gazeError(() => parseBackboneConfig({ type: 'resnet-small', channels: [8, -1] }));
    expect(e.where).toBe('backbone.channels.1');

    e = await gazeError(() => parseBackboneConfig({ channels: [8] }));
    expect(e.where).toBe('backbone.type');

    e = await gazeError(() => createClassifier({ type: 'vgg-small', mean: [0.1, 0.2] }, context([8, 8, 3], 2)));
    expect(e.where).toBe('backbone.mean');
    expect(e.message).toBe('mean has 2 values but the images have 3 channel(s)');

    e = await gazeError(() => createClassifier({ type: 'vgg-small', channels: [4, 4, 4, 4] }, context([8, 8, 3], 2)));
    expect(e.where).toBe('backbone.channels');
    expect(e.hint).toContain('at most 3 blocks');
  });

  it('rejects unknown taps and wrongly shaped inputs at call time', async () => {
    const c = await createClassifier({ type: 'vgg-small', channels: [4] }, context([8, 8, 3], 2));
    const x = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
    let e = await gazeError(() => c.features(x, ['blok1']));
    expect(e.message).toBe("vgg-small has no tap 'blok1' (did you mean 'block1'?)");
    expect(e.hint).toBe('its taps are: block1.conv, block1');
    expect(c.features(x, [])).toEqual({});
    const wrong = tf.zeros([1, 9, 8, 3]) as tf.Tensor4D;
    e = await gazeError(() => c.logits(wrong));
    expect(e.message).toBe('vgg-small takes [B,8,8,3] images, got [1,9,8,3]');
    tf.dispose([x, wrong]);
    c.dispose();
  });
});
