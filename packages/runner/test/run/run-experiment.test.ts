import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, tf } from '@gaze/engine';
import { readMetricsCsv } from '@gaze/report';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRuns, loadExperimentConfig, runExperiment, type RunnerEvent } from '../../src/index.js';

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
    expect(Number(line!.split(',').find((cell, i, cells) => cells[i - 1] === 'accuracy'))).toBeCloseTo(mean, 12);
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
