import { describe, expect, it } from 'vitest';
import { progressReporter } from '../src/progress.js';

describe('progressReporter (plain lines, as in CI logs)', () => {
  it('prints the plan, periodic step lines with ETA, epoch lines and the result', () => {
    let out = '';
    let clock = 0;
    const { onEvent } = progressReporter({ write: (t) => (out += t), plainEverySeconds: 10, now: () => clock });
    onEvent({ type: 'plan', experimentDir: '/r/quick', sweepId: 's', runs: 1, toResume: 0, toSkip: 0 });
    onEvent({ type: 'run-start', index: 0, total: 1, runId: 'r1', runDir: '/r/quick/r1', resumed: false, params: {} });
    onEvent({ type: 'train', event: { type: 'start', epochs: 2, stepsPerEpoch: 4, firstEpoch: 1 } });
    for (let step = 1; step <= 4; step++) {
      clock = (step - 1) * 6000; // 6 s a step
      onEvent({ type: 'train', event: { type: 'step', epoch: 1, step, steps: 4, loss: 1 / step, accuracy: step / 4, lr: 0.001 } });
    }
    const record = { epoch: 1, train_loss: 0.5, train_accuracy: 0.75, val_loss: 0.25, val_accuracy: 0.875, lr: 0.001, seconds: 24 };
    onEvent({ type: 'train', event: { type: 'epoch', record, best: true } });
    onEvent({ type: 'run-end', runId: 'r1', runDir: '/r/quick/r1', status: 'finished', metrics: [{ method: 'classifier', metric: 'accuracy', value: 0.9, n: 10 }] });
    expect(out).toBe(
      [
        '1 run into /r/quick',
        'run r1',
        // At 12 s, step 3 of 4: 4 s a step since the epoch began (12 s / 3 steps), one step left.
        '  epoch 1/2 step 3/4 loss 0.3333 acc 0.750 ETA 4s',
        '  epoch 1/2  train loss 0.5000 acc 0.750  val loss 0.2500 acc 0.875  lr 1.00e-3  24.0s  best  ETA 24s',
        '  finished: classifier.accuracy=0.9000',
        '  report: /r/quick/r1/report.html',
        '',
      ].join('\n'),
    );
  });

  it('prints evaluation progress per method and counts the methods\' rows at the end', () => {
    let out = '';
    let clock = 0;
    const { onEvent } = progressReporter({ write: (t) => (out += t), plainEverySeconds: 10, now: () => clock });
    for (const [batch, at] of [[1, 1000], [2, 2000], [3, 12000], [4, 13000]]) {
      clock = at;
      onEvent({ type: 'evaluate', method: 'gradcam', batch, batches: 4, images: 32 * batch });
    }
    onEvent({
      type: 'run-end',
      runId: 'r1',
      runDir: '/r/x/r1',
      status: 'finished',
      metrics: [
        { method: 'classifier', metric: 'accuracy', value: 0.9, n: 10 },
        { method: 'gradcam', metric: 'pointing_game', value: 0.8, n: 8 },
        { method: 'gradcam', metric: 'deletion_auc', value: 0.2, n: 8 },
        { method: 'rise', metric: 'pointing_game', value: 0.7, n: 8 },
      ],
    });
    expect(out).toBe(
      [
        // at most one line per 10 s interval (batch 3 at 12 s), and always the method's last batch
        '  evaluating gradcam: batch 3/4 (96 images)',
        '  evaluating gradcam: batch 4/4 (128 images)',
        '  finished: classifier.accuracy=0.9000  + 3 rows for 2 methods',
        '  report: /r/x/r1/report.html',
        '',
      ].join('\n'),
    );
  });
});
