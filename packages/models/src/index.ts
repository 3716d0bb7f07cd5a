export type { Classifier, ForwardOptions } from './classifier.js';
export { headFactory, headTypes, registerHead, type Head, type HeadContext, type HeadFactory, type MapExplainer } from './head.js';
export * from './backbones/index.js';
export {
  TrainConfig,
  ONE_CYCLE_DEFAULTS,
  RESUMABLE_KEYS,
  parseTrainConfig,
  learningRateAt,
  crossEntropy,
  crossEntropyPerExample,
  correctCount,
  ADAM_BETA1,
  ADAM_BETA2,
  ADAM_EPSILON,
  applyWeightDecay,
  decayedVariables,
  createTrainOptimizer,
  restoreCheckpoint,
  readTrainingState,
  evaluateClassifier,
  trainClassifier,
  type TrainOptimizer,
  type EpochRecord,
  type TrainingState,
  type TrainEvent,
  type TrainOptions,
  type TrainResult,
} from './train/index.js';
