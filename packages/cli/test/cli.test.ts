import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { DoctorReport } from '../src/index.js';
import { runCli as run } from './run-cli.js';

describe('gaze doctor', () => {
  it('reports Node, every backend, what auto picks, GPU libraries and datasets', async () => {
    const { code, stdout } = await run(['doctor']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Gaze doctor\n/);
    expect(stdout).toMatch(new RegExp(`\\n {2}node +${process.version.replace(/\./g, '\\.')} \\(linux x64\\)`));
    for (const heading of ['Backends', 'Engine kernels', 'GPU', 'Datasets']) expect(stdout).toContain(`\n${heading}`);
    expect(stdout).toMatch(/\n {2}wasm +available: binaries from .*tfjs-backend-wasm\/dist\/, SIMD on, 1 thread\(s\); (convolutions and the kernels around them on oneDNN [\d.]+: Conv2D[^\n]*|convolutions on XNNPACK \(oneDNN kernels off: .+\))\n/);
    expect(stdout).toMatch(/\n {2}auto picks +\S+: auto picked /);
    expect(stdout).toMatch(/\n {2}libcudart\.so\.11\.0 +(found|not found)/);
    expect(stdout).toMatch(/\n {2}fashion-mnist +(found: |not found in \/usr\/share\/datasets\/fashion-mnist; install: apt-get install dataset-fashion-mnist)/);
  });

  it('prints JSON with --json, honouring --backend', async () => {
    const { code, stdout } = await run(['doctor', '--json', '--backend', 'cpu']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as DoctorReport;
    expect(report.chosen).toMatchObject({ backend: 'cpu', requested: 'cpu', requestedBy: '--backend', reason: 'cpu requested by --backend' });
    expect(report.backends.map((b) => b.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu']);
    expect(report.backends.find((b) => b.name === 'wasm')).toMatchObject({ status: 'available', simd: true, threads: 1 });
    expect(report.engineKernels.wasm.map((k) => k.kernelName)).toContain('Conv2DBackpropFilter');
  });

  it('shows the native thread pool, sized by --threads', async () => {
    const all = (JSON.parse((await run(['doctor', '--json'])).stdout) as DoctorReport).nativeThreads;
    if (all.threads === null) {
      expect(all.source).toBe('no native addon');
      return;
    }
    const { code, stdout } = await run(['doctor', '--threads', '1']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/\n {2}native threads +1 \(from setNativeThreads; set with --threads N or OMP_NUM_THREADS/);
    // back to the size it had, so later tests run as before
    expect((JSON.parse((await run(['doctor', '--json', '--threads', String(all.threads)])).stdout) as DoctorReport).nativeThreads).toEqual({ threads: all.threads, source: 'setNativeThreads' });
  });

  it('refuses --threads 0 with where and how to fix', async () => {
    const { code, stderr } = await run(['doctor', '--threads', '0']);
    expect(code).toBe(1);
    expect(stderr).toBe("error: --threads: expected a whole number >= 1, got '0'\n  hint: e.g. --threads 2; leave it out to use OMP_NUM_THREADS or every core\n");
  });
});

describe('gaze errors', () => {
  it('prints a user error with where and how to fix, no stack, exit 1', async () => {
    const { code, stderr } = await run(['doctor', '--backend', 'webgl']);
    expect(code).toBe(1);
    expect(stderr).toBe("error: --backend: unknown backend 'webgl'\n  hint: use one of: auto, tensorflow-gpu, tensorflow, webgpu, wasm, cpu\n");
  });

  it('rejects an unknown command with the help text, exit 1', async () => {
    const { code, stderr } = await run(['bogus']);
    expect(code).toBe(1);
    expect(stderr).toContain('gaze <command> [options]');
    expect(stderr).toMatch(/Unknown argument: bogus/);
  });

  it('prints the version', async () => {
    const { code, stdout } = await run(['--version']);
    expect(code).toBe(0);
    expect(stdout).toBe('0.1.0\n');
  });
});

describe('bin/gaze.js', () => {
  it('runs from TypeScript source with no build step', async () => {
    const bin = fileURLToPath(new URL('../bin/gaze.js', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'doctor', '--backend', 'cpu'], { timeout: 60_000 });
    expect(stdout).toMatch(/^Gaze doctor\n/);
    expect(stdout).toMatch(/\n {2}selected +cpu: cpu requested by --backend\n/);
  });

  it('exits 1 on a user error', async () => {
    const bin = fileURLToPath(new URL('../bin/gaze.js', import.meta.url));
    const error = await promisify(execFile)(process.execPath, [bin, 'doctor', '--backend', 'nope']).catch((e: unknown) => e as { code: number; stderr: string });
    expect(error).toMatchObject({ code: 1, stderr: "error: --backend: unknown backend 'nope'\n  hint: use one of: auto, tensorflow-gpu, tensorflow, webgpu, wasm, cpu\n" });
  });
});

describe('gaze data preview', () => {
  it('writes grid.png and summary.json for a split, honouring --set', async () => {
    const { mkdtemp, readFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const sharp = (await import('sharp')).default;
    const out = await mkdtemp(join(tmpdir(), 'gaze-preview-'));
    const { code, stdout, stderr } = await run(['data', 'preview', '--dataset', 'shapes', '--set', 'splits.val=12', '--set', 'size=32', '--count', '6', '--out', out]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(`shapes val: 12 examples, 8 classes, images 32x32x3\nwrote ${out}/grid.png (6 examples) and ${out}/summary.json\n`);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ type: 'shapes', split: 'val', size: 12, imageShape: [32, 32, 3], numClasses: 8, has: { masks: true, boxes: true, attributes: true } });
    expect(summary.first).toHaveLength(6);
    expect(Object.values(summary.counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(12);
    expect((await sharp(join(out, 'grid.png')).metadata()).format).toBe('png');
  });

  it('explains an unknown dataset type and a malformed --set', async () => {
    const bad = await run(['data', 'preview', '--dataset', 'shapez']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("error: dataset.type: unknown dataset type 'shapez' (did you mean 'shapes'?)");
    const set = await run(['data', 'preview', '--dataset', 'shapes', '--set', 'size']);
    expect(set.code).toBe(1);
    expect(set.stderr).toContain("error: --set: --set expects key=value, got 'size'");
  });
});
