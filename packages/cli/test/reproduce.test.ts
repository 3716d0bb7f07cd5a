import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli as run } from './run-cli.js';

const cwd = process.cwd();
afterEach(() => process.chdir(cwd));

describe('gaze reproduce', () => {
  it('runs every file of experiments/<name> and keeps each report under results/', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gaze-reproduce-'));
    mkdirSync(join(root, 'experiments', 'tiny', 'full-scale'), { recursive: true });
    const config = (name: string) => `experiment: {name: ${name}, seed: 1, backend: wasm, output: ${JSON.stringify(join(root, 'runs'))}}
dataset: {type: shapes, size: 16, classes: 2, distractors: 1, splits: {train: 16, val: 8, test: 8}}
backbone: {type: vgg-small, channels: [4]}
train: {epochs: 1, batchSize: 8}
explainers: [{type: gradcam}]
evaluation: [{type: pointing-game}]
evaluationSet: {images: 4, batchSize: 4, bootstrap: 20}
gallery: {images: 2}
`;
    writeFileSync(join(root, 'experiments', 'tiny', 'a.yaml'), config('a'));
    writeFileSync(join(root, 'experiments', 'tiny', 'b.yaml'), config('b'));
    writeFileSync(join(root, 'experiments', 'tiny', 'full-scale', 'big.yaml'), 'not: even valid');
    process.chdir(root);
    const { code, stdout } = await run(['reproduce', 'tiny', '--only', 'b']);
    expect(code).toBe(0);
    expect(stdout).toContain('reproduce tiny: b.yaml');
    const results = join(root, 'experiments', 'tiny', 'results');
    expect(existsSync(join(results, 'a'))).toBe(false);
    for (const file of ['report.md', 'metrics.csv', 'gallery.png', 'config.resolved.yaml']) expect(existsSync(join(results, 'b', file)), file).toBe(true);
    expect(readFileSync(join(results, 'b', 'metrics.csv'), 'utf8')).toMatch(/^gradcam,pointing_game,/m);
  });

  it('keeps a seed sweep\'s summary and every run\'s report', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gaze-reproduce-'));
    mkdirSync(join(root, 'experiments', 'seeds'), { recursive: true });
    writeFileSync(
      join(root, 'experiments', 'seeds', 's.yaml'),
      `experiment: {name: s, backend: wasm, output: ${JSON.stringify(join(root, 'runs'))}}
dataset: {type: shapes, size: 16, classes: 2, distractors: 1, splits: {train: 16, val: 8, test: 8}}
backbone: {type: vgg-small, channels: [4]}
train: {epochs: 1, batchSize: 8}
gallery: {images: 1}
sweep: {seeds: [3, 4]}
`,
    );
    process.chdir(root);
    const { code } = await run(['reproduce', 'seeds']);
    expect(code).toBe(0);
    const results = join(root, 'experiments', 'seeds', 'results', 's');
    const summary = readFileSync(join(results, 'summary', 'summary.csv'), 'utf8');
    expect(summary).toMatch(/accuracy/);
    const runs = readdirSync(results).filter((d) => d !== 'summary');
    expect(runs).toHaveLength(2);
    for (const dir of runs) expect(existsSync(join(results, dir, 'report.md')), dir).toBe(true);
  });

  it('names the reproductions there are when asked for another', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gaze-reproduce-'));
    mkdirSync(join(root, 'experiments', 'tame'), { recursive: true });
    process.chdir(root);
    const { code, stderr } = await run(['reproduce', 'tmae']);
    expect(code).toBe(1);
    expect(stderr).toContain('there is no experiments/tmae here');
    expect(stderr).toContain('reproductions: tame');
  });
});
