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
