import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricsCsv } from '@gaze/report';
import { describe, expect, it } from 'vitest';
import { writeExperimentSummary, type RunRecord } from '../../src/index.js';

/** An experiment folder written by hand: finished runs with known accuracies, plus one unfinished. */
function experimentDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'gaze-agg-runs-'));
  const runs: [string, string, number, number, RunRecord['status']][] = [
    ['L1-p1-s1', 'L1', 1, 0.8, 'finished'],
    ['L1-p1-s2', 'L1', 2, 0.9, 'finished'],
    ['L1-p1-s3', 'L1', 3, 1.0, 'finished'],
    ['L2', 'L2', 0, 0.5, 'finished'],
    ['L3', 'L3', 0, 0.1, 'running'],
  ];
  for (const [runId, sweepId, seed, accuracy, status] of runs) {
    const dir = join(root, runId);
    mkdirSync(dir);
    const record: RunRecord = { runId, experiment: 'agg', sweepId, suffix: '', seed, params: sweepId === 'L1' ? { 'train.lr': 0.01 } : {}, configHash: 'h', status, startedAt: '' };
    writeFileSync(join(dir, 'run.json'), JSON.stringify(record));
    writeFileSync(join(dir, 'metrics.csv'), metricsCsv([{ method: 'classifier', metric: 'accuracy', value: accuracy, n: 100 }]));
  }
  return root;
}

describe('writeExperimentSummary', () => {
  it('aggregates one launch over its seeds: mean, sample std and a 95% t-interval', async () => {
    const root = experimentDir();
    const out = join(root, 'report-l1');
    const files = await writeExperimentSummary(root, out, { sweepId: 'L1' });
    expect(files).toEqual(expect.arrayContaining([join(out, 'summary.csv'), join(out, 'summary.md'), join(out, 'summary.html')]));
    const [header, row, ...rest] = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n');
    expect(rest).toEqual([]);
    expect(header).toBe('train.lr,method,metric,class,mean,std,n,ci_low,ci_high');
    const cells = row.split(',');
    expect(cells.slice(0, 4)).toEqual(['0.01', 'classifier', 'accuracy', '']);
    const [mean, std, n, lo, hi] = cells.slice(4).map(Number);
    expect(mean).toBeCloseTo(0.9, 12);
    expect(std).toBeCloseTo(0.1, 12);
    expect(n).toBe(3);
    // t(0.975, df 2) = 4.302653; half-width 4.302653 * 0.1 / sqrt(3) = 0.248414
    expect(lo).toBeCloseTo(0.9 - 0.248414, 5);
    expect(hi).toBeCloseTo(0.9 + 0.248414, 5);
  });

  it('takes every finished run by default and leaves unfinished ones out', async () => {
    const root = experimentDir();
    await writeExperimentSummary(root, join(root, 'report'));
    const lines = readFileSync(join(root, 'report', 'summary.csv'), 'utf8').trim().split('\n');
    // Two sweep points (lr 0.01 over three seeds, and the plain run), never the running L3.
    expect(lines).toHaveLength(3);
    const means = lines.slice(1).map((l) => Number(l.split(',')[4]));
    expect(means.sort()).toEqual([0.5, expect.closeTo(0.9, 12)]);
  });

  it('says what is there when nothing matches', async () => {
    const root = experimentDir();
    await expect(writeExperimentSummary(root, join(root, 'r'), { sweepId: 'nope' })).rejects.toThrow(/no finished run of launch nope/);
    await expect(writeExperimentSummary(join(root, 'missing'), join(root, 'r'))).rejects.toThrow(/no runs in/);
  });
});
