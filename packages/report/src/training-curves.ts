import type { TopLevelSpec } from 'vega-lite';
import type { EpochRecord } from './types.js';

/** Panel size of the training-curves chart, in SVG pixels. */
export const CURVE_PANEL = { width: 300, height: 200 };

/**
 * Loss and accuracy per epoch, train vs val: two panels side by side (loss | accuracy), one line
 * per split (4 lines), with a point on each epoch. Accuracy is drawn on [0, 1] when every value is
 * a fraction. Non-finite values (no validation set) are left out of the lines. Data is inline, in
 * long form `{epoch, split, quantity, value}`.
 */
export function trainingCurvesSpec(history: EpochRecord[]): TopLevelSpec {
  const values: Array<{ epoch: number; split: string; quantity: string; value: number | null }> = [];
  for (const r of history) {
    values.push({ epoch: r.epoch, split: 'train', quantity: 'loss', value: finite(r.train_loss) });
    values.push({ epoch: r.epoch, split: 'val', quantity: 'loss', value: finite(r.val_loss) });
    values.push({ epoch: r.epoch, split: 'train', quantity: 'accuracy', value: finite(r.train_accuracy) });
    values.push({ epoch: r.epoch, split: 'val', quantity: 'accuracy', value: finite(r.val_accuracy) });
  }
  const color = {
    field: 'split',
    type: 'nominal',
    title: 'split',
    scale: { domain: ['train', 'val'] },
  } as const;
  const accuracies = values.filter((v) => v.quantity === 'accuracy' && v.value !== null).map((v) => v.value!);
  const fraction = accuracies.every((v) => v >= 0 && v <= 1);
  const x = { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } } as const;
  const panel = (quantity: 'loss' | 'accuracy') => ({
    title: quantity,
    width: CURVE_PANEL.width,
    height: CURVE_PANEL.height,
    transform: [{ filter: { field: 'quantity', equal: quantity } }, { filter: 'isValid(datum.value)' }],
    mark: { type: 'line' as const, point: true },
    encoding: {
      x,
      y: {
        field: 'value',
        type: 'quantitative' as const,
        title: quantity,
        scale: quantity === 'accuracy' && fraction ? { domain: [0, 1] } : { zero: false },
      },
      color,
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    description: 'Training curves: loss and accuracy per epoch, train vs val',
    data: { values },
    hconcat: [panel('loss'), panel('accuracy')],
    resolve: { scale: { color: 'shared' } },
  };
}

function finite(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}
