import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { GazeError, MODEL_JSON, didYouMean, isGazeError, loadLayersModel, tf } from '@gaze/engine';
import { z } from 'zod';
import type { Classifier } from '../classifier.js';
import { CLASSIFIER_FORMAT_VERSION, LayersClassifier, type ClassifierSpec } from './layers-classifier.js';
import { Preprocess, checkPreprocess } from './preprocess.js';
import { registerBackbone, type BackboneContext, type BackboneFactory } from './registry.js';

export const LayersModelConfig = z.strictObject({
  /** The directory holding model.json and its weight shards (or model.json itself); relative to the config file. */
  path: z.string().min(1),
  /** Layer names whose (4-D) outputs become taps, named as the layers; default: the last 4-D layer. */
  taps: z.array(z.string().min(1)).min(1).optional(),
  /** How [0,1] images become the model's input; the default passes them through. */
  preprocess: Preprocess.prefault({}),
  /**
   * The layer whose output is the logits. A layer with a softmax (or other) activation gives its
   * output before the activation; an Activation/Softmax layer gives its input. Needed when the
   * model's own output applies softmax, as Keras VGG-16 / ResNet-50 `predictions` does.
   */
  logitsLayer: z.string().min(1).optional(),
});
export type LayersModelConfig = z.infer<typeof LayersModelConfig>;

/** Without inputShape / numClasses the model's own are used (`shapesFromModel`). */
type LayersModelContext = Omit<BackboneContext, 'inputShape' | 'numClasses'> & Partial<Pick<BackboneContext, 'inputShape' | 'numClasses'>>;

/** Loads a tfjs layers model (e.g. Keras VGG-16 / ResNet-50 through tensorflowjs_converter) from disk. */
export async function layersModel(config: LayersModelConfig, ctx: LayersModelContext): Promise<Classifier> {
  let dir = resolve(ctx.baseDir, config.path);
  if (dir.endsWith('.json')) dir = dirname(dir);
  if (!existsSync(join(dir, MODEL_JSON))) {
    throw new GazeError(`no ${MODEL_JSON} in ${dir}`, {
      where: `${ctx.where}.path`,
      hint: 'convert the Keras model with `tensorflowjs_converter --input_format=keras model.h5 <dir>` and point path at <dir> (relative paths are from the config file)',
    });
  }
  let model: tf.LayersModel;
  try {
    model = await loadLayersModel(dir);
  } catch (error) {
    if (isGazeError(error)) throw error;
    throw new GazeError(`could not load the layers model in ${dir}: ${(error as Error).message.split('\n')[0]}`, {
      where: `${ctx.where}.path`,
      hint: 'the model must be a tfjs layers model whose layers tfjs implements (tensorflowjs_converter --output_format=tfjs_layers_model)',
      cause: error,
    });
  }
  try {
    return buildFromModel(model, config, ctx, dir);
  } catch (error) {
    model.dispose();
    throw error;
  }
}

function buildFromModel(model: tf.LayersModel, config: LayersModelConfig, ctx: LayersModelContext, dir: string): Classifier {
  if (model.inputs.length !== 1) {
    throw new GazeError(`the model in ${dir} has ${model.inputs.length} inputs; a classifier takes one image`, { where: `${ctx.where}.path` });
  }
  const inShape = model.inputs[0].shape;
  // Opened as is (no dataset): the model's own fixed input size.
  const given = ctx.inputShape;
  if (given === undefined && (inShape.length !== 4 || inShape.slice(1).some((d) => d === null))) {
    throw new GazeError(`the model in ${dir} takes ${describeShape(inShape)} inputs; Gaze explains image classifiers [B,H,W,C] of a fixed size`, { where: `${ctx.where}.path` });
  }
  const [h, w, c] = given ?? (inShape.slice(1) as [number, number, number]);
  const fits = inShape.length === 4 && [h, w, c].every((d, i) => inShape[i + 1] === null || inShape[i + 1] === d);
  if (!fits) {
    throw new GazeError(`the model in ${dir} takes ${describeShape(inShape)} inputs but the dataset gives ${h}x${w}x${c} images`, {
      where: `${ctx.where}.path`,
      hint:
        inShape.length === 4 && inShape[3] !== c
          ? `the model wants ${inShape[3]} channel(s); use a dataset (or a grayscale/color option) with ${inShape[3]} channel(s)`
          : `resize the images in the dataset config: transforms: [{ type: resize, size: [${inShape[1]}, ${inShape[2]}] }]`,
    });
  }
  checkPreprocess(config.preprocess, c, `${ctx.where}.preprocess`);

  const spatial = model.layers.filter((l) => l.getClassName() !== 'InputLayer' && rankOf(l) === 4).map((l) => l.name);
  const taps = config.taps ?? spatial.slice(-1);
  if (taps.length === 0) {
    throw new GazeError(`the model in ${dir} has no layer with a 4-D [B,h,w,c] output to tap`, { where: `${ctx.where}.taps` });
  }
  taps.forEach((name, i) => {
    if (spatial.includes(name)) return;
    const exists = model.layers.some((l) => l.name === name);
    const guess = didYouMean(name, spatial);
    throw new GazeError(
      exists ? `layer '${name}' outputs ${describeShape(outputShapeOf(model.getLayer(name)))}, not a 4-D feature map` : `the model has no layer '${name}'${guess ? ` (did you mean '${guess}'?)` : ''}`,
      { where: `${ctx.where}.taps.${i}`, hint: `layers with 4-D outputs: ${spatial.join(', ')}` },
    );
  });

  const logits = resolveLogits(model, config.logitsLayer, ctx);
  const logitsShape = logits.from === 'input' ? (model.getLayer(logits.layer).input as tf.SymbolicTensor).shape : outputShapeOf(model.getLayer(logits.layer));
  if (logitsShape.length !== 2) {
    throw new GazeError(`the logits layer '${logits.layer}' outputs ${describeShape(logitsShape)}; logits are [B,numClasses]`, {
      where: `${ctx.where}.logitsLayer`,
      hint: `name a layer with a 2-D output: ${model.layers.filter((l) => rankOf(l) === 2).map((l) => l.name).join(', ')}`,
    });
  }
  const numClasses = ctx.numClasses ?? logitsShape[1];
  if (numClasses === null) {
    throw new GazeError(`the logits layer '${logits.layer}' outputs ${describeShape(logitsShape)}, with no fixed class count`, { where: `${ctx.where}.logitsLayer` });
  }
  if (logitsShape[1] !== numClasses) {
    throw new GazeError(`the model scores ${logitsShape[1]} classes but the dataset has ${ctx.numClasses}`, {
      where: `${ctx.where}.path`,
      hint: 'use a dataset with the classes the model was trained on (e.g. ImageNet for Keras VGG-16 / ResNet-50), or a model trained on this dataset',
    });
  }
  const spec: ClassifierSpec = {
    version: CLASSIFIER_FORMAT_VERSION,
    type: 'layers-model',
    inputShape: [h, w, c],
    numClasses,
    taps: taps.map((name) => ({ name, layer: name })),
    logits,
    preprocess: config.preprocess,
    config,
  };
  return new LayersClassifier(model, spec);
}

