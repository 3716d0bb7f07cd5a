/**
 * An error the user can cause and fix: a bad config value, a missing dataset, a backend that is
 * not installed. It says what was wrong, where, and how to fix it; the CLI prints it without a
 * stack trace and exits non-zero. Anything else is a bug and may throw a plain Error.
 */
export class GazeError extends Error {
  override readonly name = 'GazeError';
  /** Where the problem is: `config.yaml:3:11 train.epochs`, a file path, an env var name. */
  readonly where?: string;
  /** What the user can do about it. */
  readonly hint?: string;

  constructor(message: string, options: { where?: string; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.where = options.where;
    this.hint = options.hint;
  }

  /** The whole message as the CLI shows it: `where: message` then the hint on its own line. */
  format(): string {
    const head = this.where ? `${this.where}: ${this.message}` : this.message;
    return this.hint ? `${head}\n  hint: ${this.hint}` : head;
  }
}

export function isGazeError(e: unknown): e is GazeError {
  return e instanceof Error && e.name === 'GazeError' && typeof (e as GazeError).format === 'function';
}

/** Edit distance (insertions, deletions, substitutions) between two strings. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** The candidate closest to `word` when it is a plausible typo (distance <= max(2, len/3)), else undefined. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** What each file-system error code means for the user, and what to do. */
const FILE_SYSTEM_ERRORS: Record<string, { what: string; hint: string }> = {
  EACCES: { what: 'permission denied', hint: 'choose a folder you can write (experiment.output, --out) or fix its permissions' },
  EPERM: { what: 'operation not permitted', hint: 'choose a folder you can write (experiment.output, --out), or check its attributes (an immutable folder: lsattr)' },
  EROFS: { what: 'the file system is read-only', hint: 'write to a writable disk (experiment.output, --out)' },
  ENOTDIR: { what: 'a part of the path is a file, not a folder', hint: 'remove or rename that file, or choose another output folder' },
  EISDIR: { what: 'a folder is where a file should be', hint: 'remove or rename that folder, or choose another output path' },
  ENOSPC: { what: 'no space left on the device', hint: 'free some space (or write elsewhere) and resume with --resume: finished checkpoints are kept' },
  EDQUOT: { what: 'the disk quota is used up', hint: 'free some space (or write elsewhere) and resume with --resume: finished checkpoints are kept' },
  EMFILE: { what: 'too many open files', hint: 'raise the limit (ulimit -n) or lower dataset.workers' },
  ENOENT: { what: 'no such file or folder', hint: 'check the path' },
};

/**
 * A Node file-system error (EACCES, ENOTDIR, ENOSPC, ...) as a GazeError naming the path, or
 * undefined for anything else: these are the user's to fix, not bugs in Gaze.
 */
export function fileSystemError(error: unknown): GazeError | undefined {
  if (isGazeError(error) || !(error instanceof Error)) return undefined;
  const { code, path, syscall } = error as NodeJS.ErrnoException;
  const known = code ? FILE_SYSTEM_ERRORS[code] : undefined;
  if (!known || (code === 'ENOENT' && !path)) return undefined;
  // `open` serves reads and writes alike, so it is named as it is.
  const verb = syscall ?? 'use';
  return new GazeError(`cannot ${verb} ${path ?? 'a file'}: ${known.what} (${code})`, { where: path, hint: known.hint, cause: error });
}

/** The most memory the wasm backend's heap can grow to (wasm32). */
export const WASM_HEAP_LIMIT = 4 * 2 ** 30;

/**
 * Running out of tensor memory, as the backends report it (wasm: "memory access out of bounds"
 * when its 4 GB heap is full; JavaScript: a failed ArrayBuffer allocation), as a GazeError that
 * says what to shrink; undefined for anything else.
 */
export function outOfMemoryError(error: unknown): GazeError | undefined {
  if (isGazeError(error) || !(error instanceof Error)) return undefined;
  const wasm = /memory access out of bounds|Cannot enlarge memory|Out of memory/i.test(error.message);
  const js = error instanceof RangeError && /Array buffer allocation failed|Invalid typed array length|Invalid array length/.test(error.message);
  if (!wasm && !js) return undefined;
  return new GazeError(`ran out of memory for tensors (${error.message.split('\n')[0]})${wasm ? `: the wasm backend holds at most ${WASM_HEAP_LIMIT / 2 ** 30} GB` : ''}`, {
    hint: 'lower train.batchSize / evaluationSet.batchSize, the image size or the backbone\'s channels; a GPU backend (tensorflow-gpu, webgpu) has more room',
    cause: error,
  });
}
