// The GPU bundle's CLI entry (scripts/gpu/bundle.sh bundles it into app/gaze.mjs).
import { main } from '../../packages/cli/src/main.js';
import { provideBundledWebgpu } from './webgpu-modules.js';

await provideBundledWebgpu();
process.exitCode = await main(process.argv.slice(2));
