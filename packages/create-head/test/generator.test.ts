import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// `npx nx g @gaze/create-head:head <name>` in a copy of this workspace: the new package must
// build, pass its own tests and run from a config, with no edit anywhere else. The copy has the
// tracked files and a node_modules of links to this one's (its @gaze/* links point into the
// copy); linking the new package there stands in for the npm install the generator runs.

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'gaze-create-head-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function copyWorkspace(): void {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: repo, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(repo, file))) continue; // deleted in the working tree
    mkdirSync(dirname(join(work, file)), { recursive: true });
    cpSync(join(repo, file), join(work, file));
  }
  // The generator itself, when this test runs before it is committed.
  cpSync(join(repo, 'packages/create-head'), join(work, 'packages/create-head'), { recursive: true, filter: (p) => !p.includes('node_modules') });
  const modules = join(work, 'node_modules');
  mkdirSync(join(modules, '@gaze'), { recursive: true });
  for (const entry of readdirSync(join(repo, 'node_modules'))) {
    if (entry !== '@gaze') symlinkSync(join(repo, 'node_modules', entry), join(modules, entry));
  }
  // Packages' own node_modules (dependencies npm did not hoist, e.g. report's vega-lite).
  for (const file of files) {
    const m = /^((?:packages\/(?:heads\/)?[^/]+|scripts))\/package\.json$/.exec(file);
    if (m && existsSync(join(repo, m[1], 'node_modules')) && !existsSync(join(work, m[1], 'node_modules'))) symlinkSync(join(repo, m[1], 'node_modules'), join(work, m[1], 'node_modules'));
  }
  for (const entry of readdirSync(join(repo, 'node_modules/@gaze'))) {
    // ../../packages/<x>: the same package in the copy
    const target = resolve(join(modules, '@gaze'), readlinkSync(join(repo, 'node_modules/@gaze', entry)));
    symlinkSync(target, join(modules, '@gaze', entry));
  }
}

const ENV = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' };
// eslint-disable-next-line no-control-regex
const plain = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '');
const run = (command: string, args: string[], cwd = work) => plain(execFileSync(command, args, { cwd, encoding: 'utf8', env: ENV, stdio: 'pipe' }));

describe('create-head', () => {
  it('scaffolds a head that builds, passes its tests and runs from a config', () => {
    copyWorkspace();
    const out = run(process.execPath, [join(work, 'node_modules/nx/dist/bin/nx.js'), 'g', '@gaze/create-head:head', 'demo', '--skipInstall', '--no-interactive']);
    expect(out).toContain('CREATE packages/heads/demo/src/head.ts');
    const pkg = JSON.parse(readFileSync(join(work, 'packages/heads/demo/package.json'), 'utf8'));
    expect(pkg.name).toBe('@gaze/head-demo');
    expect(JSON.parse(readFileSync(join(work, 'tsconfig.json'), 'utf8')).references).toContainEqual({ path: './packages/heads/demo' });
    symlinkSync(join(work, 'packages/heads/demo'), join(work, 'node_modules/@gaze/head-demo'));

    // builds (with the packages it references)
    run(process.execPath, [join(work, 'node_modules/typescript/bin/tsc'), '-b', 'packages/heads/demo/tsconfig.lib.json']);
    expect(existsSync(join(work, 'packages/heads/demo/dist/index.js'))).toBe(true);

    // passes its own tests
    const tests = run(process.execPath, [join(work, 'node_modules/vitest/vitest.mjs'), 'run'], join(work, 'packages/heads/demo'));
    expect(tests).toMatch(/Tests\s+4 passed/);

    // runs from a config that names it
    const config = join(work, 'demo.yaml');
    writeFileSync(
      config,
      `experiment: {name: demo, seed: 1, backend: wasm, output: ${JSON.stringify(join(work, 'runs'))}}
dataset: {type: shapes, size: 16, classes: 2, distractors: 1, splits: {train: 32, val: 8, test: 8}}
backbone: {type: vgg-small, channels: [4, 8]}
train: {epochs: 1, batchSize: 8}
heads: [{type: demo, train: {epochs: 1, batchSize: 8}}]
evaluation: [{type: pointing-game}]
evaluationSet: {images: 8, batchSize: 8, bootstrap: 20}
gallery: {images: 0}
`,
    );
    run(process.execPath, [join(work, 'packages/cli/bin/gaze.js'), 'run', config]);
    const metrics = readFileSync(join(work, 'runs/demo/latest/metrics.csv'), 'utf8');
    expect(metrics).toMatch(/^demo,pointing_game,/m);
  });

  it('refuses a name that is not a package name', () => {
    let output = '';
    try {
      run(process.execPath, [join(repo, 'node_modules/nx/dist/bin/nx.js'), 'g', '@gaze/create-head:head', 'Bad_Name', '--skipInstall', '--no-interactive', '--dry-run'], repo);
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      output = plain(`${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
    expect(output).toContain("'Bad_Name' should match the pattern '^[a-z][a-z0-9-]*$'");
  });
});
