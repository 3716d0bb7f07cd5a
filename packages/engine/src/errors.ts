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
