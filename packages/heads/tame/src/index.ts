import { registerHead, type HeadFactory } from '@gaze/models';
import { TameConfig } from './config.js';
import { TameHead } from './tame-head.js';

export { TameAttention, type BranchInput } from './attention.js';
export { MAX_MAP_SIDE, TameConfig } from './config.js';
export { AREA_EPSILON, tameLoss, totalVariation, type TameLossParts } from './loss.js';
export { TameHead, tameTaps } from './tame-head.js';

export const tameHead: HeadFactory<TameConfig> = {
  type: 'tame',
  describe: 'TAME: multi-branch attention over several taps, trained on the frozen classifier (Ntrougkas et al. 2022)',
  configSchema: TameConfig,
  create: (classifier, config, context) => new TameHead(classifier, config, context),
};

registerHead(tameHead);
