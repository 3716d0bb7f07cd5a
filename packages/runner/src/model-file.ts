import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { GazeError, MODEL_JSON, readModelMetadata } from '@gaze/engine';
import { CLASSIFIER_METADATA_KEY, LayersClassifier, createClassifier, loadClassifier, savedClassifierFormat, type Classifier, type Preprocess } from '@gaze/models';
import { OnnxClassifier, OnnxPreprocess, loadOnnxClassifier, tapForm } from '@gaze/onnx';

/** What kind of model file a path holds. */
export type ModelFormat = 'onnx' | 'layers-model' | 'gaze-classifier';

export interface OpenModelOptions {
  /** Taps the caller needs (module paths / value names for ONNX, layer names for layers models); a saved Gaze classifier must already have them. */
  taps?: string[];
  /** [H, W] for an ONNX model whose input size is open. */
  size?: [number, number];
  /** Replaces parts of the preprocessing (ONNX and layers models; a saved classifier keeps its own). */
  preprocess?: Partial<Preprocess>;
  /** The caller feeds the network's input as is (a .npy the user made): no preprocessing for ONNX and layers models. */
  rawInput?: boolean;
  /** The logits' value or layer, when it is not the model's output. */
  output?: string;
}

export interface OpenedModel {
  classifier: Classifier;
  format: ModelFormat;
  /** The file or directory actually loaded. */
  path: string;
}

const IDENTITY: Preprocess = { scale: 1, mean: [0], std: [1], channelOrder: 'rgb' };

const ACCEPTED = 'an .onnx file, a tfjs/Keras model.json (or its directory), a saved Gaze classifier directory, or a run directory (runs/<experiment>/<run-id>)';

/** Finds what `path` points at: an ONNX file, a layers model, a saved classifier or a run's. */
export function locateModel(path: string): { format: ModelFormat; path: string } {
  const full = resolve(path);
  if (!existsSync(full)) throw new GazeError(`no model at ${full}`, { hint: `give ${ACCEPTED}` });
  if (statSync(full).isFile()) {
    if (full.endsWith('.onnx')) return { format: 'onnx', path: full };
    if (basename(full) === MODEL_JSON) return locateModel(dirname(full));
    throw new GazeError(`${full} is not a model file Gaze reads`, { hint: `give ${ACCEPTED}` });
  }
  if (savedClassifierFormat(full)) return { format: 'gaze-classifier', path: full };
  if (existsSync(join(full, MODEL_JSON))) return { format: 'layers-model', path: full };
  const inRun = join(full, 'checkpoints', 'classifier');
  if (existsSync(inRun)) return locateModel(inRun);
  throw new GazeError(`${full} holds no model`, {
    hint: `give ${ACCEPTED}; a run keeps its classifier in checkpoints/classifier only when its config trains one (train:)`,
  });
}

/**
 * Loads any model file Gaze reads as a Classifier (what `gaze explain --model` and `gaze model
 * inspect` take). ONNX models default to torchvision's ImageNet preprocessing, layers models to
 * none; `rawInput` feeds the network input as given.
 */
export async function openModel(path: string, options: OpenModelOptions = {}): Promise<OpenedModel> {
  const located = locateModel(path);
  if (located.format === 'onnx') {
    const preprocess = options.rawInput ? IDENTITY : OnnxPreprocess.parse(options.preprocess ?? {});
    const classifier = loadOnnxClassifier(located.path, {
      taps: options.taps,
      preprocess,
      output: options.output,
      inputShape: options.size ? [...options.size, 3] : undefined,
      where: 'model',
      config: { path: located.path, preprocess },
    });
    return { classifier, format: 'onnx', path: located.path };
  }
  const metadata = await readModelMetadata(located.path).catch(() => ({}) as Record<string, unknown>);
  if (located.format === 'gaze-classifier' || metadata[CLASSIFIER_METADATA_KEY] !== undefined) {
    if (options.preprocess) throw new GazeError('a saved Gaze classifier keeps the preprocessing it was trained with', { where: located.path, hint: 'leave out the preprocessing flags for it' });
    const classifier = await loadClassifier(located.path);
    const missing = (options.taps ?? []).filter((t) => !classifier.taps.includes(t));
    if (missing.length > 0) {
      classifier.dispose();
      throw new GazeError(`the saved classifier has no tap '${missing[0]}'`, { where: located.path, hint: `its taps: ${classifier.taps.join(', ')}` });
    }
    return { classifier, format: 'gaze-classifier', path: located.path };
  }
  // A converted Keras / tfjs layers model: its own input size and class count, logits before its softmax (as for ONNX).
  const preprocess = options.rawInput ? IDENTITY : { ...IDENTITY, ...options.preprocess };
  const classifier = await createClassifier(
    { type: 'layers-model', path: located.path, taps: options.taps, preprocess, logitsLayer: options.output },
    { where: 'model', logitsBeforeActivation: true },
  );
  return { classifier, format: 'layers-model', path: located.path };
}

