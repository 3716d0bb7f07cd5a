import { GazeError, didYouMean, tf } from '@gaze/engine';
import { checkPreprocess, type Preprocess } from '@gaze/models';
import { ModelMap, type ValueRecord } from './graph/model-map.js';
import { OnnxClassifier, parameterCounter, tapForm, type OnnxClassifierSpec, type TapInfo } from './onnx-classifier.js';
import { readOnnxModel, type OnnxGraph, type ValueSpec } from './proto/read-model.js';
import { OnnxProgram } from './runtime/program.js';
import { NHWC, device, logicalShape } from './runtime/value.js';

export interface OnnxLoadOptions {
  /** Graph input the images go to (default: the only one). */
  input?: string;
  /** Value (or module path) of the logits (default: the first graph output; a final Softmax is looked through). */
  output?: string;
  /** Module paths or ONNX value names to expose as taps (default: the CAM tap). */
  taps?: string[];
  preprocess: Preprocess;
  trainable?: boolean;
  /** [H, W, C] the caller will feed (the dataset's); must match a model with a fixed size, fixes one with an open size. */
  inputShape?: [number, number, number];
  /** Checked against the logits' width when given. */
  numClasses?: number;
  /** Config key path for errors (`backbone`). */
  where?: string;
  /** The backbone config, kept with a saved classifier. */
  config?: Record<string, unknown>;
}

/** Ops after which a torch export keeps the batch size it was traced with. */
const BATCH_BAKING_OPS = new Set(['Reshape', 'Expand', 'Tile', 'ConstantOfShape', 'Range']);
/** Pooling ops: the CAM tap is the last feature map before them. */
const POOLING_OPS = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool']);

/**
 * Loads an .onnx file as a Classifier: parses it, checks every op, folds constants, runs the
 * graph once on a blank image (so shapes, module outputs and errors are known at load), resolves
 * the taps and the logits, and fuses activations that nothing else reads.
 */
export function loadOnnxClassifier(file: string, options: OnnxLoadOptions): OnnxClassifier {
  const where = options.where ?? 'backbone';
  // A missing file names the config key only when the caller gave one (a backbone config).
  const graph = readOnnxModel(file, options.where && `${options.where}.path`);
  const input = pickInput(graph, options.input, where);
  const { inputShape, fixedBatch } = inputGeometry(graph, input, options.inputShape, where);
  checkPreprocess(options.preprocess, inputShape[2], `${where}.preprocess`);
  const program = new OnnxProgram(graph, options.trainable ?? false);
  try {
    const batch = fixedBatch ?? 1;
    const records = dryRun(program, input.name, batch, inputShape);
    const map = new ModelMap(records, parameterCounter(graph, program));
    const logits = resolveLogits(graph, program, map, options.output, batch, where);
    const numClasses = map.values.get(logits)?.shape[1] ?? 0;
    if (options.numClasses !== undefined && numClasses !== options.numClasses) {
      throw new GazeError(`the model scores ${numClasses} classes but the dataset has ${options.numClasses}`, {
        where: `${where}.path`,
        hint: 'use the dataset the model was trained on (ImageNet for torchvision weights: its 1000 classes in torchvision order), or a model trained on this dataset',
      });
    }
    const camTap = defaultCamTap(map, program, logits, batch);
    const requested = options.taps ?? (camTap ? [camTap.name] : []);
    const taps = requested.map((t, i) => resolveTap(map, t, batch, `${where}.taps.${i}`, graph.file));
    const cam = options.taps ? taps[taps.length - 1] : camTap ? taps[0] : undefined;
    if (!cam) {
      throw new GazeError(`found no feature map to tap in ${graph.file}`, { where: `${where}.taps`, hint: `name one: gaze model inspect ${graph.file} lists the module paths and their shapes` });
    }
    program.fuse(new Set(taps.map((t) => t.value)));
    const spec: OnnxClassifierSpec = {
      input: input.name,
      logits,
      taps,
      camTap: cam.name,
      preprocess: options.preprocess,
      inputShape,
      numClasses,
      trainable: options.trainable ?? false,
      ...(fixedBatch !== undefined ? { fixedBatch } : {}),
    };
    return new OnnxClassifier(graph, program, map, spec, options.config ?? {});
  } catch (error) {
    program.dispose();
    throw error;
  }
}

