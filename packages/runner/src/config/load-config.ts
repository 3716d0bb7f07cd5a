import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatasetWorkers, datasetFactory, datasetTypes } from '@gaze/data';
import { didYouMean } from '@gaze/engine';
import { backboneFactory, backboneTypes } from '@gaze/models';
import { stringify } from 'yaml';
import type { z } from 'zod';
import { componentNoun, componentTypes, type ComponentSection } from '../components.js';
import { composeConfig, parseSet, setPath } from './compose.js';
import { ExperimentConfigShape, MAX_RUNS, type ExperimentConfig } from './schema.js';
import { ConfigError, displayPath, type ConfigProblem } from './yaml-source.js';
import { makeLocator, problemsFromIssues, type Locator } from './zod-problems.js';
import { withoutForbiddenKeys } from './safe-keys.js';

/** A validated experiment: the typed config with every default filled in, and where it came from. */
export interface LoadedConfig {
  /** The experiment file, absolute. */
  file: string;
  /** Relative paths in the config (dataset roots, model paths) resolve against this: the file's folder. */
  baseDir: string;
  config: ExperimentConfig;
  /** The composed value before validation (sweep points and variants are applied to it). */
  raw: Record<string, unknown>;
  /** The experiment file and every fragment it extends. */
  files: string[];
}

interface Section {
  types: () => string[];
  schemaOf: (type: string) => z.ZodType | undefined;
  noun: string;
}

const DATASETS: Section = {
  types: datasetTypes,
  schemaOf: (type) => (datasetTypes().includes(type) ? datasetFactory(type).configSchema : undefined),
  noun: 'dataset',
};
const BACKBONES: Section = {
  types: backboneTypes,
  schemaOf: (type) => (backboneTypes().includes(type) ? backboneFactory(type).configSchema : undefined),
  noun: 'backbone',
};

function componentSection(section: ComponentSection): Section {
  return {
    types: () => componentTypes(section).map((c) => c.type),
    schemaOf: (type) => componentTypes(section).find((c) => c.type === type)?.configSchema,
    noun: componentNoun(section),
  };
}

/** Checks one `{type, ...keys}` entry against its component's schema; returns the entry with defaults. */
function checkTyped(entry: Record<string, unknown>, path: (string | number)[], section: Section, locate: Locator, problems: ConfigProblem[], keep: string[] = ['type']): Record<string, unknown> {
  const type = String(entry.type);
  const schema = section.schemaOf(type);
  if (!schema) {
    const types = section.types();
    const guess = didYouMean(type, types);
    problems.push({
      where: `${locate([...path, 'type'], 'value')} ${[...path, 'type'].join('.')}`,
      message: `unknown ${section.noun} type '${type}'${guess ? ` (did you mean '${guess}'?)` : ''}`,
      hint:
        section.noun === 'head'
          ? `heads are packages: no @gaze/head-${type} (packages/heads/${type}) was found${types.length ? `; loaded: ${types.join(', ')}` : ''}`
          : types.length
            ? `use one of: ${types.join(', ')}`
            : `this version of Gaze has no ${section.noun} types yet`,
    });
    return entry;
  }
  const own = Object.fromEntries(Object.entries(entry).filter(([k]) => !keep.includes(k)));
  const result = schema.safeParse(own);
  if (!result.success) {
    problems.push(...problemsFromIssues(result.error.issues, schema, own, path, locate));
    return entry;
  }
  const kept = Object.fromEntries(keep.filter((k) => entry[k] !== undefined).map((k) => [k, entry[k]]));
  return { ...kept, ...(result.data as Record<string, unknown>) };
}

