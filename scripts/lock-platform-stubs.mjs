#!/usr/bin/env node
// Keeps package-lock.json acceptable to `npm ci` on registries that lack some platforms'
// prebuilt binaries (the registry here has no @nx/nx-darwin-*, -win32-*, -freebsd-*, musl...).
// `npm install` then leaves those optional packages out of the lock, and `npm ci` rejects it:
// "Missing: @nx/nx-darwin-arm64@ from lock file". This adds an entry for each such package,
// marked optional with its os/cpu/libc, so npm skips it on other platforms and installs it from
// the registry on its own platform. Idempotent; runs as the root postinstall.
import { readFileSync, writeFileSync } from 'node:fs';

const LOCK = new URL('../package-lock.json', import.meta.url);
const PLATFORM = /-(darwin|linux|win32|freebsd)-(x64|arm64|arm|ia32)(?:-(gnu|musl|msvc|gnueabihf))?$/;

const lock = JSON.parse(readFileSync(LOCK, 'utf8'));
const added = [];
for (const [path, pkg] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const nested = `${path ? path + '/' : ''}node_modules/${name}`;
    if (lock.packages[`node_modules/${name}`] || lock.packages[nested]) continue;
    const m = PLATFORM.exec(name);
    if (!m) continue;
    const [, os, cpu, abi] = m;
    const libc = os === 'linux' ? [abi === 'musl' ? 'musl' : 'glibc'] : undefined;
    lock.packages[`node_modules/${name}`] = {
      version,
      cpu: [cpu],
      ...(pkg.dev ? { dev: true } : {}),
      ...(libc ? { libc } : {}),
      optional: true,
      os: [os],
    };
    added.push(`${name}@${version}`);
  }
}
if (added.length) {
  lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
  writeFileSync(LOCK, JSON.stringify(lock, null, 2) + '\n');
  console.log(`package-lock.json: added platform stubs for ${added.join(', ')}`);
}
