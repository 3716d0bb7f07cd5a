import { ConfigError } from '../../src/index.js';

/** The problems of the ConfigError `fn` throws; any other outcome fails the test. */
export function problemsOf(fn: () => unknown): { where: string; message: string; hint?: string }[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}
