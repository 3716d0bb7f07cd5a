import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Debian's python3, which imports python3-torch and python3-torchvision (the default python3 may not). */
export const TORCH_PYTHON = '/usr/bin/python3';
export const TORCH_INSTALL = 'install them with `sudo apt-get install python3-torch python3-torchvision`';

/** testing/torchvision-reference.py, beside src/ and dist/. */
export const TORCHVISION_REFERENCE = fileURLToPath(new URL('../../testing/torchvision-reference.py', import.meta.url));

/** Whether /usr/bin/python3 imports torch, torchvision and numpy. */
export function torchvisionAvailable(): boolean {
  return spawnSync(TORCH_PYTHON, ['-c', 'import torch, torchvision, numpy'], { encoding: 'utf8' }).status === 0;
}

/**
 * Exports a seeded random-init torchvision model to `out/<model>/model.onnx` with PyTorch's
 * reference numbers beside it (input.npy, logits.npy, input_grad.npy, gradcam.<layer>.npy);
 * returns that folder. See testing/torchvision-reference.py.
 */
export function exportTorchReference(out: string, model: string, layers: string[], options: { opset?: number; batch?: number; fixedBatch?: boolean; numClasses?: number } = {}): string {
  const args = [TORCHVISION_REFERENCE, out, `${model}:${layers.join(',')}`, '--opset', String(options.opset ?? 13), '--batch', String(options.batch ?? 2)];
  if (options.fixedBatch) args.push('--fixed-batch');
  if (options.numClasses) args.push('--num-classes', String(options.numClasses));
  const r = spawnSync(TORCH_PYTHON, args, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '2' } });
  if (r.status !== 0) throw new Error(`torchvision-reference.py failed for ${model}:\n${r.stderr}`);
  return join(out, model);
}
