// Builds the oneDNN addon with node-gyp at install. It never fails the install: when the build
// cannot run (no compiler, no libdnnl-dev), build/status.json records why, the engine reports
// it, and the convolutions stay on wasm.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const statusFile = join(root, 'build', 'status.json');

function nodeGyp() {
  // npm hands its bundled node-gyp to lifecycle scripts; else look for one.
  const candidates = [process.env.npm_config_node_gyp, join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {}
  return candidates.find((c) => c && existsSync(c));
}

function write(status) {
  mkdirSync(dirname(statusFile), { recursive: true });
  writeFileSync(statusFile, JSON.stringify(status, null, 2) + '\n');
}

if (process.env.GAZE_NATIVE === '0') {
  write({ ok: false, why: 'GAZE_NATIVE=0 at install: not built' });
  process.exit(0);
}
if (!existsSync('/usr/include/oneapi/dnnl/dnnl.hpp')) {
  write({ ok: false, why: 'oneDNN headers are missing (install Debian libdnnl-dev, then npm rebuild @gaze/native)' });
  console.log('@gaze/native: oneDNN headers missing (apt-get install libdnnl-dev); convolutions stay on wasm');
  process.exit(0);
}
const gyp = nodeGyp();
if (!gyp) {
  write({ ok: false, why: 'node-gyp was not found' });
  process.exit(0);
}
// Node's headers sit under its install prefix (<prefix>/include/node) on Debian and NodeSource builds.
const nodedir = join(dirname(process.execPath), '..');
const args = [gyp, 'rebuild', ...(existsSync(join(nodedir, 'include', 'node', 'node_api.h')) ? [`--nodedir=${nodedir}`] : [])];
const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
if (r.status === 0) {
  write({ ok: true });
  console.log('@gaze/native: built the oneDNN addon');
} else {
  const tail = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').slice(-6).join('\n');
  write({ ok: false, why: `node-gyp rebuild failed: ${tail}` });
  console.log(`@gaze/native: build failed, convolutions stay on wasm:\n${tail}`);
}
