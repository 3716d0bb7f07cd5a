import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { GazeError } from '@gaze/engine';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { FORBIDDEN_KEY_HINT, FORBIDDEN_KEY_MESSAGE, isForbiddenKey, withoutForbiddenKeys } from './safe-keys.js';

/** A place in a config source: a file position, or a command-line override. */
export interface Location {
  /** `configs/quickstart.yaml:12:5`, or `--set train.lr=0.1`. */
  text: string;
}

/** Where each key path of a config came from: the key itself (for unknown keys) and its value. */
export interface PathLocations {
  key?: Location;
  value?: Location;
}

/** A plain config value with the location of every key path in it (paths joined with '.'). */
export interface LocatedValue {
  value: Record<string, unknown>;
  locations: Map<string, PathLocations>;
}

/** A problem found while reading or validating a config, with where it is. */
export interface ConfigProblem {
  where: string;
  message: string;
  hint?: string;
  /** For a YAML syntax error: the lines it spoils (values read from them are not reported again). */
  span?: { file: string; from: number; to: number };
}

/** Every problem of a config at once, so one `gaze validate` shows them all. */
export class ConfigError extends GazeError {
  constructor(readonly problems: ConfigProblem[]) {
    const first = problems[0];
    super(problems.length === 1 ? first.message : `${problems.length} problems in the config`, {
      where: problems.length === 1 ? first.where : undefined,
      hint: problems.length === 1 ? first.hint : undefined,
    });
  }

  override format(): string {
    if (this.problems.length === 1) return super.format();
    return [
      `${this.problems.length} problems in the config:`,
      ...this.problems.map((p) => `  ${p.where}: ${p.message}${p.hint ? `\n    hint: ${p.hint}` : ''}`),
    ].join('\n');
  }
}

/** The path shown in messages: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

export function joinPath(path: readonly (string | number)[]): string {
  return path.map(String).join('.');
}

/**
 * Reads a YAML file keeping the line and column of every key and value. Syntax errors (bad
 * indentation, a tab, an unclosed bracket) are returned as problems with their position, one
 * per line, next to whatever part of the document could still be read.
 */
export function readYamlFile(file: string): LocatedValue & { problems: ConfigProblem[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new GazeError(code === 'ENOENT' ? `config file ${displayPath(file)} not found` : `cannot read ${displayPath(file)}: ${(e as Error).message}`, {
      hint: code === 'ENOENT' ? 'check the path (relative paths are from the current directory)' : undefined,
    });
  }
  return parseYamlText(text, displayPath(file));
}

export function parseYamlText(text: string, name: string): LocatedValue & { problems: ConfigProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number): Location => {
    const { line, col } = lineCounter.linePos(offset);
    return { text: `${name}:${line}:${col}` };
  };
  const problems: ConfigProblem[] = [];
  const seenLines = new Set<number>();
  // A key indented deeper than the line above reads, to yaml, as a multi-line key starting at
  // the previous value; the mistake is on the later line, so that is where we point.
  const multiline = new Set(doc.errors.filter((e) => e.code === 'MULTILINE_IMPLICIT_KEY').map((e) => e.pos[0]));
  const lines = text.split('\n');
  for (const error of doc.errors) {
    if (error.code === 'BLOCK_AS_IMPLICIT_KEY' && multiline.has(error.pos[0])) continue;
    const start = lineCounter.linePos(error.pos[0]);
    const end = lineCounter.linePos(error.pos[1]);
    let { line, col } = start;
    let message = `YAML syntax: ${yamlMessage(error.code, error.message)}`;
    if (error.code === 'MULTILINE_IMPLICIT_KEY' && end.line > start.line) {
      line = end.line;
      col = (lines[line - 1]?.search(/\S/) ?? 0) + 1;
      message = 'YAML syntax: bad indentation: this line is indented deeper than the key above it';
    }
    if (seenLines.has(line)) continue;
    seenLines.add(line);
    problems.push({ where: `${name}:${line}:${col}`, message, hint: yamlHint(error.code), span: { file: name, from: start.line, to: Math.max(end.line, line) } });
  }
  const locations = new Map<string, PathLocations>();
  const walk = (node: Node | null | undefined, path: (string | number)[]) => {
    if (!node) return;
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const childPath = [...path, key];
        const keyNode = pair.key as Node | null;
        const valueNode = pair.value as Node | null;
        if (isForbiddenKey(key)) {
          problems.push({ where: keyNode?.range ? at(keyNode.range[0]).text : `${name}:1:1`, message: FORBIDDEN_KEY_MESSAGE(key), hint: FORBIDDEN_KEY_HINT });
          continue;
        }
        locations.set(joinPath(childPath), {
          key: keyNode?.range ? at(keyNode.range[0]) : undefined,
          value: valueNode?.range ? at(valueNode.range[0]) : keyNode?.range ? at(keyNode.range[0]) : undefined,
        });
        walk(valueNode, childPath);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const itemNode = item as Node | null;
        if (itemNode?.range) locations.set(joinPath([...path, i]), { key: at(itemNode.range[0]), value: at(itemNode.range[0]) });
        walk(itemNode, [...path, i]);
      });
    }
  };
  walk(doc.contents as Node | null, []);
  locations.set('', { key: { text: `${name}:1:1` }, value: { text: `${name}:1:1` } });

  let value: unknown;
  try {
    // Forbidden keys (reported above) never reach the config: every object is rebuilt without them.
    value = withoutForbiddenKeys(doc.toJS({ maxAliasCount: 100 }));
  } catch (e) {
    problems.push({ where: `${name}:1:1`, message: `YAML: ${(e as Error).message}` });
    value = {};
  }
  if (value === null || value === undefined) value = {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push({ where: `${name}:1:1`, message: 'a config must be a mapping of sections (experiment:, dataset:, ...)', hint: 'see configs/quickstart.yaml' });
    value = {};
  }
  return { value: value as Record<string, unknown>, locations, problems };
}

/** yaml's message without its position suffix and code excerpt (we print our own position). */
function yamlMessage(code: string, message: string): string {
  const first = message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  const friendly: Record<string, string> = {
    BAD_INDENT: 'bad indentation',
    BLOCK_AS_IMPLICIT_KEY: 'bad indentation: a nested key is not lined up with its siblings',
    MULTILINE_IMPLICIT_KEY: 'bad indentation: a key continues onto the next line',
    TAB_AS_INDENT: 'tabs are not allowed for indentation',
    DUPLICATE_KEY: 'a key appears twice in the same mapping',
  };
  return friendly[code] ? `${friendly[code]} (${first})` : first;
}

function yamlHint(code: string): string | undefined {
  if (code === 'TAB_AS_INDENT') return 'indent with spaces';
  if (code.includes('INDENT') || code.includes('IMPLICIT_KEY')) return 'indent nested keys by the same number of spaces as their siblings (2 is usual)';
  if (code === 'DUPLICATE_KEY') return 'keep one of them';
  return undefined;
}
