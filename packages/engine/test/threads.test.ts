import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadNative } from '@gaze/native';
import { nativeThreads, setNativeThreads } from '../src/index.js';

const ADDON = fileURLToPath(new URL('../../native/build/Release/gaze_native.node', import.meta.url));
const native = loadNative();

describe.skipIf(!native.ok)('native thread pool', () => {
  it('setNativeThreads sizes the pool and says so; a bad size is refused', () => {
    const before = nativeThreads().threads!;
    setNativeThreads(1);
    expect(nativeThreads()).toEqual({ threads: 1, source: 'setNativeThreads' });
    expect(() => setNativeThreads(0)).toThrow(/whole number >= 1, got 0/);
    expect(() => setNativeThreads(1.5)).toThrow(/whole number >= 1/);
    setNativeThreads(before);
    expect(nativeThreads().threads).toBe(before);
  });

  it('starts at OMP_NUM_THREADS when it is set', () => {
    const read = (env: Record<string, string>) =>
      Number(execFileSync(process.execPath, ['-e', `process.stdout.write(String(require(${JSON.stringify(ADDON)}).threads()))`], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim());
    expect(read({ OMP_NUM_THREADS: '1' })).toBe(1);
    expect(read({ OMP_NUM_THREADS: '3' })).toBe(3);
  });
});
