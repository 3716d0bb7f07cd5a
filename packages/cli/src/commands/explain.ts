import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { GazeError, initBackend } from '@gaze/engine';
import { explainerTypes } from '@gaze/explainers';
import { MAPS_FILE, explainImages, explainerEntry, imageCount, openImages, openModel, parseSet } from '@gaze/runner';
import cliProgress from 'cli-progress';
import type { Argv, CommandModule } from 'yargs';
import { CommandExit, backendFrom, parseSize, type CliIO, type GlobalOptions } from '../cli.js';

interface ExplainArgs extends GlobalOptions {
  model: string;
  images: string;
  method: string;
  layer?: string;
  target: string;
  out?: string;
  batch: number;
  set: string[];
  size?: string;
  resize?: number;
  mean?: string;
  std?: string;
  overlays: boolean;
  force: boolean;
  seed: number;
}

/** torchvision's evaluation resize for a square crop of `side`: 256 before a 224 crop, in proportion otherwise. */
export function defaultShorterSide(side: number): number {
  return Math.round((side * 256) / 224);
}

function numbers(text: string | undefined, flag: string): number[] | undefined {
  if (text === undefined) return undefined;
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) throw new GazeError(`${flag} takes comma-separated numbers, got '${text}'`, { where: flag, hint: `e.g. ${flag} 0.485,0.456,0.406` });
  return values;
}

