// Each backbone registers itself when imported.
export {
  backboneFactory,
  backboneTypes,
  createClassifier,
  loadClassifier,
  parseBackboneConfig,
  registerBackbone,
  registerSavedClassifierFormat,
  type BackboneContext,
  type BackboneFactory,
  type SavedClassifierFormat,
} from './registry.js';
export { CLASSIFIER_FORMAT_VERSION, CLASSIFIER_METADATA_KEY, ClassifierSpec, LayersClassifier, checkImageBatch, checkTapNames } from './layers-classifier.js';
// For packages that build their own backbone variants (attention heads trained with the network).
export { BATCH_NORM, apply, seededInit, type SeededInit } from './seeded-init.js';
export { IMAGENET_MEAN, IMAGENET_STD, Preprocess, applyPreprocess, checkPreprocess } from './preprocess.js';
export { VggSmallConfig, vggSmall, vggSmallBackbone } from './vgg-small.js';
export { ResnetSmallConfig, resnetSmall, resnetSmallBackbone } from './resnet-small.js';
export { LayersModelConfig, layersModel, layersModelBackbone } from './layers-model.js';
export { CheckpointConfig, checkpointBackbone, checkpointClassifier } from './checkpoint.js';
