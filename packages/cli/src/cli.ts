import { readFileSync } from 'node:fs';
import { BACKEND_REQUESTS, GazeError, fileSystemError, isGazeError, outOfMemoryError, resolveBackendRequest, setNativeThreads, type BackendRequest, type RequestSource } from '@gaze/engine';
import yargs, { type Argv } from 'yargs';
import { dataCommand } from './commands/data.js';
import { doctorCommand } from './commands/doctor.js';
import { explainCommand } from './commands/explain.js';
import { modelCommand } from './commands/model.js';
import { reportCommand } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { reproduceCommand } from './commands/reproduce.js';
import { validateCommand } from './commands/validate.js';

/** Where commands write; tests pass their own. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Draw progress bars (stderr is a terminal); plain lines otherwise. */
  tty?: boolean;
}

/** Ends a command with an exit code and a message that is not an error (e.g. interrupted by Ctrl-C). */
export class CommandExit extends Error {
  constructor(
    readonly code: number,
    readonly text: string,
  ) {
    super(text);
  }
}

export interface GlobalOptions {
  backend?: string;
  threads?: number;
}

/** The backend a command should start: `--backend`, then GAZE_BACKEND, then the config's, then auto. */
export function backendFrom(argv: GlobalOptions, configBackend?: string): { backend: BackendRequest; source: RequestSource } {
  const { request, source } = resolveBackendRequest({ flag: argv.backend, config: configBackend });
  return { backend: request, source };
}

class UsageError extends Error {}

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `224` or `224x192` (H x W), as --size takes it. */
export function parseSize(text: string | undefined, flag = '--size'): [number, number] | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+)(?:x(\d+))?$/.exec(text.trim());
  if (!m) throw new GazeError(`${flag} takes a size like 224 or 224x192 (H x W), got '${text}'`, { where: flag });
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

export function buildCli(io: CliIO): Argv<GlobalOptions> {
  return yargs()
    .scriptName('gaze')
    .usage('$0 <command> [options]\n\nTrain and evaluate explanation methods for CNN image classifiers.')
    .option('backend', {
      type: 'string',
      describe: `tfjs backend: ${BACKEND_REQUESTS.join(' | ')} (overrides GAZE_BACKEND and the config)`,
      global: true,
    })
    .option('threads', {
      type: 'number',
      describe: 'threads of the native (oneDNN) kernels; default OMP_NUM_THREADS, else every core. Give each of several processes on one machine its share',
      global: true,
    })
    .middleware((argv) => {
      if (argv.threads === undefined) return;
      if (!Number.isInteger(argv.threads) || argv.threads < 1) {
        throw new GazeError(`expected a whole number >= 1, got '${argv.threads}'`, { where: '--threads', hint: 'e.g. --threads 2; leave it out to use OMP_NUM_THREADS or every core' });
      }
      setNativeThreads(argv.threads);
    })
    .command(runCommand(io))
    .command(validateCommand(io))
    .command(reproduceCommand(io))
    .command(reportCommand(io))
    .command(explainCommand(io))
    .command(modelCommand(io))
    .command(dataCommand(io))
    .command(doctorCommand(io))
    .demandCommand(1, 'Name a command (see the list above).')
    .strict()
    .recommendCommands()
    .version(version)
    .help()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message, error) => {
      if (error) throw error;
      throw new UsageError(message);
    }) as Argv<GlobalOptions>;
}

/**
 * Runs the CLI and returns the exit code. User errors (GazeError) print as one message with
 * where and how to fix, no stack; usage errors print the message and help; anything else is a
 * bug and prints its stack.
 */
export async function main(
  argv: string[],
  io: CliIO = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), tty: process.stderr.isTTY === true },
): Promise<number> {
  const cli = buildCli(io);
  try {
    await cli.parseAsync(argv, {}, (error, _parsed, output) => {
      // yargs hands --help/--version text here instead of printing it (exitProcess is off).
      if (output && !error) io.stdout(output.endsWith('\n') ? output : output + '\n');
    });
    return 0;
  } catch (error) {
    if (error instanceof CommandExit) {
      io.stderr(error.text);
      return error.code;
    }
    const userError = isGazeError(error) ? error : (fileSystemError(error) ?? outOfMemoryError(error));
    if (userError) {
      io.stderr(`error: ${userError.format()}\n`);
      return 1;
    }
    if (error instanceof UsageError) {
      io.stderr(`${await cli.getHelp()}\n\n${error.message}\n`);
      return 1;
    }
    io.stderr(`internal error (a bug in Gaze, please report it):\n${error instanceof Error ? error.stack : String(error)}\n`);
    return 2;
  }
}

export { GazeError };
