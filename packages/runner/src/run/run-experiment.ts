import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createDataset, disposeBatch, type Dataset, type DatasetInfo } from '@gaze/data';
import { GazeError, SAFE_NAME, backendLine, WASM_HEAP_LIMIT, didYouMean, fileSystemError, initBackend, outOfMemoryError, removeAtomicDebris, isGazeError, tf, resolveBackendRequest, seed as seedRun, writeFileAtomic, type BackendReport, type BackendRequest, type RequestSource } from '@gaze/engine';
import { createClassifier, evaluateClassifier, headFactory, restoreCheckpoint, trainClassifier, trainHead, type Classifier, type EpochRecord, type Head, type TrainEvent } from '@gaze/models';
import { createExplainer } from '@gaze/explainers';
import { createEvaluator } from '@gaze/metrics';
import { readMetricsCsv, writeRunReport, type MetricRow } from '@gaze/report';
import { resolvedYaml, type LoadedConfig } from '../config/load-config.js';
import type { ExperimentConfig } from '../config/schema.js';
import { planRuns, type PlannedRun } from '../config/sweep.js';
import { writeExperimentSummary } from './aggregate.js';
import { describeEnvironment } from './environment.js';
import { explainGallery } from './gallery.js';
import { curveCharts, evaluateExplainers, perImageCsv, type EvaluationProgress, type MethodSource } from './evaluate.js';
import { runUnitAblation } from './unit-ablation.js';
import { RUN_JSON, SWEEP_ID, ensureDir, listRuns, pointLatest, readRunRecord, reserveSweepId, writeRunRecord, type RunRecord } from './run-dir.js';

/** What a run reports while it works; the CLI draws progress from these, and each goes to log.jsonl. */
export type RunnerEvent =
  | { type: 'plan'; experimentDir: string; sweepId: string; runs: number; toResume: number; toSkip: number }
  | { type: 'run-start'; index: number; total: number; runId: string; runDir: string; resumed: boolean; params: Record<string, unknown> }
  | { type: 'log'; line: string }
  | { type: 'train'; event: TrainEvent }
  | { type: 'run-end'; runId: string; runDir: string; status: RunRecord['status']; metrics: MetricRow[] }
  | { type: 'summary'; dir: string; files: string[] }
  | ({ type: 'evaluate' } & EvaluationProgress);

export interface RunOptions {
  /** Continue the newest unfinished launch of this config from its checkpoints. */
  resume?: boolean;
  /** Aborting stops training at the next step; the run is marked interrupted and can be resumed. */
  signal?: AbortSignal;
  onEvent?: (event: RunnerEvent) => void;
  /** The backend from the command line (`--backend`); it beats GAZE_BACKEND and the config. */
  backendFlag?: string;
}

export interface RunOutcome {
  runId: string;
  runDir: string;
  status: RunRecord['status'];
  metrics: MetricRow[];
}

export interface ExperimentOutcome {
  experimentDir: string;
  sweepId: string;
  runs: RunOutcome[];
  /** Where the combined table went, for a sweep or ablation. */
  summaryDir?: string;
}

/** Classifier rows of metrics.csv (DESIGN: `method: classifier`). */
const CLASSIFIER = 'classifier';

export function configHash(loaded: LoadedConfig): string {
  // Which maps get saved changes no number a run computes: a run may be resumed with another
  // --save-maps, and configs from before the key existed hash as they did.
  const { saveMaps: _outputsOnly, ...evaluationSet } = loaded.config.evaluationSet;
  return createHash('sha256').update(JSON.stringify({ ...loaded.config, evaluationSet })).digest('hex').slice(0, 16);
}

