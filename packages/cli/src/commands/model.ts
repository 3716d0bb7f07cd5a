import { initBackend } from '@gaze/engine';
import { describeModel, openModel, type ModelDescription } from '@gaze/runner';
import type { Argv, CommandModule } from 'yargs';
import { backendFrom, parseSize, type CliIO, type GlobalOptions } from '../cli.js';

interface InspectArgs extends GlobalOptions {
  file: string;
  size?: string;
  json: boolean;
}

const count = (n: number) => n.toLocaleString('en-US');

/** The description as the terminal shows it: a header, the op counts and one row per module. */
export function formatDescription(d: ModelDescription): string {
  const format = d.format === 'onnx' ? `ONNX (opset ${d.opset}, ${d.producer})` : d.format === 'layers-model' ? 'tfjs layers model' : 'saved Gaze classifier';
  const lines = [`${d.path}`, `  ${format}: input ${d.input.join('x')} (C x H x W), ${d.numClasses} classes, ${count(d.parameters)} parameters`];
  const ops = Object.entries(d.ops).sort((a, b) => b[1] - a[1]);
  if (ops.length) lines.push(`  ops: ${ops.map(([op, n]) => `${op} ${n}`).join(', ')}`);
  for (const note of d.notes) lines.push(`  note: ${note}`);
  if (d.modules.length) {
    const nameWidth = Math.min(56, Math.max(11, ...d.modules.map((m) => m.name.length)));
    const shapeWidth = Math.max(6, ...d.modules.map((m) => m.shape.join('x').length));
    const paramWidth = Math.max(6, ...d.modules.map((m) => count(m.parameters).length));
    const row = (a: string, b: string, c: string, e: string, f: string) => `  ${a.padEnd(nameWidth)}  ${b.padEnd(12)}  ${c.padEnd(shapeWidth)}  ${e.padStart(paramWidth)}  ${f}`.trimEnd();
    lines.push('', row(d.format === 'onnx' ? 'module path' : 'layer', 'op', 'output', 'params', 'tap'));
    for (const m of d.modules) {
      const mark = m.name === d.camTap ? `${m.tap} (default CAM tap)` : m.tap;
      lines.push(row(m.name, m.op, m.shape.join('x'), count(m.parameters), mark));
    }
  }
  lines.push('', `taps: ${d.taps.join(', ')}${d.camTap ? `; CAM methods use ${d.camTap} unless given --layer` : ''}`);
  return lines.join('\n') + '\n';
}

function inspectCommand(io: CliIO): CommandModule<GlobalOptions, InspectArgs> {
  return {
    command: 'inspect <file>',
    describe: 'List a model\'s modules (PyTorch module paths for ONNX) with output shapes, op counts and parameters, to pick taps',
    builder: (y) =>
      y
        .positional('file', { type: 'string', demandOption: true, describe: 'an .onnx file, a tfjs/Keras model.json (or its directory), a saved Gaze classifier or run directory' })
        .option('size', { type: 'string', describe: 'input size HxW for a model exported with an open size, e.g. 224' })
        .option('json', { type: 'boolean', default: false, describe: 'print the description as JSON' }) as Argv<InspectArgs>,
    handler: async (argv) => {
      const backend = backendFrom(argv);
      await initBackend(backend.backend, { source: backend.source });
      const opened = await openModel(argv.file, { size: parseSize(argv.size) });
      try {
        const description = describeModel(opened);
        io.stdout(argv.json ? JSON.stringify(description, null, 2) + '\n' : formatDescription(description));
      } finally {
        opened.classifier.dispose();
      }
    },
  };
}

export function modelCommand(io: CliIO): CommandModule<GlobalOptions, GlobalOptions> {
  return {
    command: 'model <command>',
    describe: 'Look inside a model file (ONNX, tfjs layers, saved Gaze classifier)',
    builder: (y) => y.command(inspectCommand(io)).demandCommand(1) as Argv<GlobalOptions>,
    handler: () => {},
  };
}
