import { disposeBatch, sliceBatch, type Batch, type Dataset } from '@gaze/data';
import { unitAblation, type UnitAblationResult } from '@gaze/metrics';
import type { Classifier } from '@gaze/models';
import { formatCsv, unitAblationSpec, type MetricRow, type ReportChart } from '@gaze/report';
import type { UnitAblationSection } from '../config/schema.js';

export interface UnitAblationOutcome {
  result: UnitAblationResult;
  /** unit_ablation.csv: `tap,unit,class,images,accuracy,drop`, the intact model first (unit `none`). */
  csv: string;
  /** metrics.csv rows (method `classifier`): the largest and the mean drop over the ablated units. */
  metrics: MetricRow[];
  chart: ReportChart;
}

/** Runs the `unitAblation:` section on the first `images` images of its split. */
export async function runUnitAblation(
  classifier: Classifier,
  dataset: Dataset,
  section: UnitAblationSection,
  hooks: { log: (line: string) => void; progress?: (done: number, total: number) => void },
): Promise<UnitAblationOutcome> {
  const split = dataset.split(section.split);
  const total = Math.min(section.images ?? split.size, split.size);
  const start = performance.now();
  const result = await unitAblation(classifier, firstImages(split, total), {
    tap: section.tap,
    units: section.units,
    batchSize: section.batchSize,
    onProgress: hooks.progress,
  });
  const names = dataset.info.classNames;
  const lines: (string | number)[][] = [[result.tap, 'none', 'all', result.images, result.accuracy, 0]];
  result.perClassAccuracy.forEach((acc, c) => lines.push([result.tap, 'none', names[c] ?? String(c), result.perClassCount[c], acc, 0]));
  for (const row of result.rows) {
    lines.push([result.tap, row.unit, 'all', result.images, row.accuracy, row.drop]);
    row.perClassAccuracy.forEach((acc, c) => lines.push([result.tap, row.unit, names[c] ?? String(c), result.perClassCount[c], acc, row.perClassDrop[c]]));
  }
  const drops = result.rows.map((r) => r.drop);
  const metrics: MetricRow[] = [
    { method: 'classifier', metric: `unit_ablation_max_drop/${result.tap}`, value: Math.max(...drops), n: result.images },
    { method: 'classifier', metric: `unit_ablation_mean_drop/${result.tap}`, value: drops.reduce((a, b) => a + b, 0) / drops.length, n: result.images },
  ];
  const top = result.rows[0];
  hooks.log(
    `unit ablation of ${result.tap}: ${result.rows.length} units on ${result.images} images in ${((performance.now() - start) / 1000).toFixed(1)} s; ` +
      `largest drop ${top.drop.toFixed(4)} (unit ${top.unit}) from accuracy ${result.accuracy.toFixed(4)}`,
  );
  return {
    result,
    csv: formatCsv(['tap', 'unit', 'class', 'images', 'accuracy', 'drop'], lines),
    metrics,
    chart: { name: 'unit-ablation', title: `Unit ablation of ${result.tap}`, spec: unitAblationSpec(result.rows, { tap: result.tap }) },
  };
}

/** The first `total` images of a split, in order, unaugmented, as a batch source. */
function firstImages(split: ReturnType<Dataset['split']>, total: number) {
  return {
    size: total,
    async *batches(options: { batchSize: number }): AsyncGenerator<Batch> {
      let seen = 0;
      for await (const batch of split.batches({ batchSize: options.batchSize, shuffle: false, augment: false })) {
        if (seen >= total) {
          disposeBatch(batch);
          break;
        }
        const keep = Math.min(batch.ids.length, total - seen);
        seen += keep;
        if (keep < batch.ids.length) {
          const part = sliceBatch(batch, keep);
          disposeBatch(batch);
          yield part;
        } else yield batch;
      }
    },
  };
}
