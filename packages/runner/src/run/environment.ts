import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { tf, type BackendReport } from '@gaze/engine';

/** env.json: what a run ran on, so a number can be traced to a machine, backend and commit. */
export interface RunEnvironment {
  backend: { name: string; requested: string; requestedBy: string; reason: string; threads: number; simd: boolean };
  versions: Record<string, string>;
  machine: { platform: string; release: string; arch: string; cpus: number; cpuModel: string; memoryGiB: number; hostname: string };
  git: { commit: string | null; dirty: boolean | null };
  command: string[];
  cwd: string;
}

function gazeVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  } catch {
    return null;
  }
}

export function describeEnvironment(backend: BackendReport): RunEnvironment {
  const cpus = os.cpus();
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    backend: { name: backend.backend, requested: backend.requested, requestedBy: backend.requestedBy, reason: backend.reason, threads: backend.threads, simd: backend.simd },
    versions: { gaze: gazeVersion(), node: process.versions.node, tfjs: tf.version.tfjs, v8: process.versions.v8 },
    machine: {
      platform: os.platform(),
      release: os.release(),
      arch: os.arch(),
      cpus: cpus.length,
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      hostname: os.hostname(),
    },
    git: { commit: git(['rev-parse', 'HEAD']), dirty: status === null ? null : status.length > 0 },
    command: process.argv.slice(1),
    cwd: process.cwd(),
  };
}
