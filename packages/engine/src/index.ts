export { tf, type Tensor, type Tensor1D, type Tensor2D, type Tensor3D, type Tensor4D, type Variable } from './tf.js';
export { GazeError, WASM_HEAP_LIMIT, didYouMean, editDistance, fileSystemError, isGazeError, outOfMemoryError } from './errors.js';
export {
  AUTO_ORDER,
  BACKEND_REQUESTS,
  NATIVE_PACKAGES,
  backendLine,
  initBackend,
  nativePackageInstalled,
  parseBackendRequest,
  resolveBackendRequest,
  type BackendAttempt,
  type BackendName,
  type BackendReport,
  type BackendRequest,
  type RequestSource,
} from './backend.js';
export { gpuDevicePresent, provideWebgpuModules } from './webgpu.js';
export { NotInstalledError, importOptional } from './optional-import.js';
export { locateWasmFiles, WASM_BINARIES, type WasmFiles } from './wasm/locate-wasm-files.js';
export { ENGINE_KERNELS, NATIVE_KERNELS, engineKernelsFor, nativeKernelStatus, registerEngineKernels, type EngineKernel } from './kernels/register.js';
export { Rng, currentSeed, hash32, rng, seed, unseed } from './seed.js';
export { resize } from './ops/resize.js';
export { gaussianBlur, gaussianKernel1d, type BlurOptions } from './ops/gaussian-blur.js';
export { normalizePerSample } from './ops/normalize.js';
export { conv2dBiasActivation, type ConvBiasActivationArgs } from './ops/conv-bias-activation.js';
export { recoverDirAtomic, removeAtomicDebris, writeDirAtomic, writeFileAtomic } from './io/atomic-write.js';
export { SAFE_NAME, SAFE_NAME_RULE, pathInside } from './io/safe-path.js';
export { NpyWriter, decodeNpy, encodeNpy, halfToFloat, readNpy, writeNpy, type NpyArray } from './io/npy.js';
export {
  MODEL_JSON,
  WEIGHTS_BIN,
  fileSystemIO,
  loadLayersModel,
  loadWeightMap,
  readModelMetadata,
  registerFileSystemRouter,
  saveLayersModel,
  saveWeightMap,
} from './io/model-io.js';
export { FusedAdam, FusedMomentum, hostValuesInPlace, type GradientAdjustment } from './optim/fused-optimizers.js';
export { nativeThreads, setNativeThreads, type ThreadsReport } from './threads.js';
