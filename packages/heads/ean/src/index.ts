import { registerHead, type HeadFactory } from '@gaze/models';
import { EanConfig } from './config.js';
import { EanHead } from './ean-head.js';

export { EanConfig } from './config.js';
export { EanHead, type SearchResult } from './ean-head.js';
export { ConnectionPolicy, connectionPattern, type PolicyState } from './policy.js';

export const eanHead: HeadFactory<EanConfig> = {
  type: 'ean',
  describe: 'EAN: a policy-gradient search of which resnet-small blocks connect to a shared attention module, then fine-tuning (Huang et al. 2020)',
  configSchema: EanConfig,
  create: (classifier, config, context) => new EanHead(classifier, config, context),
};

registerHead(eanHead);
