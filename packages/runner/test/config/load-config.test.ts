import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadExperimentConfig, planRuns, resolvedYaml } from '../../src/index.js';
import { problemsOf } from './problems-of.js';

const fixtures = fileURLToPath(new URL('../fixtures/configs/', import.meta.url));
const fixture = (name: string) => join(fixtures, name);
const shown = (name: string) => relative(process.cwd(), fixture(name));

const temporary: string[] = [];
afterAll(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

function tempConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gaze-config-'));
  temporary.push(dir);
  const file = join(dir, 'exp.yaml');
  writeFileSync(file, text);
  return file;
}

describe('loadExperimentConfig', () => {
  it('composes extends fragments from configs/ and fills every default', () => {
    const loaded = loadExperimentConfig(fixture('base.yaml'));
    expect(loaded.files.map((f) => relative(fixtures, f))).toEqual(['base.yaml', join('datasets', 'tiny-shapes.yaml')]);
    const c = loaded.config;
    expect(c.experiment).toEqual({ name: 'base-test', seed: 0, backend: 'auto', output: 'runs' });
    expect(c.dataset).toMatchObject({ type: 'shapes', size: 16, classes: 2, distractors: 3, splits: { train: 8, val: 4, test: 4 }, transforms: [], augment: [] });
    expect(c.backbone).toMatchObject({ type: 'vgg-small', channels: [4] });
    expect(c.train).toMatchObject({ epochs: 1, batchSize: 4, optimizer: 'adam', lr: 0.001, schedule: 'cosine' });
    expect(c.explainers).toEqual([]);
    // The resolved YAML reads back to the same config, without sweep/ablation blocks.
    expect(parse(resolvedYaml(c))).toEqual(JSON.parse(JSON.stringify({ ...c, sweep: undefined, ablation: undefined })));
  });

  it('reports a typo, a wrong type and bad indentation at once, each with file:line:col and key path', () => {
    const problems = problemsOf(() => loadExperimentConfig(fixture('broken.yaml')));
    const file = shown('broken.yaml');
    expect(problems.map((p) => p.where)).toEqual([`${file}:10:5`, `${file}:4:3 experiment.sed`, `${file}:8:11 train.epochs`]);
    expect(problems[0].message).toMatch(/^YAML syntax: bad indentation/);
    expect(problems[1].message).toBe("unknown key 'sed' (did you mean 'seed'?)");
    expect(problems[1].hint).toBe('experiment takes: name, description, seed, backend, output');
    expect(problems[2].message).toBe("expected a number, got the text 'ten'");
  });

  it('names the fragment that holds a bad value', () => {
    const file = tempConfig(`extends: [${JSON.stringify(fixture('datasets/tiny-shapes.yaml'))}]\nexperiment: {name: x}\nbackbone: {type: vgg-smal}\n`);
    const problems = problemsOf(() => loadExperimentConfig(file));
    expect(problems).toHaveLength(1);
    expect(problems[0].where).toMatch(/exp\.yaml:3:18 backbone\.type$/);
    expect(problems[0].message).toBe("unknown backbone type 'vgg-smal' (did you mean 'vgg-small'?)");
  });

  it('takes dataset.workers for any loader and checks its range', () => {
    expect(loadExperimentConfig(fixture('base.yaml'), { sets: ['dataset.workers=2'] }).config.dataset).toMatchObject({ type: 'shapes', workers: 2 });
    const problems = problemsOf(() => loadExperimentConfig(fixture('base.yaml'), { sets: ['dataset.workers=-1'] }));
    expect(problems).toHaveLength(1);
    expect(problems[0].where).toBe('--set dataset.workers=-1 dataset.workers');
    expect(problems[0].message).toMatch(/>=\s*0/);
  });

  it('checks a dataset section against its loader and points into the fragment', () => {
    const problems = problemsOf(() => loadExperimentConfig(fixture('base.yaml'), { sets: ['dataset.classes=1'] }));
    expect(problems).toEqual([{ where: '--set dataset.classes=1 dataset.classes', message: 'must be >= 2, got number 1' }]);
  });

  it('reports a shorterSide below the crop at its key, once for the config', () => {
    const file = tempConfig('experiment: {name: x}\ndataset:\n  type: image-folder\n  root: images\n  size: 224\n  shorterSide: 200\nbackbone: {type: vgg-small}\n');
    const problems = problemsOf(() => loadExperimentConfig(file));
    expect(problems).toHaveLength(1);
    expect(problems[0].where).toMatch(/exp\.yaml:6:16 dataset\.shorterSide$/);
    expect(problems[0].message).toContain('shorterSide 200 is smaller than the 224x224 crop (size)');
  });

  it('applies --set overrides with YAML values', () => {
    const loaded = loadExperimentConfig(fixture('base.yaml'), { sets: ['train.lr=0.05', 'backbone.channels=[8, 16]', 'experiment.name=other'] });
    expect(loaded.config.train?.lr).toBe(0.05);
    expect(loaded.config.backbone.channels).toEqual([8, 16]);
    expect(loaded.config.experiment.name).toBe('other');
  });

  it('rejects an extends cycle and a missing fragment', () => {
    expect(problemsOf(() => loadExperimentConfig(fixture('cycle-a.yaml')))[0].message).toMatch(/^extends cycle: .*cycle-a\.yaml -> .*cycle-b\.yaml -> .*cycle-a\.yaml$/);
    const file = tempConfig('extends: datasets/nope\nexperiment: {name: x}\n');
    const [p] = problemsOf(() => loadExperimentConfig(file));
    expect(p.message).toBe("fragment 'datasets/nope' not found");
    expect(p.where).toMatch(/exp\.yaml:1:10 extends$/);
  });

  it('says what is missing', () => {
    const file = tempConfig('experiment: {name: x}\n');
    const problems = problemsOf(() => loadExperimentConfig(file));
    expect(problems.map((p) => `${p.where.replace(/^.*exp\.yaml/, 'exp.yaml')}: ${p.message}`)).toEqual([
      'exp.yaml:1:1 dataset: missing: expected a mapping (key: value lines)',
      'exp.yaml:1:1 backbone: missing: expected a mapping (key: value lines)',
    ]);
  });
});