/** Which runs of an earlier launch to continue on `--resume`, or undefined when there is none. */
function findResumable(experimentDir: string, hash: string): { sweepId: string; records: RunRecord[] } | undefined {
  const runs = listRuns(experimentDir);
  const unfinished = runs.filter((r) => r.record.status !== 'finished');
  if (unfinished.length === 0) return undefined;
  const newest = unfinished[unfinished.length - 1].record;
  // run.json is a file anyone can edit: its ids become folder names, so they must look like ours.
  const dir = unfinished[unfinished.length - 1].dir;
  if (typeof newest.sweepId !== 'string' || !SWEEP_ID.test(newest.sweepId) || typeof newest.runId !== 'string' || !newest.runId.startsWith(newest.sweepId) || !SAFE_NAME.test(newest.runId)) {
    throw new GazeError(`${join(dir, RUN_JSON)} names sweep '${String(newest.sweepId)}' and run '${String(newest.runId)}', which are not run ids Gaze writes`, {
      where: join(dir, RUN_JSON),
      hint: 'the file was edited or damaged; restore it from a backup, or run without --resume to start afresh',
    });
  }
  if (newest.configHash !== hash) {
    throw new GazeError(`the newest unfinished run ${newest.runId} was started from a different config`, {
      where: join(experimentDir, newest.runId),
      hint: 'run without --resume to start afresh, or restore the config it was started with (its config.resolved.yaml)',
    });
  }
  return { sweepId: newest.sweepId, records: runs.filter((r) => r.record.sweepId === newest.sweepId).map((r) => r.record) };
}

/**
 * Runs every run an experiment file plans (one, or a sweep/ablation grid) into
 * `<output>/<experiment>/<run-id>/`, then, for several runs, a combined table.
 */
export async function runExperiment(loaded: LoadedConfig, options: RunOptions = {}): Promise<ExperimentOutcome> {
  const { config } = loaded;
  const experimentDir = resolve(config.experiment.output, config.experiment.name);
  const plan = planRuns(loaded);
  const hash = configHash(loaded);
  const resumable = options.resume ? findResumable(experimentDir, hash) : undefined;
  const sweepId = resumable?.sweepId ?? (await reserveSweepId(experimentDir));
  const previous = new Map((resumable?.records ?? []).map((r) => [r.suffix, r]));
  const emit = (e: RunnerEvent) => options.onEvent?.(e);
  if (options.resume && !resumable) emit({ type: 'log', line: `nothing to resume in ${experimentDir}: starting a new run` });
  emit({
    type: 'plan',
    experimentDir,
    sweepId,
    runs: plan.length,
    toResume: plan.filter((p) => previous.has(p.suffix) && previous.get(p.suffix)!.status !== 'finished').length,
    toSkip: plan.filter((p) => previous.get(p.suffix)?.status === 'finished').length,
  });

  const { request, source } = resolveBackendRequest({ flag: options.backendFlag, config: config.experiment.backend });
  const backend = await initBackend(request as BackendRequest, { source: source as RequestSource });
  emit({ type: 'log', line: backendLine(backend) });
  const outcomes: RunOutcome[] = [];
  for (const [index, planned] of plan.entries()) {
    const runId = planned.suffix ? `${sweepId}-${planned.suffix}` : sweepId;
    const runDir = join(experimentDir, runId);
    const before = previous.get(planned.suffix);
    if (before?.status === 'finished') {
      emit({ type: 'log', line: `${runId}: finished earlier, kept` });
      outcomes.push({ runId, runDir, status: 'finished', metrics: readMetricsCsv(join(runDir, 'metrics.csv')) });
      continue;
    }
    emit({ type: 'run-start', index, total: plan.length, runId, runDir, resumed: before !== undefined, params: planned.params });
    const outcome = await runOne(loaded, planned, { runId, runDir, sweepId, hash, backend, resume: before !== undefined, options, emit });
    outcomes.push(outcome);
    if (outcome.status !== 'finished') return { experimentDir, sweepId, runs: outcomes };
  }
  let summaryDir: string | undefined;
  if (plan.length > 1) {
    summaryDir = join(experimentDir, 'sweeps', sweepId);
    const files = await writeExperimentSummary(experimentDir, summaryDir, { sweepId });
    emit({ type: 'summary', dir: summaryDir, files });
  }
  return { experimentDir, sweepId, runs: outcomes, summaryDir };
}


interface RunContext {
  runId: string;
  runDir: string;
  sweepId: string;
  hash: string;
  backend: BackendReport;
  resume: boolean;
  options: RunOptions;
  emit: (e: RunnerEvent) => void;
}

