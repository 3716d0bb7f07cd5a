export { assertNoTensorLeak, type LeakCheck } from './memory-guard.js';
export { deterministicImages, gazeError, maxDiff, pearson, values } from './compare.js';
