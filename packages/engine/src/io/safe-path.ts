import { isAbsolute, relative, resolve } from 'node:path';
import { GazeError } from '../errors.js';

/** The names Gaze turns into folder names (experiments, heads, ablation variants): no separators, no dot-dot. */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const SAFE_NAME_RULE = 'use letters, digits, ".", "_" and "-", starting with a letter or digit (it names a folder)';

/** Whether `path` lies inside `root` (or is it). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(resolve(root), resolve(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * `rel` resolved against `root`, which it must stay inside: a model's weight shards and external
 * data, a run's files. Otherwise a GazeError naming `what` and where it pointed.
 */
export function pathInside(root: string, rel: string, what: string, where?: string): string {
  const path = resolve(root, rel);
  if (isAbsolute(rel) || !isInside(root, path)) {
    throw new GazeError(`${what} '${rel}' points outside ${resolve(root)}`, {
      where: where ?? resolve(root),
      hint: 'Gaze reads and writes only inside the folder a file belongs to; keep the files beside it (and check the file was not tampered with)',
    });
  }
  return path;
}
