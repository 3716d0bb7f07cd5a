import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GazeError, initBackend } from '@gaze/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadExperimentConfig, runExperiment } from '../../src/index.js';

// Names become folder names and ids are read back from run.json: none may lead outside the run
// directory.
let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'gaze-paths-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TINY = (output: string) => `experiment: {name: paths, seed: 1, output: ${JSON.stringify(output)}}
dataset: {type: shapes, size: 16, classes: 2, distractors: 0, splits: {train: 16, val: 8, test: 8}}
backbone: {type: vgg-small, channels: [4]}
train: {epochs: 2, batchSize: 8}
`;

describe('paths stay inside the run directory', () => {
  it('a head name that is a path is a config error at its key, before anything runs', () => {
    const out = join(root, 'out-head');
    const file = join(root, 'head.yaml');
    writeFileSync(file, `${TINY(out)}heads:\n  - {type: tame, name: "../../../../x"}\n`);
    let error: unknown;
    try {
      loadExperimentConfig(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const [problem] = (error as ConfigError).problems;
    expect(problem.where).toMatch(/head\.yaml:6:\d+ heads\.0\.name$/);
    expect(problem.message).toContain('it names a folder');
    expect(existsSync(out)).toBe(false);
  });

  it('--resume refuses a run.json whose sweep id was edited into a path, writing nothing outside', async () => {
    const out = join(root, 'out-resume');
    const file = join(root, 'resume.yaml');
    writeFileSync(file, TINY(out));
    const controller = new AbortController();
    // Stop after the first epoch so there is a run to resume.
    const first = await runExperiment(loadExperimentConfig(file), { signal: controller.signal, onEvent: (e) => e.type === 'train' && e.event.type === 'epoch' && controller.abort() });
    expect(first.runs[0].status).toBe('interrupted');
    const runJson = join(first.runs[0].runDir, 'run.json');
    const record = JSON.parse(readFileSync(runJson, 'utf8'));
    writeFileSync(runJson, JSON.stringify({ ...record, sweepId: '../../..', runId: '../../../escaped' }));
    const before = readdirSync(root).sort();
    const error = await runExperiment(loadExperimentConfig(file), { resume: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GazeError);
    expect((error as GazeError).message).toContain("names sweep '../../..' and run '../../../escaped', which are not run ids Gaze writes");
    expect((error as GazeError).where).toBe(runJson);
    expect(readdirSync(root).sort()).toEqual(before);
  });
});
