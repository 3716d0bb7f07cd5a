import { existsSync } from 'node:fs';
import { importOptional } from './optional-import.js';
import { tf } from './tf.js';

/**
 * The `webgpu` backend in Node: tfjs's WebGPU backend (`@tensorflow/tfjs-backend-webgpu`) on
 * Dawn through the `webgpu` npm package, both optional dependencies. It runs on GPUs for which no
 * matching CUDA/libtensorflow exists (Dawn drives them through Vulkan). tfjs only registers the
 * backend where `navigator.gpu` exists (browsers), so the engine asks Dawn for an adapter itself
 * and registers the backend on its device.
 */

export class WebgpuUnavailableError extends Error {}

interface DawnModule {
  create(options: string[]): { requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null> };
  globals: Record<string, unknown>;
}

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(descriptor: Record<string, unknown>): Promise<unknown>;
}

/** Where Linux GPU drivers show up: without any of these Dawn finds nothing to run on. */
const GPU_DEVICE_FILES = ['/dev/nvidia0', '/dev/dri'];

/** Whether this machine shows a GPU device node (what `auto` checks before trying webgpu). */
export function gpuDevicePresent(): boolean {
  return GPU_DEVICE_FILES.some((f) => existsSync(f));
}

let registered: string | undefined;

interface WebgpuModules {
  dawn: DawnModule;
  backend: { WebGPUBackend: new (device: unknown, info?: unknown) => tf.KernelBackend };
}

let provided: WebgpuModules | undefined;

/**
 * Hands the engine the two WebGPU packages, already imported: a bundle (scripts/gpu/bundle.sh)
 * compiles tfjs-backend-webgpu onto its own copy of tfjs, where importing it by name at run time
 * would load a second tfjs whose kernel registry the engine never sees.
 */
export function provideWebgpuModules(modules: WebgpuModules): void {
  provided = modules;
}

/** Finds a WebGPU adapter through Dawn and registers tfjs's `webgpu` backend on it; returns the adapter's description. */
export async function registerWebgpuBackend(): Promise<string> {
  if (registered) return registered;
  const dawn = provided?.dawn ?? (await importOptional<DawnModule>('webgpu'));
  const backend = provided?.backend ?? (await importOptional<WebgpuModules['backend']>('@tensorflow/tfjs-backend-webgpu'));
  // The WebGPU constants (GPUBufferUsage, GPUMapMode, ...) the backend reads as globals.
  for (const [name, value] of Object.entries(dawn.globals)) if (!(name in globalThis)) Object.assign(globalThis, { [name]: value });
  const adapter = await dawn.create([]).requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    const why = gpuDevicePresent() ? 'a GPU device exists, but Dawn could not open it (is the Vulkan loader, libvulkan.so.1, and the GPU vendor ICD installed?)' : 'this machine shows no GPU (/dev/nvidia0, /dev/dri)';
    throw new WebgpuUnavailableError(`Dawn found no WebGPU adapter: ${why}`);
  }
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: ['timestamp-query'].filter((f) => adapter.features.has(f)),
    // tfjs sizes its buffers and dispatches by these: ask for what the adapter has, not the defaults.
    requiredLimits: Object.fromEntries(
      ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup'].map((k) => [k, limits[k]]),
    ),
  });
  const info = adapter.info ?? {};
  tf.registerBackend('webgpu', () => new backend.WebGPUBackend(device, info), 3);
  registered = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
  return registered;
}
