export { assertNoTensorLeak, type LeakCheck } from './memory-guard.js';
