// Importing the package registers the `onnx` backbone type and the saved-classifier format.
export { OnnxBackboneConfig, OnnxPreprocess, loadSavedOnnxClassifier, onnxBackbone, onnxBackboneFactory } from './backbone.js';
export { loadOnnxClassifier, type OnnxLoadOptions } from './load-onnx.js';
// Kept for importers of @gaze/onnx; defined with the other preprocessing in @gaze/models.
export { IMAGENET_MEAN, IMAGENET_STD } from '@gaze/models';
export { OnnxClassifier, SAVED_MODEL_FILE, SAVED_SPEC_FILE, tapForm, type OnnxClassifierSpec, type TapForm, type TapInfo } from './onnx-classifier.js';
export { ModelMap, type ModuleRecord, type ValueRecord } from './graph/model-map.js';
export { canonicalPaths, modulePathOf } from './graph/module-paths.js';
export { readOnnxModel, SUPPORTED_OPSETS, type OnnxGraph, type OnnxNode, type ValueSpec } from './proto/read-model.js';
export { OnnxProgram } from './runtime/program.js';
export { supportedOps } from './ops/index.js';
// The window ops' building blocks, for code that runs a model's nodes its own way (LRP).
export { Attributes } from './ops/op.js';
export { averagePoolNhwc, convFilters, convGeometry, convNhwc, maxPoolNhwc, maxPoolPads, poolGeometry, type ConvGeometry, type PoolGeometry } from './ops/conv.js';
export { hostToTensor } from './runtime/value.js';
export type { HostTensor } from './runtime/host-tensor.js';
