import { loadExperimentConfigWithHeads, planRuns, preflight } from '@gaze/runner';
import type { Argv, CommandModule } from 'yargs';
import type { CliIO, GlobalOptions } from '../cli.js';

interface ValidateArgs extends GlobalOptions {
  config: string;
  set: string[];
  build: boolean;
}

export function validateCommand(io: CliIO): CommandModule<GlobalOptions, ValidateArgs> {
  return {
    command: 'validate <config>',
    describe: 'Check an experiment file (YAML, keys, types, extends, sweep) without running it',
    builder: (y) =>
      y
        .positional('config', { type: 'string', demandOption: true, describe: 'experiment YAML' })
        .option('set', { type: 'string', array: true, default: [], describe: 'override a key: path=value (repeatable)' })
        .option('build', { type: 'boolean', default: true, describe: 'also open the dataset, build the backbone and check a training step fits in memory (--no-build: the file only)' }) as Argv<ValidateArgs>,
    handler: async (argv) => {
      const loaded = await loadExperimentConfigWithHeads(argv.config, { sets: argv.set });
      const runs = planRuns(loaded);
      const { config } = loaded;
      const built = argv.build ? await preflight(loaded, runs, argv.backend) : undefined;
      const train = config.train ? `train ${config.train.epochs} epochs (${config.train.optimizer}, lr ${config.train.lr}, batch ${config.train.batchSize})` : 'no training';
      const parts = [
        `dataset ${config.dataset.type}`,
        `backbone ${config.backbone.type}`,
        train,
        ...(['heads', 'explainers', 'evaluation'] as const).filter((s) => config[s].length).map((s) => `${s}: ${config[s].map((e) => e.name ?? e.type).join(', ')}`),
      ];
      io.stdout(`ok: ${argv.config} (${loaded.files.length} file${loaded.files.length === 1 ? '' : 's'})\n  ${parts.join('\n  ')}\n  ${runs.length} run${runs.length === 1 ? '' : 's'} into ${config.experiment.output}/${config.experiment.name}/\n${built ? `  built: ${built}\n` : ''}`);
    },
  };
}