async function runOne(loaded: LoadedConfig, planned: PlannedRun, ctx: RunContext): Promise<RunOutcome> {
  const { runDir, runId } = ctx;
  const config: ExperimentConfig = planned.config;
  await ensureDir(runDir);
  const logPath = join(runDir, 'log.jsonl');
  const log = (event: Record<string, unknown>) => appendFileSync(logPath, JSON.stringify({ time: new Date().toISOString(), ...event }) + '\n');
  const say = (line: string) => {
    log({ type: 'log', line });
    ctx.emit({ type: 'log', line });
  };
  const record: RunRecord = readRunRecord(runDir) ?? {
    runId,
    experiment: config.experiment.name,
    sweepId: ctx.sweepId,
    suffix: planned.suffix,
    seed: planned.seed,
    params: planned.params,
    configHash: ctx.hash,
    status: 'running',
    startedAt: new Date().toISOString(),
  };
  record.status = 'running';
  await writeRunRecord(runDir, record);
  await writeFileAtomic(join(runDir, 'config.resolved.yaml'), resolvedYaml(config));
  await writeFileAtomic(join(runDir, 'env.json'), JSON.stringify(describeEnvironment(ctx.backend), null, 2) + '\n');
  log({ type: ctx.resume ? 'resume' : 'start', runId, seed: planned.seed, params: planned.params, backend: ctx.backend.backend });

  let classifier: Classifier | undefined;
  let dataset: Dataset | undefined;
  const heads: { name: string; head: Head }[] = [];
  try {
    seedRun(planned.seed);
    dataset = await createDataset(config.dataset, { seed: planned.seed, baseDir: loaded.baseDir, log: say, where: 'dataset' });
    const { info } = dataset;
    say(`dataset ${info.type}: ${info.sizes.train} train / ${info.sizes.val} val / ${info.sizes.test} test, ${info.numClasses} classes, images ${info.imageShape.join('x')}`);
    classifier = await createClassifier(config.backbone, { inputShape: info.imageShape, numClasses: info.numClasses, seed: planned.seed, baseDir: loaded.baseDir, where: 'backbone' });
    say(`backbone ${classifier.type}: ${classifier.parameterCount} parameters, taps ${classifier.taps.join(', ')}`);
    await checkComponents(classifier, config, planned.seed, dataset.info);

    let history: EpochRecord[] = [];
    const notes: string[] = [];
    let valAccuracy: number | undefined;
    if (config.train) {
      checkTrainable(classifier, config.train.batchSize, ctx.backend);
      const result = await trainClassifier(classifier, dataset, config.train, {
        seed: planned.seed,
        checkpointDir: join(runDir, 'checkpoints'),
        resume: ctx.resume,
        signal: ctx.options.signal,
        onEvent: (event) => {
          if (event.type !== 'step' || event.step === event.steps || event.step % 20 === 0) log({ ...event, type: 'train', event: event.type });
          ctx.emit({ type: 'train', event });
        },
      });
      history = result.history;
      if (result.status === 'interrupted') {
        record.status = 'interrupted';
        await writeRunRecord(runDir, record);
        log({ type: 'interrupted', epochsDone: history.length });
        ctx.emit({ type: 'run-end', runId, runDir, status: 'interrupted', metrics: [] });
        return { runId, runDir, status: 'interrupted', metrics: [] };
      }
      await restoreCheckpoint(classifier, join(runDir, 'checkpoints', 'best'));
      valAccuracy = result.bestValAccuracy;
      notes.push(`best epoch ${result.bestEpoch} of ${history.length} (val accuracy ${result.bestValAccuracy.toFixed(4)})`);
      await classifier.save(join(runDir, 'checkpoints', 'classifier'));
    } else {
      notes.push('no train section: the backbone was evaluated as loaded');
    }
    await writeFileAtomic(join(runDir, 'history.json'), JSON.stringify(history, null, 2) + '\n');
    const metrics = await classifierMetrics(classifier, dataset, config, valAccuracy);
    for (const row of metrics) log({ type: 'metric', ...row });

    // Heads train on the (frozen, best) classifier; their explainers join the config's.
    const trainedClassifier = classifier;
    for (const [i, entry] of config.heads.entries()) {
      const { type, name: given, ...keys } = entry;
      const name = given ?? type;
      const head = await headFactory(type).create(trainedClassifier, keys, { seed: planned.seed, where: `heads.${i}`, info: dataset.info });
      heads.push({ name, head });
      const started = performance.now();
      const trained = await trainHead(head, dataset, {
        name,
        seed: planned.seed,
        checkpointDir: join(runDir, 'checkpoints', 'heads', name),
        resume: ctx.resume,
        signal: ctx.options.signal,
        onEvent: (event) => {
          if (event.type === 'epoch') {
            const losses = Object.entries(event.record.losses).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ');
            say(`head ${name}: epoch ${event.record.epoch}/${head.schedule.epochs}  ${losses}  lr ${event.record.lr.toExponential(2)}  ${event.record.seconds.toFixed(1)}s`);
          } else if (event.type === 'step' && (event.step === event.steps || event.step % 50 === 0)) {
            log({ type: 'head-step', head: name, epoch: event.epoch, step: event.step, steps: event.steps, ...event.losses, lr: event.lr });
          } else if (event.type === 'note') {
            // Printed as it happens; what a head wants in the report it says in describe().
            for (const line of event.lines) say(`head ${name}: ${line}`);
          } else if (event.type === 'start') {
            say(
              event.firstEpoch > event.epochs
                ? `head ${name}: trained earlier (${event.epochs} epochs)`
                : `head ${name}: training ${event.epochs} epoch(s) of ${event.stepsPerEpoch} steps${event.firstEpoch > 1 ? `, from epoch ${event.firstEpoch}` : ''}`,
            );
          }
        },
      });
      if (trained.status === 'interrupted') {
        record.status = 'interrupted';
        await writeRunRecord(runDir, record);
        log({ type: 'interrupted', head: name, epochsDone: trained.history.length });
        ctx.emit({ type: 'run-end', runId, runDir, status: 'interrupted', metrics: [] });
        return { runId, runDir, status: 'interrupted', metrics: [] };
      }
      for (const row of (await head.evaluate?.(dataset)) ?? []) {
        metrics.push({ method: name, ...row });
        log({ type: 'metric', method: name, ...row });
      }
      const first = trained.history[0]?.losses.loss;
      const last = trained.history.at(-1)?.losses.loss;
      notes.push(`head ${name}: ${trained.history.length} epochs in ${((performance.now() - started) / 1000).toFixed(0)} s, loss ${first?.toFixed(4)} -> ${last?.toFixed(4)}`);
    }
    const methods: MethodSource[] = [
      ...config.explainers.map((entry, i) => ({
        name: entry.name ?? entry.type,
        create: () => createExplainer(entry, { classifier: trainedClassifier, seed: planned.seed, where: `explainers.${i}` }),
        normalizesRawMaps: true,
      })),
      ...heads.map(({ name, head }) => ({ name, create: () => head.explainer(name) })),
    ];
    const extraRows = heads.filter(({ head }) => head.galleryRows).map(({ name, head }) => (x: tf.Tensor4D, targets: tf.Tensor1D) => head.galleryRows!(x, targets, name));
    const gallery = await explainGallery(classifier, dataset, config, methods, say, extraRows);
    for (const { name, head } of heads) {
      if (!head.describe) continue;
      const lines = await describeFirstImages(head, dataset, config);
      notes.push(...lines.map((line) => `${name}: ${line}`));
    }
    const evaluation = await evaluateExplainers(classifier, dataset, config, methods, planned.seed, {
      log: say,
      progress: (p) => ctx.emit({ type: 'evaluate', ...p }),
    }, { runDir });
    metrics.push(...evaluation.metrics);
    for (const row of evaluation.metrics) log({ type: 'metric', ...row });
    if (evaluation.perImage.length > 0) await writeFileAtomic(join(runDir, 'metrics_per_image.csv'), perImageCsv(evaluation.perImage));
    const charts = curveCharts(evaluation.curves);
    if (config.unitAblation) {
      const ablation = await runUnitAblation(classifier, dataset, config.unitAblation, { log: say });
      await writeFileAtomic(join(runDir, 'unit_ablation.csv'), ablation.csv);
      metrics.push(...ablation.metrics);
      for (const row of ablation.metrics) log({ type: 'metric', ...row });
      charts.push(ablation.chart);
    }
    await writeRunReport(runDir, {
      gallery,
      charts,
      experiment: config.experiment.name,
      runId,
      configYaml: resolvedYaml(config),
      env: describeEnvironment(ctx.backend) as unknown as Record<string, unknown>,
      metrics,
      history,
      notes: [...(Object.keys(planned.params).length ? [`sweep point: ${Object.entries(planned.params).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}`] : []), `seed ${planned.seed}`, ...notes],
    });
    // Leftovers of writes a crash interrupted (a checkpoint's .old copy) go once the run is whole.
    await removeAtomicDebris(runDir);
    record.status = 'finished';
    record.finishedAt = new Date().toISOString();
    await writeRunRecord(runDir, record);
    await pointLatest(join(runDir, '..'), runId);
    log({ type: 'finished' });
    ctx.emit({ type: 'run-end', runId, runDir, status: 'finished', metrics });
    return { runId, runDir, status: 'finished', metrics };
  } catch (caught) {
    // A full disk or an unwritable folder is the user's to fix: a GazeError naming the path.
    const error = fileSystemError(caught) ?? outOfMemoryError(caught) ?? caught;
    record.status = 'failed';
    record.error = isGazeError(error) ? error.format() : error instanceof Error ? error.message : String(error);
    // Recording the failure may fail the same way (the disk is full); the error says what to do.
    await writeRunRecord(runDir, record).catch(() => undefined);
    try {
      log({ type: 'failed', error: record.error });
    } catch {
      // as above
    }
    throw error;
  } finally {
    for (const { head } of heads) head.dispose();
    classifier?.dispose();
    await dataset?.close?.();
  }
}

