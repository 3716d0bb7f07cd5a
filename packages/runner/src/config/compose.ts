import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { GazeError } from '@gaze/engine';
import { parse } from 'yaml';
import { FORBIDDEN_KEY_HINT, FORBIDDEN_KEY_MESSAGE, isForbiddenKey, withoutForbiddenKeys } from './safe-keys.js';
import { displayPath, joinPath, readYamlFile, type ConfigProblem, type LocatedValue, type PathLocations } from './yaml-source.js';

/** A config after `extends:` and `--set`: the merged value, where each key came from, and the files read. */
export interface ComposedConfig extends LocatedValue {
  problems: ConfigProblem[];
  /** The experiment file first, then every fragment it extends (depth first). */
  files: string[];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The nearest `configs/` folder at or above `dir` (fragments are named relative to it). */
function configsRootFor(dir: string): string | undefined {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const candidate = join(d, 'configs');
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    if (dirname(d) === d) return undefined;
  }
}

/**
 * Where `extends: name` points: `./x.yaml` and `../x.yaml` are relative to the file; a bare name
 * (`datasets/shapes`, `.yaml` optional) is looked up in the nearest `configs/` folder.
 */
export function resolveFragment(name: string, fromFile: string): string | undefined {
  const withExt = /\.ya?ml$/.test(name) ? [name] : [`${name}.yaml`, `${name}.yml`, name];
  const bases = isAbsolute(name) ? [''] : name.startsWith('.') ? [dirname(fromFile)] : [configsRootFor(dirname(fromFile)), dirname(fromFile)].filter((b): b is string => !!b);
  for (const base of bases) {
    for (const n of withExt) {
      const p = resolve(base, n);
      if (existsSync(p) && statSync(p).isFile()) return p;
    }
  }
  return undefined;
}

/** Drops every location at or under `prefix`. */
function dropLocations(locations: Map<string, PathLocations>, prefix: string): void {
  for (const key of [...locations.keys()]) {
    if (key === prefix || key.startsWith(`${prefix}.`)) locations.delete(key);
  }
}

/** Deep-merges `over` into `base` (mappings merge key by key; lists and scalars replace). */
function mergeInto(base: LocatedValue, over: LocatedValue): void {
  const merge = (target: Record<string, unknown>, source: Record<string, unknown>, path: string[]) => {
    for (const [key, value] of Object.entries(source)) {
      const p = joinPath([...path, key]);
      if (isPlainObject(value) && isPlainObject(target[key])) {
        const loc = over.locations.get(p);
        if (loc) base.locations.set(p, loc);
        merge(target[key] as Record<string, unknown>, value, [...path, key]);
      } else {
        target[key] = structuredClone(value);
        dropLocations(base.locations, p);
        for (const [k, loc] of over.locations) if (k === p || k.startsWith(`${p}.`)) base.locations.set(k, loc);
      }
    }
  };
  merge(base.value, over.value, []);
}

function loadWithExtends(file: string, chain: string[], files: string[], problems: ConfigProblem[]): LocatedValue {
  const own = readYamlFile(file);
  files.push(file);
  problems.push(...own.problems);
  const raw = own.value.extends;
  delete own.value.extends;
  const names = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const composed: LocatedValue = { value: {}, locations: new Map() };
  names.forEach((name, i) => {
    const where = (own.locations.get(Array.isArray(raw) ? `extends.${i}` : 'extends')?.value?.text ?? displayPath(file)) + ' extends';
    if (typeof name !== 'string') {
      problems.push({ where, message: `extends takes fragment names, got ${JSON.stringify(name)}`, hint: 'e.g. extends: [datasets/shapes, backbones/vgg-small]' });
      return;
    }
    const path = resolveFragment(name, file);
    if (!path) {
      const root = configsRootFor(dirname(file));
      problems.push({ where, message: `fragment '${name}' not found`, hint: `looked in ${root ? displayPath(root) : 'the configs/ folder (none found)'} and next to ${displayPath(file)}; names are like datasets/shapes` });
      return;
    }
    if (chain.includes(path)) {
      problems.push({ where, message: `extends cycle: ${[...chain, path].map(displayPath).join(' -> ')}` });
      return;
    }
    mergeInto(composed, loadWithExtends(path, [...chain, path], files, problems));
  });
  for (const key of [...own.locations.keys()]) if (key === 'extends' || key.startsWith('extends.')) own.locations.delete(key);
  mergeInto(composed, own);
  // Keys missing altogether are reported at the top of the file that extends the others.
  const root = own.locations.get('');
  if (root) composed.locations.set('', root);
  return composed;
}

/** Parses one `--set a.b=value` (the value read as YAML: `3` a number, `[1, 2]` a list, `x` a string). */
export function parseSet(set: string): { path: string[]; value: unknown } {
  const eq = set.indexOf('=');
  if (eq <= 0) throw new GazeError(`--set expects key=value, got '${set}'`, { where: '--set', hint: 'e.g. --set train.epochs=5 or --set dataset.size=96' });
  const path = set.slice(0, eq).trim().split('.');
  if (path.some((k) => k === '')) throw new GazeError(`--set ${set}: empty key in the path`, { where: '--set', hint: 'keys are separated by single dots: train.lr=0.01' });
  let value: unknown;
  try {
    value = withoutForbiddenKeys(parse(set.slice(eq + 1)));
  } catch (cause) {
    throw new GazeError(`--set ${set}: the value is not valid YAML`, { where: '--set', cause });
  }
  return { path, value: value ?? '' };
}

/**
 * Writes `value` at `path` (numeric segments index into lists), creating mappings on the way.
 * Every override (--set, sweep points, ablation variants) writes through here, so this is where
 * object-internal keys are refused; `where` names the override in errors.
 */
export function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown, where = path.join('.')): void {
  const forbidden = path.find(isForbiddenKey);
  if (forbidden) throw new GazeError(FORBIDDEN_KEY_MESSAGE(forbidden), { where, hint: FORBIDDEN_KEY_HINT });
  let node: Record<string, unknown> | unknown[] = target;
  for (const [i, key] of path.entries()) {
    const last = i === path.length - 1;
    if (Array.isArray(node)) {
      const index = Number(key);
      if (!Number.isInteger(index) || index < 0 || index > node.length) {
        throw new GazeError(`'${path.slice(0, i).join('.')}' is a list of ${node.length}; '${key}' is not an index into it`, { where });
      }
      if (last) node[index] = value;
      else {
        if (!isPlainObject(node[index]) && !Array.isArray(node[index])) node[index] = {};
        node = node[index] as Record<string, unknown>;
      }
    } else {
      if (last) node[key] = value;
      else {
        if (!isPlainObject(node[key]) && !Array.isArray(node[key])) node[key] = {};
        node = node[key] as Record<string, unknown>;
      }
    }
  }
}

/** Reads an experiment file, composes its `extends:` fragments, then applies the `--set` overrides. */
export function composeConfig(file: string, sets: readonly string[] = []): ComposedConfig {
  const path = resolve(file);
  const files: string[] = [];
  const problems: ConfigProblem[] = [];
  const composed = loadWithExtends(path, [path], files, problems);
  for (const set of sets) {
    const { path: keys, value } = parseSet(set);
    setPath(composed.value, keys, value, `--set ${set}`);
    const p = keys.join('.');
    dropLocations(composed.locations, p);
    const loc = { text: `--set ${set}` };
    composed.locations.set(p, { key: loc, value: loc });
  }
  return { ...composed, problems, files };
}
