import { tf } from '../tf.js';
import type { KernelArgs } from './kernel-io.js';

// The backend's own kernel functions that engine kernels replaced, so a replacement can hand
// the cases it does not cover back to the original.
const replaced = new Map<string, tf.KernelFunc>();

export function rememberUpstream(kernelName: string, backend: string, kernelFunc: tf.KernelFunc): void {
  replaced.set(`${kernelName}_${backend}`, kernelFunc);
}

export function upstreamKernel(kernelName: string, backend: string): (args: KernelArgs<string>) => tf.TensorInfo {
  const func = replaced.get(`${kernelName}_${backend}`);
  if (!func) throw new Error(`no upstream '${kernelName}' kernel recorded for '${backend}'`);
  return (args) => func(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}
