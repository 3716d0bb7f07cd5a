import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { GazeError } from '@gaze/engine';
import { loadExperimentConfigWithHeads, runExperiment } from '@gaze/runner';
import type { Argv, CommandModule } from 'yargs';
import { CommandExit, type CliIO, type GlobalOptions } from '../cli.js';
import { progressReporter } from '../progress.js';

interface ReproduceArgs extends GlobalOptions {
  name: string;
  only: string[];
  set: string[];
}

/** What a reproduction keeps of each run: the report and what it links to. */
const KEPT = ['report.md', 'metrics.csv', 'gallery.png', 'charts', 'config.resolved.yaml', 'env.json'];

/**
 * `gaze reproduce <name>`: runs every experiment file in `experiments/<name>/` (not those under
 * `full-scale/`, which need data and hardware this machine may lack) and copies each run's report
 * into `experiments/<name>/results/<file>/`, the committed record of the last reproduction.
 */
export function reproduceCommand(io: CliIO): CommandModule<GlobalOptions, ReproduceArgs> {
  return {
    command: 'reproduce <name>',
    describe: 'Run a paper reproduction (experiments/<name>/*.yaml) and refresh its committed results',
    builder: (y) =>
      y
        .positional('name', { type: 'string', demandOption: true, describe: 'a folder of experiments/, e.g. tame' })
        .option('only', { type: 'string', array: true, default: [], describe: 'run only these files of it (name without .yaml)' })
        .option('set', { type: 'string', array: true, default: [], describe: 'override a key in every file: path=value' }) as Argv<ReproduceArgs>,
    handler: async (argv) => {
      const dir = resolve('experiments', argv.name);
      if (!existsSync(dir)) {
        const known = existsSync('experiments') ? readdirSync('experiments', { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [];
        throw new GazeError(`there is no experiments/${argv.name} here`, { where: process.cwd(), hint: known.length ? `run it from the repository root; reproductions: ${known.join(', ')}` : 'run it from the repository root' });
      }
      const files = readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .sort()
        .filter((f) => argv.only.length === 0 || argv.only.includes(basename(f, '.yaml')));
      if (files.length === 0) throw new GazeError(`experiments/${argv.name} has no experiment files${argv.only.length ? ` named ${argv.only.join(', ')}` : ''}`, { where: dir });
      const progress = progressReporter({ write: io.stdout, tty: io.tty ? process.stderr : undefined });
      try {
        for (const file of files) {
          io.stdout(`reproduce ${argv.name}: ${file}\n`);
          const loaded = await loadExperimentConfigWithHeads(join(dir, file), { sets: argv.set });
          const outcome = await runExperiment(loaded, { onEvent: progress.onEvent, backendFlag: argv.backend });
          const run = outcome.runs.at(-1)!;
          if (run.status !== 'finished') throw new CommandExit(1, `${file}: the run ${run.status} (${run.runDir})\n`);
          const target = join(dir, 'results', basename(file, '.yaml'));
          rmSync(target, { recursive: true, force: true });
          mkdirSync(target, { recursive: true });
          for (const name of KEPT) if (existsSync(join(run.runDir, name))) cpSync(join(run.runDir, name), join(target, name), { recursive: true });
          io.stdout(`  results: ${target}\n`);
        }
      } finally {
        progress.stop();
      }
    },
  };
}
