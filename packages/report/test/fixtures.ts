import type { EpochRecord, MetricRow, RunReportInput } from '../src/index.js';

/** Five epochs of made-up but plausible training curves. */
export const HISTORY: EpochRecord[] = [1, 2, 3, 4, 5].map((epoch) => ({
  epoch,
  train_loss: 2 / epoch,
  train_accuracy: 0.5 + epoch * 0.08,
  val_loss: 2.2 / epoch + 0.1,
  val_accuracy: 0.45 + epoch * 0.07,
  lr: 0.01,
  seconds: 3,
}));

export const XSS = '<script>alert(1)</script>';

export const METRICS: MetricRow[] = [
  { method: 'gradcam', metric: 'pointing_game', value: 0.8123456, n: 100, ci_low: 0.75, ci_high: 0.87 },
  { method: 'gradcam', metric: 'deletion_auc', value: 0.12, n: 100 },
  { method: 'rise, v2', metric: 'pointing_game', value: 1 / 3, n: 100 },
  { method: 'rise, v2', metric: 'deletion_auc', value: 0.2, n: 100 },
  { method: XSS, metric: 'pointing_game', value: 0.5, n: 100 },
];

export function reportInput(overrides: Partial<RunReportInput> = {}): RunReportInput {
  return {
    experiment: 'shapes-gradcam',
    runId: '2026-11-22T10-00-00-seed1',
    configYaml: 'experiment: shapes-gradcam\nseed: 1\ntrain:\n  epochs: 5\n',
    env: { backend: 'cpu', versions: { tfjs: '4.22.0', node: 'v20.20.2' }, git: { commit: 'abc123' } },
    metrics: METRICS,
    history: HISTORY,
    notes: ['best epoch 5', 'resumed from epoch 3'],
    ...overrides,
  };
}
