import type { Preprocess } from '@gaze/models';

/** Feeds the model its input unchanged (scale 1, mean 0, std 1): tests hand it values they built. */
export const IDENTITY_PREPROCESS: Preprocess = { scale: 1, mean: [0], std: [1], channelOrder: 'rgb' };
