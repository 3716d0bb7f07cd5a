export {
  checkMapShape,
  createEvaluator,
  evaluatorFactory,
  evaluatorTypes,
  registerEvaluator,
  type EvaluationContext,
  type Evaluator,
  type EvaluatorContext,
  type EvaluatorFactory,
  type ImageScore,
  type MetricCurve,
  type MetricSummary,
  type TargetKind,
} from './evaluator.js';
export { BOOTSTRAP_LEVEL, BOOTSTRAP_RESAMPLES, bootstrapCi, bootstrapClassMeanCi, classMeanWeights, quantileSorted, summaryCi, type BootstrapOptions, type ConfidenceInterval } from './bootstrap.js';
export { paintBox, targetRegions, type GroundTruthSource, type TargetRegion } from './localization/ground-truth.js';
export { DIFFICULT_AREA_FRACTION, POINTING_TOLERANCE_AT_224, PointingGameConfig, argmaxFirst, createPointingGame, isDifficultPair, pointHits, pointingTolerance } from './localization/pointing-game.js';
export { EnergyPointingGameConfig, createEnergyPointingGame, energyShare } from './localization/energy-pointing-game.js';
export { AD_IC_BATCH_SIZE, AD_IC_KEEP, AdIcConfig, createAdIc, keepPercent, keepTopPixels, keptPixelCount } from './confidence/ad-ic.js';
export { SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_TRUNCATE, absGrayscaleNorm, averageRanks, gaussianWindow, minMax, spearman, ssim, type SsimOptions } from './sanity/similarity.js';
export { initializerKind, randomizationUnits, randomizeUnit, restoreVariables, snapshotVariables, type InitializerKind, type RandomizationUnit } from './sanity/randomize-layers.js';
export { SANITY_BATCH_SIZE, SANITY_IMAGES, SANITY_PASS_THRESHOLD, SanityRandomizationConfig, createSanityRandomization, mapSimilarity, selectUnits, summarizeSanity, type MapSimilarity } from './sanity/sanity-randomization.js';
export { UNIT_ABLATION_BATCH_SIZE, UNIT_ABLATION_FORWARD_BATCH_SIZE, unitAblation, type UnitAblationOptions, type UnitAblationResult, type UnitAblationRow } from './ablation/unit-ablation.js';
export { CAUSAL_BATCH_SIZE, CAUSAL_BLUR_KERNEL, CAUSAL_BLUR_SIGMA, CAUSAL_STEPS, DeletionConfig, IMAGENET_MEAN, InsertionConfig, causalSubstrate, createCausalMetric, descendingOrder, riseKernel1d, stepCounts, trapezoidAuc, type CausalConfig, type CausalImageScore, type CausalMode, type Substrate } from './causal/causal-metric.js';
import './causal/deletion.js';
import './causal/insertion.js';
export { ROAD_DIAGONAL_WEIGHT, ROAD_EDGE_WEIGHT, ROAD_NOISE, imputeNoisyLinear, type ImputeOptions, type ImputeStats } from './road/noisy-linear-imputer.js';
export { ROAD_BATCH_SIZE, ROAD_PERCENTAGES, ROAD_TIE_BREAK, RoadConfig, createRoad, removedPixelCount, roadAggregate, roadPercent, roadRanks, roadRemoved, type RoadOrder } from './road/road.js';