/** Bytes a training step holds per parameter: the weight, its gradient and Adam's two moments. */
const TRAIN_BYTES_PER_PARAMETER = 16;
/** Bytes per activation scalar in a training step: the forward value kept for the backward pass, its gradient, and working copies. */
const TRAIN_BYTES_PER_ACTIVATION = 16;

/**
 * What must hold before a `train:` section starts: the classifier has weights to train, and a
 * training step fits the wasm backend's heap (a backbone with 100,000 channels does not): the
 * estimate counts weights, gradients and Adam's moments, and every layer's output at the batch
 * size, kept for the backward pass with its gradient.
 */
function checkTrainable(classifier: Classifier, batchSize: number, backend: BackendReport): void {
  if (classifier.trainableWeights.length === 0) {
    throw new GazeError(`the ${classifier.type} backbone has no trainable weights, so the train: section has nothing to train`, {
      where: 'train',
      hint: classifier.type === 'onnx' ? 'an ONNX backbone is frozen unless backbone.trainable: true; or leave train: out to explain and evaluate it as loaded' : 'leave train: out to use the backbone as loaded',
    });
  }
  if (backend.backend !== 'wasm' || classifier.activationsPerImage === undefined) return;
  const weights = classifier.parameterCount * TRAIN_BYTES_PER_PARAMETER;
  const activations = classifier.activationsPerImage * batchSize * TRAIN_BYTES_PER_ACTIVATION;
  // What the heap already holds (the classifier's weights, the dataset's cached tensors) is not free.
  if (weights + activations <= WASM_HEAP_LIMIT - tf.memory().numBytes) return;
  const gb = (b: number) => (b / 2 ** 30).toFixed(1);
  throw new GazeError(
    `a training step of this ${classifier.type} needs about ${gb(weights + activations)} GB (${gb(weights)} GB for ${classifier.parameterCount} parameters with their gradients and Adam's moments, ${gb(activations)} GB of activations at batch ${batchSize}); the wasm backend holds at most ${WASM_HEAP_LIMIT / 2 ** 30} GB`,
    { where: 'train.batchSize', hint: 'lower train.batchSize, the image size or the backbone\'s channels, or use a GPU backend' },
  );
}

