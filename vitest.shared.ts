import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// One vitest setup for every package: resolve workspace packages to their TypeScript source,
// run test files in forked processes (tfjs keeps global engine state per process), and allow
// the slow wasm/CPU numerics tests enough time on a 2-core machine.
export function packageTestConfig() {
  return defineConfig({
    resolve: { conditions: ['@gaze/source'] },
    ssr: { resolve: { conditions: ['@gaze/source'] } },
    test: {
      include: ['test/**/*.test.ts'],
      passWithNoTests: true,
      globalSetup: [fileURLToPath(new URL('./vitest.temp-dir.ts', import.meta.url))],
      pool: 'forks',
      testTimeout: 120_000,
      hookTimeout: 120_000,
      reporters: process.env.CI ? ['default'] : ['default'],
    },
  });
}
