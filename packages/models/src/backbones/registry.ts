import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GazeError, MODEL_JSON, didYouMean, loadLayersModel, readModelMetadata } from '@gaze/engine';
import { parseConfig } from '@gaze/data';
import type { z } from 'zod';
import type { Classifier } from '../classifier.js';
import { CLASSIFIER_METADATA_KEY, ClassifierSpec, LayersClassifier } from './layers-classifier.js';

export interface BackboneContext {
  /** [H, W, C] of the images the classifier will see (the dataset's imageShape). */
  inputShape: [number, number, number];
  numClasses: number;
  /** The run seed: weight initialization is a function of it. */
  seed: number;
  /** Relative paths in the config resolve against this directory (the config file's). */
  baseDir: string;
  /** Where the config came from, for error messages (`backbone` or `config.yaml:4:3 backbone`). */
  where: string;
  /**
   * With no logits layer named, score with the output's pre-activation values instead of failing
   * (opening a model file as is; ONNX models always do).
   */
  logitsBeforeActivation?: boolean;
}

/** What `createClassifier` takes: a backbone that loads a model may leave its input shape and class count to it. */
export type ClassifierContext = Partial<BackboneContext>;

export interface BackboneFactory<C = unknown> {
  type: string;
  describe: string;
  configSchema: z.ZodType<C>;
  /** Reads inputShape and numClasses from the model it loads when the context leaves them out. */
  shapesFromModel?: boolean;
  create(config: C, context: BackboneContext): Promise<Classifier>;
}

const factories = new Map<string, BackboneFactory<never>>();

/** Adds a backbone under its `type:` name; each backbone module registers itself when imported. */
export function registerBackbone<C>(factory: BackboneFactory<C>): void {
  factories.set(factory.type, factory as BackboneFactory<never>);
}

export function backboneTypes(): string[] {
  return [...factories.keys()].sort();
}

export function backboneFactory(type: string, where = 'backbone'): BackboneFactory<unknown> {
  const factory = factories.get(type);
  if (!factory) {
    const guess = didYouMean(type, backboneTypes());
    throw new GazeError(`unknown backbone type '${type}'${guess ? ` (did you mean '${guess}'?)` : ''}`, {
      where: `${where}.type`,
      hint: `use one of: ${backboneTypes().join(', ')}`,
    });
  }
  return factory as BackboneFactory<unknown>;
}

/** Validates `{ type, ...options }`: the factory and its options with defaults filled in. */
export function parseBackboneConfig(raw: unknown, where = 'backbone'): { type: string; factory: BackboneFactory<unknown>; config: unknown } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new GazeError('the backbone config must be a mapping with a type', { where, hint: `e.g. { type: vgg-small }; types: ${backboneTypes().join(', ')}` });
  }
  const { type, ...options } = raw as Record<string, unknown>;
  if (typeof type !== 'string') {
    throw new GazeError('the backbone needs a type', { where: `${where}.type`, hint: `use one of: ${backboneTypes().join(', ')}` });
  }
  const factory = backboneFactory(type, where);
  return { type, factory, config: parseConfig(factory.configSchema, options, where) };
}

/**
 * Builds (or loads) the classifier a backbone config describes. Only a backbone with
 * `shapesFromModel` may go without inputShape and numClasses.
 */
export async function createClassifier(raw: unknown, context: ClassifierContext): Promise<Classifier> {
  const full = { seed: 0, baseDir: process.cwd(), where: 'backbone', ...context };
  const { type, factory, config } = parseBackboneConfig(raw, full.where);
  if ((full.inputShape === undefined || full.numClasses === undefined) && !factory.shapesFromModel) {
    throw new GazeError(`the ${type} backbone needs the input shape and class count of the data`, {
      where: full.where,
      hint: `pass inputShape and numClasses; backbones that read them from the model they load: ${[...factories.values()].filter((f) => f.shapesFromModel).map((f) => f.type).join(', ') || 'none'}`,
    });
  }
  // Backbones with shapesFromModel check for the missing ones themselves.
  return factory.create(config, full as BackboneContext);
}

/** A way of saving classifiers other than a tfjs layers model (an ONNX backbone keeps its .onnx file). */
export interface SavedClassifierFormat {
  name: string;
  /** Whether `dir` holds a classifier saved in this format. */
  detect(dir: string): boolean;
  load(dir: string): Promise<Classifier>;
}

const savedFormats = new Map<string, SavedClassifierFormat>();

/** The registered saved format (not a tfjs layers model) `dir` holds, if any. */
export function savedClassifierFormat(dir: string): SavedClassifierFormat | undefined {
  const root = resolve(dir);
  return [...savedFormats.values()].find((f) => f.detect(root));
}

/** Lets `loadClassifier` read another saved format; the package that saves it registers it when imported. */
export function registerSavedClassifierFormat(format: SavedClassifierFormat): void {
  savedFormats.set(format.name, format);
}

/** Rebuilds a classifier that `Classifier.save(dir)` wrote: architecture, weights, taps and preprocessing. */
export async function loadClassifier(dir: string): Promise<Classifier> {
  const root = resolve(dir);
  if (!existsSync(join(root, MODEL_JSON))) {
    const format = savedClassifierFormat(root);
    if (format) return format.load(root);
    throw new GazeError(`no saved classifier at ${root} (no ${MODEL_JSON})`, { hint: 'point at the directory a classifier was saved to, e.g. a run\'s checkpoints/classifier' });
  }
  const metadata = await readModelMetadata(root);
  const raw = metadata[CLASSIFIER_METADATA_KEY];
  if (raw === undefined) {
    throw new GazeError(`${join(root, MODEL_JSON)} is a layers model but not a saved Gaze classifier`, {
      hint: 'to use a converted Keras model, give it as a backbone config: { type: layers-model, path: <dir>, taps: [...] }',
    });
  }
  const parsed = ClassifierSpec.safeParse(raw);
  if (!parsed.success) {
    throw new GazeError(`${join(root, MODEL_JSON)} has an unreadable classifier description: ${parsed.error.issues[0].message} at ${parsed.error.issues[0].path.join('.')}`, {
      hint: 'was it written by a newer Gaze? save it again with this version',
    });
  }
  const model = await loadLayersModel(root);
  return new LayersClassifier(model, parsed.data);
}