/** One module (ONNX) or layer (layers models) as `gaze model inspect` lists it. */
export interface ModuleLine {
  /** Module path (ONNX) or layer name. */
  name: string;
  /** The op or layer class that produces its output. */
  op: string;
  /** Output shape without the batch: C x H x W for feature maps, T x C for tokens. */
  shape: number[];
  /** `feature map`, `tokens (14x14 grid + 1)`, or '' when it cannot be a tap. */
  tap: string;
  parameters: number;
}

export interface ModelDescription {
  path: string;
  format: ModelFormat;
  /** [C, H, W] of the input. */
  input: number[];
  numClasses: number;
  parameters: number;
  /** Node (ONNX) or layer counts by op type. */
  ops: Record<string, number>;
  opset?: number;
  producer?: string;
  modules: ModuleLine[];
  taps: string[];
  camTap?: string;
  notes: string[];
}

/** What a loaded model has: its modules with output shapes (what taps to pick), ops and parameters. */
export function describeModel(opened: OpenedModel): ModelDescription {
  const { classifier } = opened;
  const [h, w, c] = classifier.inputShape;
  const base = { path: opened.path, format: opened.format, input: [c, h, w], numClasses: classifier.numClasses, taps: classifier.taps, camTap: classifier.camTap };
  if (classifier instanceof OnnxClassifier) {
    const ops: Record<string, number> = {};
    for (const node of classifier.graph.nodes) ops[node.opType] = (ops[node.opType] ?? 0) + 1;
    const batch = classifier.spec.fixedBatch ?? 1;
    const modules = classifier.map.modulePaths().map((path): ModuleLine => {
      const m = classifier.map.modules.get(path)!;
      const form = tapForm(m.output.shape, batch);
      const tap = !form ? '' : form.form.kind === 'spatial' ? 'feature map' : `tokens (${form.form.grid.join('x')} grid${form.form.extra ? ` + ${form.form.extra}` : ''})`;
      return { name: path, op: m.output.node.opType, shape: m.output.shape.slice(1), tap, parameters: m.parameters };
    });
    const notes = [`${classifier.program.nodes.length} of ${classifier.graph.nodes.length} nodes run per image; the rest are constants folded at load`];
    if (classifier.spec.fixedBatch !== undefined) notes.push(`exported with a fixed batch of ${classifier.spec.fixedBatch}: images run in pieces of that size (export with dynamic_axes={'input': {0: 'batch'}} to batch them)`);
    if (classifier.spec.logits !== classifier.graph.outputs[0].name) notes.push(`logits: '${classifier.spec.logits}' (the model's output '${classifier.graph.outputs[0].name}' is its softmax)`);
    if (modules.length === 0) notes.push('the node names carry no module scopes (not a torch >= 1.13 export): taps are ONNX value names');
    return { ...base, parameters: classifier.parameterCount, ops, opset: classifier.graph.opset, producer: classifier.graph.producer, modules, notes };
  }
  if (classifier instanceof LayersClassifier) {
    const ops: Record<string, number> = {};
    const modules: ModuleLine[] = [];
    for (const layer of classifier.model.layers) {
      const cls = layer.getClassName();
      ops[cls] = (ops[cls] ?? 0) + 1;
      if (cls === 'InputLayer') continue;
      let shape: number[];
      try {
        const s = layer.outputShape as (number | null)[];
        shape = (Array.isArray(s[0]) ? (s[0] as (number | null)[]) : s).slice(1).map((d) => d ?? -1);
      } catch {
        continue;
      }
      const spatial = shape.length === 3;
      modules.push({ name: layer.name, op: cls, shape: spatial ? [shape[2], shape[0], shape[1]] : shape, tap: spatial ? 'feature map' : '', parameters: layer.countParams() });
    }
    return { ...base, parameters: classifier.parameterCount, ops, modules, notes: opened.format === 'gaze-classifier' ? [`a saved Gaze classifier (${classifier.type}); its taps are fixed`] : [] };
  }
  return { ...base, parameters: classifier.parameterCount, ops: {}, modules: [], notes: [`a ${classifier.type} classifier: only its taps are known`] };
}

