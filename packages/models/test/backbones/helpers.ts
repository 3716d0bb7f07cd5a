import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '@gaze/engine';
import type { BackboneContext } from '../../src/index.js';

export function context(inputShape: [number, number, number], numClasses: number, extra: Partial<BackboneContext> = {}): BackboneContext {
  return { inputShape, numClasses, seed: 7, baseDir: process.cwd(), where: 'backbone', ...extra };
}

/** A deterministic [B,H,W,C] batch in [0,1] that no backend RNG touches. */
export function images(shape: [number, number, number, number], salt = 1): tf.Tensor4D {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = Math.sin((i + 1) * 12.9898 * salt + salt * 78.233) * 43758.5453;
    v[i] = s - Math.floor(s);
  }
  return tf.tensor4d(v, shape);
}

export async function withTmpDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'gaze-models-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** max |a - b| */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
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
