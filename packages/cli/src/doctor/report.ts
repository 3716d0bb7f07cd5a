import { readFileSync } from 'node:fs';
import { arch, cpus, freemem, platform, totalmem } from 'node:os';
import {
  nativeThreads,
  type ThreadsReport,
  AUTO_ORDER,
  gpuDevicePresent,
  NATIVE_PACKAGES,
  engineKernelsFor,
  initBackend,
  nativePackageInstalled,
  tf,
  type BackendName,
  type BackendReport,
  type BackendRequest,
  type EngineKernel,
  type RequestSource,
} from '@gaze/engine';
import { probeDatasets, type DatasetProbe } from '@gaze/data';
import { probeGpu, type GpuProbe } from './gpu-libraries.js';

export interface BackendStatus {
  name: BackendName;
  status: 'available' | 'not-installed' | 'failed';
  detail: string;
  simd?: boolean;
  threads?: number;
}

export interface DoctorReport {
  node: { version: string; platform: string; arch: string; cpus: number; memoryAvailableGiB: number; memoryTotalGiB: number };
  tfjs: string;
  backends: BackendStatus[];
  /** What the current request (`auto`, or `--backend` / GAZE_BACKEND) resolves to. */
  chosen: BackendReport;
  engineKernels: Record<'wasm' | 'cpu', EngineKernel[]>;
  /** The native kernels' thread pool and where its size came from. */
  nativeThreads: ThreadsReport;
  gpu: GpuProbe;
  datasets: DatasetProbe[];
}

const GIB = 1024 ** 3;

/** MemAvailable from /proc/meminfo (what a new process can get), else os.freemem(). */
function availableMemory(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return freemem();
}

async function probeBackend(name: BackendName): Promise<BackendStatus> {
  if ((name === 'tensorflow' || name === 'tensorflow-gpu') && !nativePackageInstalled(name)) {
    return { name, status: 'not-installed', detail: `${NATIVE_PACKAGES[name]} is not installed` };
  }
  if (name === 'webgpu' && !gpuDevicePresent()) {
    return { name, status: 'failed', detail: 'no GPU device (/dev/nvidia0, /dev/dri): WebGPU needs a GPU with a Vulkan driver' };
  }
  try {
    const r = await initBackend(name);
    return { name, status: 'available', detail: r.attempts.at(-1)?.detail ?? '', simd: r.simd, threads: r.threads };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { name, status: 'failed', detail: message };
  }
}

/** Everything `gaze doctor` prints. Leaves the requested backend active. */
export async function collectDoctorReport(request: { backend: BackendRequest; source: RequestSource }): Promise<DoctorReport> {
  const backends: BackendStatus[] = [];
  for (const name of AUTO_ORDER) backends.push(await probeBackend(name));
  const chosen = await initBackend(request.backend, { source: request.source });
  return {
    node: {
      version: process.version,
      platform: platform(),
      arch: arch(),
      cpus: cpus().length,
      memoryAvailableGiB: availableMemory() / GIB,
      memoryTotalGiB: totalmem() / GIB,
    },
    tfjs: tf.version.tfjs,
    backends,
    chosen,
    engineKernels: { wasm: engineKernelsFor('wasm'), cpu: engineKernelsFor('cpu') },
    nativeThreads: nativeThreads(),
    gpu: probeGpu(),
    datasets: probeDatasets(),
  };
}

const INSTALL_HINTS: Partial<Record<BackendName, string>> = {
  'tensorflow-gpu': 'npm install @tensorflow/tfjs-node-gpu@4.22.0 -w @gaze/engine (downloads libtensorflow; needs CUDA 11.2 + cuDNN 8.1)',
  tensorflow: 'npm install @tensorflow/tfjs-node@4.22.0 -w @gaze/engine (downloads libtensorflow)',
};

function table(rows: [string, string][], indent = '  '): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`).join('\n');
}

export function formatDoctorReport(r: DoctorReport): string {
  const n = r.node;
  const lines: string[] = ['Gaze doctor', ''];
  lines.push(
    table([
      ['node', `${n.version} (${n.platform} ${n.arch}), ${n.cpus} CPUs`],
      ['memory', `${n.memoryAvailableGiB.toFixed(1)} GiB available of ${n.memoryTotalGiB.toFixed(1)} GiB`],
      ['tfjs', r.tfjs],
      [
        'native threads',
        r.nativeThreads.threads === null
          ? 'none (no native addon)'
          : `${r.nativeThreads.threads} (from ${r.nativeThreads.source}; set with --threads N or OMP_NUM_THREADS, e.g. cores / jobs for parallel processes)`,
      ],
    ]),
  );
  const c = r.chosen;
  lines.push('', 'Backends');
  lines.push(
    table([
      ...r.backends.map((b): [string, string] => {
        if (b.status === 'available') return [b.name, `available: ${b.detail}`];
        if (b.status === 'not-installed') return [b.name, `not installed; to add it: ${INSTALL_HINTS[b.name] ?? ''}`];
        return [b.name, `installed but failed: ${b.detail}`];
      }),
      [c.requested === 'auto' ? 'auto picks' : 'selected', `${c.backend}: ${c.reason}`],
    ]),
  );
  if (c.backend === 'wasm') lines.push('  (Node runs wasm on one thread: tfjs turns wasm threads off outside browsers.)');
  lines.push('', 'Engine kernels (added to or corrected in tfjs backends)');
  lines.push(
    table(
      (['wasm', 'cpu'] as const).flatMap((backend) =>
        r.engineKernels[backend].map((k): [string, string] => [`${backend} ${k.kernelName}`, `${k.why === 'missing' ? 'added' : 'replaced'}: ${k.note}`]),
      ),
    ),
  );
  lines.push('', 'GPU');
  lines.push(
    table([
      ['nvidia-smi', r.gpu.gpus === null ? 'not found (no NVIDIA driver tools)' : r.gpu.gpus.join('; ') || 'no GPU listed'],
      ...r.gpu.libraries.map((l): [string, string] => [l.name, l.path ? `found: ${l.path}` : `not found (${l.what})`]),
    ]),
  );
  lines.push('', 'Datasets');
  lines.push(
    table(
      r.datasets.map((d): [string, string] => {
        if (d.found) return [d.name, `found: ${d.found}`];
        const partial = d.missing.length ? `; incomplete, missing ${d.missing.join(', ')}` : '';
        return [d.name, `not found in ${d.lookedIn.join(', ')}${partial}; install: ${d.install}`];
      }),
    ),
  );
  return lines.join('\n') + '\n';
}