/**
 * Builds every explainer and evaluator once, and checks the unit-ablation tap, before training:
 * a wrong tap name or parameter then fails in seconds, not after the classifier has trained.
 */
async function checkComponents(classifier: Classifier, config: ExperimentConfig, seed: number, info: DatasetInfo): Promise<void> {
  config.explainers.forEach((entry, i) => createExplainer(entry, { classifier, seed, where: `explainers.${i}` }).dispose?.());
  for (const [i, { type, name: _name, ...keys }] of config.heads.entries()) (await headFactory(type).create(classifier, keys, { seed, where: `heads.${i}`, info })).dispose();
  config.evaluation.forEach((entry, i) => createEvaluator(entry, { where: `evaluation.${i}`, seed }).dispose?.());
  const tap = config.unitAblation?.tap;
  if (tap !== undefined && !classifier.taps.includes(tap)) {
    const guess = didYouMean(tap, classifier.taps);
    throw new GazeError(`the classifier has no tap '${tap}'${guess ? ` (did you mean '${guess}'?)` : ''}`, { where: 'unitAblation.tap', hint: `use one of its taps: ${classifier.taps.join(', ')}` });
  }
}

/** What a head says about the first images of the gallery's split (e.g. EAT's textual explanations). */
async function describeFirstImages(head: Head, dataset: Dataset, config: ExperimentConfig): Promise<string[]> {
  const iterator = dataset.split(config.gallery.split).batches({ batchSize: Math.max(1, config.gallery.images), shuffle: false, augment: false })[Symbol.asyncIterator]();
  const first = await iterator.next();
  await iterator.return?.();
  if (first.done) return [];
  try {
    return await head.describe!(first.value, dataset.info.classNames);
  } finally {
    disposeBatch(first.value);
  }
}

