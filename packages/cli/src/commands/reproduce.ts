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
  resume: boolean;
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
        .option('set', { type: 'string', array: true, default: [], describe: 'override a key in every file: path=value' })
        .option('resume', { type: 'boolean', default: false, describe: 'continue each file\'s newest unfinished run from its last checkpoint (finished files are run again)' }) as Argv<ReproduceArgs>,
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
      const controller = new AbortController();
      const onSigint = () => {
        if (controller.signal.aborted) process.exit(130);
        io.stderr('\nstopping after this step; the last finished epoch is kept (Ctrl-C again to quit at once)\n');
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      try {
        for (const file of files) {
          io.stdout(`reproduce ${argv.name}: ${file}\n`);
          const loaded = await loadExperimentConfigWithHeads(join(dir, file), { sets: argv.set });
          const outcome = await runExperiment(loaded, { resume: argv.resume, signal: controller.signal, onEvent: progress.onEvent, backendFlag: argv.backend });
          const unfinished = outcome.runs.find((r) => r.status !== 'finished');
          if (unfinished) {
            const again = `gaze reproduce ${argv.name} --only ${basename(file, '.yaml')} --resume${argv.set.map((s) => ` --set ${s}`).join('')}`;
            throw new CommandExit(unfinished.status === 'interrupted' ? 130 : 1, `${file}: the run ${unfinished.status} (${unfinished.runDir})${unfinished.status === 'interrupted' ? `\ncontinue with: ${again}` : ''}\n`);
          }
          const target = join(dir, 'results', basename(file, '.yaml'));
          rmSync(target, { recursive: true, force: true });
          mkdirSync(target, { recursive: true });
          // A sweep (e.g. seeds) keeps its combined table and every run's report; one run keeps its report.
          const several = outcome.runs.length > 1;
          if (several && outcome.summaryDir) cpSync(outcome.summaryDir, join(target, 'summary'), { recursive: true });
          for (const run of outcome.runs) {
            const into = several ? join(target, basename(run.runDir)) : target;
            for (const name of KEPT) if (existsSync(join(run.runDir, name))) cpSync(join(run.runDir, name), join(into, name), { recursive: true });
          }
          io.stdout(`  results: ${target}\n`);
        }
      } finally {
        progress.stop();
        process.off('SIGINT', onSigint);
      }
    },
  };
}
