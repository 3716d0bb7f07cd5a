import { loadNative } from '@gaze/native';

/**
 * The native kernels' thread pool (OpenMP, shared by oneDNN and the addon's loops). It starts at
 * OMP_NUM_THREADS when set, else every core; `--threads N` (or setNativeThreads) changes it. Two
 * processes on one machine that each take every core run slower than one: give each its share.
 */
export interface ThreadsReport {
  /** The pool size, or null when the addon is not loaded (wasm then runs on one thread). */
  threads: number | null;
  /** Where the size came from. */
  source: 'setNativeThreads' | 'OMP_NUM_THREADS' | 'all cores' | 'no native addon';
}

let setExplicitly = false;

/** Sets the pool size (a whole number >= 1); a no-op without the addon. */
export function setNativeThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`threads must be a whole number >= 1, got ${n}`);
  const native = loadNative();
  if (!native.ok) return;
  native.kernels.setThreads(n);
  setExplicitly = true;
}

export function nativeThreads(): ThreadsReport {
  const native = loadNative();
  if (!native.ok) return { threads: null, source: 'no native addon' };
  const source = setExplicitly ? 'setNativeThreads' : process.env.OMP_NUM_THREADS ? 'OMP_NUM_THREADS' : 'all cores';
  return { threads: native.kernels.threads(), source };
}
