// Building ONNX files in tests (any package's): onnx's own schema, no PyTorch needed.
export { encodeModel, writeModel, type Attr, type ModelSpec, type NodeSpec, type TensorSpec } from './build-model.js';
export { tinyCnn } from './tiny-cnn.js';
export { convReference, nchw, noise, poolReference, type Nchw } from './reference-ops.js';
export { TORCHVISION_REFERENCE, TORCH_INSTALL, TORCH_PYTHON, exportTorchReference, torchvisionAvailable } from './torch-reference.js';
export { FULL_FAMILIES, SMALL_FAMILIES, torchvisionFamilies, type TorchvisionFamily } from './families.js';
export { IDENTITY_PREPROCESS } from './identity-preprocess.js';
