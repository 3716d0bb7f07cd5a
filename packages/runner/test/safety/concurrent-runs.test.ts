import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { listRuns, reserveSweepId } from '../../src/index.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'gaze-concurrent-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('launches started at the same moment', () => {
  it('reserve different sweep ids, even within one second', async () => {
    const at = new Date('2026-12-03T10:00:00Z');
    const ids = await Promise.all(Array.from({ length: 12 }, () => reserveSweepId(join(root, 'ids'), at)));
    expect(new Set(ids).size).toBe(12);
    expect(ids.sort()[0]).toBe('2026-12-03T10-00-00');
  });

  it('four real `gaze run` processes of one experiment each get their own run directory, log and results', async () => {
    const out = join(root, 'runs');
    const file = join(root, 'tiny.yaml');
    writeFileSync(
      file,
      `experiment: {name: race, seed: 1, output: ${JSON.stringify(out)}}
dataset: {type: shapes, size: 16, classes: 2, distractors: 0, splits: {train: 16, val: 8, test: 8}}
backbone: {type: vgg-small, channels: [4]}
train: {epochs: 1, batchSize: 8}
`,
    );
    const launch = (seed: number) =>
      new Promise<{ code: number | null; stderr: string }>((done) => {
        const child = spawn(process.execPath, [join(repoRoot, 'packages/cli/bin/gaze.js'), 'run', file, '--set', `experiment.seed=${seed}`], {
          cwd: repoRoot,
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...process.env, OMP_NUM_THREADS: '1' },
        });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('exit', (code) => done({ code, stderr }));
      });
    const results = await Promise.all([1, 2, 3, 4].map(launch));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const runs = listRuns(join(out, 'race'));
    expect(runs).toHaveLength(4);
    expect(new Set(runs.map((r) => r.record.runId)).size).toBe(4);
    // Each run's files are its own: one start in its log, its own seed in its resolved config.
    const seeds = runs.map((r) => {
      const log = readFileSync(join(r.dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; seed?: number });
      expect(log.filter((e) => e.type === 'start')).toHaveLength(1);
      const start = log.find((e) => e.type === 'start')!;
      expect(readFileSync(join(r.dir, 'config.resolved.yaml'), 'utf8')).toContain(`seed: ${start.seed}`);
      expect(r.record.seed).toBe(start.seed);
      expect(r.record.status).toBe('finished');
      return start.seed;
    });
    expect(seeds.sort()).toEqual([1, 2, 3, 4]);
  }, 240_000);
});