describe('planRuns', () => {
  it('expands a grid over two values and two seeds into four runs in order', () => {
    const runs = planRuns(loadExperimentConfig(fixture('sweep.yaml')));
    expect(runs.map((r) => [r.suffix, r.seed, r.params['train.lr'], r.config.train?.lr, r.config.experiment.seed])).toEqual([
      ['p1-s1', 1, 0.01, 0.01, 1],
      ['p1-s2', 2, 0.01, 0.01, 2],
      ['p2-s1', 1, 0.001, 0.001, 1],
      ['p2-s2', 2, 0.001, 0.001, 2],
    ]);
    expect(runs.every((r) => r.config.sweep === undefined)).toBe(true);
  });

  it('plans one run without suffix for a plain file, and the full method first for an ablation', () => {
    expect(planRuns(loadExperimentConfig(fixture('base.yaml'))).map((r) => r.suffix)).toEqual(['']);
    const file = tempConfig(`extends: ${JSON.stringify(fixture('base.yaml'))}\nablation:\n  - name: wide\n    set: { backbone.channels: [8] }\n`);
    const runs = planRuns(loadExperimentConfig(file));
    expect(runs.map((r) => [r.suffix, r.params.variant, r.config.backbone.channels])).toEqual([
      ['full-s0', 'full', [4]],
      ['wide-s0', 'wide', [8]],
    ]);
  });

  it('validates every sweep value before anything runs', () => {
    const file = tempConfig(`extends: ${JSON.stringify(fixture('base.yaml'))}\nsweep:\n  grid:\n    train.optimizer: [adam, adamw]\n`);
    const [p] = problemsOf(() => loadExperimentConfig(file));
    expect(p.where).toMatch(/exp\.yaml:4:29 train\.optimizer$/);
    expect(p.message).toBe(`expected one of "adam", "sgd", got the text 'adamw' (did you mean 'adam'?) (in sweep value train.optimizer="adamw")`);
  });
});
