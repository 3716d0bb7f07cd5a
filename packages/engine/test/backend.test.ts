import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { GazeError, gpuDevicePresent, initBackend, resolveBackendRequest, tf } from '../src/index.js';

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

describe('resolveBackendRequest', () => {
  it('prefers --backend, then GAZE_BACKEND, then the config, then auto', () => {
    const env = { GAZE_BACKEND: 'cpu' };
    expect(resolveBackendRequest({ flag: 'wasm', config: 'tensorflow', env })).toEqual({ request: 'wasm', source: '--backend' });
    expect(resolveBackendRequest({ config: 'tensorflow', env })).toEqual({ request: 'cpu', source: 'GAZE_BACKEND' });
    expect(resolveBackendRequest({ config: 'tensorflow', env: {} })).toEqual({ request: 'tensorflow', source: 'config' });
    expect(resolveBackendRequest({ env: {} })).toEqual({ request: 'auto', source: 'default' });
  });

  it('names the source of an unknown backend and lists the valid ones', () => {
    let error: unknown;
    try {
      resolveBackendRequest({ env: { GAZE_BACKEND: 'webgl' } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GazeError);
    expect((error as GazeError).format()).toBe(
      "GAZE_BACKEND: unknown backend 'webgl'\n  hint: use one of: auto, tensorflow-gpu, tensorflow, webgpu, wasm, cpu",
    );
  });
});

describe('initBackend', () => {
  const saved = process.env.GAZE_BACKEND;
  afterEach(() => {
    if (saved === undefined) delete process.env.GAZE_BACKEND;
    else process.env.GAZE_BACKEND = saved;
  });

  it('starts wasm with SIMD, one thread in Node, and the engine kernels registered', async () => {
    const report = await initBackend('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(report).toMatchObject({ backend: 'wasm', requested: 'wasm', requestedBy: 'argument', simd: true, threads: 1 });
    expect(report.engineKernels.map((k) => k.kernelName)).toEqual(
      expect.arrayContaining(['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'MaxPoolGrad']),
    );
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('starts the CPU backend', async () => {
    const report = await initBackend('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(report).toMatchObject({ backend: 'cpu', simd: false, threads: 1 });
  });

  it('reads GAZE_BACKEND when called without a name', async () => {
    process.env.GAZE_BACKEND = 'cpu';
    const report = await initBackend();
    expect(report).toMatchObject({ backend: 'cpu', requestedBy: 'GAZE_BACKEND' });
    expect(report.reason).toBe('cpu requested by GAZE_BACKEND');
  });

  for (const [name, pkg] of [
    ['tensorflow', '@tensorflow/tfjs-node'],
    ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu'],
  ] as const) {
    it.skipIf(installed(pkg))(`explains how to install ${pkg} when '${name}' is asked for`, async () => {
      const error = await initBackend(name, { source: '--backend' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GazeError);
      const text = (error as GazeError).format();
      expect(text).toContain(`--backend: backend '${name}' needs ${pkg}, which is not installed`);
      expect(text).toContain(`npm install ${pkg}@4.22.0`);
    });
  }

  // Here (no GPU) Dawn loads and finds no adapter: asking for webgpu must say so and what to do.
  it.skipIf(gpuDevicePresent())("explains that 'webgpu' found no GPU adapter", async () => {
    const error = await initBackend('webgpu', { source: '--backend' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GazeError);
    const text = (error as GazeError).format();
    expect(text).toContain("--backend: backend 'webgpu' is not available: ");
    expect(text).toMatch(/webgpu is not installed|Dawn found no WebGPU adapter: this machine shows no GPU/);
    expect(text).toMatch(/hint: (it needs a GPU with a Vulkan driver|install the optional packages)/);
    expect(tf.getBackend()).not.toBe('webgpu');
  });

  it('auto falls through to the first backend that loads, saying what it skipped', async () => {
    const report = await initBackend('auto');
    const expected = installed('@tensorflow/tfjs-node-gpu') || installed('@tensorflow/tfjs-node') ? undefined : 'wasm';
    if (expected) {
      expect(report.backend).toBe('wasm');
      expect(report.attempts.map((a) => [a.backend, a.ok])).toEqual([
        ['tensorflow-gpu', false],
        ['tensorflow', false],
        ['webgpu', false],
        ['wasm', true],
      ]);
      expect(report.reason).toMatch(
        /^auto picked wasm \(skipped tensorflow-gpu: @tensorflow\/tfjs-node-gpu is not installed; tensorflow: @tensorflow\/tfjs-node is not installed; webgpu: (no GPU device|Dawn found no WebGPU adapter).*\)$/,
      );
    }
    expect(report.attempts.at(-1)).toMatchObject({ backend: report.backend, ok: true });
  });
});
