import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { GazeError } from './errors.js';
import { tf } from './tf.js';
import { locateWasmFiles } from './wasm/locate-wasm-files.js';
import { NotInstalledError, importOptional } from './optional-import.js';
import { gpuDevicePresent, registerWebgpuBackend } from './webgpu.js';
import { engineKernelsFor, nativeKernelStatus, registerEngineKernels, type EngineKernel } from './kernels/register.js';
import { nativeThreads } from './threads.js';

export const BACKEND_REQUESTS = ['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendRequest = (typeof BACKEND_REQUESTS)[number];
export type BackendName = Exclude<BackendRequest, 'auto'>;
/** Where a backend request came from, strongest first. */
export type RequestSource = 'argument' | '--backend' | 'GAZE_BACKEND' | 'config' | 'default';

/** `auto` tries these in order and takes the first that loads (webgpu only where a GPU device shows). */
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

/** The optional native packages behind the two TensorFlow backends. */
export const NATIVE_PACKAGES = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
} as const;

/** Whether the optional native package behind a TensorFlow backend is installed (not whether it loads). */
export function nativePackageInstalled(backend: keyof typeof NATIVE_PACKAGES): boolean {
  try {
    createRequire(import.meta.url).resolve(NATIVE_PACKAGES[backend]);
    return true;
  } catch {
    return false;
  }
}

export interface BackendAttempt {
  backend: BackendName;
  ok: boolean;
  detail: string;
}

export interface BackendReport {
  /** The backend now active. */
  backend: BackendName;
  /** What was asked for and by whom. */
  requested: BackendRequest;
  requestedBy: RequestSource;
  /** One line saying why this backend: the request, and for `auto` what was skipped. */
  reason: string;
  threads: number;
  simd: boolean;
  /** Every backend tried on the way, with what happened (what `gaze doctor` prints). */
  attempts: BackendAttempt[];
  /** Kernels the engine added to or corrected in this backend (empty for tensorflow). */
  engineKernels: EngineKernel[];
}

/**
 * The backend in one line, for the start of a run: on wasm, whether the convolutions run on the
 * oneDNN addon (@gaze/native, built at install where libdnnl-dev is) or on XNNPACK, and why.
 */
export function backendLine(report: BackendReport): string {
  if (report.backend !== 'wasm') return `backend ${report.backend}`;
  const native = nativeKernelStatus();
  const version = /^oneDNN [^:]+/.exec(native.detail)?.[0];
  const pool = nativeThreads();
  return `backend wasm: convolutions on ${native.active ? `${version ?? 'oneDNN'} (the native addon, ${pool.threads} thread(s) from ${pool.source})` : `XNNPACK, oneDNN addon off: ${native.detail}`}`;
}

/**
 * Decides which backend to ask for: the `--backend` flag, then the `GAZE_BACKEND` environment
 * variable, then the config's `experiment.backend`, then `auto`. Unknown names are a GazeError
 * that says where the name came from.
 */
export function resolveBackendRequest(
  options: { flag?: string; config?: string; env?: NodeJS.ProcessEnv } = {},
): { request: BackendRequest; source: RequestSource } {
  const env = options.env ?? process.env;
  const candidates: [string | undefined, RequestSource][] = [
    [options.flag, '--backend'],
    [env.GAZE_BACKEND || undefined, 'GAZE_BACKEND'],
    [options.config, 'config'],
  ];
  for (const [value, source] of candidates) {
    if (value === undefined) continue;
    return { request: parseBackendRequest(value, source), source };
  }
  return { request: 'auto', source: 'default' };
}

export function parseBackendRequest(value: string, where: string): BackendRequest {
  if ((BACKEND_REQUESTS as readonly string[]).includes(value)) return value as BackendRequest;
  throw new GazeError(`unknown backend '${value}'`, {
    where,
    hint: `use one of: ${BACKEND_REQUESTS.join(', ')}`,
  });
}

/**
 * Makes `name` the active tfjs backend and says what was chosen and why. With no argument the
 * request comes from `GAZE_BACKEND` or defaults to `auto`. An explicit request that cannot be met
 * is a GazeError with the install command; `auto` falls through tensorflow-gpu, tensorflow, webgpu (where a GPU shows), wasm.
 */
