import { registerHead, type HeadFactory } from '@gaze/models';
import { BrnpaConfig } from './config.js';
import { BrnpaHead } from './brnpa-head.js';

export { BrnpaConfig } from './config.js';
export { BrnpaClassifier, BrnpaHead } from './brnpa-head.js';
export { partMaps, representativeAttention, type PartAttention } from './representatives.js';
export { attentionCost, parametricAttention, type StepCost } from './speed.js';

export const brnpaHead: HeadFactory<BrnpaConfig> = {
  type: 'brnpa',
  describe: 'BR-NPA: non-parametric part attention (representative features grouped by similarity) feeding a linear layer, trained with a copy of the classifier (Gomez et al. 2022)',
  configSchema: BrnpaConfig,
  create: (classifier, config, context) => BrnpaHead.create(classifier, config, context),
};

registerHead(brnpaHead);
