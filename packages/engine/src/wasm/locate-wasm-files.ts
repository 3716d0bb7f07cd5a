import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { GazeError } from '../errors.js';

export const WASM_BINARIES = [
  'tfjs-backend-wasm.wasm',
  'tfjs-backend-wasm-simd.wasm',
  'tfjs-backend-wasm-threaded-simd.wasm',
] as const;

export interface WasmFiles {
  /** Directory holding the binaries, with a trailing slash (the form `setWasmPaths` wants). */
  dir: string;
  files: Record<(typeof WASM_BINARIES)[number], { path: string; bytes: number } | null>;
}

/**
 * Finds the .wasm binaries inside the installed @tensorflow/tfjs-backend-wasm package, so the
 * backend never tries to fetch them. Throws a GazeError naming the directory when the SIMD or
 * plain binary is missing (a broken or partial install).
 */
export function locateWasmFiles(): WasmFiles {
  const require = createRequire(import.meta.url);
  let pkgJson: string;
  try {
    pkgJson = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  } catch (cause) {
    throw new GazeError('@tensorflow/tfjs-backend-wasm is not installed', {
      hint: 'run `npm ci` at the repository root',
      cause,
    });
  }
  const dir = join(dirname(pkgJson), 'dist') + '/';
  const files = Object.fromEntries(
    WASM_BINARIES.map((name) => {
      const path = join(dir, name);
      return [name, existsSync(path) ? { path, bytes: statSync(path).size } : null];
    }),
  ) as WasmFiles['files'];
  if (!files['tfjs-backend-wasm.wasm'] && !files['tfjs-backend-wasm-simd.wasm']) {
    throw new GazeError(`no tfjs wasm binaries found in ${dir}`, {
      hint: 'reinstall with `rm -rf node_modules && npm ci`',
    });
  }
  return { dir, files };
}
