/**
 * `deletion`: RISE's deletion metric (Petsiuk et al., BMVC 2018): the target-class score as the
 * most relevant pixels are replaced by the substrate (default black), AUC over the fraction
 * removed; lower is better. The definition, defaults and deviations are in causal-metric.ts.
 */
import { registerEvaluator } from '../evaluator.js';
import { DeletionConfig, createCausalMetric } from './causal-metric.js';

registerEvaluator({
  type: 'deletion',
  describe: 'RISE deletion: target-class probability as the most relevant pixels are removed (to black), trapezoid AUC; lower is better',
  configSchema: DeletionConfig,
  create: (config, { where }) => createCausalMetric('deletion', config, where),
});
