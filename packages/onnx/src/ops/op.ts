import { GazeError, tf } from '@gaze/engine';
import type { AttributeValue, OnnxNode } from '../proto/read-model.js';
import type { HostTensor } from '../runtime/host-tensor.js';
import type { DeviceValue, Value } from '../runtime/value.js';

/** A node's attributes with ONNX's defaults; a missing required one is a GazeError naming the node. */
export class Attributes {
  constructor(
    private readonly node: OnnxNode,
    private readonly file: string,
  ) {}

  has(name: string): boolean {
    return this.node.attributes.has(name);
  }

  private get(name: string, fallback: AttributeValue | undefined, kind: string): AttributeValue {
    const value = this.node.attributes.get(name) ?? fallback;
    if (value === undefined) throw new GazeError(`node '${this.node.name}' (${this.node.opType}) has no '${name}' attribute (${kind})`, { where: this.file, hint: 'the file is damaged or was written by an exporter Gaze does not know; export it again with torch.onnx.export' });
    return value;
  }

  int(name: string, fallback?: number): number {
    return this.get(name, fallback, 'an int') as number;
  }

  float(name: string, fallback?: number): number {
    return this.get(name, fallback, 'a float') as number;
  }

  ints(name: string, fallback?: number[]): number[] {
    return this.get(name, fallback, 'a list of ints') as number[];
  }

  string(name: string, fallback?: string): string {
    return this.get(name, fallback, 'a string') as string;
  }

  tensor(name: string): HostTensor {
    return this.get(name, undefined, 'a tensor') as HostTensor;
  }
}

/** Activations the planner folds into the Conv or Gemm that feeds them (when nothing else reads the product). */
export type FusedActivation = 'relu' | 'relu6';

/** y with a fused activation applied ('linear' or none: y itself). */
export function activate(y: tf.Tensor, activation: FusedActivation | 'linear' | undefined): tf.Tensor {
  if (activation === 'relu') return tf.relu(y);
  if (activation === 'relu6') return tf.relu6(y);
  return y;
}

/** What an op implementation sees when it runs on tfjs. */
export interface OpContext {
  node: OnnxNode;
  attrs: Attributes;
  opset: number;
  /** One entry per node input; undefined where an optional input is left out (''). */
  inputs: (Value | undefined)[];
  /** Whether dropout drops and batch norm uses batch statistics. */
  training: boolean;
  /** An activation the planner fused into this Conv/Gemm (the program then skips its Relu/Clip node). */
  fusedActivation?: FusedActivation;
  /** A residual term the planner fused into this Conv: added to its product before the activation. */
  fusedAddend?: Value;
  /** Input i as a host array; a GazeError when it is computed by the network (the op needs it known at load). */
  host(i: number): HostTensor;
  /** Input i as a host array, or undefined when the optional input is absent. */
  optionalHost(i: number): HostTensor | undefined;
  /** Input i on tfjs (host constants converted once and cached). */
  device(i: number): DeviceValue;
  /** A host constant as a tensor in the stored layout `perm`, cached when it does not depend on the batch. */
  constant(t: HostTensor, perm?: readonly number[]): tf.Tensor;
  /** A tensor this node prepares once from its constant inputs (a conv filter in tfjs's layout), cached across runs. */
  prepared(key: string, build: () => tf.Tensor): tf.Tensor;
  /** A GazeError saying what about this node Gaze cannot run. */
  unsupported(what: string, hint?: string): GazeError;
}

/**
 * One ONNX operator. `host` runs it on host arrays (shape arithmetic, constant folding) when every
 * input is one; `device` runs it on tfjs. An op with only `host` needs constant inputs.
 */
export interface OpImpl {
  host?(inputs: (HostTensor | undefined)[], attrs: Attributes, node: OnnxNode, opset: number): HostTensor[];
  device?(ctx: OpContext): Value[];
}

/** Normalizes a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}
