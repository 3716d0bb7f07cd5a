import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSystemError } from '../src/index.js';

// Real failing calls, so the codes and syscalls are Node's own.
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('fileSystemError', () => {
  it('names the call and the path: a missing file read is "cannot open", not "cannot write"', () => {
    const root = mkdtempSync(join(tmpdir(), 'gaze-fs-errors-'));
    try {
      const missing = join(root, 'missing.json');
      const read = fileSystemError(thrown(() => readFileSync(missing)))!;
      expect(read.message).toBe(`cannot open ${missing}: no such file or folder (ENOENT)`);
      expect(read.where).toBe(missing);
      const file = join(root, 'a-file');
      writeFileSync(file, 'x');
      const under = join(file, 'child.txt');
      expect(fileSystemError(thrown(() => writeFileSync(under, 'y')))!.message).toMatch(new RegExp(`^cannot open ${under.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: .*\\(ENOTDIR\\)$`));
      expect(fileSystemError(new Error('not a file-system error'))).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
