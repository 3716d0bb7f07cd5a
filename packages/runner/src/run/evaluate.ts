import { disposeBatch, sliceBatch, type Batch, type Dataset, type Split } from '@gaze/data';
import { normalizePerSample, tf } from '@gaze/engine';
import type { Explainer } from '@gaze/explainers';
import { createEvaluator, summaryCi, type Evaluator, type ImageScore, type MetricCurve, type TargetKind } from '@gaze/metrics';
import type { Classifier } from '@gaze/models';
import { formatCsv, methodCurvesSpec, type MetricRow, type ReportChart } from '@gaze/report';
import type { ExperimentConfig } from '../config/schema.js';
import { withMethodMaps, type MethodMapsWriter, type SavedMapsBatch } from './save-maps.js';

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

/** An explanation method of a run: a config explainer, or a trained head's. */
export interface MethodSource {
  name: string;
  create(): Explainer;
  /**
   * Its normalized map is normalizePerSample of its raw one, as for the registry's explainers
   * (they end in finishMaps): one raw pass then serves both the saved maps and the evaluators.
   * Otherwise (heads, which may ignore `normalize`) saving maps costs a second pass.
   */
  normalizesRawMaps?: boolean;
}

/** Where a run keeps what evaluation writes besides its numbers (maps/ for `evaluationSet.saveMaps`). */
export interface EvaluationOutput {
  runDir: string;
}

/**
 * Scores every explainer with every evaluator on the first `evaluationSet.images` images of the
 * evaluation split: per batch, each explainer's maps are computed once per target kind the
 * evaluators ask for (the prediction or the label) and shared by them. Mean metrics get
 * bootstrap CIs over images. With `evaluationSet.saveMaps`, each method's raw maps for the
 * prediction also go to `<runDir>/maps/<method>/`, batch by batch.
 */
export async function evaluateExplainers(
  classifier: Classifier,
  dataset: Dataset,
  config: ExperimentConfig,
  methods: MethodSource[],
  seed: number,
  hooks: { log: (line: string) => void; progress?: (p: EvaluationProgress) => void },
  output?: EvaluationOutput,
): Promise<EvaluationOutcome> {
  const outcome: EvaluationOutcome = { metrics: [], perImage: [], curves: [] };
  const settings = config.evaluationSet;
  const mode = settings.saveMaps;
  if (methods.length === 0 || (config.evaluation.length === 0 && mode === 'none')) return outcome;
  if (mode !== 'none' && !output) throw new Error(`evaluateExplainers: evaluationSet.saveMaps is ${mode} but no run directory was given`);
  const split = dataset.split(settings.split);
  const total = Math.min(settings.images, split.size);
  const evaluators: NamedEvaluator[] = config.evaluation.map((entry, i) => ({
    name: entry.name ?? entry.type,
    evaluator: createEvaluator(entry, { where: `evaluation.${i}`, seed }),
  }));
  try {
    for (const method of methods) {
      const start = performance.now();
      const pass = { classifier, dataset, split, config, method, evaluators, seed, total, hooks };
      const { name, rows } =
        mode !== 'none' && output
          ? await withMethodMaps(output.runDir, method.name, { mode, total, info: dataset.info }, (writer) => scoreMethod({ ...pass, writer }))
          : await scoreMethod(pass);
      summarizeMethod(name, evaluators, rows, dataset, settings, seed, outcome);
      const what = [...evaluators.map((v) => v.name), ...(mode !== 'none' ? [`maps (${mode})`] : [])];
      hooks.log(`${name}: ${what.join(', ')} on ${total} images in ${((performance.now() - start) / 1000).toFixed(1)} s`);
    }
  } finally {
    for (const { evaluator } of evaluators) evaluator.dispose?.();
  }
  return outcome;
}

interface NamedEvaluator {
  name: string;
  evaluator: Evaluator;
}

interface MethodPass {
  classifier: Classifier;
  dataset: Dataset;
  split: Split;
  config: ExperimentConfig;
  method: MethodSource;
  evaluators: NamedEvaluator[];
  seed: number;
  total: number;
  hooks: { progress?: (p: EvaluationProgress) => void };
  /** Set when the maps are saved. */
  writer?: MethodMapsWriter;
}

