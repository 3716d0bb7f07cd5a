import { writeFileSync } from 'node:fs';
import onnxProto, { type onnx as onnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;

/** Attribute values by kind, as ONNX types them. */
export type Attr = { i: number } | { f: number } | { s: string } | { ints: number[] } | { floats: number[] } | { t: TensorSpec };

export interface TensorSpec {
  name?: string;
  dims: number[];
  /** float32 unless `type` says int64/int32/bool. */
  data: ArrayLike<number>;
  type?: 'float' | 'int64' | 'int32' | 'bool';
  /** Store the data in an external file instead (location relative to the model). */
  external?: { location: string; offset?: number; length?: number };
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attrs?: Record<string, Attr>;
}

export interface ModelSpec {
  opset?: number;
  inputs: { name: string; shape: (number | string)[]; type?: 'float' | 'int64' }[];
  outputs: { name: string; shape?: (number | string)[] }[];
  nodes: NodeSpec[];
  initializers?: TensorSpec[];
}

const TYPES = { float: 1, int64: 7, int32: 6, bool: 9 } as const;

function tensorProto(t: TensorSpec): onnxTypes.ITensorProto {
  const type = t.type ?? 'float';
  const proto: onnxTypes.ITensorProto = { name: t.name, dims: t.dims, dataType: TYPES[type] };
  if (t.external) {
    proto.dataLocation = 1;
    proto.externalData = Object.entries({ location: t.external.location, offset: t.external.offset, length: t.external.length })
      .filter(([, v]) => v !== undefined)
      .map(([key, value]) => ({ key, value: String(value) }));
    return proto;
  }
  if (type === 'float') proto.floatData = Array.from(t.data);
  else if (type === 'int64') proto.int64Data = Array.from(t.data);
  else proto.int32Data = Array.from(t.data);
  return proto;
}

function attribute(name: string, a: Attr): onnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in a) return { name, type: T.INT, i: a.i };
  if ('f' in a) return { name, type: T.FLOAT, f: a.f };
  if ('s' in a) return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
  if ('ints' in a) return { name, type: T.INTS, ints: a.ints };
  if ('floats' in a) return { name, type: T.FLOATS, floats: a.floats };
  return { name, type: T.TENSOR, t: tensorProto(a.t) };
}

function valueInfo(name: string, shape: (number | string)[] | undefined, type: 'float' | 'int64' = 'float'): onnxTypes.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: TYPES[type], shape: shape ? { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined } },
  };
}

/** An ONNX model's bytes, built with onnx's own schema (for tests that need a file of a given shape). */
export function encodeModel(spec: ModelSpec): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'gaze-test',
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }],
    graph: {
      name: 'test',
      node: spec.nodes.map((n, i) => ({
        name: n.name ?? `${n.op}_${i}`,
        opType: n.op,
        domain: n.domain ?? '',
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      input: spec.inputs.map((i) => valueInfo(i.name, i.shape, i.type)),
      output: spec.outputs.map((o) => valueInfo(o.name, o.shape)),
      initializer: (spec.initializers ?? []).map(tensorProto),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

export function writeModel(path: string, spec: ModelSpec): string {
  writeFileSync(path, encodeModel(spec));
  return path;
}
