import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { GazeError } from '@gaze/engine';
import onnxProto, { type onnx as onnxTypes } from 'onnx-proto';
import type { HostTensor } from '../runtime/host-tensor.js';
import { dataTypeName, decodeTensor, ExternalData, toNumber } from './tensor-proto.js';

const { onnx } = onnxProto;

/** Opsets of the default ONNX domain the op table implements (torch.onnx.export writes 13-17 by default). */
export const SUPPORTED_OPSETS = { min: 11, max: 18 } as const;

export type AttributeValue = number | string | number[] | string[] | HostTensor;

export interface OnnxNode {
  /** Position in the file's node list (a topological order). */
  index: number;
  /** The node's name; torch.onnx.export writes the module scope, e.g. `/layer4/layer4.1/conv2/Conv`. */
  name: string;
  opType: string;
  domain: string;
  /** Value names; '' marks an optional input left out. */
  inputs: string[];
  outputs: string[];
  attributes: Map<string, AttributeValue>;
}

export interface ValueSpec {
  name: string;
  /** Element type name (float, int64, ...). */
  type: string;
  /** Dimensions: numbers, or a symbolic name (`batch`) or undefined when the file leaves them open. */
  shape: (number | string | undefined)[] | undefined;
}

export interface OnnxGraph {
  /** Absolute path of the .onnx file. */
  file: string;
  opset: number;
  producer: string;
  /** Graph inputs that are not initializers: what the caller feeds. */
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: OnnxNode[];
  /** Initializers (weights and constants), decoded. */
  initializers: Map<string, HostTensor>;
  /** External data files the initializers were read from, relative to the model's directory. */
  externalFiles: string[];
}

function valueSpec(v: onnxTypes.IValueInfoProto): ValueSpec {
  const tensor = v.type?.tensorType;
  const dims = tensor?.shape?.dim;
  return {
    name: v.name ?? '',
    type: dataTypeName(tensor?.elemType ?? 0),
    shape: dims ? dims.map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : undefined)) : undefined,
  };
}

function attributeValue(a: onnxTypes.IAttributeProto, where: string): AttributeValue | undefined {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.FLOAT: return a.f ?? 0;
    case T.INT: return toNumber(a.i);
    case T.STRING: return new TextDecoder().decode(a.s ?? new Uint8Array());
    case T.FLOATS: return [...(a.floats ?? [])];
    case T.INTS: return (a.ints ?? []).map(toNumber);
    case T.STRINGS: return (a.strings ?? []).map((s) => new TextDecoder().decode(s));
    case T.TENSOR: return a.t ? decodeTensor(a.t, undefined, where) : undefined;
    default: return undefined; // graphs and sparse tensors: the ops that take them are not supported
  }
}

/**
 * Parses an .onnx file (protobuf, with onnx's own schema from `onnx-proto`) into the graph the
 * importer builds from: nodes in file order, decoded attributes and initializers (external data
 * read from files beside the model). A missing, truncated or non-ONNX file is a GazeError.
 */
export function readOnnxModel(path: string, where?: string): OnnxGraph {
  const file = resolve(path);
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new GazeError(`no ONNX model at ${file}`, {
      where,
      hint: 'export one with torch.onnx.export(model, torch.randn(1, 3, 224, 224), "model.onnx", dynamic_axes={"input": {0: "batch"}}, input_names=["input"]); relative paths are from the config file (or the working directory on the command line)',
    });
  }
  const bytes = readFileSync(file);
  let model: onnxTypes.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new GazeError(`${file} is not a readable ONNX model (${(error as Error).message}): the file is truncated, damaged or not ONNX`, {
      where: file,
      hint: 'export the model again (torch.onnx.export) and check the copy is complete (its size matches the original)',
      cause: error,
    });
  }
  const graph = model.graph;
  if (!graph || !graph.node || graph.node.length === 0) {
    throw new GazeError(`${file} holds no ONNX graph (no nodes): it is empty, truncated or not an ONNX model`, { where: file, hint: 'export the model again with torch.onnx.export' });
  }
  const defaultDomain = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = defaultDomain ? toNumber(defaultDomain.version) : 0;
  if (opset < SUPPORTED_OPSETS.min || opset > SUPPORTED_OPSETS.max) {
    throw new GazeError(`${file} uses ONNX opset ${opset || '(none)'}; Gaze reads opsets ${SUPPORTED_OPSETS.min} to ${SUPPORTED_OPSETS.max}`, {
      where: file,
      hint: `export with torch.onnx.export(..., opset_version=17), or convert it: python -c "import onnx, onnx.version_converter as v; onnx.save(v.convert_version(onnx.load('${file}'), 17), 'model-17.onnx')"`,
    });
  }
  const external = new ExternalData(dirname(file), file);
  const initializers = new Map<string, HostTensor>();
  try {
    for (const t of graph.initializer ?? []) {
      const decoded = decodeTensor(t, external, file);
      if (!decoded) {
        throw new GazeError(`initializer '${t.name}' has element type ${dataTypeName(t.dataType ?? 0)}, which Gaze does not compute with`, { where: file, hint: 'export the model in float32 (model.float() before torch.onnx.export)' });
      }
      initializers.set(t.name ?? '', decoded);
    }
  } finally {
    external.close();
  }
  const nodes: OnnxNode[] = graph.node.map((n, index) => {
    const opType = n.opType ?? '';
    const name = n.name || `${opType}_${index}`;
    const attributes = new Map<string, AttributeValue>();
    for (const a of n.attribute ?? []) {
      const value = attributeValue(a, `${file} node ${name}`);
      if (value !== undefined && a.name) attributes.set(a.name, value);
    }
    const domain = !n.domain || n.domain === 'ai.onnx' ? '' : n.domain;
    return { index, name, opType, domain, inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attributes };
  });
  const inputs = (graph.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(valueSpec);
  return {
    file,
    opset,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' ') || 'unknown',
    inputs,
    outputs: (graph.output ?? []).map(valueSpec),
    nodes,
    initializers,
    externalFiles: external.locations(),
  };
}
