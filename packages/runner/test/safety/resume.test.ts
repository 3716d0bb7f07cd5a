import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GazeError, initBackend } from '@gaze/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExperimentConfig, runExperiment, type RunnerEvent } from '../../src/index.js';

// What --resume finds after a crash: a checkpoint half replaced, a damaged one, debris.
let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'gaze-resume-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A 3-epoch run stopped after `stopAfter` epochs; returns its config file and run directory. */
async function interruptedRun(name: string, stopAfter: number): Promise<{ file: string; runDir: string }> {
  const file = join(root, `${name}.yaml`);
  writeFileSync(
    file,
    `experiment: {name: ${name}, seed: 2, output: ${JSON.stringify(join(root, 'runs'))}}
dataset: {type: shapes, size: 16, classes: 2, distractors: 0, splits: {train: 16, val: 8, test: 8}}
backbone: {type: vgg-small, channels: [4]}
train: {epochs: 3, batchSize: 8}
`,
  );
  const controller = new AbortController();
  let epochs = 0;
  const outcome = await runExperiment(loadExperimentConfig(file), {
    signal: controller.signal,
    onEvent: (e) => e.type === 'train' && e.event.type === 'epoch' && ++epochs === stopAfter && controller.abort(),
  });
  expect(outcome.runs[0].status).toBe('interrupted');
  return { file, runDir: outcome.runs[0].runDir };
}

async function resume(file: string): Promise<{ events: RunnerEvent[]; history: { epoch: number }[]; runDir: string }> {
  const events: RunnerEvent[] = [];
  const outcome = await runExperiment(loadExperimentConfig(file), { resume: true, onEvent: (e) => events.push(e) });
  expect(outcome.runs[0].status).toBe('finished');
  const runDir = outcome.runs[0].runDir;
  return { events, history: JSON.parse(readFileSync(join(runDir, 'history.json'), 'utf8')), runDir };
}

const resumedFrom = (events: RunnerEvent[]) => events.flatMap((e) => (e.type === 'train' && e.event.type === 'resume' ? [e.event] : []));

describe('--resume after a crash', () => {
  it('a kill between the two renames of a checkpoint write: the complete one beside it is put back, not a restart from epoch 1', async () => {
    const { file, runDir } = await interruptedRun('window', 2);
    const checkpoints = join(runDir, 'checkpoints');
    // The state a kill leaves after `rename(last, .last.old-*)` and before `rename(.last.tmp-*, last)`.
    renameSync(join(checkpoints, 'last'), join(checkpoints, '.last.old-4242-deadbeef'));
    mkdirSync(join(checkpoints, '.last.tmp-4242-cafebabe'));
    writeFileSync(join(checkpoints, '.last.tmp-4242-cafebabe', 'state.json'), '{"epoch": 3, "hist');
    const { events, history } = await resume(file);
    expect(resumedFrom(events)).toEqual([expect.objectContaining({ fromEpoch: 2 })]);
    expect(history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(readdirSync(checkpoints).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a damaged last checkpoint (a truncated weights file) falls back to the one before it, with a warning', async () => {
    const { file, runDir } = await interruptedRun('damaged', 2);
    const weights = join(runDir, 'checkpoints', 'last', 'weights', 'weights.bin');
    truncateSync(weights, 10);
    const { events, history } = await resume(file);
    const [resumed] = resumedFrom(events);
    expect(resumed.fromEpoch).toBe(1);
    expect(resumed.warning).toContain('are truncated');
    expect(resumed.warning).toContain('resumed from the checkpoint before it (epoch 1)');
    expect(history.map((h) => h.epoch)).toEqual([1, 2, 3]);
  });

  it('both damaged: a clear error naming the folder', async () => {
    const { file, runDir } = await interruptedRun('both', 2);
    for (const dir of ['last', 'previous']) truncateSync(join(runDir, 'checkpoints', dir, 'weights', 'weights.bin'), 10);
    const error = await runExperiment(loadExperimentConfig(file), { resume: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GazeError);
    expect((error as GazeError).message).toContain('no readable checkpoint to resume from');
    expect((error as GazeError).hint).toContain('run without --resume');
  });

  it('leftovers of interrupted writes do not survive a finished run', async () => {
    const { file, runDir } = await interruptedRun('debris', 1);
    const stray = join(runDir, 'checkpoints', '.best.old-777-0badc0de');
    mkdirSync(stray);
    writeFileSync(join(runDir, '.report.md.tmp-777-0badc0de'), 'half a report');
    await resume(file);
    expect(existsSync(stray)).toBe(false);
    expect(existsSync(join(runDir, '.report.md.tmp-777-0badc0de'))).toBe(false);
  });
});
