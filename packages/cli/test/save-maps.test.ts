import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy } from '@gaze/engine';
import { parseCsv } from '@gaze/report';
import { afterAll, describe, expect, it } from 'vitest';
import { saveMapsSet } from '../src/commands/run.js';
import { runCli as run } from './run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'gaze-cli-save-maps-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** No train section (the backbone as built), gradcam, no evaluators: a run of a second or two. */
function config(name: string): string {
  const file = join(root, `${name}.yaml`);
  writeFileSync(
    file,
    `experiment: {name: ${name}, seed: 2, backend: wasm, output: ${JSON.stringify(join(root, 'runs'))}}
dataset: {type: shapes, size: 16, classes: 2, distractors: 1, splits: {train: 8, val: 4, test: 6}}
backbone: {type: vgg-small, channels: [4]}
explainers: [{type: gradcam}]
evaluationSet: {images: 5, batchSize: 2, bootstrap: 0}
gallery: {images: 0}
`,
  );
  return file;
}

describe('gaze run --save-maps', () => {
  it('is the override evaluationSet.saveMaps=<value>, npy when bare', () => {
    expect(saveMapsSet(undefined)).toEqual([]);
    expect(saveMapsSet('')).toEqual(['evaluationSet.saveMaps=npy']);
    expect(saveMapsSet('both')).toEqual(['evaluationSet.saveMaps=both']);
  });

  it('rejects an unknown value with a config error naming evaluationSet.saveMaps, before anything runs', async () => {
    const r = await run(['run', config('bogus'), '--save-maps', 'bogus']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('evaluationSet.saveMaps');
    expect(r.stderr).toContain(`expected one of "none", "npy", "png", "both", got the text 'bogus'`);
    expect(existsSync(join(root, 'runs', 'bogus'))).toBe(false);
  });

  it('bare, writes maps/<method>/maps.npy and index.csv (no overlays) and records saveMaps: npy in config.resolved.yaml', async () => {
    const r = await run(['run', config('bare'), '--save-maps']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const runDir = join(root, 'runs', 'bare', 'latest');
    expect(readFileSync(join(runDir, 'config.resolved.yaml'), 'utf8')).toMatch(/\n {2}saveMaps: npy\n/);
    const dir = join(runDir, 'maps', 'gradcam');
    expect(readdirSync(dir).sort()).toEqual(['index.csv', 'maps.npy']);
    expect((await readNpy(join(dir, 'maps.npy'))).shape).toEqual([5, 16, 16]);
    const [header, ...rows] = parseCsv(readFileSync(join(dir, 'index.csv'), 'utf8'));
    expect(header).toEqual(['index', 'id', 'file', 'label', 'target', 'score']);
    expect(rows.map((row) => row[0])).toEqual(['0', '1', '2', '3', '4']);
  });
});