/** Validates a composed config value; returns the typed config (defaults filled) and every problem. */
export function validateConfigValue(value: Record<string, unknown>, locate: Locator): { config?: ExperimentConfig; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const result = ExperimentConfigShape.safeParse(value);
  if (!result.success) problems.push(...problemsFromIssues(result.error.issues, ExperimentConfigShape, value, [], locate));
  const parsed = result.success ? result.data : undefined;

  // The component sections are checked even when another section failed, so one pass shows all.
  const raw = value as Record<string, unknown>;
  const typed = (v: unknown): v is Record<string, unknown> & { type: string } => typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';
  // `workers` belongs to every dataset (createDataset handles it), not to a loader's schema.
  const dataset = typed(raw.dataset) ? checkTyped(raw.dataset, ['dataset'], DATASETS, locate, problems, ['type', 'workers']) : undefined;
  if (typed(raw.dataset) && raw.dataset.workers !== undefined) {
    const workers = DatasetWorkers.safeParse(raw.dataset.workers);
    if (!workers.success) {
      problems.push({
        where: `${locate(['dataset', 'workers'], 'value')} dataset.workers`,
        message: workers.error.issues[0].message,
        hint: '0 prepares examples in the main thread; 1 to 16 in that many worker threads',
      });
    }
  }
  const backbone = typed(raw.backbone) ? checkTyped(raw.backbone, ['backbone'], BACKBONES, locate, problems) : undefined;
  const lists: Partial<Record<ComponentSection, Record<string, unknown>[]>> = {};
  for (const section of ['heads', 'explainers', 'evaluation'] as const) {
    const entries = raw[section];
    if (!Array.isArray(entries)) continue;
    lists[section] = entries.map((e, i) => (typed(e) ? checkTyped(e, [section, i], componentSection(section), locate, problems, ['type', 'name']) : e));
    const names = lists[section]!.map((e) => String(e.name ?? e.type));
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) {
        problems.push({ where: `${locate([section, i], 'value')} ${section}.${i}`, message: `two ${componentNoun(section)}s are called '${n}'`, hint: 'give one of them a different name: (it labels the rows of metrics.csv)' });
      }
    });
  }
  if (problems.length > 0 || !parsed) return { problems };
  return {
    config: {
      ...parsed,
      dataset: dataset as ExperimentConfig['dataset'],
      backbone: backbone as ExperimentConfig['backbone'],
      heads: (lists.heads ?? []) as ExperimentConfig['heads'],
      explainers: (lists.explainers ?? []) as ExperimentConfig['explainers'],
      evaluation: (lists.evaluation ?? []) as ExperimentConfig['evaluation'],
    },
    problems,
  };
}

/**
 * Reads, composes and validates an experiment file. Every problem (YAML syntax, unknown keys,
 * wrong types, unknown component types, bad sweep or ablation keys) is collected and thrown
 * together as one `ConfigError`, each with file:line:col and key path.
 */
export function loadExperimentConfig(file: string, options: { sets?: readonly string[] } = {}): LoadedConfig {
  const composed = composeConfig(file, options.sets ?? []);
  const locate = makeLocator(composed.locations, displayPath(resolve(file)));
  const { config, problems } = validateConfigValue(composed.value, locate);
  const all = [...composed.problems];
  // A YAML syntax error usually also spoils the values on its lines: report the syntax error only.
  const spoiled = (where: string) => {
    const m = /^(.*):(\d+):\d+ /.exec(where);
    return m !== null && composed.problems.some((p) => p.span && p.span.file === m[1] && Number(m[2]) >= p.span.from && Number(m[2]) <= p.span.to);
  };
  for (const p of problems) if (!spoiled(p.where)) all.push(p);
  if (config) {
    const runs = countRuns(config);
    const maxRuns = config.sweep?.maxRuns ?? MAX_RUNS;
    if (runs > maxRuns) {
      const lengths = Object.values(config.sweep?.grid ?? {}).map((v) => v.length);
      all.push({
        where: `${locate(['sweep', 'grid'], 'key')} sweep.grid`,
        message: `the sweep makes ${runs.toLocaleString('en-US')} runs (${[...lengths.map(String), `${config.sweep?.seeds?.length ?? 1} seed(s)`, `${config.ablation.length + 1} variant(s)`].join(' x ')}), more than sweep.maxRuns (${maxRuns.toLocaleString('en-US')})`,
        hint: 'shrink the grid, or raise sweep.maxRuns if you mean it',
      });
      throw new ConfigError(all);
    }
    all.push(...missingPaths(config, dirname(resolve(file)), locate));
    // Each sweep point and ablation variant must itself be a valid config.
    for (const point of overridesToCheck(config)) {
      const value = structuredClone(composed.value);
      delete value.sweep;
      delete value.ablation;
      for (const [path, v] of Object.entries(point.set)) setPath(value, path.split('.'), v);
      const check = validateConfigValue(value, () => locate(point.path, 'value'));
      all.push(...check.problems.map((p) => ({ ...p, message: `${p.message} (in ${point.what})` })));
    }
  }
  if (all.length > 0 || !config) throw new ConfigError(all);
  const path = resolve(file);
  return { file: path, baseDir: dirname(path), config, raw: composed.value, files: composed.files };
}

/** How many runs a config plans (ablation variants x grid points x seeds), without listing them. */
export function countRuns(config: Pick<ExperimentConfig, 'sweep' | 'ablation'>): number {
  const points = Object.values(config.sweep?.grid ?? {}).reduce((n, values) => n * values.length, 1);
  return (config.ablation.length + 1) * points * (config.sweep?.seeds?.length ?? 1);
}

