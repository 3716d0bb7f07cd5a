import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli as run } from './run-cli.js';
import { progressReporter } from '../src/progress.js';

// File-system failures a user causes (a folder they cannot write, a file where a folder should
// be, a full disk) are one clear error with the path and what to do, exit 1, no stack.
const root = mkdtempSync(join(tmpdir(), 'gaze-fs-errors-'));
const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const c of cleanups.reverse()) c();
  rmSync(root, { recursive: true, force: true });
});

function config(name: string, output: string): string {
  const file = join(root, `${name}.yaml`);
  writeFileSync(
    file,
    `experiment: {name: ${name}, seed: 1, backend: wasm, output: ${JSON.stringify(output)}}
dataset: {type: shapes, size: 16, classes: 2, distractors: 0, splits: {train: 16, val: 8, test: 8}}
backbone: {type: vgg-small, channels: [4]}
train: {epochs: 1, batchSize: 8}
`,
  );
  return file;
}

const ROOT = process.getuid?.() === 0;

describe('file-system errors', () => {
  it('an output path under a file (ENOTDIR)', async () => {
    writeFileSync(join(root, 'a-file'), 'not a folder');
    const r = await run(['run', config('under-file', join(root, 'a-file', 'runs'))]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*a-file.*: cannot mkdir .*a-file.*: a part of the path is a file, not a folder \(ENOTDIR\)\n {2}hint: remove or rename that file/);
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr).not.toContain('    at ');
  });

  it('an output folder that cannot be written (EACCES; for root, an immutable folder: EPERM)', async () => {
    const locked = join(root, 'locked');
    mkdirSync(locked);
    if (ROOT) {
      execFileSync('chattr', ['+i', locked]);
      cleanups.push(() => execFileSync('chattr', ['-i', locked]));
    } else {
      execFileSync('chmod', ['555', locked]);
    }
    const r = await run(['run', config('locked', join(locked, 'runs'))]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot mkdir .*locked.*: (permission denied \(EACCES\)|operation not permitted \(EPERM\))/);
    expect(r.stderr).not.toContain('internal error');
  });

  // A small tmpfs is a real full disk; mounting one needs root (CI runs as root).
  const mountable = ROOT && spawnSync('mount', ['--version']).status === 0;
  it.skipIf(!mountable)('a full disk (ENOSPC): the error names the file; what was written before stays whole', async () => {
    const disk = join(root, 'small-disk');
    mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', disk]);
    cleanups.push(() => execFileSync('umount', [disk]));
    const r = await run(['run', config('full', join(disk, 'runs'))]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(/cannot \w+ .*small-disk.*: no space left on the device \(ENOSPC\)\n {2}hint: free some space/);
    expect(r.stderr).not.toContain('internal error');
    // Every file the run did write is whole (atomic writes): each JSON parses, nothing half-written is left.
    const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)]));
    const files = walk(join(disk, 'runs'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files.filter((f) => f.endsWith('.json'))) expect(() => JSON.parse(readFileSync(f, 'utf8')), f).not.toThrow();
    expect(files.filter((f) => /\.tmp-\d+-[0-9a-f]{8}/.test(f))).toEqual([]);
  });
});

describe('sizes that cannot fit', () => {
  it('backbone.channels: [100000, ...] is refused before the first step with the estimate, not a wasm crash', async () => {
    const file = join(root, 'huge.yaml');
    writeFileSync(file, readFileSync(config('huge', join(root, 'huge-runs')), 'utf8').replace('channels: [4]', 'channels: [100000, 64]'));
    const r = await run(['run', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: train\.batchSize: a training step of this vgg-small needs about [\d.]+ GB .*; the wasm backend holds at most 4 GB/);
    expect(r.stderr).not.toContain('internal error');
  });
});

describe('resume messages', () => {
  it('says training finished earlier rather than "resuming at epoch 5 of 4"', () => {
    let text = '';
    const progress = progressReporter({ write: (t) => (text += t) });
    progress.onEvent({ type: 'train', event: { type: 'start', epochs: 4, stepsPerEpoch: 2, firstEpoch: 5 } });
    progress.onEvent({ type: 'train', event: { type: 'resume', fromEpoch: 3, checkpoint: 'c/previous', warning: 'c/last is damaged (...): resumed from the checkpoint before it (epoch 3)' } });
    expect(text).toContain('training finished earlier (4 of 4 epochs)');
    expect(text).not.toContain('epoch 5 of 4');
    expect(text).toContain('warning: c/last is damaged');
  });
});