export function explainCommand(io: CliIO): CommandModule<GlobalOptions, ExplainArgs> {
  return {
    command: 'explain',
    describe: 'Explain a model\'s predictions on a folder of images (or a .npy batch): maps.npy, logits.npy, index.csv and overlays',
    builder: (y) =>
      y
        .option('model', { type: 'string', demandOption: true, describe: 'an .onnx file, a tfjs/Keras model.json (or its directory), or a Gaze run/checkpoint directory' })
        .option('images', { type: 'string', demandOption: true, describe: 'a folder of images (decoded and cropped as the model expects), or a .npy [N,3,H,W] / [N,H,W,3] fed to the model as is' })
        .option('method', { type: 'string', demandOption: true, describe: `an explainer: ${explainerTypes().join(', ')}` })
        .option('layer', { type: 'string', describe: 'the tap a CAM method explains: a PyTorch module path (layer4, features.29) or layer name' })
        .option('target', { type: 'string', default: 'predicted', describe: 'the class to explain: predicted (each image\'s top class) or a class index' })
        .option('out', { type: 'string', describe: 'output directory (default runs/explain/<model>-<method>)' })
        .option('batch', { type: 'number', default: 8, describe: 'images per batch' })
        .option('set', { type: 'string', array: true, default: [], describe: 'a method option: key=value (repeatable), e.g. n=4000 for rise' })
        .option('size', { type: 'string', describe: 'input size HxW, for an ONNX model exported with an open size' })
        .option('resize', { type: 'number', describe: 'scale each image\'s shorter side to this before the centre crop to the model\'s size (default 256 for 224-px ONNX models; 0: stretch to the size)' })
        .option('mean', { type: 'string', describe: 'per-channel mean the model subtracts from [0,1] RGB (default for ONNX: 0.485,0.456,0.406)' })
        .option('std', { type: 'string', describe: 'per-channel std the model divides by (default for ONNX: 0.229,0.224,0.225)' })
        .option('overlays', { type: 'boolean', default: true, describe: 'write overlays/<id>.png (--no-overlays to skip)' })
        .option('force', { type: 'boolean', default: false, describe: 'overwrite an output directory that already holds maps' })
        .option('seed', { type: 'number', default: 0, describe: 'seed of random methods (RISE masks, SmoothGrad noise)' }) as Argv<ExplainArgs>,
    handler: async (argv) => {
      const target = argv.target === 'predicted' ? 'predicted' : Number(argv.target);
      if (target !== 'predicted' && !Number.isInteger(target)) throw new GazeError(`--target takes predicted or a class index, got '${argv.target}'`, { where: '--target' });
      if (!Number.isInteger(argv.batch) || argv.batch < 1) throw new GazeError(`--batch must be a positive integer, got ${argv.batch}`, { where: '--batch' });
      if (argv.resize !== undefined && (!Number.isInteger(argv.resize) || argv.resize < 0)) {
        throw new GazeError(`--resize takes a whole number of pixels (0: stretch to the size), got ${argv.resize}`, { where: '--resize', hint: 'e.g. --resize 256 before a 224 crop' });
      }
      const methodOptions: Record<string, unknown> = {};
      for (const set of argv.set) {
        const { path, value } = parseSet(set);
        methodOptions[path.join('.')] = value;
      }
      if (argv.layer !== undefined) methodOptions.layer = argv.layer;
      // Checks the method and its options before anything loads.
      explainerEntry(argv.method, methodOptions);

      const rawInput = resolve(argv.images).endsWith('.npy');
      const mean = numbers(argv.mean, '--mean');
      const std = numbers(argv.std, '--std');
      if (rawInput && (mean || std || argv.resize !== undefined)) {
        throw new GazeError('a .npy batch goes into the model as is: --mean, --std and --resize do not apply', { where: '--images', hint: 'leave them out, or give a folder of images' });
      }
      const out = resolve(argv.out ?? join('runs', 'explain', `${basename(argv.model).replace(/\.(onnx|json)$/, '')}-${argv.method}`));
      if (existsSync(join(out, MAPS_FILE)) && !argv.force) {
        throw new GazeError(`${out} already holds ${MAPS_FILE}`, { where: '--out', hint: 'give another --out, or --force to overwrite it' });
      }

      const backend = backendFrom(argv);
      await initBackend(backend.backend, { source: backend.source });
      const opened = await openModel(argv.model, {
        taps: argv.layer !== undefined ? [argv.layer] : undefined,
        size: parseSize(argv.size),
        rawInput,
        preprocess: mean || std ? { ...(mean ? { mean } : {}), ...(std ? { std } : {}) } : undefined,
      });
      const { classifier } = opened;
      const [h, w] = classifier.inputShape;
      const shorterSide = argv.resize === 0 ? undefined : (argv.resize ?? (opened.format === 'onnx' ? defaultShorterSide(Math.max(h, w)) : undefined));
      const images = await openImages(argv.images, classifier.inputShape, { shorterSide });
      const controller = new AbortController();
      const onSigint = () => {
        if (controller.signal.aborted) process.exit(130);
        io.stderr('\nstopping after this batch; the finished images are written (Ctrl-C again to quit at once)\n');
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      const bar = io.tty
        ? new cliProgress.SingleBar({ stream: process.stderr, format: `  ${argv.method} [{bar}] {value}/{total} images  ETA {eta_formatted}`, barsize: 24, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
        : undefined;
      const total = imageCount(images);
      io.stdout(`${argv.method} on ${total} image${total === 1 ? '' : 's'} (${h}x${w}) with ${opened.format} model ${opened.path}${argv.layer ? ` at ${argv.layer}` : ''}\n`);
      bar?.start(total, 0);
      try {
        const result = await explainImages({
          classifier,
          images,
          method: argv.method,
          methodOptions,
          target,
          out,
          batchSize: argv.batch,
          overlays: argv.overlays,
          seed: argv.seed,
          signal: controller.signal,
          log: (line) => io.stderr(`${line}\n`),
          onProgress: (p) => {
            if (bar) bar.update(p.images);
            else io.stdout(`  batch ${p.batch}/${p.batches}: ${p.images}/${p.total} images\n`);
          },
        });
        bar?.stop();
        io.stdout(`wrote ${result.images} map${result.images === 1 ? '' : 's'} to ${result.out}: ${result.files.join(', ')}${result.skipped.length ? ` (${result.skipped.length} unreadable skipped)` : ''}\n`);
        if (result.interrupted) throw new CommandExit(130, `interrupted after ${result.images} of ${total} images; their maps are in ${result.out}\n`);
      } finally {
        bar?.stop();
        process.off('SIGINT', onSigint);
        classifier.dispose();
      }
    },
  };
}
