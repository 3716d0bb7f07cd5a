import { resolve } from 'node:path';
import { createDataset, datasetTypes, previewDataset, SPLIT_NAMES, type SplitName } from '@gaze/data';
import { initBackend } from '@gaze/engine';
import { parseSet, setPath } from '@gaze/runner';
import type { Argv, CommandModule } from 'yargs';
import { backendFrom, type CliIO, type GlobalOptions } from '../cli.js';

interface PreviewArgs extends GlobalOptions {
  dataset: string;
  set: string[];
  split: SplitName;
  count: number;
  out?: string;
  seed: number;
}

function previewCommand(io: CliIO): CommandModule<GlobalOptions, PreviewArgs> {
  return {
    command: 'preview',
    describe: 'Write a grid of examples (boxes drawn, class and attributes as captions) and a summary of a dataset split',
    builder: (y) =>
      y
        .option('dataset', { type: 'string', demandOption: true, describe: `loader type: ${datasetTypes().join(', ')}` })
        .option('set', { type: 'string', array: true, default: [], describe: 'override a dataset option: key=value (repeatable), e.g. size=96' })
        .option('split', { choices: SPLIT_NAMES, default: 'val' as SplitName })
        .option('count', { type: 'number', default: 16, describe: 'examples in the grid' })
        .option('out', { type: 'string', describe: 'output directory (default runs/preview/<dataset>-<split>)' })
        .option('seed', { type: 'number', default: 0, describe: 'dataset seed' }) as Argv<PreviewArgs>,
    handler: async (argv) => {
      await initBackend(backendFrom(argv).backend, { source: backendFrom(argv).source });
      const config: { type: string } & Record<string, unknown> = { type: argv.dataset };
      for (const set of argv.set) {
        const { path, value } = parseSet(set);
        setPath(config, path, value, `--set ${set}`);
      }
      const dataset = await createDataset(config, { seed: argv.seed, baseDir: process.cwd(), log: (line) => io.stderr(`${line}\n`), where: 'dataset' });
      const out = resolve(argv.out ?? `runs/preview/${argv.dataset}-${argv.split}`);
      const { summary, skipped } = await previewDataset(dataset, argv.split, argv.count, out);
      for (const s of skipped) io.stderr(`skipped unreadable ${s.id} (${s.reason})\n`);
      io.stdout(
        `${summary.type} ${summary.split}: ${summary.size} examples, ${summary.numClasses} classes, images ${summary.imageShape.join('x')}` +
          `${skipped.length ? `, ${skipped.length} unreadable skipped` : ''}\n` +
          `wrote ${out}/grid.png (${summary.first.length} examples) and ${out}/summary.json\n`,
      );
    },
  };
}

export function dataCommand(io: CliIO): CommandModule<GlobalOptions, GlobalOptions> {
  return {
    command: 'data <command>',
    describe: 'Look at datasets before training on them',
    builder: (y) => y.command(previewCommand(io)).demandCommand(1) as Argv<GlobalOptions>,
    handler: () => {},
  };
}
