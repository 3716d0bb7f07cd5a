import { GazeError, type BackendRequest } from '@gaze/engine';
import { createClassifier, type Classifier } from '@gaze/models';
import { openModel } from '@gaze/runner';
import { ensureBackend } from './backend.js';

/**
 * A built-in backbone (or any registered backbone type) as a model: its config keys as a run's
 * `backbone:` section takes them, plus the input shape and class count a run reads from its
 * dataset. Weights are freshly initialized from `seed`.
 */
export interface BackboneSpec {
  /** A backbone type: `vgg-small`, `resnet-small`, `layers-model`, `onnx`, ... */
  type: string;
  /** [H, W, C] of one input image (backbones that load a model file read it from the file). */
  inputShape?: [number, number, number];
  numClasses?: number;
  /** Seeds the weight initialization (default 0). */
  seed?: number;
  /** The backbone's own keys (channels, mean, std, path, taps, ...). */
  [key: string]: unknown;
}

/** Per-channel preprocessing a model applies to [0,1] RGB images: `(x * scale - mean) / std`. */
export interface PreprocessOptions {
  mean?: number[];
  std?: number[];
  /** Multiplies the [0,1] input first (255 for caffe-style weights). */
  scale?: number;
  /** `bgr` reverses the channels first. */
  channelOrder?: 'rgb' | 'bgr';
}

/** Options of {@link loadModel}; `size`, `preprocess`, `logits` and `layers` apply to model files only. */
export interface LoadModelOptions {
  /** The tfjs backend to start (default: the one already running, else `GAZE_BACKEND`, else `auto`). */
  backend?: BackendRequest;
  /** [H, W] for an ONNX model exported with an open input size. */
  size?: [number, number];
  /**
   * What the model does to the [0,1] images before its first layer. Default: ImageNet mean/std for
   * ONNX models, none for tfjs layers models; a Gaze checkpoint keeps its own. `'none'` feeds the
   * images as given (for arrays that already are the network input, as `gaze explain` treats a .npy).
   */
  preprocess?: PreprocessOptions | 'none';
  /** The value (ONNX) or layer (tfjs) holding the logits, when it is not the model's output (a final softmax is looked through). */
  logits?: string;
  /**
   * Feature taps to expose for CAM methods (`layer:` of gradcam etc.): PyTorch module paths or ONNX
   * value names, tfjs layer names. Default: the model's last conv feature map. A checkpoint has fixed taps.
   */
  layers?: string[];
}

/** What kind of model a {@link GazeModel} was loaded from. */
export type ModelFormat = 'onnx' | 'layers-model' | 'gaze-classifier' | 'backbone';

/**
 * A loaded model: a thin wrapper around the Gaze `Classifier` (inputs [N,H,W,C] in [0,1],
 * preprocessing inside, pre-softmax logits out) with where it came from. Pass it to `explain` and
 * `evaluate`; call `dispose()` when done with it.
 */
export interface GazeModel {
  /** The classifier every Gaze method runs on (for code that uses the lower-level packages). */
  readonly classifier: Classifier;
  readonly format: ModelFormat;
  /** The file or folder loaded (absent for a backbone spec). */
  readonly path?: string;
  /** [H, W, C] of one input image. */
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  /** The feature taps CAM methods can explain (`layer:`). */
  readonly layers: string[];
  /** Frees the model's weights. */
  dispose(): void;
}

function wrap(classifier: Classifier, format: ModelFormat, path?: string): GazeModel {
  return {
    classifier,
    format,
    ...(path !== undefined ? { path } : {}),
    inputShape: classifier.inputShape,
    numClasses: classifier.numClasses,
    layers: [...classifier.taps],
    dispose: () => classifier.dispose(),
  };
}

/**
 * Loads a model for {@link explain} and {@link evaluate}: an `.onnx` file, a tfjs/Keras
 * `model.json` (or its folder), a Gaze checkpoint (a run's `checkpoints/classifier`, or the run
 * folder), or a {@link BackboneSpec} for a built-in backbone. Starts the tfjs backend on first use.
 *
 * @example
 * ```ts
 * const model = await loadModel('resnet18.onnx', { layers: ['layer4'] });
 * const tiny = await loadModel({ type: 'vgg-small', channels: [8, 16], inputShape: [32, 32, 3], numClasses: 10 });
 * ```
 */
export async function loadModel(pathOrSpec: string | BackboneSpec, options: LoadModelOptions = {}): Promise<GazeModel> {
  await ensureBackend(options.backend);
  if (typeof pathOrSpec === 'string') {
    const opened = await openModel(pathOrSpec, {
      taps: options.layers,
      size: options.size,
      rawInput: options.preprocess === 'none',
      preprocess: options.preprocess === 'none' ? undefined : options.preprocess,
      output: options.logits,
    });
    return wrap(opened.classifier, opened.format, opened.path);
  }
  if (typeof pathOrSpec !== 'object' || pathOrSpec === null || typeof pathOrSpec.type !== 'string') {
    throw new GazeError('loadModel takes a model path or a backbone spec { type, inputShape, numClasses, ... }', { where: 'loadModel', hint: "e.g. loadModel('model.onnx') or loadModel({ type: 'vgg-small', inputShape: [32, 32, 3], numClasses: 10 })" });
  }
  const given = (['size', 'preprocess', 'logits', 'layers'] as const).filter((k) => options[k] !== undefined);
  if (given.length > 0) {
    throw new GazeError(`option ${given[0]} applies to model files, not to a backbone spec`, { where: 'loadModel', hint: 'give the backbone its own keys in the spec instead (mean, std, taps, ...)' });
  }
  const { inputShape, numClasses, seed, ...backbone } = pathOrSpec;
  const classifier = await createClassifier(backbone, { inputShape, numClasses, seed: seed ?? 0, where: 'loadModel spec' });
  return wrap(classifier, 'backbone');
}

/** The model behind a handle, checked. */
export function classifierOf(model: GazeModel, where: string): Classifier {
  if (!model || typeof model !== 'object' || !model.classifier) {
    throw new GazeError(`${where} takes a model from loadModel()`, { where, hint: "const model = await loadModel('model.onnx')" });
  }
  return model.classifier;
}
