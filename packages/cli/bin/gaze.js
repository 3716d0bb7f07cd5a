#!/usr/bin/env node
// Runs the CLI straight from TypeScript source, so a fresh clone needs no build step: tsx
// compiles on the fly, and a resolve hook adds the '@gaze/source' export condition so the
// workspace packages resolve to their src/ rather than dist/.
import { register } from 'node:module';

register('./source-condition.js', import.meta.url);
const { register: registerTsx } = await import('tsx/esm/api');
registerTsx();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
