import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../src/index.js';

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

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
    expect(stdout).toMatch(/1 run into runs\/quickstart\/\n$/);
  });
});
