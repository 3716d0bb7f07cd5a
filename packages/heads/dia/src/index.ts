import { registerHead, type HeadFactory } from '@gaze/models';
import { DiaConfig } from './config.js';
import { DiaHead } from './dia-head.js';

export { DiaConfig } from './config.js';
export { DiaHead } from './dia-head.js';

export const diaHead: HeadFactory<DiaConfig> = {
  type: 'dia',
  describe: 'DIA: resnet-small whose blocks share one attention module (LSTM or SE) per stage, trained from scratch with it (Huang et al. 2020)',
  configSchema: DiaConfig,
  create: (classifier, config, context) => new DiaHead(classifier, config, context),
};

registerHead(diaHead);
