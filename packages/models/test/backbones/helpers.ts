import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackboneContext } from '../../src/index.js';

// Shared comparison helpers, re-exported for this folder's tests.
export { values, maxDiff, gazeError, deterministicImages as images } from '@gaze/engine/testing';

export function context(inputShape: [number, number, number], numClasses: number, extra: Partial<BackboneContext> = {}): BackboneContext {
  return { inputShape, numClasses, seed: 7, baseDir: process.cwd(), where: 'backbone', ...extra };
}

export async function withTmpDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'gaze-models-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

