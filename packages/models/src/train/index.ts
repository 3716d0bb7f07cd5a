export { TrainConfig, ONE_CYCLE_DEFAULTS, RESUMABLE_KEYS, parseTrainConfig } from './train-config.js';
export { learningRateAt } from './schedule.js';
export { crossEntropy, crossEntropyPerExample, correctCount } from './loss.js';
export { ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON, applyWeightDecay, decayedVariables, createTrainOptimizer, type TrainOptimizer } from './optimizer.js';
export { restoreCheckpoint, readTrainingState, LAST_DIR, BEST_DIR, type EpochRecord, type TrainingState } from './checkpoint.js';
export { evaluateClassifier } from './evaluate.js';
export { trainClassifier, type TrainEvent, type TrainOptions, type TrainResult } from './train-classifier.js';
export { trainHead, type HeadEpochRecord, type HeadTrainEvent, type HeadTrainOptions } from './train-head.js';
export { loadNetworkState, saveNetworkState, type NetworkState } from './network-state.js';
