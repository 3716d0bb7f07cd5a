import { disposeBatch, sliceBatch, type Dataset } from '@gaze/data';
import { tf } from '@gaze/engine';
import type { Explainer } from '@gaze/explainers';
import { createEvaluator, summaryCi, type Evaluator, type ImageScore, type MetricCurve, type TargetKind } from '@gaze/metrics';
import type { Classifier } from '@gaze/models';
import { formatCsv, methodCurvesSpec, type MetricRow, type ReportChart } from '@gaze/report';
import type { ExperimentConfig } from '../config/schema.js';

/** One per-image value, as metrics_per_image.csv holds it. */
export interface PerImageRow {
  method: string;
  id: string;
  label: number;
  metric: string;
  value: number;
}

export interface EvaluationOutcome {
  /** Summary rows with bootstrap CIs, one per method and metric. */
  metrics: MetricRow[];
  perImage: PerImageRow[];
  /** Curves per method (deletion, insertion, sanity...), for the report's charts. */
  curves: { method: string; curve: MetricCurve }[];
}

export interface EvaluationProgress {
  method: string;
  batch: number;
  batches: number;
  images: number;
}

/**
 * Scores every explainer with every evaluator on the first `evaluationSet.images` images of the
 * evaluation split: per batch, each explainer's maps are computed once per target kind the
 * evaluators ask for (the prediction or the label) and shared by them. Mean metrics get
 * bootstrap CIs over images.
 */
/** An explanation method of a run: a config explainer, or a trained head's. */
export interface MethodSource {
  name: string;
  create(): Explainer;
}

export async function evaluateExplainers(
  classifier: Classifier,
  dataset: Dataset,
  config: ExperimentConfig,
  methods: MethodSource[],
  seed: number,
  hooks: { log: (line: string) => void; progress?: (p: EvaluationProgress) => void },
): Promise<EvaluationOutcome> {
  const outcome: EvaluationOutcome = { metrics: [], perImage: [], curves: [] };
  if (methods.length === 0 || config.evaluation.length === 0) return outcome;
  const settings = config.evaluationSet;
  const split = dataset.split(settings.split);
  const total = Math.min(settings.images, split.size);
  const batches = Math.ceil(total / settings.batchSize);
  const evaluators: { name: string; evaluator: Evaluator }[] = config.evaluation.map((entry, i) => ({
    name: entry.name ?? entry.type,
    evaluator: createEvaluator(entry, { where: `evaluation.${i}`, seed }),
  }));
  try {
    for (const method of methods) {
      const explainer: Explainer = method.create();
      // A head trained with its own copy of the classifier is scored against that copy.
      const model = (explainer as { classifier?: Classifier }).classifier ?? classifier;
      const rows = new Map<string, ImageScore[]>(evaluators.map((v) => [v.name, []]));
      const start = performance.now();
      try {
        let seen = 0;
        let index = 0;
        for await (const batch of split.batches({ batchSize: settings.batchSize, shuffle: false, augment: false })) {
          try {
            if (seen >= total) break;
            const keep = Math.min(batch.ids.length, total - seen);
            const scoped = keep < batch.ids.length ? sliceBatch(batch, keep) : batch;
            seen += keep;
            index++;
            const targets = new Map<TargetKind, tf.Tensor1D>();
            const maps = new Map<TargetKind, tf.Tensor3D>();
            try {
              for (const { name, evaluator } of evaluators) {
                if (!targets.has(evaluator.target)) {
                  const t = evaluator.target === 'label' ? scoped.labels.clone() : tf.tidy(() => tf.argMax(model.logits(scoped.images), 1).toInt() as tf.Tensor1D);
                  targets.set(evaluator.target, t);
                  maps.set(evaluator.target, await explainer.explain(scoped.images, t));
                }
                const scores = await evaluator.evaluate({
                  classifier: model,
                  explainer,
                  batch: scoped,
                  maps: maps.get(evaluator.target)!,
                  targets: targets.get(evaluator.target)!,
                  info: dataset.info,
                  seed,
                });
                rows.get(name)!.push(...scores);
              }
            } finally {
              tf.dispose([...targets.values(), ...maps.values()]);
              if (scoped !== batch) disposeBatch(scoped);
            }
            hooks.progress?.({ method: explainer.name, batch: index, batches, images: seen });
          } finally {
            disposeBatch(batch);
          }
        }
      } finally {
        explainer.dispose?.();
      }
      for (const { name, evaluator } of evaluators) {
        const all = rows.get(name)!;
        for (const r of all) outcome.perImage.push({ method: explainer.name, id: r.id, label: r.label, metric: r.metric, value: r.value });
        const { summaries, curves } = evaluator.summarize(all, dataset.info);
        for (const s of summaries) {
          const row: MetricRow = { method: explainer.name, metric: s.metric, ...(s.class !== undefined ? { class: s.class } : {}), value: s.value, n: s.n };
          const ci = settings.bootstrap > 0 ? summaryCi(s, { resamples: settings.bootstrap, level: 0.95, seed }) : undefined;
          if (ci) {
            row.ci_low = ci.low;
            row.ci_high = ci.high;
          }
          outcome.metrics.push(row);
        }
        for (const curve of curves ?? []) outcome.curves.push({ method: explainer.name, curve });
      }
      hooks.log(`${explainer.name}: ${evaluators.map((v) => v.name).join(', ')} on ${total} images in ${((performance.now() - start) / 1000).toFixed(1)} s`);
    }
  } finally {
    for (const { evaluator } of evaluators) evaluator.dispose?.();
  }
  return outcome;
}

/** metrics_per_image.csv: `method,id,label,metric,value`, one row per image and metric. */
export function perImageCsv(rows: PerImageRow[]): string {
  return formatCsv(
    ['method', 'id', 'label', 'metric', 'value'],
    rows.map((r) => [r.method, r.id, r.label, r.metric, r.value]),
  );
}

/** One chart per curve metric (deletion, insertion, ...), a line per method. */
export function curveCharts(curves: EvaluationOutcome['curves']): ReportChart[] {
  const byMetric = new Map<string, EvaluationOutcome['curves']>();
  for (const c of curves) byMetric.set(c.curve.metric, [...(byMetric.get(c.curve.metric) ?? []), c]);
  return [...byMetric].map(([metric, list]) => ({
    name: `curve-${metric.replace(/[^A-Za-z0-9._-]+/g, '-')}`,
    title: `${metric} curves`,
    spec: methodCurvesSpec(
      list.map((c) => ({ method: c.method, x: c.curve.x, y: c.curve.y })),
      { title: `${metric}: mean over images`, xTitle: list[0].curve.xTitle ?? 'x', yTitle: list[0].curve.yTitle ?? metric },
    ),
  }));
}
