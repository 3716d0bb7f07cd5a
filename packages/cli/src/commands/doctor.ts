import type { CommandModule } from 'yargs';
import { backendFrom, type CliIO, type GlobalOptions } from '../cli.js';
import { collectDoctorReport, formatDoctorReport } from '../doctor/report.js';

export function doctorCommand(io: CliIO): CommandModule<GlobalOptions, GlobalOptions & { json: boolean }> {
  return {
    command: 'doctor',
    describe: 'Report the machine: Node, tfjs backends and which one auto picks, GPU libraries, datasets found',
    builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' }),
    handler: async (argv) => {
      const report = await collectDoctorReport(backendFrom(argv));
      io.stdout(argv.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctorReport(report));
    },
  };
}
