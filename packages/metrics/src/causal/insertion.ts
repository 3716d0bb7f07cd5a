/**
 * `insertion`: RISE's insertion metric (Petsiuk et al., BMVC 2018): the target-class score as the
 * most relevant pixels are copied from the image into its blurred copy, AUC over the fraction
 * inserted; higher is better. The definition, defaults and deviations are in causal-metric.ts.
 */
import { registerEvaluator } from '../evaluator.js';
import { InsertionConfig, createCausalMetric } from './causal-metric.js';

registerEvaluator({
  type: 'insertion',
  describe: 'RISE insertion: target-class probability as the most relevant pixels are inserted into a blurred copy, trapezoid AUC; higher is better',
  configSchema: InsertionConfig,
  create: (config, { where }) => createCausalMetric('insertion', config, where),
});
