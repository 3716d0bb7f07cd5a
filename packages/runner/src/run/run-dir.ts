import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@gaze/engine';

/** A run's bookkeeping, `run.json` in its directory: what it is and how far it got. */
export interface RunRecord {
  runId: string;
  experiment: string;
  /** Runs launched together by one `gaze run` (a sweep or ablation) share it. */
  sweepId: string;
  suffix: string;
  seed: number;
  params: Record<string, unknown>;
  /** Hash of the experiment file's resolved config (sweep and ablation blocks included). */
  configHash: string;
  status: 'running' | 'interrupted' | 'failed' | 'finished';
  startedAt: string;
  finishedAt?: string;
  error?: string;
}

export const RUN_JSON = 'run.json';

/** `2026-11-23T03-40-12` (UTC): sorts by time and is a valid folder name everywhere. */
export function timestampId(date = new Date()): string {
  return date.toISOString().slice(0, 19).replace(/:/g, '-');
}

/** What `reserveSweepId` makes: a timestamp, `_<k>` for a later launch in the same second. */
export const SWEEP_ID = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(_\d+)?$/;

export function readRunRecord(runDir: string): RunRecord | undefined {
  const path = join(runDir, RUN_JSON);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}

export async function writeRunRecord(runDir: string, record: RunRecord): Promise<void> {
  await writeFileAtomic(join(runDir, RUN_JSON), JSON.stringify(record, null, 2) + '\n');
}

/** Every run directory of an experiment with its record, oldest first. */
export function listRuns(experimentDir: string): { dir: string; record: RunRecord }[] {
  if (!existsSync(experimentDir)) return [];
  return readdirSync(experimentDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => ({ dir: join(experimentDir, d.name), record: readRunRecord(join(experimentDir, d.name)) }))
    .filter((r): r is { dir: string; record: RunRecord } => r.record !== undefined)
    .sort((a, b) => (a.record.runId < b.record.runId ? -1 : a.record.runId > b.record.runId ? 1 : 0));
}

/** Where launches reserve their sweep ids: one empty folder per id, made with an exclusive mkdir. */
const SWEEP_IDS_DIR = '.sweep-ids';

/**
 * Reserves a sweep id no other launch of this experiment has: the launch time, `_2`, `_3`... for
 * later launches in the same second. The reservation is an exclusive mkdir, so two `gaze run`s
 * started at the same moment (in any processes) never share an id, and so never write into
 * each other's run directories.
 */
export async function reserveSweepId(experimentDir: string, date = new Date()): Promise<string> {
  const base = timestampId(date);
  const ids = join(experimentDir, SWEEP_IDS_DIR);
  await mkdir(ids, { recursive: true });
  const taken = readdirSync(experimentDir);
  const used = (id: string) => taken.some((name) => name === id || name.startsWith(`${id}-`) || name.startsWith(`${id}_`));
  for (let k = 1; ; k++) {
    const id = k === 1 ? base : `${base}_${k}`;
    if (used(id)) continue;
    try {
      await mkdir(join(ids, id));
      return id;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

/** Points `<experimentDir>/latest` at a finished run (a relative symlink, swapped atomically). */
export async function pointLatest(experimentDir: string, runId: string): Promise<void> {
  const link = join(experimentDir, 'latest');
  const tmp = join(experimentDir, `.latest-${process.pid}-${Date.now()}`);
  await rm(tmp, { force: true });
  await symlink(runId, tmp, 'dir');
  await rename(tmp, link);
}
