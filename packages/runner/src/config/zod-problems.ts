import { didYouMean } from '@gaze/engine';
import { z } from 'zod';
import { joinPath, type ConfigProblem, type PathLocations } from './yaml-source.js';

/** Finds where a key path is written: the path itself, else its nearest written ancestor. */
export type Locator = (path: readonly (string | number)[], part: 'key' | 'value') => string;

export function makeLocator(locations: Map<string, PathLocations>, fallback: string): Locator {
  return (path, part) => {
    for (let n = path.length; n >= 0; n--) {
      const loc = locations.get(joinPath(path.slice(0, n)));
      const text = (part === 'key' || n < path.length ? loc?.key : loc?.value)?.text ?? loc?.value?.text;
      if (text) return text;
    }
    return fallback;
  };
}

/** The schema inside optional/default/pipe wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (let guard = 0; guard < 10; guard++) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodNullable || s instanceof z.ZodPrefault) s = s.unwrap() as z.ZodType;
    else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else break;
  }
  return s;
}

/** The schema that validates the value at `path`, when it can be followed. */
export function schemaAt(schema: z.ZodType, path: readonly (string | number)[]): z.ZodType | undefined {
  let s: z.ZodType | undefined = unwrap(schema);
  for (const key of path) {
    if (!s) return undefined;
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(key)];
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
    else return undefined;
    s = s && unwrap(s);
  }
  return s;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the text '${v.length > 40 ? v.slice(0, 39) + '…' : v}'`;
  return `${typeof v} ${String(v)}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

const EXPECTED: Record<string, string> = { object: 'a mapping (key: value lines)', array: 'a list', number: 'a number', int: 'a whole number', string: 'text', boolean: 'true or false' };

/**
 * Turns zod issues into located problems: `file:line:col key.path: what was expected`. Unknown
 * keys point at the key and suggest the nearest known one.
 */
export function problemsFromIssues(issues: readonly z.core.$ZodIssue[], schema: z.ZodType, value: unknown, basePath: readonly (string | number)[], locate: Locator): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = [...basePath, ...(issue.path as (string | number)[])];
    const keyPath = joinPath(path);
    const actual = valueAt(value, issue.path);
    if (issue.code === 'unrecognized_keys') {
      const target = schemaAt(schema, issue.path as (string | number)[]);
      const known = target instanceof z.ZodObject ? Object.keys(target.shape) : [];
      for (const key of issue.keys) {
        const guess = didYouMean(key, known);
        out.push({
          where: `${locate([...path, key], 'key')} ${joinPath([...path, key])}`,
          message: `unknown key '${key}'${guess ? ` (did you mean '${guess}'?)` : ''}`,
          hint: known.length ? `${keyPath || 'the top level'} takes: ${known.join(', ')}` : undefined,
        });
      }
      continue;
    }
    let message: string;
    if (issue.code === 'invalid_type') {
      message = actual === undefined ? `missing: expected ${EXPECTED[issue.expected] ?? issue.expected}` : `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describeValue(actual)}`;
    } else if (issue.code === 'invalid_value') {
      const options = issue.values.map((v) => JSON.stringify(v));
      const guess = typeof actual === 'string' ? didYouMean(actual, issue.values.map(String)) : undefined;
      message = `expected one of ${options.join(', ')}, got ${describeValue(actual)}${guess ? ` (did you mean '${guess}'?)` : ''}`;
    } else if (issue.code === 'too_small' || issue.code === 'too_big') {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const cmp = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      const what = issue.origin === 'array' ? 'items' : issue.origin === 'string' ? 'characters' : '';
      message = `must be ${cmp} ${String(bound)}${what ? ` ${what}` : ''}, got ${Array.isArray(actual) ? `${actual.length} items` : describeValue(actual)}`;
    } else if (issue.code === 'invalid_key') {
      // A record key that failed its own check: say what the key's check says, at the key.
      message = issue.issues.map((i) => i.message).join('; ') || issue.message;
      out.push({ where: `${locate(path, 'key')} ${keyPath}`, message });
      continue;
    } else {
      message = issue.message;
    }
    out.push({ where: `${locate(path, 'value')} ${keyPath}`, message });
  }
  return out;
}