/** Config keys that name files or folders which must exist before a run starts (relative to the config file). */
const PATH_KEYS: { section: 'dataset' | 'backbone'; key: string; what: string }[] = [
  { section: 'dataset', key: 'root', what: 'the dataset folder' },
  { section: 'dataset', key: 'dir', what: 'the dataset folder' },
  { section: 'dataset', key: 'classes', what: 'the class list' },
  { section: 'dataset', key: 'annotations', what: 'the annotation folder' },
  { section: 'backbone', key: 'path', what: 'the model file' },
];

/** A problem for each dataset root or model path the config names that is not there. */
function missingPaths(config: ExperimentConfig, baseDir: string, locate: Locator): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const { section, key, what } of PATH_KEYS) {
    const value = (config[section] as Record<string, unknown>)[key];
    if (typeof value !== 'string') continue;
    const path = resolve(baseDir, value);
    if (existsSync(path)) continue;
    problems.push({
      where: `${locate([section, key], 'value')} ${section}.${key}`,
      message: `${what} ${path} does not exist`,
      hint: `${section === 'dataset' ? 'put the data there (its card in datasets/ says how to get it)' : 'export or copy the model there'}, or point ${section}.${key} at it (relative paths are from the config file's folder)`,
    });
  }
  return problems;
}

/** Each override a sweep or ablation makes, with where it is written. */
function overridesToCheck(config: ExperimentConfig): { path: (string | number)[]; what: string; set: Record<string, unknown> }[] {
  const out: { path: (string | number)[]; what: string; set: Record<string, unknown> }[] = [];
  for (const [key, values] of Object.entries(config.sweep?.grid ?? {})) {
    values.forEach((v, i) => out.push({ path: ['sweep', 'grid', key, i], what: `sweep value ${key}=${JSON.stringify(v)}`, set: { [key]: v } }));
  }
  config.ablation.forEach((a, i) => out.push({ path: ['ablation', i, 'set'], what: `ablation variant '${a.name}'`, set: a.set }));
  return out;
}

/** The config of one run as written to config.resolved.yaml: every default filled, no sweep/ablation blocks. */
export function resolvedYaml(config: ExperimentConfig): string {
  const { sweep: _sweep, ablation: _ablation, ...rest } = config;
  return stringify(rest, { lineWidth: 0 });
}

/**
 * What `loadExperimentConfig` does for a file, for an experiment given as a value (a plain object,
 * as a YAML file holds it; no `extends:`): `sets` overrides applied, then the same validation, run
 * count limit, missing-path checks (relative to `baseDir`, default the working directory) and
 * sweep/ablation checks, every problem thrown together as one `ConfigError`. `name` stands for
 * the file in messages.
 */
export function loadExperimentConfigValue(value: Record<string, unknown>, options: { baseDir?: string; sets?: readonly string[]; name?: string } = {}): LoadedConfig {
  const name = options.name ?? '(config object)';
  const baseDir = resolve(options.baseDir ?? process.cwd());
  const locate: Locator = () => name;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError([{ where: name, message: 'the config must be an object with experiment, dataset and backbone sections' }]);
  const raw = withoutForbiddenKeys(value) as Record<string, unknown>;
  if (raw.extends !== undefined) throw new ConfigError([{ where: `${name} extends`, message: 'extends: needs a config file to resolve fragment names from', hint: 'merge the fragments into the object, or write it to a YAML file and pass its path' }]);
  for (const set of options.sets ?? []) {
    const { path, value: v } = parseSet(set);
    setPath(raw, path, v, `--set ${set}`);
  }
  const { config, problems } = validateConfigValue(raw, locate);
  const all = [...problems];
  if (config) {
    const runs = countRuns(config);
    const maxRuns = config.sweep?.maxRuns ?? MAX_RUNS;
    if (runs > maxRuns) throw new ConfigError([{ where: `${name} sweep.grid`, message: `the sweep makes ${runs.toLocaleString('en-US')} runs, more than sweep.maxRuns (${maxRuns.toLocaleString('en-US')})`, hint: 'shrink the grid, or raise sweep.maxRuns if you mean it' }]);
    all.push(...missingPaths(config, baseDir, locate));
    for (const point of overridesToCheck(config)) {
      const copy = structuredClone(raw);
      delete copy.sweep;
      delete copy.ablation;
      for (const [path, v] of Object.entries(point.set)) setPath(copy, path.split('.'), v);
      all.push(...validateConfigValue(copy, locate).problems.map((p) => ({ ...p, message: `${p.message} (in ${point.what})` })));
    }
  }
  if (all.length > 0 || !config) throw new ConfigError(all);
  return { file: name, baseDir, config, raw, files: [] };
}
