import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Global setup for every package's tests: one scratch folder per test run, handed to the test
// processes as TMPDIR (so os.tmpdir() and mkdtemp land inside it) and removed afterwards.
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'gaze-test-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(dir, { recursive: true, force: true });
  };
}
