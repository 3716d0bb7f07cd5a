import { GazeError } from '@gaze/engine';
import { parse } from 'yaml';

/**
 * Applies `--set a.b=value` overrides to a config object. The value is read as YAML, so
 * `size=96` is a number, `flip=true` a boolean, `size=[64, 48]` a list, and `type=shapes` a string.
 */
export function applySets(config: Record<string, unknown>, sets: readonly string[]): Record<string, unknown> {
  const out = structuredClone(config);
  for (const set of sets) {
    const eq = set.indexOf('=');
    if (eq <= 0) throw new GazeError(`--set expects key=value, got '${set}'`, { where: '--set', hint: 'e.g. --set size=96 or --set splits.val=200' });
    const path = set.slice(0, eq).split('.');
    let value: unknown;
    try {
      value = parse(set.slice(eq + 1));
    } catch (cause) {
      throw new GazeError(`--set ${set}: the value is not valid YAML`, { where: '--set', cause });
    }
    let node = out;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null || Array.isArray(node[key])) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value ?? '';
  }
  return out;
}
