import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GazeError } from '@gaze/engine';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { composeConfig, loadExperimentConfig, parseSet, planRuns, setPath } from '../../src/index.js';
import { problemsOf } from './problems-of.js';

// __proto__, constructor and prototype in a config must never reach Object.prototype: each path
// a key can take (a YAML file, a fragment it extends, --set, a sweep grid, an ablation) reports it
// where it is written and leaves every object as it was.
const root = mkdtempSync(join(tmpdir(), 'gaze-proto-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const BASE = 'experiment: {name: proto}\ndataset: {type: shapes, size: 16}\nbackbone: {type: vgg-small}\n';
const write = (name: string, text: string) => {
  const file = join(root, name);
  writeFileSync(file, text);
  return file;
};

/** Object.prototype as it is before anything runs: no own keys besides the built-ins. */
const BUILTIN = Object.getOwnPropertyNames(Object.prototype).sort();
afterEach(() => {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(BUILTIN);
  expect(({} as Record<string, unknown>).lr).toBeUndefined();
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

describe('prototype pollution', () => {
  it('a YAML key __proto__ / constructor / prototype is reported at its line and column, and dropped', () => {
    const file = write('yaml.yaml', `${BASE}__proto__:\n  lr: 0.1\ntrain:\n  constructor: {prototype: {polluted: 1}}\n`);
    const found = problemsOf(() => loadExperimentConfig(file));
    expect(found.map((p) => p.where)).toEqual(expect.arrayContaining([expect.stringMatching(/yaml\.yaml:4:1$/), expect.stringMatching(/yaml\.yaml:7:3$/)]));
    expect(found.every((p) => !p.message.includes('unknown key'))).toBe(true);
    expect(found[0].message).toContain("the key '__proto__' is not allowed");
    const composed = composeConfig(file);
    expect(Object.getPrototypeOf(composed.value)).toBe(Object.prototype);
    expect(Object.keys(composed.value.train as object)).toEqual([]);
  });

  it('through a fragment the file extends', () => {
    write('fragment.yaml', 'train:\n  __proto__: {polluted: 1}\n');
    const file = write('extends.yaml', `extends: [./fragment.yaml]\n${BASE}`);
    expect(problemsOf(() => loadExperimentConfig(file))[0].where).toMatch(/fragment\.yaml:2:3$/);
  });

  it('--set with a forbidden key path, or a value holding one', () => {
    const file = write('set.yaml', BASE);
    for (const set of ['__proto__.lr=0.1', 'train.constructor.prototype.polluted=1', 'prototype=1']) {
      const error = (() => {
        try {
          loadExperimentConfig(file, { sets: [set] });
        } catch (e) {
          return e as GazeError;
        }
        throw new Error('expected an error');
      })();
      expect(error.message, set).toContain('is not allowed');
      expect(error.where, set).toBe(`--set ${set}`);
    }
    expect(parseSet('train={__proto__: {polluted: 1}, lr: 0.5}').value).toEqual({ lr: 0.5 });
    expect(() => setPath({}, ['__proto__', 'polluted'], 1)).toThrow(GazeError);
  });

  it('a sweep grid key and an ablation key', () => {
    const sweep = write('sweep.yaml', `${BASE}sweep:\n  grid:\n    __proto__.lr: [0.1, 0.2]\n`);
    expect(problemsOf(() => planRuns(loadExperimentConfig(sweep)))[0].message).toContain('may not name __proto__');
    const ablation = write('ablation.yaml', `${BASE}ablation:\n  - name: v\n    set: {constructor.prototype.polluted: 1}\n`);
    const found = problemsOf(() => planRuns(loadExperimentConfig(ablation)));
    expect(found[0].message).toContain('may not name __proto__');
    expect(found[0].where).toMatch(/ablation\.yaml:6:/);
  });
});

describe('configs execute no code', () => {
  it('a !!js/function tag is read as data (or refused), never run; an alias bomb is stopped', () => {
    const tagged = write('tagged.yaml', `${BASE}train:\n  lr: !!js/function "function () { globalThis.pwned = 1; return 0.1 }"\n`);
    const found = problemsOf(() => loadExperimentConfig(tagged));
    expect((globalThis as Record<string, unknown>).pwned).toBeUndefined();
    expect(found.some((p) => p.where.includes('train.lr') || p.message.includes('js/function'))).toBe(true);
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    const bomb = write('bomb.yaml', `${BASE}${levels.join('\n')}\n`);
    const started = performance.now();
    const bombProblems = problemsOf(() => loadExperimentConfig(bomb));
    expect(performance.now() - started).toBeLessThan(2000);
    expect(bombProblems.some((p) => /alias/i.test(p.message))).toBe(true);
  });
});