/** accuracy (test split), val_accuracy (the best epoch's, or measured when not trained), test_loss. */
async function classifierMetrics(classifier: Classifier, dataset: Dataset, config: ExperimentConfig, valAccuracy: number | undefined): Promise<MetricRow[]> {
  const batchSize = config.train?.evalBatchSize ?? config.train?.batchSize ?? 64;
  const rows: MetricRow[] = [];
  const testSplit = dataset.split('test');
  if (testSplit.size > 0) {
    const test = await evaluateClassifier(classifier, testSplit, { batchSize });
    rows.push({ method: CLASSIFIER, metric: 'accuracy', value: test.accuracy, n: test.n });
    rows.push({ method: CLASSIFIER, metric: 'test_loss', value: test.loss, n: test.n });
  }
  const valSplit = dataset.split('val');
  if (valSplit.size > 0) {
    const value = valAccuracy ?? (await evaluateClassifier(classifier, valSplit, { batchSize })).accuracy;
    rows.push({ method: CLASSIFIER, metric: 'val_accuracy', value, n: valSplit.size });
  }
  return rows;
}

/**
 * What `gaze validate` checks beyond the file, for each dataset and backbone the planned runs use:
 * the dataset opens, the backbone builds against it, the heads, explainers and evaluators accept
 * it, and a training step at the largest batch size of those runs fits the backend's memory.
 * Returns a line describing the base run's dataset and backbone.
 */
export async function preflight(loaded: LoadedConfig, runs: readonly PlannedRun[], backendFlag?: string): Promise<string> {
  const { request, source } = resolveBackendRequest({ flag: backendFlag, config: loaded.config.experiment.backend });
  const backend = await initBackend(request as BackendRequest, { source: source as RequestSource });
  // Runs that differ only in seeds or training settings share one build.
  const builds = new Map<string, { run: PlannedRun; batchSize?: number }>();
  for (const run of runs) {
    const key = JSON.stringify([run.config.dataset, run.config.backbone, run.config.heads, run.config.explainers, run.config.evaluation, run.config.unitAblation]);
    const batch = run.config.train?.batchSize;
    const seen = builds.get(key);
    if (!seen) builds.set(key, { run, batchSize: batch });
    else if (batch !== undefined && (seen.batchSize === undefined || batch > seen.batchSize)) seen.batchSize = batch;
  }
  const lines: string[] = [];
  for (const { run, batchSize } of builds.values()) {
    const { config, seed } = run;
    const dataset = await createDataset(config.dataset, { seed, baseDir: loaded.baseDir, log: () => {}, where: 'dataset' });
    try {
      const { info } = dataset;
      const classifier = await createClassifier(config.backbone, { inputShape: info.imageShape, numClasses: info.numClasses, seed, baseDir: loaded.baseDir, where: 'backbone' });
      try {
        await checkComponents(classifier, config, seed, info);
        if (batchSize !== undefined) checkTrainable(classifier, batchSize, backend);
        lines.push(`dataset ${info.type}: ${info.sizes.train} / ${info.sizes.val} / ${info.sizes.test} images ${info.imageShape.join('x')}, ${info.numClasses} classes; backbone ${classifier.type}: ${classifier.parameterCount} parameters (on ${backend.backend})`);
      } finally {
        classifier.dispose();
      }
    } finally {
      await dataset.close?.();
    }
  }
  return lines[0] + (lines.length > 1 ? ` (and ${lines.length - 1} more dataset/backbone combinations of the sweep)` : '');
}
