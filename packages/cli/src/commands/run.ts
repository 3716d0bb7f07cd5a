import { loadExperimentConfigWithHeads, runExperiment } from '@gaze/runner';
import type { Argv, CommandModule } from 'yargs';
import { CommandExit, type CliIO, type GlobalOptions } from '../cli.js';
import { progressReporter } from '../progress.js';

interface RunArgs extends GlobalOptions {
  config: string;
  set: string[];
  resume: boolean;
  saveMaps?: string;
}

/** `--save-maps` as the override it stands for, so config.resolved.yaml and validation see it; bare means npy. */
export function saveMapsSet(flag: string | undefined): string[] {
  return flag === undefined ? [] : [`evaluationSet.saveMaps=${flag === '' ? 'npy' : flag}`];
}

export function runCommand(io: CliIO): CommandModule<GlobalOptions, RunArgs> {
  return {
    command: 'run <config>',
    describe: 'Run an experiment file: train, explain, evaluate, and write the run directory and report',
    builder: (y) =>
      y
        .positional('config', { type: 'string', demandOption: true, describe: 'experiment YAML, e.g. configs/quickstart.yaml' })
        .option('set', { type: 'string', array: true, default: [], describe: 'override a key: path=value (repeatable), e.g. train.epochs=5' })
        .option('resume', { type: 'boolean', default: false, describe: 'continue the newest unfinished launch of this config from its last checkpoint' })
        .option('save-maps', { type: 'string', describe: 'write each method\'s maps to maps/<method>/ in the run: npy (default), png (overlays) or both; sets evaluationSet.saveMaps' }) as Argv<RunArgs>,
    handler: async (argv) => {
      const sets = [...argv.set, ...saveMapsSet(argv.saveMaps)];
      const loaded = await loadExperimentConfigWithHeads(argv.config, { sets });
      const controller = new AbortController();
      let interrupts = 0;
      const onSigint = () => {
        interrupts++;
        if (interrupts === 1) {
          io.stderr('\nstopping after this step; the last finished epoch is kept (Ctrl-C again to quit at once)\n');
          controller.abort();
        } else {
          process.exit(130);
        }
      };
      process.on('SIGINT', onSigint);
      const tty = io.tty ? process.stderr : undefined;
      const progress = progressReporter({ write: io.stdout, tty });
      try {
        const outcome = await runExperiment(loaded, { resume: argv.resume, signal: controller.signal, onEvent: progress.onEvent, backendFlag: argv.backend });
        const interrupted = outcome.runs.find((r) => r.status === 'interrupted');
        if (interrupted) {
          throw new CommandExit(130, `interrupted: ${interrupted.runDir}\ncontinue with: gaze run ${argv.config} --resume${sets.map((s) => ` --set ${s}`).join('')}\n`);
        }
      } finally {
        progress.stop();
        process.off('SIGINT', onSigint);
      }
    },
  };
}
