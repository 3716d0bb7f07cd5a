import { join, resolve } from 'node:path';
import { writeExperimentSummary } from '@gaze/runner';
import type { Argv, CommandModule } from 'yargs';
import type { CliIO, GlobalOptions } from '../cli.js';

interface ReportArgs extends GlobalOptions {
  dir: string;
  sweep?: string;
  out?: string;
}

export function reportCommand(io: CliIO): CommandModule<GlobalOptions, ReportArgs> {
  return {
    command: 'report <dir>',
    describe: 'Aggregate the finished runs of an experiment (runs/<experiment>) into one table: mean ± std over seeds, with charts',
    builder: (y) =>
      y
        .positional('dir', { type: 'string', demandOption: true, describe: 'the experiment folder, e.g. runs/quickstart' })
        .option('sweep', { type: 'string', describe: 'only the runs of this launch (the run-id prefix of a sweep)' })
        .option('out', { type: 'string', describe: 'output folder (default <dir>/report)' }) as Argv<ReportArgs>,
    handler: async (argv) => {
      const dir = resolve(argv.dir);
      const out = resolve(argv.out ?? join(dir, 'report'));
      const files = await writeExperimentSummary(dir, out, { sweepId: argv.sweep });
      io.stdout(`wrote ${files.length} files to ${out}: ${files.map((f) => f.slice(out.length + 1)).join(', ')}\n`);
    },
  };
}
