#!/usr/bin/env node
// Packs every public workspace package (those not marked private) into npm tarballs:
//   node scripts/pack-packages.mjs [--out DIR] [--no-build]      (npm run pack)
// Builds dist/ first (npm run build), puts the repository's LICENSE into each package for the
// pack (npm only packs a package's own folder) and prints one tarball path a line.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = resolve(outIndex >= 0 ? args[outIndex + 1] : join(root, 'dist-packages'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The workspace folders (the root package.json's `workspaces` globs, one `*` level deep). */
function workspaceDirs() {
  const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return workspaces.flatMap((glob) => {
    if (!glob.endsWith('/*')) return [join(root, glob)];
    const parent = join(root, glob.slice(0, -2));
    return readdirSync(parent, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(parent, e.name, 'package.json')))
      .map((e) => join(parent, e.name));
  });
}

/** The packages that ship: each workspace package without `"private": true`. */
function publicPackages() {
  return workspaceDirs()
    .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
    .filter(({ pkg }) => pkg.private !== true);
}

if (!args.includes('--no-build')) execFileSync(npm, ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
mkdirSync(out, { recursive: true });
const license = join(root, 'LICENSE');
for (const { dir, pkg } of publicPackages()) {
  if (!existsSync(join(dir, 'dist', 'index.js'))) throw new Error(`${pkg.name} has no dist/index.js: run npm run build`);
  const copied = !existsSync(join(dir, 'LICENSE'));
  if (copied) copyFileSync(license, join(dir, 'LICENSE'));
  try {
    const [packed] = JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', out], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
    console.log(join(out, packed.filename));
  } finally {
    if (copied) rmSync(join(dir, 'LICENSE'));
  }
}
