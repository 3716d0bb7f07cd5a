import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GazeError } from '../errors.js';
import { tf } from '../tf.js';
import { writeDirAtomic } from './atomic-write.js';
import { pathInside } from './safe-path.js';

/** The file names of the standard tfjs layout (what `tensorflowjs_converter` writes, too). */
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

interface ManifestGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology?: object;
  weightsManifest: ManifestGroup[];
  userDefinedMetadata?: Record<string, unknown>;
  trainingConfig?: tf.io.TrainingConfig;
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

async function readJson<T>(path: string, what: string): Promise<T> {
  if (!existsSync(path)) {
    throw new GazeError(`no ${what} at ${path}`, { hint: 'check the path; a saved model directory holds model.json and its .bin shards' });
  }
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (cause) {
    throw new GazeError(`${path} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, string: 0, uint8: 1, uint16: 2, float16: 2 };

/** Bytes one manifest entry takes in the shards (quantized weights at their stored width). */
function byteSize(spec: tf.io.WeightsManifestEntry): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  return count * (DTYPE_BYTES[dtype] ?? 4);
}

/** Reads every manifest group's shards in order: one buffer and one spec list for the whole model. */
async function readWeights(dir: string, manifest: ManifestGroup[]): Promise<{ specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer }> {
  const specs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Buffer[] = [];
  for (const group of manifest) {
    for (const shard of group.paths) {
      const path = pathInside(dir, shard, 'weight shard', join(dir, MODEL_JSON));
      if (!existsSync(path)) {
        throw new GazeError(`weight shard ${shard} listed in ${join(dir, MODEL_JSON)} is missing`, {
          where: path,
          hint: 'copy every .bin file the converter wrote next to model.json',
        });
      }
      chunks.push(await readFile(path));
    }
    specs.push(...group.weights);
  }
  const data = Buffer.concat(chunks);
  // tfjs reads past the end of short data without complaint: check the sizes first.
  const needed = specs.reduce((n, spec) => n + byteSize(spec), 0);
  if (data.byteLength < needed) {
    throw new GazeError(`the weights of ${join(dir, MODEL_JSON)} are truncated: its manifest needs ${needed} bytes, the shards hold ${data.byteLength}`, {
      where: dir,
      hint: 'copy the .bin files again (a checkpoint written when the disk filled up, or a partial copy); runs keep the previous checkpoint beside the last one',
    });
  }
  return { specs, data: toArrayBuffer(data) };
}

/**
 * A tfjs IOHandler over a directory in the standard layout (`model.json` + `weights.bin`), so
 * `model.save(fileSystemIO(dir))` and `tf.loadLayersModel(fileSystemIO(dir))` work without
 * tfjs-node. Loading also accepts the converter's multi-shard, multi-group manifests. Saving
 * replaces the directory atomically. `metadata` is stored as `userDefinedMetadata`.
 */
export function fileSystemIO(dir: string, options: { metadata?: Record<string, unknown> } = {}): tf.io.IOHandler {
  const root = resolve(dir);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('fileSystemIO saves layers models (JSON topology) only');
      }
      const weightData = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
      const modelJson: ModelJson = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        modelTopology: artifacts.modelTopology,
        trainingConfig: artifacts.trainingConfig,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: { ...artifacts.userDefinedMetadata, ...options.metadata },
      };
      await writeDirAtomic(root, async (tmp) => {
        await writeFile(join(tmp, WEIGHTS_BIN), new Uint8Array(weightData));
        await writeFile(join(tmp, MODEL_JSON), JSON.stringify(modelJson));
      });
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const json = await readJson<ModelJson>(join(root, MODEL_JSON), MODEL_JSON);
      if (json.format === 'graph-model') {
        throw new GazeError(`${join(root, MODEL_JSON)} is a tfjs graph model; Gaze needs a layers model`, {
          hint: 'convert the Keras model with `tensorflowjs_converter --input_format=keras --output_format=tfjs_layers_model`',
        });
      }
      if (!Array.isArray(json.weightsManifest)) {
        throw new GazeError(`${join(root, MODEL_JSON)} has no weightsManifest`, { hint: 'is this a tfjs model.json?' });
      }
      const { specs, data } = await readWeights(root, json.weightsManifest);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        trainingConfig: json.trainingConfig,
        weightSpecs: specs,
        weightData: data,
        userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
      };
    },
  };
}

/** Saves a LayersModel to `dir` (atomically), with optional metadata (epoch, metrics, config hash). */
export async function saveLayersModel(model: tf.LayersModel, dir: string, metadata?: Record<string, unknown>): Promise<void> {
  await model.save(fileSystemIO(dir, { metadata }));
}

/** Loads a LayersModel saved by Gaze, by tfjs-node, or converted from Keras by the standard converter. */
export async function loadLayersModel(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileSystemIO(dir));
}

/** Metadata stored with a saved model (`userDefinedMetadata`), without loading its weights. */
export async function readModelMetadata(dir: string): Promise<Record<string, unknown>> {
  const json = await readJson<ModelJson>(join(resolve(dir), MODEL_JSON), MODEL_JSON);
  return json.userDefinedMetadata ?? {};
}

const WEIGHTS_JSON = 'weights.json';

/**
 * Saves named tensors (a head's variables, optimizer slots) as `weights.json` + `weights.bin`,
 * the same manifest format as a model, so one loader reads both.
 */
export async function saveWeightMap(
  dir: string,
  weights: Record<string, tf.Tensor>,
  metadata: Record<string, unknown> = {},
): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(weights);
  const json = { format: 'gaze-weights', weightsManifest: [{ paths: [WEIGHTS_BIN], weights: specs }], userDefinedMetadata: metadata };
  await writeDirAtomic(resolve(dir), async (tmp) => {
    await writeFile(join(tmp, WEIGHTS_BIN), new Uint8Array(data));
    await writeFile(join(tmp, WEIGHTS_JSON), JSON.stringify(json));
  });
}

/** Loads what `saveWeightMap` wrote. The caller owns (and disposes) the returned tensors. */
export async function loadWeightMap(dir: string): Promise<{ weights: Record<string, tf.Tensor>; metadata: Record<string, unknown> }> {
  const root = resolve(dir);
  const json = await readJson<ModelJson>(join(root, WEIGHTS_JSON), WEIGHTS_JSON);
  const { specs, data } = await readWeights(root, json.weightsManifest);
  return { weights: tf.io.decodeWeights(data, specs), metadata: json.userDefinedMetadata ?? {} };
}

let routerRegistered = false;

/** Lets `model.save('file://dir')` and `tf.loadLayersModel('file://dir/model.json')` use `fileSystemIO`. */
export function registerFileSystemRouter(): void {
  if (routerRegistered) return;
  routerRegistered = true;
  // tfjs's IORouter type says IOHandler, but routers answer null for URLs they do not own.
  const route = ((url: string | string[]) => {
    if (Array.isArray(url) || !url.startsWith('file://')) return null;
    const path = url.slice('file://'.length);
    return fileSystemIO(path.endsWith(MODEL_JSON) ? join(path, '..') : path);
  }) as Parameters<typeof tf.io.registerSaveRouter>[0];
  tf.io.registerSaveRouter(route);
  tf.io.registerLoadRouter(route);
}
