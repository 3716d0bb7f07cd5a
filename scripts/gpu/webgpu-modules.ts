import { provideWebgpuModules } from '../../packages/engine/src/index.js';

/**
 * For the GPU bundle's entries: hands the engine tfjs's WebGPU backend compiled into the bundle,
 * onto the bundle's own tfjs (imported by name at run time it would load a second tfjs whose
 * kernels the engine never sees), and the webgpu package (Dawn, a native addon beside the bundle).
 * Returns false where that package does not load, which leaves the CLI working without WebGPU.
 */
export async function provideBundledWebgpu(): Promise<boolean> {
  const dawn = await import('webgpu').catch(() => undefined);
  if (!dawn) return false;
  // The WebGPU constants (GPUBufferUsage, ...) tfjs's backend reads as globals, set before it loads.
  for (const [name, value] of Object.entries(dawn.globals as Record<string, unknown>)) if (!(name in globalThis)) Object.assign(globalThis, { [name]: value });
  provideWebgpuModules({ dawn, backend: await import('@tensorflow/tfjs-backend-webgpu') });
  return true;
}
