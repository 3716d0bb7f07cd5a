import { registerHead, type HeadFactory } from '@gaze/models';
import { EatConfig } from './config.js';
import { EatHead } from './eat-head.js';

export { EatConfig } from './config.js';
export { EatHead, attributeLoss, averagePrecision } from './eat-head.js';
export { citedAttributes, textualExplanation } from './text.js';

export const eatHead: HeadFactory<EatConfig> = {
  type: 'eat',
  describe: 'EAT: attribute prediction trained jointly with (a copy of) the classifier; visual, attribute and textual explanations (Xu et al. 2020)',
  configSchema: EatConfig,
  create: (classifier, config, context) => EatHead.create(classifier, config, context),
};

registerHead(eatHead);
