import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { GazeError } from '@gaze/engine';
import { readMetricsCsv, writeAggregateReport, type EpochRecord, type RunSummary } from '@gaze/report';
import { listRuns } from './run-dir.js';

/**
 * Gathers the finished runs of an experiment folder (optionally one launch, by sweep id) and
 * writes their combined table and charts (mean ± std over seeds per sweep point) to `outDir`.
 */
export async function writeExperimentSummary(experimentDir: string, outDir: string, options: { sweepId?: string } = {}): Promise<string[]> {
  const all = listRuns(experimentDir);
  if (all.length === 0) {
    throw new GazeError(`no runs in ${experimentDir}`, { hint: 'point gaze report at runs/<experiment> (a folder holding run folders with run.json)' });
  }
  const chosen = all.filter((r) => r.record.status === 'finished' && (!options.sweepId || r.record.sweepId === options.sweepId));
  if (chosen.length === 0) {
    const ids = [...new Set(all.map((r) => r.record.sweepId))];
    throw new GazeError(options.sweepId ? `no finished run of launch ${options.sweepId} in ${experimentDir}` : `no finished run in ${experimentDir} (${all.length} unfinished)`, {
      hint: options.sweepId ? `launches here: ${ids.join(', ')}` : 'finish one with gaze run FILE --resume',
    });
  }
  const runs: RunSummary[] = chosen.map(({ dir, record }) => {
    const historyPath = join(dir, 'history.json');
    return {
      runId: record.runId,
      seed: record.seed,
      params: record.params,
      metrics: readMetricsCsv(join(dir, 'metrics.csv')),
      history: existsSync(historyPath) ? (JSON.parse(readFileSync(historyPath, 'utf8')) as EpochRecord[]) : [],
    };
  });
  const experiment = chosen[0].record.experiment ?? basename(experimentDir);
  return writeAggregateReport(outDir, experiment, runs);
}