export async function initBackend(
  name?: BackendRequest,
  options: { source?: RequestSource } = {},
): Promise<BackendReport> {
  const { request, source } =
    name === undefined ? resolveBackendRequest() : { request: name, source: options.source ?? 'argument' };
  // tfjs warns on first CPU use that tfjs-node would be faster; `gaze doctor` covers that.
  tf.enableProdMode();

  const attempts: BackendAttempt[] = [];
  const order = request === 'auto' ? AUTO_ORDER : [request];
  for (const backend of order) {
    // Dawn prints a warning for every missing driver it probes: not worth it without a GPU.
    if (request === 'auto' && backend === 'webgpu' && !gpuDevicePresent()) {
      attempts.push({ backend, ok: false, detail: 'no GPU device (/dev/nvidia0, /dev/dri)' });
      continue;
    }
    try {
      const { threads, simd, detail } = await activate(backend);
      attempts.push({ backend, ok: true, detail });
      const skipped = attempts.filter((a) => !a.ok).map((a) => `${a.backend}: ${a.detail}`);
      const why = request === 'auto' ? `auto picked ${backend}` : `${backend} requested by ${source}`;
      return {
        backend,
        requested: request,
        requestedBy: source,
        reason: skipped.length ? `${why} (skipped ${skipped.join('; ')})` : why,
        threads,
        simd,
        attempts,
        engineKernels: backend === 'wasm' || backend === 'cpu' ? engineKernelsFor(backend) : [],
      };
    } catch (error) {
      if (request !== 'auto') throw asBackendError(backend, source, error);
      attempts.push({ backend, ok: false, detail: shortReason(error) });
    }
  }
  throw new GazeError(`no tfjs backend could be started: ${attempts.map((a) => `${a.backend}: ${a.detail}`).join('; ')}`, {
    hint: 'run `npx gaze doctor` for details, and `npm ci` to repair the install',
  });
}

let wasmPathsSet = false;

async function activate(backend: BackendName): Promise<{ threads: number; simd: boolean; detail: string }> {
  switch (backend) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      await importOptional(NATIVE_PACKAGES[backend]);
      await setTfjsBackend('tensorflow');
      return { threads: availableParallelism(), simd: true, detail: `${NATIVE_PACKAGES[backend]} loaded` };
    }
    case 'webgpu': {
      const adapter = await registerWebgpuBackend();
      await setTfjsBackend('webgpu');
      return { threads: availableParallelism(), simd: true, detail: `WebGPU on Dawn: ${adapter}` };
    }
    case 'wasm': {
      const files = locateWasmFiles();
      // Before the first init only: tfjs reads the binaries once, from this directory.
      if (!wasmPathsSet) wasm.setWasmPaths(files.dir);
      wasmPathsSet = true;
      registerEngineKernels('wasm');
      await setTfjsBackend('wasm');
      const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
      const threads = wasm.getThreadsCount();
      const native = nativeKernelStatus();
      const pool = nativeThreads();
      const conv = native.active ? `convolutions and the kernels around them on ${native.detail} (${pool.threads} thread(s), from ${pool.source})` : `convolutions on XNNPACK (oneDNN kernels off: ${native.detail})`;
      return { threads, simd, detail: `binaries from ${files.dir}, SIMD ${simd ? 'on' : 'off'}, ${threads} thread(s); ${conv}` };
    }
    case 'cpu':
      registerEngineKernels('cpu');
      await setTfjsBackend('cpu');
      return { threads: 1, simd: false, detail: 'plain JavaScript kernels' };
  }
}

async function setTfjsBackend(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tfjs could not initialise its '${name}' backend`);
  await tf.ready();
}

function shortReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0].slice(0, 200);
}

function asBackendError(backend: BackendName, source: RequestSource, error: unknown): GazeError {
  if (error instanceof GazeError) return error;
  if (backend === 'tensorflow' || backend === 'tensorflow-gpu') {
    const pkg = NATIVE_PACKAGES[backend];
    const gpuNote =
      backend === 'tensorflow-gpu' ? '; it needs an NVIDIA driver, CUDA 11.2 and cuDNN 8.1 (libcudart.so.11.0, libcudnn.so.8)' : '';
    if (error instanceof NotInstalledError) {
      return new GazeError(`backend '${backend}' needs ${pkg}, which is not installed`, {
        where: source,
        hint: `install it with \`npm install ${pkg}@4.22.0 -w @gaze/engine\` on a machine that can download libtensorflow (its install script fetches it)${gpuNote}; or use --backend wasm`,
        cause: error,
      });
    }
    return new GazeError(`backend '${backend}': ${pkg} is installed but failed to load: ${shortReason(error)}`, {
      where: source,
      hint: `check its native libraries${gpuNote}; \`npx gaze doctor\` lists what was found; or use --backend wasm`,
      cause: error,
    });
  }
  if (backend === 'webgpu') {
    const missing = error instanceof NotInstalledError;
    return new GazeError(`backend 'webgpu' is not available: ${shortReason(error)}`, {
      where: source,
      hint: missing
        ? 'install the optional packages with `npm install webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0 -w @gaze/engine`; or use --backend wasm'
        : 'it needs a GPU with a Vulkan driver (NVIDIA, AMD, Intel); `npx gaze doctor` lists what was found; or use --backend wasm',
      cause: error,
    });
  }
  return new GazeError(`backend '${backend}' failed to start: ${shortReason(error)}`, {
    where: source,
    hint: 'run `npx gaze doctor`; reinstall with `rm -rf node_modules && npm ci`',
    cause: error,
  });
}
