import { initBackend, tf } from '../../src/index.js';

export type Computation = () => tf.Tensor | tf.Tensor[];

/** Runs `compute` on a backend and returns its outputs as plain arrays (tensors freed). */
export async function runOn(backend: 'cpu' | 'wasm', compute: Computation): Promise<Float32Array[]> {
  await initBackend(backend);
  const out = tf.tidy(compute);
  const list = Array.isArray(out) ? out : [out];
  const values = list.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(list);
  return values;
}

/** max |a - b| / max |b|: the error relative to the reference's magnitude. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let diff = 0;
  let mag = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    mag = Math.max(mag, Math.abs(expected[i]));
  }
  return mag === 0 ? diff : diff / mag;
}

/** Deterministic values in [-1, 1) that do not depend on any backend's RNG. */
export function values(n: number, salt = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = Math.sin((i + 1) * 12.9898 * salt + salt * 78.233) * 43758.5453;
    out[i] = 2 * (s - Math.floor(s)) - 1;
  }
  return out;
}

export function tensor(shape: number[], salt = 1): tf.Tensor {
  return tf.tensor(values(shape.reduce((a, b) => a * b, 1), salt), shape);
}

/** Compares the wasm result of `compute` with the CPU backend's. */
export async function wasmVsCpu(compute: Computation): Promise<number[]> {
  const cpu = await runOn('cpu', compute);
  const wasm = await runOn('wasm', compute);
  return wasm.map((w, i) => relativeError(w, cpu[i]));
}
