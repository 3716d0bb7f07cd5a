import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The native libraries the GPU backend (tfjs-node-gpu, libtensorflow 2.9) loads. */
export const GPU_LIBRARIES = [
  { name: 'libcuda.so.1', what: 'NVIDIA driver' },
  { name: 'libcudart.so.11.0', what: 'CUDA runtime; tfjs-node-gpu needs CUDA 11.2' },
  { name: 'libcudnn.so.8', what: 'cuDNN; tfjs-node-gpu needs cuDNN 8.1' },
] as const;

export interface GpuProbe {
  /** `nvidia-smi` summary lines (name, driver, memory) or null when it is not there. */
  gpus: string[] | null;
  libraries: { name: string; what: string; path: string | null }[];
}

/** Parses `ldconfig -p` output into soname -> path. */
export function parseLdconfig(output: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of output.split('\n')) {
    const m = /^\s*(\S+)\s+\(.*\)\s+=>\s+(\S+)\s*$/.exec(line);
    if (m && !found.has(m[1])) found.set(m[1], m[2]);
  }
  return found;
}

function run(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
}

/** Looks for a GPU and the CUDA libraries: nvidia-smi, the loader cache, LD_LIBRARY_PATH. */
export function probeGpu(env: NodeJS.ProcessEnv = process.env): GpuProbe {
  const smi = run('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader']);
  const ldconfig = parseLdconfig(run('ldconfig', ['-p']) ?? run('/sbin/ldconfig', ['-p']) ?? '');
  const dirs = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const libraries = GPU_LIBRARIES.map(({ name, what }) => {
    const inDirs = dirs.map((d) => join(d, name)).find((p) => existsSync(p));
    return { name, what, path: ldconfig.get(name) ?? inDirs ?? null };
  });
  return { gpus: smi === null ? null : smi.trim().split('\n').filter(Boolean), libraries };
}
