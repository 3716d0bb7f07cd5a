// The GPU bundle's entry: the CLI, bundled by scripts/gpu/bundle.sh into one file.
import { main } from '../../packages/cli/src/main.js';

process.exitCode = await main(process.argv.slice(2));
