import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, tf } from '@gaze/engine';
import { parseCsv, readMetricsCsv } from '@gaze/report';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, importHeads, listRuns, loadExperimentConfig, loadExperimentConfigWithHeads, runExperiment, type RunnerEvent } from '../../src/index.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

const temporary: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temporary.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

/** A run that trains in a few seconds: 16x16 shapes, 2 classes, a 2-block vgg-small, 3 epochs. */
function tinyConfig(output: string, extra = ''): string {
  const dir = tempDir('gaze-run-');
  const file = join(dir, 'tiny.yaml');
  writeFileSync(
    file,
    `experiment: {name: tiny, seed: 3, backend: wasm, output: ${JSON.stringify(output)}}
dataset: {type: shapes, size: 16, classes: 2, distractors: 1, splits: {train: 48, val: 16, test: 16}}
backbone: {type: vgg-small, channels: [4, 8]}
train: {epochs: 3, batchSize: 16, lr: 0.01}
${extra}`,
  );
  return file;
}

const outRoot = () => tempDir('gaze-runs-');

beforeAll(async () => {
  await initBackend('wasm');
});

describe('runExperiment', () => {
  it('writes the whole run directory and points latest at it, without leaking tensors', async () => {
    const out = outRoot();
    const before = tf.memory().numTensors;
    const events: RunnerEvent[] = [];
    const outcome = await runExperiment(loadExperimentConfig(tinyConfig(out)), { onEvent: (e) => events.push(e) });
    expect(tf.memory().numTensors).toBe(before);
    expect(outcome.runs).toHaveLength(1);
    const [run] = outcome.runs;
    expect(run.status).toBe('finished');
    const files = readdirSync(run.runDir).sort();
    for (const f of ['config.resolved.yaml', 'env.json', 'log.jsonl', 'checkpoints', 'metrics.csv', 'metrics.json', 'report.md', 'report.html', 'charts', 'run.json', 'history.json']) {
      expect(files).toContain(f);
    }
    expect(readdirSync(join(run.runDir, 'charts'))).toEqual(expect.arrayContaining(['training-curves.svg', 'training-curves.png', 'training-curves.vl.json']));
    expect(readdirSync(join(run.runDir, 'checkpoints'))).toEqual(expect.arrayContaining(['best', 'last', 'classifier']));
    expect(readlinkSync(join(out, 'tiny', 'latest'))).toBe(run.runId);

    const metrics = readMetricsCsv(join(run.runDir, 'metrics.csv'));
    const accuracy = metrics.find((m) => m.method === 'classifier' && m.metric === 'accuracy')!;
    expect(accuracy.n).toBe(16);
    // An accuracy over 16 images is a multiple of 1/16.
    expect(Math.abs(accuracy.value * 16 - Math.round(accuracy.value * 16))).toBeLessThan(1e-9);
    const history = JSON.parse(readFileSync(join(run.runDir, 'history.json'), 'utf8')) as { val_accuracy: number }[];
    expect(history).toHaveLength(3);
    const val = metrics.find((m) => m.metric === 'val_accuracy')!;
    expect(val.value).toBe(Math.max(...history.map((h) => h.val_accuracy)));
    expect(JSON.parse(readFileSync(join(run.runDir, 'metrics.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(metrics)));

    const env = JSON.parse(readFileSync(join(run.runDir, 'env.json'), 'utf8'));
    expect(env.backend.name).toBe('wasm');
    expect(env.versions.tfjs).toBe(tf.version.tfjs);
    const log = readFileSync(join(run.runDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log[0].type).toBe('start');
    expect(log.filter((e) => e.type === 'train' && e.record).map((e) => e.record.epoch)).toEqual([1, 2, 3]);
    expect(log[log.length - 1].type).toBe('finished');
    expect(events.filter((e) => e.type === 'train' && e.event.type === 'epoch')).toHaveLength(3);
  });

  it('explains and evaluates: metrics with bootstrap CIs, per-image rows, curves and the gallery', async () => {
    const out = outRoot();
    const events: RunnerEvent[] = [];
    const extra = `explainers: [{type: gradcam}, {type: gradient, name: saliency}]
evaluation: [{type: pointing-game}, {type: deletion, steps: 8}, {type: ad-ic}]
evaluationSet: {images: 12, batchSize: 8, bootstrap: 200}
gallery: {images: 3}`;
    const before = tf.memory().numTensors;
    const outcome = await runExperiment(loadExperimentConfig(tinyConfig(out, extra)), { onEvent: (e) => events.push(e) });
    expect(tf.memory().numTensors).toBe(before);
    const { runDir } = outcome.runs[0];
    const metrics = readMetricsCsv(join(runDir, 'metrics.csv'));
    for (const method of ['gradcam', 'saliency']) {
      for (const metric of ['pointing_game', 'deletion_auc', 'ad_100', 'ic_100', 'ad_50', 'ic_50', 'ad_15', 'ic_15']) {
        const row = metrics.find((m) => m.method === method && m.metric === metric);
        expect(row, `${method} ${metric}`).toBeDefined();
        expect(row!.ci_low!).toBeLessThanOrEqual(row!.value + 1e-12);
        expect(row!.ci_high!).toBeGreaterThanOrEqual(row!.value - 1e-12);
      }
      // The 12 images are 8 + 4: the second batch is cut to what evaluationSet asks for.
      expect(metrics.find((m) => m.method === method && m.metric === 'deletion_auc')!.n).toBe(12);
      // Per-class pointing game: the class in its own column; the classes' pairs add up to all pairs.
      const perClass = metrics.filter((m) => m.method === method && m.metric === 'pointing_game' && m.class !== undefined);
      expect(perClass.length).toBeGreaterThan(1);
      expect(new Set(perClass.map((m) => m.class)).size).toBe(perClass.length);
      const images = metrics.find((m) => m.method === method && m.metric === 'pointing_game_images')!;
      expect(perClass.reduce((sum, m) => sum + m.n, 0)).toBe(images.n);
      expect(perClass.reduce((sum, m) => sum + m.n * m.value, 0) / images.n).toBeCloseTo(images.value, 12);
    }
    expect(metrics.filter((m) => m.metric.startsWith('pointing_game/'))).toEqual([]);
    // metrics_per_image.csv holds the values each mean is over.
    const [header, ...rows] = parseCsv(readFileSync(join(runDir, 'metrics_per_image.csv'), 'utf8'));
    expect(header).toEqual(['method', 'id', 'label', 'metric', 'value']);
    for (const method of ['gradcam', 'saliency']) {
      const deletion = rows.filter((r) => r[0] === method && r[3] === 'deletion_auc').map((r) => Number(r[4]));
      expect(deletion).toHaveLength(12);
      const mean = deletion.reduce((a, b) => a + b, 0) / 12;
      expect(metrics.find((m) => m.method === method && m.metric === 'deletion_auc')!.value).toBeCloseTo(mean, 12);
      expect(new Set(rows.filter((r) => r[0] === method && r[3] === 'deletion_auc').map((r) => r[1])).size).toBe(12);
    }
    const files = readdirSync(runDir);
    expect(files).toContain('gallery.png');
    expect(readdirSync(join(runDir, 'charts'))).toEqual(expect.arrayContaining(['curve-deletion.svg', 'metrics.svg']));
    const report = readFileSync(join(runDir, 'report.md'), 'utf8');
    expect(report).toContain('## Explanations');
    expect(report).toContain('gallery.png');
    const progress = events.filter((e) => e.type === 'evaluate');
    expect(progress.map((e) => (e as { images: number }).images)).toEqual([8, 12, 8, 12]);
  });

  it('ablates each unit of a tap: unit_ablation.csv, its metrics and chart', async () => {
    const out = outRoot();
    const outcome = await runExperiment(loadExperimentConfig(tinyConfig(out, 'unitAblation: {tap: block2, images: 12, batchSize: 8}')));
    const { runDir } = outcome.runs[0];
    const [header, ...rows] = parseCsv(readFileSync(join(runDir, 'unit_ablation.csv'), 'utf8'));
    expect(header).toEqual(['tap', 'unit', 'class', 'images', 'accuracy', 'drop']);
    // intact (all + 2 classes) and 8 units of block2 (all + 2 classes each)
    expect(rows).toHaveLength(3 + 8 * 3);
    const intact = Number(rows[0][4]);
    expect(rows[0].slice(0, 4)).toEqual(['block2', 'none', 'all', '12']);
    const units = rows.filter((r) => r[1] !== 'none' && r[2] === 'all');
    expect(units.map((r) => r[1]).sort()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    for (const r of units) {
      expect(Number(r[5])).toBeCloseTo(intact - Number(r[4]), 12);
      // an accuracy over 12 images is a multiple of 1/12
      expect(Math.abs(Number(r[4]) * 12 - Math.round(Number(r[4]) * 12))).toBeLessThan(1e-9);
    }
    const metrics = readMetricsCsv(join(runDir, 'metrics.csv'));
    const maxDrop = metrics.find((m) => m.metric === 'unit_ablation_max_drop/block2')!;
    expect(maxDrop.value).toBeCloseTo(Math.max(...units.map((r) => Number(r[5]))), 12);
    expect(readdirSync(join(runDir, 'charts'))).toContain('unit-ablation.svg');
  });

  it('trains a head named in heads: and scores its maps beside the explainers', async () => {
    const out = outRoot();
    const extra = `heads: [{type: tame, train: {epochs: 2, batchSize: 16, lr: 0.01}}]
explainers: [{type: gradcam}]
evaluation: [{type: pointing-game}, {type: ad-ic}]
evaluationSet: {images: 8, batchSize: 8, bootstrap: 50}
gallery: {images: 2}`;
    const before = tf.memory().numTensors;
    const outcome = await runExperiment(await loadExperimentConfigWithHeads(tinyConfig(out, extra)));
    expect(tf.memory().numTensors).toBe(before);
    const { runDir } = outcome.runs[0];
    const metrics = readMetricsCsv(join(runDir, 'metrics.csv'));
    for (const method of ['tame', 'gradcam']) {
      for (const metric of ['pointing_game', 'ad_15', 'ic_15']) expect(metrics.find((m) => m.method === method && m.metric === metric), `${method} ${metric}`).toBeDefined();
    }
    const state = JSON.parse(readFileSync(join(runDir, 'checkpoints', 'heads', 'tame', 'last', 'state.json'), 'utf8'));
    expect(state.epoch).toBe(2);
    expect(state.history.map((h: { losses: { loss: number } }) => Number.isFinite(h.losses.loss))).toEqual([true, true]);
    expect(readFileSync(join(runDir, 'report.md'), 'utf8')).toMatch(/head tame: 2 epochs in \d+ s, loss /);
  });

  it('trains a joint head (eat) on its own copy: its metrics, its sentences in the report, its maps scored against its copy', async () => {
    const out = outRoot();
    const extra = `heads: [{type: eat, train: {epochs: 1, batchSize: 16}}]
evaluation: [{type: pointing-game}]
evaluationSet: {images: 8, batchSize: 8, bootstrap: 20}
gallery: {images: 2}`;
    const outcome = await runExperiment(await loadExperimentConfigWithHeads(tinyConfig(out, extra)));
    const { runDir } = outcome.runs[0];
    const metrics = readMetricsCsv(join(runDir, 'metrics.csv'));
    for (const metric of ['accuracy', 'attribute_accuracy', 'attribute_map', 'pointing_game']) expect(metrics.find((m) => m.method === 'eat' && m.metric === metric), metric).toBeDefined();
    expect(readFileSync(join(runDir, 'report.md'), 'utf8')).toMatch(/eat: shapes\/test\/0: predicted /);
  });

  it('trains the heads that change the network (dia, ean with its search, brnpa) and scores each against its own network', async () => {
    const out = outRoot();
    const file = join(tempDir('gaze-run-'), 'networks.yaml');
    writeFileSync(
      file,
      `experiment: {name: networks, seed: 3, backend: wasm, output: ${JSON.stringify(out)}}
dataset: {type: shapes, size: 16, classes: 2, distractors: 1, splits: {train: 32, val: 16, test: 16}}
backbone: {type: resnet-small, channels: [4, 8], blocksPerStage: 2}
train: {epochs: 1, batchSize: 16, lr: 0.01}
heads:
  - {type: dia, train: {epochs: 1, batchSize: 16}}
  - {type: ean, search: {afterEpoch: 1, steps: 3, samples: 2, images: 16}, train: {epochs: 2, batchSize: 16}}
  - {type: brnpa, parts: 2, train: {epochs: 1, batchSize: 16}}
evaluation: [{type: deletion, steps: 8}, {type: pointing-game}]
evaluationSet: {images: 4, batchSize: 4, bootstrap: 20}
gallery: {images: 2}
`,
    );
    const outcome = await runExperiment(await loadExperimentConfigWithHeads(file));
    const { runDir, status } = outcome.runs[0];
    expect(status).toBe('finished');
    const metrics = readMetricsCsv(join(runDir, 'metrics.csv'));
    const value = (method: string, metric: string) => metrics.find((m) => m.method === method && m.metric === metric)?.value;
    for (const method of ['dia', 'ean', 'brnpa']) {
      expect(value(method, 'accuracy'), method).toBeGreaterThanOrEqual(0);
      for (const metric of ['deletion_auc', 'pointing_game']) expect(value(method, metric), `${method} ${metric}`).toBeDefined();
    }
    expect(value('dia', 'attention_parameters')).toBeGreaterThan(0);
    expect(value('ean', 'connected_blocks')).toBeLessThanOrEqual(4);
    expect(value('brnpa', 'attention_parameters')).toBe(0);
    const report = readFileSync(join(runDir, 'report.md'), 'utf8');
    expect(report.match(/ean: searched connections [01]{2} \S*\| [01]{2} \(\d of 4 blocks/g)).toHaveLength(1);
    expect(report).toContain('brnpa part 2');
  });

  it('resumes a run interrupted in head training to the same head metrics as an uninterrupted one', async () => {
    const extra = `heads: [{type: tame, train: {epochs: 2, batchSize: 16, lr: 0.01}}]
evaluation: [{type: ad-ic}]
evaluationSet: {images: 8, batchSize: 8, bootstrap: 0}
gallery: {images: 0}`;
    const straight = await runExperiment(await loadExperimentConfigWithHeads(tinyConfig(outRoot(), extra)));
    const out = outRoot();
    const config = tinyConfig(out, extra);
    const controller = new AbortController();
    const first = await runExperiment(await loadExperimentConfigWithHeads(config), {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'log' && e.line.startsWith('head tame: epoch 1/2')) controller.abort();
      },
    });
    expect(first.runs[0].status).toBe('interrupted');
    const resumed = await runExperiment(await loadExperimentConfigWithHeads(config), { resume: true });
    expect(resumed.runs[0].runId).toBe(first.runs[0].runId);
    const rows = (runDir: string) => readMetricsCsv(join(runDir, 'metrics.csv')).filter((m) => m.method === 'tame');
    expect(rows(resumed.runs[0].runDir).length).toBeGreaterThan(0);
    expect(rows(resumed.runs[0].runDir)).toEqual(rows(straight.runs[0].runDir));
  });

  it('says which head type is unknown, where', async () => {
    await importHeads(['tame']); // the did-you-mean comes from the loaded heads, whatever ran before
    const error = (await loadExperimentConfigWithHeads(tinyConfig(outRoot(), 'heads: [{type: tamee}]')).catch((e: unknown) => e)) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems[0].where).toMatch(/tiny\.yaml:5:16 heads\.0\.type$/);
    expect(error.problems[0].message).toBe("unknown head type 'tamee' (did you mean 'tame'?)");
    expect(error.problems[0].hint).toContain('no @gaze/head-tamee (packages/heads/tamee)');
  });

  it('checks explainer taps and the unit-ablation tap before training', async () => {
    const out = outRoot();
    const events: RunnerEvent[] = [];
    const onEvent = (e: RunnerEvent) => events.push(e);
    await expect(runExperiment(loadExperimentConfig(tinyConfig(out, 'explainers: [{type: gradcam, layer: block7}]')), { onEvent })).rejects.toThrow(/no tap 'block7'/);
    await expect(runExperiment(loadExperimentConfig(tinyConfig(out, 'unitAblation: {tap: blok2}')), { onEvent })).rejects.toThrow(/no tap 'blok2' \(did you mean 'block2'\?\)/);
    // both failed before the first training step
    expect(events.filter((e) => e.type === 'train')).toEqual([]);
  });

  it('resumes an interrupted run to the same final metrics as an uninterrupted one', async () => {
    const straight = await runExperiment(loadExperimentConfig(tinyConfig(outRoot())));
    const out = outRoot();
    const config = tinyConfig(out);
    const controller = new AbortController();
    const first = await runExperiment(loadExperimentConfig(config), {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'train' && e.event.type === 'epoch' && e.event.record.epoch === 1) controller.abort();
      },
    });
    expect(first.runs[0].status).toBe('interrupted');
    expect(listRuns(join(out, 'tiny'))[0].record.status).toBe('interrupted');
    const resumed = await runExperiment(loadExperimentConfig(config), { resume: true });
    expect(resumed.runs[0].runId).toBe(first.runs[0].runId);
    expect(readMetricsCsv(join(resumed.runs[0].runDir, 'metrics.csv'))).toEqual(readMetricsCsv(join(straight.runs[0].runDir, 'metrics.csv')));
    const h = (dir: string) => (JSON.parse(readFileSync(join(dir, 'history.json'), 'utf8')) as { seconds: number }[]).map(({ seconds: _s, ...rest }) => rest);
    expect(h(resumed.runs[0].runDir)).toEqual(h(straight.runs[0].runDir));
  });

  it('refuses to resume a run started from another config', async () => {
    const out = outRoot();
    const controller = new AbortController();
    controller.abort();
    await runExperiment(loadExperimentConfig(tinyConfig(out)), { signal: controller.signal });
    await expect(runExperiment(loadExperimentConfig(tinyConfig(out), { sets: ['train.lr=0.02'] }), { resume: true })).rejects.toThrow(/was started from a different config/);
  });

  it('runs a sweep over two seeds into two runs and one combined table', async () => {
    const out = outRoot();
    const outcome = await runExperiment(loadExperimentConfig(tinyConfig(out, 'sweep: {seeds: [1, 2]}\n'), { sets: ['train.epochs=1'] }));
    expect(outcome.runs.map((r) => r.runId)).toEqual([`${outcome.sweepId}-s1`, `${outcome.sweepId}-s2`]);
    expect(outcome.runs.map((r) => r.status)).toEqual(['finished', 'finished']);
    expect(outcome.summaryDir).toBe(join(out, 'tiny', 'sweeps', outcome.sweepId));
    const summary = readFileSync(join(outcome.summaryDir!, 'summary.csv'), 'utf8');
    const accuracies = outcome.runs.map((r) => readMetricsCsv(join(r.runDir, 'metrics.csv')).find((m) => m.metric === 'accuracy')!.value);
    const mean = (accuracies[0] + accuracies[1]) / 2;
    const line = summary.split('\n').find((l) => l.includes('classifier') && l.includes(',accuracy,'));
    expect(line).toBeDefined();
    expect(Number(line!.split(',').find((cell, i, cells) => cells[i - 2] === 'accuracy' && cells[i - 1] === ''))).toBeCloseTo(mean, 12);
    expect(existsSync(join(outcome.summaryDir!, 'summary.html'))).toBe(true);
  });
});

describe('gaze run, killed and resumed', () => {
  it('continues after SIGKILL and ends with the metrics of an uninterrupted run', async () => {
    // Eight epochs leave the poll below plenty of time to kill the child after the first.
    const sets = ['train.epochs=8'];
    const straight = await runExperiment(loadExperimentConfig(tinyConfig(outRoot()), { sets }));
    const out = outRoot();
    const config = tinyConfig(out);
    const child = spawn(process.execPath, [join(repoRoot, 'packages/cli/bin/gaze.js'), 'run', config, '--set', sets[0]], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // Kill it as soon as the first epoch's checkpoint is on disk.
    const killed = await new Promise<boolean>((resolvePromise) => {
      const timer = setInterval(() => {
        const runs = listRuns(join(out, 'tiny'));
        if (runs.length && existsSync(join(runs[0].dir, 'checkpoints', 'last', 'state.json'))) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolvePromise(true);
        }
      }, 20);
      child.on('exit', () => {
        clearInterval(timer);
        resolvePromise(false);
      });
    });
    expect(killed, `the child finished before it could be killed: ${stderr}`).toBe(true);
    const [before] = listRuns(join(out, 'tiny'));
    expect(before.record.status).toBe('running');
    const done = JSON.parse(readFileSync(join(before.dir, 'checkpoints', 'last', 'state.json'), 'utf8')) as { epoch: number };
    expect(done.epoch).toBeLessThan(8);
    const resumed = await runExperiment(loadExperimentConfig(config, { sets }), { resume: true });
    expect(resumed.runs[0].runId).toBe(before.record.runId);
    expect(readMetricsCsv(join(resumed.runs[0].runDir, 'metrics.csv'))).toEqual(readMetricsCsv(join(straight.runs[0].runDir, 'metrics.csv')));
  });
});