function pickInput(graph: OnnxGraph, name: string | undefined, where: string): ValueSpec {
  if (name !== undefined) {
    const found = graph.inputs.find((i) => i.name === name);
    if (!found) throw new GazeError(`${graph.file} has no input '${name}'`, { where: `${where}.input`, hint: `its inputs: ${graph.inputs.map((i) => i.name).join(', ')}` });
    return found;
  }
  if (graph.inputs.length !== 1) {
    throw new GazeError(`${graph.file} has ${graph.inputs.length} inputs (${graph.inputs.map((i) => i.name).join(', ')}); a classifier takes one image batch`, {
      where: `${where}.input`,
      hint: 'name the image input with input: <name>',
    });
  }
  return graph.inputs[0];
}

function inputGeometry(graph: OnnxGraph, input: ValueSpec, given: [number, number, number] | undefined, where: string): { inputShape: [number, number, number]; fixedBatch?: number } {
  const shape = input.shape;
  if (input.type !== 'float' && input.type !== 'float16' && input.type !== 'double') {
    throw new GazeError(`the model's input '${input.name}' is ${input.type}; Gaze feeds float images`, { where: graph.file });
  }
  if (!shape || shape.length !== 4) {
    throw new GazeError(`the model's input '${input.name}' is ${shape ? `rank ${shape.length}` : 'of unknown rank'}; Gaze feeds images as [N, C, H, W]`, {
      where: graph.file,
      hint: 'export the model with an image batch input, e.g. torch.onnx.export(model, torch.randn(1, 3, 224, 224), ...)',
    });
  }
  const [n, c, h, w] = shape;
  const fixed = (d: number | string | undefined) => (typeof d === 'number' && d > 0 ? d : undefined);
  const channels = fixed(c) ?? given?.[2];
  const height = fixed(h) ?? given?.[0];
  const width = fixed(w) ?? given?.[1];
  if (channels === undefined || height === undefined || width === undefined) {
    throw new GazeError(`the model's input '${input.name}' has an open size [${shape.map((d) => d ?? '?').join(',')}] and none was given`, {
      where: graph.file,
      hint: 'give the image size (the dataset config does; gaze explain takes --size), or export with a fixed size',
    });
  }
  if (given && (given[0] !== height || given[1] !== width || given[2] !== channels)) {
    throw new GazeError(`the model takes ${channels}x${height}x${width} images (C x H x W) but the dataset gives ${given[2]}x${given[0]}x${given[1]}`, {
      where: `${where}.path`,
      hint: channels !== given[2]
        ? `the model wants ${channels} channel(s)`
        : `resize the images in the dataset config: transforms: [{ type: resize, size: ${Math.round((height * 256) / 224)} }, { type: center-crop, size: [${height}, ${width}] }] (torchvision's evaluation crop)`,
    });
  }
  const batch = fixed(n);
  const bakes = batch !== undefined && graph.nodes.some((node) => BATCH_BAKING_OPS.has(node.opType));
  return { inputShape: [height, width, channels], ...(bakes ? { fixedBatch: batch } : {}) };
}

/** Runs the graph once on zeros, recording every value's logical shape. */
function dryRun(program: OnnxProgram, input: string, batch: number, [h, w, c]: [number, number, number]): ValueRecord[] {
  const records: ValueRecord[] = [];
  tf.tidy(() => {
    const x = device(tf.zeros([batch, h, w, c]), [...NHWC]);
    const outputs = program.graph.outputs.map((o) => o.name);
    program.run(new Map([[input, x]]), outputs, {
      onValue: (name, value, node) => records.push({ name, node, shape: logicalShape(value), tensor: value.kind === 'device' }),
    });
  });
  return records;
}

