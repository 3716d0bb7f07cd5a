/**
 * Keys a config may not use: in JavaScript they reach an object's prototype (`__proto__`) or its
 * constructor, so merging, `--set` or a sweep writing them could change every object in the
 * process (prototype pollution). Gaze's own keys never need them.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(key);
}

export const FORBIDDEN_KEY_MESSAGE = (key: string) => `the key '${key}' is not allowed (it names a JavaScript object internal: writing it could change every object Gaze uses)`;
export const FORBIDDEN_KEY_HINT = 'rename or remove it; no Gaze config section has such a key';

/** A copy of a parsed value with every forbidden key left out, at any depth. */
export function withoutForbiddenKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutForbiddenKeys);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      if (isForbiddenKey(key)) continue;
      out[key] = withoutForbiddenKeys((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return value;
}