/** One method over the evaluation images: every evaluator's per-image scores, and its maps to `writer`. */
async function scoreMethod(pass: MethodPass): Promise<{ name: string; rows: Map<string, ImageScore[]> }> {
  const { config, evaluators, total, writer, split } = pass;
  const settings = config.evaluationSet;
  const batches = Math.ceil(total / settings.batchSize);
  const explainer: Explainer = pass.method.create();
  // A head trained with its own copy of the classifier is scored against that copy.
  const model = (explainer as { classifier?: Classifier }).classifier ?? pass.classifier;
  const rows = new Map<string, ImageScore[]>(evaluators.map((v) => [v.name, []]));
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
        const maps = new BatchMaps(model, explainer, pass.method, scoped, writer !== undefined);
        try {
          for (const { name, evaluator } of evaluators) {
            const { targets, maps: normalized } = await maps.forTarget(evaluator.target);
            const scores = await evaluator.evaluate({ classifier: model, explainer, batch: scoped, maps: normalized, targets, info: pass.dataset.info, seed: pass.seed });
            rows.get(name)!.push(...scores);
          }
          if (writer) await writer.add(await maps.saved(writer.drawsOverlays));
        } finally {
          maps.dispose();
          if (scoped !== batch) disposeBatch(scoped);
        }
        pass.hooks.progress?.({ method: explainer.name, batch: index, batches, images: seen });
      } finally {
        disposeBatch(batch);
      }
    }
  } finally {
    explainer.dispose?.();
  }
  return { name: explainer.name, rows };
}

/**
 * One batch's maps, computed on first use per target kind and shared by the evaluators. When the
 * maps are saved, the prediction's raw maps are kept too: for a method whose normalized map is
 * normalizePerSample of its raw one, from the same pass (the same numbers the evaluators got before).
 */
class BatchMaps {
  private readonly targets = new Map<TargetKind, tf.Tensor1D>();
  private readonly maps = new Map<TargetKind, tf.Tensor3D>();
  private raw?: tf.Tensor3D;
  private logits?: tf.Tensor2D;

  constructor(
    private readonly model: Classifier,
    private readonly explainer: Explainer,
    private readonly method: MethodSource,
    private readonly batch: Batch,
    private readonly keepRaw: boolean,
  ) {}

  async forTarget(kind: TargetKind): Promise<{ targets: tf.Tensor1D; maps: tf.Tensor3D }> {
    if (!this.targets.has(kind)) {
      const targets = kind === 'label' ? this.batch.labels.clone() : this.predicted();
      this.targets.set(kind, targets);
      this.maps.set(kind, kind === 'predicted' && this.keepRaw ? await this.explainKeepingRaw(targets) : await this.explainer.explain(this.batch.images, targets));
    }
    return { targets: this.targets.get(kind)!, maps: this.maps.get(kind)! };
  }

  /** What maps/<method>/ gets for this batch: the prediction's raw maps and logits, on the host. */
  async saved(withPixels: boolean): Promise<SavedMapsBatch> {
    const { targets: predicted } = await this.forTarget('predicted');
    const targets = (await predicted.data()) as Int32Array;
    const logits = (await this.logits!.data()) as Float32Array;
    const k = this.logits!.shape[1];
    return {
      ids: this.batch.ids,
      labels: (await this.batch.labels.data()) as Int32Array,
      targets,
      scores: Float32Array.from(targets, (t, i) => logits[i * k + t]),
      maps: (await this.raw!.data()) as Float32Array,
      pixels: withPixels ? ((await this.batch.images.data()) as Float32Array) : undefined,
    };
  }

  dispose(): void {
    tf.dispose([...this.targets.values(), ...this.maps.values(), ...(this.raw ? [this.raw] : []), ...(this.logits ? [this.logits] : [])]);
  }

  private predicted(): tf.Tensor1D {
    this.logits ??= this.model.logits(this.batch.images);
    return tf.tidy(() => tf.argMax(this.logits!, 1).toInt() as tf.Tensor1D);
  }

  private async explainKeepingRaw(targets: tf.Tensor1D): Promise<tf.Tensor3D> {
    this.raw = await this.explainer.explain(this.batch.images, targets, { normalize: false });
    // The same op the registry's explainers end in (finishMaps), so evaluator numbers do not move.
    return this.method.normalizesRawMaps ? normalizePerSample(this.raw) : await this.explainer.explain(this.batch.images, targets);
  }
}

/** The method's summary rows (with CIs), per-image rows and curves, added to `outcome`. */
function summarizeMethod(method: string, evaluators: NamedEvaluator[], rows: Map<string, ImageScore[]>, dataset: Dataset, settings: ExperimentConfig['evaluationSet'], seed: number, outcome: EvaluationOutcome): void {
  for (const { name, evaluator } of evaluators) {
    const all = rows.get(name)!;
    for (const r of all) outcome.perImage.push({ method, id: r.id, label: r.label, metric: r.metric, value: r.value });
    const { summaries, curves } = evaluator.summarize(all, dataset.info);
    for (const s of summaries) {
      const row: MetricRow = { method, metric: s.metric, ...(s.class !== undefined ? { class: s.class } : {}), value: s.value, n: s.n };
      const ci = settings.bootstrap > 0 ? summaryCi(s, { resamples: settings.bootstrap, level: 0.95, seed }) : undefined;
      if (ci) {
        row.ci_low = ci.low;
        row.ci_high = ci.high;
      }
      outcome.metrics.push(row);
    }
    for (const curve of curves ?? []) outcome.curves.push({ method, curve });
  }
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