function resolveLogits(graph: OnnxGraph, program: OnnxProgram, map: ModelMap, requested: string | undefined, batch: number, where: string): string {
  let name: string;
  if (requested !== undefined) {
    const value = map.resolve(requested);
    if (!value) {
      const guess = didYouMean(requested, [...map.modules.keys(), ...graph.outputs.map((o) => o.name)]);
      throw new GazeError(`the model has no module or value '${requested}'${guess ? ` (did you mean '${guess}'?)` : ''}`, { where: `${where}.output`, hint: `gaze model inspect ${graph.file} lists them` });
    }
    name = value.name;
  } else {
    name = graph.outputs[0].name;
  }
  // A classifier exported with its softmax gives probabilities: Grad-CAM and friends need the scores before it.
  const producer = program.producerOf(name);
  if (producer && (producer.opType === 'Softmax' || producer.opType === 'LogSoftmax')) name = producer.inputs[0];
  const shape = map.values.get(name)?.shape;
  if (!shape || shape.length !== 2 || shape[0] !== batch) {
    throw new GazeError(`the model's output '${name}' is [${shape?.join(',') ?? '?'}]; a classifier's logits are [N, classes]`, {
      where: `${where}.output`,
      hint: 'name the value (or module) that scores the classes with output: <name>',
    });
  }
  return name;
}

/**
 * The feature map CAM methods use when none is named. CNNs: the last spatial map before the
 * final pooling (ResNet `layer4`, VGG `features.29`, DenseNet's last ReLU). Transformers: the
 * last token grid read by the last attention softmax (ViT: `encoder.layers.encoder_layer_11.ln_1`,
 * as pytorch-grad-cam's ViT example hooks the last block's first norm).
 */
function defaultCamTap(map: ModelMap, program: OnnxProgram, logits: string, batch: number): TapInfo | undefined {
  const logitsAt = map.values.get(logits)!.node.index;
  const spatial = map.order.filter((r) => r.tensor && r.node.index < logitsAt && r.shape.length === 4 && tapForm(r.shape, batch) && r.shape[2] * r.shape[3] > 1);
  const preceded = spatial.filter((r) => !POOLING_OPS.has(r.node.opType));
  const lastSoftmax = map.order.findLast((r) => r.node.opType === 'Softmax' && r.node.index < logitsAt);
  // A transformer: its last feature map is the patch embedding, long before the last attention.
  if (lastSoftmax && (preceded.length === 0 || preceded[preceded.length - 1].node.index < lastSoftmax.node.index)) {
    // The softmax and every value the nodes it needs read.
    const ancestors = new Set([lastSoftmax.name, ...program.upstream([lastSoftmax.name]).flatMap((n) => n.inputs)]);
    const tokens = map.order.filter((r) => r.tensor && ancestors.has(r.name) && r.shape.length === 3 && tapForm(r.shape, batch));
    const pick = tokens[tokens.length - 1];
    if (pick) return tapFor(map, pick, batch);
  }
  const pick = preceded[preceded.length - 1] ?? spatial[spatial.length - 1];
  return pick ? tapFor(map, pick, batch) : undefined;
}

/** The tap named by the outermost module whose output a value is (`layer4` rather than `layer4.1.relu`), else by the value. */
function tapFor(map: ModelMap, record: ValueRecord, batch: number): TapInfo {
  const modules = [...map.modules.values()].filter((m) => m.output.name === record.name).sort((a, b) => a.path.length - b.path.length);
  const name = modules[0]?.path ?? record.name;
  const form = tapForm(record.shape, batch)!;
  return { name, value: record.name, form: form.form, shape: form.shape };
}

function resolveTap(map: ModelMap, tap: string, batch: number, where: string, file: string): TapInfo {
  const record = map.resolve(tap);
  if (!record) {
    const guess = didYouMean(tap, [...map.modules.keys()]);
    throw new GazeError(`the model has no module '${tap}'${guess ? ` (did you mean '${guess}'?)` : ''} and no value of that name`, {
      where,
      hint: `taps are PyTorch module paths (layer4, features.29) or ONNX value names; gaze model inspect ${file} lists them`,
    });
  }
  const form = tapForm(record.shape, batch);
  if (!form) {
    throw new GazeError(`'${tap}' outputs [${record.shape.join(',')}], which is neither a feature map [N,C,H,W] nor a token grid [N, extra + H*W, C]`, {
      where,
      hint: 'tap a convolutional stage (or a transformer block); gaze model inspect lists every module with its output shape',
    });
  }
  return { name: tap, value: record.name, form: form.form, shape: form.shape };
}
