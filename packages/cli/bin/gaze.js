#!/usr/bin/env node
// Installed from npm, the CLI runs its built dist/. In a checkout (src/ is there and tsx is
// installed) it runs straight from TypeScript source, so a fresh clone needs no build step: tsx
// compiles on the fly, and a resolve hook adds the '@gaze/source' export condition so the
// workspace packages resolve to their src/ rather than a dist/ that may be stale.
import { existsSync } from 'node:fs';
import { register } from 'node:module';

const fromSource = existsSync(new URL('../src/main.ts', import.meta.url));
let main;
if (fromSource) {
  register('./source-condition.js', import.meta.url);
  const { register: registerTsx } = await import('tsx/esm/api');
  registerTsx();
  ({ main } = await import('../src/main.ts'));
} else {
  ({ main } = await import('../dist/main.js'));
}
process.exitCode = await main(process.argv.slice(2));