/**
 * Where the pre-softmax scores are: a layer's output (its activation removed if it had one) or an
 * activation layer's input. Unnamed, the model's output, looked through only with
 * `ctx.logitsBeforeActivation`.
 */
function resolveLogits(model: tf.LayersModel, requested: string | undefined, ctx: LayersModelContext): ClassifierSpec['logits'] {
  const where = `${ctx.where}.logitsLayer`;
  let layer: tf.layers.Layer;
  if (requested === undefined) {
    if (model.outputs.length !== 1) {
      throw new GazeError(`the model has ${model.outputs.length} outputs`, { where, hint: `set logitsLayer to the layer that scores the classes: ${model.outputs.map((o) => o.sourceLayer.name).join(', ')}` });
    }
    layer = model.outputs[0].sourceLayer;
    const activation = activationOf(layer);
    if (activation !== undefined && !ctx.logitsBeforeActivation) {
      throw new GazeError(`the model's output layer '${layer.name}' applies ${activation}, so it gives probabilities, not logits`, {
        where,
        hint: `set logitsLayer: ${layer.name} to use its scores before the ${activation}${isActivationLayer(layer) ? ` (the input of '${layer.name}')` : ''}`,
      });
    }
  } else {
    const found = model.layers.find((l) => l.name === requested);
    if (!found) {
      const guess = didYouMean(requested, model.layers.map((l) => l.name));
      throw new GazeError(`the model has no layer '${requested}'${guess ? ` (did you mean '${guess}'?)` : ''}`, {
        where,
        hint: `layers with 2-D outputs: ${model.layers.filter((l) => rankOf(l) === 2).map((l) => l.name).join(', ')}`,
      });
    }
    layer = found;
  }
  if (activationOf(layer) === undefined) return { layer: layer.name, from: 'output' };
  if (isActivationLayer(layer)) return { layer: layer.name, from: 'input' };
  stripActivation(layer);
  return { layer: layer.name, from: 'output' };
}

/** The non-linear activation a layer ends in ('softmax', 'sigmoid', ...), or undefined. */
function activationOf(layer: tf.layers.Layer): string | undefined {
  if (layer.getClassName() === 'Softmax') return 'softmax';
  const activation = (layer.getConfig() as { activation?: unknown }).activation;
  return typeof activation === 'string' && activation !== 'linear' ? activation : undefined;
}

function isActivationLayer(layer: tf.layers.Layer): boolean {
  return layer.getClassName() === 'Softmax' || layer.getClassName() === 'Activation';
}

/**
 * Makes a Dense/Conv layer linear in place, so its output is its pre-activation scores. tfjs has no
 * public setter; the layer reads `this.activation` on every call and serializes it, so a saved
 * classifier keeps the linear layer (and its spec says so).
 */
function stripActivation(layer: tf.layers.Layer): void {
  const holder = layer as unknown as { activation?: unknown };
  if (!('activation' in holder)) throw new Error(`cannot remove the activation of ${layer.getClassName()} layer '${layer.name}'`);
  holder.activation = (tf.layers.activation({ activation: 'linear' }) as unknown as { activation: unknown }).activation;
  if (activationOf(layer) !== undefined) throw new Error(`removing the activation of layer '${layer.name}' did not take`);
}

function outputShapeOf(layer: tf.layers.Layer): (number | null)[] {
  const shape = layer.outputShape;
  return (Array.isArray(shape[0]) ? shape[0] : shape) as (number | null)[];
}

function rankOf(layer: tf.layers.Layer): number {
  try {
    return outputShapeOf(layer).length;
  } catch {
    return -1; // a layer used at several shapes has no single output shape
  }
}

function describeShape(shape: (number | null)[]): string {
  return `[${shape.map((d) => d ?? 'B').join(',')}]`;
}

export const layersModelBackbone: BackboneFactory<LayersModelConfig> = {
  type: 'layers-model',
  describe: 'a tfjs layers model from disk (e.g. Keras VGG-16 / ResNet-50 via tensorflowjs_converter), taps by layer name',
  configSchema: LayersModelConfig,
  shapesFromModel: true,
  create: layersModel,
};

registerBackbone(layersModelBackbone);
