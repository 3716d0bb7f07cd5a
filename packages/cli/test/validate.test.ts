import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli as run } from './run-cli.js';

const typos = fileURLToPath(new URL('./fixtures/typos.yaml', import.meta.url));
const quickstart = fileURLToPath(new URL('../../../configs/quickstart.yaml', import.meta.url));

describe('gaze validate', () => {
  it('prints file:line:col for a typo, a wrong type and bad indentation, and exits 1', async () => {
    const { code, stderr, stdout } = await run(['validate', typos]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    const file = relative(process.cwd(), typos);
    expect(stderr).toBe(
      [
        'error: 3 problems in the config:',
        `  ${file}:13:4: YAML syntax: bad indentation: this line is indented deeper than the key above it`,
        '    hint: indent nested keys by the same number of spaces as their siblings (2 is usual)',
        `  ${file}:3:3 experiment.seeed: unknown key 'seeed' (did you mean 'seed'?)`,
        '    hint: experiment takes: name, description, seed, backend, output',
        `  ${file}:11:14 train.batchSize: expected a number, got the text 'many'`,
        '',
      ].join('\n'),
    );
  });

  it('accepts the quickstart and says what it would run', async () => {
    const { code, stdout, stderr } = await run(['validate', quickstart]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ok: .*quickstart\.yaml \(3 files\)\n {2}dataset shapes\n {2}backbone vgg-small\n {2}train \d+ epochs/);
    expect(stdout).toMatch(/1 run into runs\/quickstart\/\n {2}built: dataset shapes: 10000 \/ 1000 \/ 1000 images 32x32x3, 8 classes; backbone vgg-small: \d+ parameters \(on \w+\)\n$/);
  });

  describe('what the file alone does not show', () => {
    const root = mkdtempSync(join(tmpdir(), 'gaze-validate-'));
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    const BASE = 'experiment: {name: v}\ndataset: {type: shapes, size: 16, classes: 2, splits: {train: 16, val: 8, test: 8}}\nbackbone: {type: vgg-small}\ntrain: {epochs: 1, batchSize: 8}\n';
    const write = (name: string, text: string) => {
      writeFileSync(join(root, name), text);
      return join(root, name);
    };

    it('a sweep of ten million runs is counted, not listed, and refused at once', async () => {
      const grid = Array.from({ length: 7 }, (_, k) => `    train.lr${k === 0 ? '' : `_${k}`}: [${Array.from({ length: 10 }, (_, i) => i + 1).join(', ')}]`);
      const file = write('huge-sweep.yaml', `${BASE}sweep:\n  grid:\n${grid.join('\n')}\n`);
      const started = performance.now();
      const { code, stderr } = await run(['validate', file]);
      expect(code).toBe(1);
      expect(performance.now() - started).toBeLessThan(5000);
      expect(stderr).toContain('the sweep makes 10,000,000 runs (10 x 10 x 10 x 10 x 10 x 10 x 10 x 1 seed(s) x 1 variant(s)), more than sweep.maxRuns (10,000)');
    });

    it('a dataset root or model file that is not there', async () => {
      const file = write('paths.yaml', 'experiment: {name: v}\ndataset: {type: image-folder, root: no/such/folder}\nbackbone: {type: onnx, path: models/none.onnx}\n');
      const { code, stderr } = await run(['validate', file]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/paths\.yaml:2:\d+ dataset\.root: the dataset folder .*no\/such\/folder does not exist/);
      expect(stderr).toMatch(/paths\.yaml:3:\d+ backbone\.path: the model file .*models\/none\.onnx does not exist/);
    });

    it('a training step that cannot fit in memory', async () => {
      const file = write('huge.yaml', BASE.replace('{type: vgg-small}', '{type: vgg-small, channels: [100000, 64]}'));
      const { code, stderr } = await run(['validate', file]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/train\.batchSize: a training step of this vgg-small needs about [\d.]+ GB/);
      expect((await run(['validate', file, '--no-build'])).code).toBe(0);
    });

    it('a sweep point that cannot fit, though the base run does: the largest batch size is checked', async () => {
      // vgg-small with [4096, 64] channels on 16 px: about 0.02 GB of training memory per image, so batch 8 fits and 100,000 does not.
      const base = BASE.replace('{type: vgg-small}', '{type: vgg-small, channels: [4096, 64]}');
      expect((await run(['validate', write('fits.yaml', base)])).code).toBe(0);
      const { code, stderr } = await run(['validate', write('sweep-batch.yaml', `${base}sweep:\n  grid:\n    train.batchSize: [8, 100000]\n`)]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/train\.batchSize: a training step of this vgg-small needs about [\d.]+ GB .* at batch 100000\)/);
    });
  });
});
