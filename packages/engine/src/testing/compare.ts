import { tf } from '../tf.js';

/** A tensor's values as a plain array (synchronous read). */
export function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** max |a_i - b_i|; arrays of different lengths are an error. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Pearson correlation of two equally long arrays. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** The GazeError `fn` throws (fails the test when it throws nothing or something else). */
export async function gazeError(fn: () => unknown): Promise<{ message: string; where?: string; hint?: string }> {
  try {
    await fn();
  } catch (error) {
    if ((error as Error).name === 'GazeError') return error as { message: string; where?: string; hint?: string };
    throw error;
  }
  throw new Error('expected a GazeError, nothing was thrown');
}

/** A deterministic [B,H,W,C] batch in [0,1] from a sine hash of the index: no backend RNG touches it. */
export function deterministicImages(shape: [number, number, number, number], salt = 1): tf.Tensor4D {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = Math.sin((i + 1) * 12.9898 * salt + salt * 78.233) * 43758.5453;
    v[i] = s - Math.floor(s);
  }
  return tf.tensor4d(v, shape);
}
