import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GazeError } from '@gaze/engine';
import { IMAGENET_MEAN, IMAGENET_STD, Preprocess, registerBackbone, registerSavedClassifierFormat, type BackboneContext, type BackboneFactory, type Classifier } from '@gaze/models';
import { z } from 'zod';
import { loadOnnxClassifier, type OnnxLoadOptions } from './load-onnx.js';
import { SAVED_MODEL_FILE, SAVED_SPEC_FILE, SAVED_WEIGHTS_DIR, type OnnxClassifier } from './onnx-classifier.js';

/** An ONNX model's preprocessing: torchvision's ImageNet normalization unless the config says otherwise. */
export const OnnxPreprocess = Preprocess.extend({
  mean: z.array(z.number()).min(1).default(IMAGENET_MEAN),
  std: z.array(z.number().positive()).min(1).default(IMAGENET_STD),
});

export const OnnxBackboneConfig = z.strictObject({
  /** The .onnx file (relative to the config file). */
  path: z.string().min(1),
  /** PyTorch module paths (`layer4`, `features.29`) or ONNX value names; default: the CAM tap (the last feature map before the final pooling). */
  taps: z.array(z.string().min(1)).min(1).optional(),
  /** How [0,1] images become the model's input: `(x * scale - mean) / std` per channel; default torchvision's ImageNet mean/std. */
  preprocess: OnnxPreprocess.prefault({}),
  /** The graph input that takes the images, when the model has several. */
  input: z.string().min(1).optional(),
  /** The value or module path of the logits (default: the first output; a final softmax is looked through). */
  output: z.string().min(1).optional(),
  /** Fine-tune the model's weights (a `train:` section); frozen by default. */
  trainable: z.boolean().default(false),
});
export type OnnxBackboneConfig = z.infer<typeof OnnxBackboneConfig>;

export async function onnxBackbone(config: OnnxBackboneConfig, ctx: BackboneContext): Promise<Classifier> {
  // A missing file is readOnnxModel's GazeError, at `${ctx.where}.path`.
  return loadOnnxClassifier(resolve(ctx.baseDir, config.path), loadOptions(config, ctx.inputShape, ctx.numClasses, ctx.where));
}

/** What loadOnnxClassifier takes for a backbone config and the images it will see. */
function loadOptions(config: OnnxBackboneConfig, inputShape: [number, number, number], numClasses: number, where?: string): OnnxLoadOptions {
  const { input, output, taps, preprocess, trainable } = config;
  return { input, output, taps, preprocess, trainable, inputShape, numClasses, where, config };
}

export const onnxBackboneFactory: BackboneFactory<OnnxBackboneConfig> = {
  type: 'onnx',
  describe: 'an ONNX model (torch.onnx.export, tf2onnx, timm), taps by PyTorch module path',
  configSchema: OnnxBackboneConfig,
  create: onnxBackbone,
};

/** Reads back what OnnxClassifier.save wrote: the model file, its spec and (when trainable) its weights. */
export async function loadSavedOnnxClassifier(dir: string): Promise<OnnxClassifier> {
  const specPath = join(dir, SAVED_SPEC_FILE);
  let saved: { format?: string; spec?: { inputShape: [number, number, number]; numClasses: number }; config?: Record<string, unknown> };
  try {
    saved = JSON.parse(readFileSync(specPath, 'utf8'));
  } catch (error) {
    throw new GazeError(`${specPath} is not readable JSON: ${(error as Error).message}`, { hint: 'the saved classifier is damaged; save it again' });
  }
  if (saved.format !== 'gaze-onnx-classifier' || !saved.spec || !saved.config) {
    throw new GazeError(`${specPath} is not a saved Gaze ONNX classifier`, { hint: 'point at a directory Classifier.save wrote' });
  }
  const config = OnnxBackboneConfig.parse({ ...saved.config, path: SAVED_MODEL_FILE });
  const classifier = loadOnnxClassifier(join(dir, SAVED_MODEL_FILE), loadOptions(config, saved.spec.inputShape, saved.spec.numClasses));
  if (config.trainable && existsSync(join(dir, SAVED_WEIGHTS_DIR))) await classifier.restoreWeights(join(dir, SAVED_WEIGHTS_DIR));
  return classifier;
}

registerBackbone(onnxBackboneFactory);
registerSavedClassifierFormat({ name: 'onnx', detect: (dir) => existsSync(join(dir, SAVED_SPEC_FILE)), load: loadSavedOnnxClassifier });
