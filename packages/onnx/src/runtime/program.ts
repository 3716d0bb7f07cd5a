import { GazeError, isGazeError, tf } from '@gaze/engine';
import { OPS, supportedOps, Attributes, type FusedActivation, type OpContext } from '../ops/index.js';
import type { OnnxGraph, OnnxNode } from '../proto/read-model.js';
import type { HostTensor } from './host-tensor.js';
import { hostToTensor, identity, type DeviceValue, type Value } from './value.js';

/** A value the caller supplies in place of the one the graph computes (logitsWithTap's tap). */
export interface Substitution {
  name: string;
  /** Whether `replace` needs the value the graph computes (token taps keep their class token). */
  needsComputed: boolean;
  replace(computed: Value | undefined): Value;
}

export interface RunOptions {
  training?: boolean;
  substitute?: Substitution;
  /** Called with every value as it is produced (what `model inspect` reads shapes from). */
  onValue?(name: string, value: Value, node: OnnxNode): void;
}

/**
 * An ONNX graph ready to run on tfjs: ops checked against the op table, every node whose inputs
 * are constants folded at load, Relu/Clip(0,6) after a Conv or Gemm fused into it (unless the
 * product itself is read elsewhere, e.g. a tap), and per-node tensors (filters in tfjs's
 * layout) prepared once and cached. `run` executes the nodes the wanted values need, in file
 * order, and frees each intermediate tensor after its last reader, so a 224 px forward holds
 * only the live activations.
 */
export class OnnxProgram {
  readonly nodes: readonly OnnxNode[];
  private readonly statics = new Map<string, HostTensor>();
  /** The data arrays of constants: a host array reshaped by an op keeps its data, and stays cacheable. */
  private readonly staticData = new Set<HostTensor['data']>();
  private readonly producer = new Map<string, OnnxNode>();
  private readonly readers = new Map<string, OnnxNode[]>();
  /** Conv/Gemm node index -> the activation it applies for the Relu/Clip after it. */
  private readonly fused = new Map<number, FusedActivation>();
  /** Nodes fused into the one before them, by index: which of their inputs is their output. */
  private readonly passThrough = new Map<number, number>();
  /** Conv nodes with a residual Add fused in, by index: the value they add to their product. */
  private readonly addends = new Map<number, string>();
  private readonly preparedByNode = new Map<number, Map<string, tf.Tensor>>();
  private readonly constants = new Map<HostTensor['data'], Map<string, tf.Tensor>>();
  private readonly cachedTensors = new Set<tf.Tensor>();
  private readonly plans = new Map<string, Plan>();
  /** Each file node's attributes, by node index (built once, not per run). */
  private readonly attributes: Attributes[];
  private disposed = false;
  /** Distinguishes the variables of two loads of one file (tfjs variable names are global). */
  private readonly id = ++programs;

  constructor(
    readonly graph: OnnxGraph,
    /** Prepared weights (filters, matrices, norm parameters) become trainable tf.Variables. */
    readonly trainable = false,
  ) {
    checkOps(graph);
    this.attributes = graph.nodes.map((node) => new Attributes(node, graph.file));
    for (const [name, t] of graph.initializers) this.setStatic(name, t);
    const runtime: OnnxNode[] = [];
    for (const node of graph.nodes) {
      const folded = this.tryFold(node);
      if (!folded) runtime.push(node);
    }
    this.nodes = runtime;
    for (const node of runtime) {
      node.outputs.forEach((o) => o && this.producer.set(o, node));
      for (const i of node.inputs) {
        if (!i || this.statics.has(i)) continue;
        if (!this.readers.has(i)) this.readers.set(i, []);
        this.readers.get(i)!.push(node);
      }
    }
    const known = new Set([...graph.inputs.map((v) => v.name), ...this.statics.keys(), ...this.producer.keys()]);
    for (const node of runtime) {
      const missing = node.inputs.find((i) => i && !known.has(i));
      if (missing) {
        throw new GazeError(`node '${node.name}' (${node.opType}) reads '${missing}', which no node, input or initializer of ${graph.file} provides`, {
          where: graph.file,
          hint: 'the file is truncated or damaged (weights missing); export the model again',
        });
      }
    }
  }

  /**
   * Fuses each residual Add into the Conv that computes one of its terms, when the other term is
   * computed before that Conv (one pass instead of the convolution, the sum and the ReLU's), and
   * each Relu / Clip(0,6) into the Conv, Gemm or fused Add before it; only where nothing else
   * reads the intermediate value and it is not in `keep` (values that must stay observable, such
   * as taps).
   */
  fuse(keep: ReadonlySet<string>): void {
    this.fused.clear();
    this.passThrough.clear();
    this.addends.clear();
    const outputs = new Set(this.graph.outputs.map((o) => o.name));
    const inputs = new Set(this.graph.inputs.map((i) => i.name));
    const private_ = (value: string) => (this.readers.get(value) ?? []).length === 1 && !keep.has(value) && !outputs.has(value);
    for (const node of this.nodes) {
      if (node.opType !== 'Conv' && node.opType !== 'Gemm') continue;
      let out = node.outputs[0];
      if (!private_(out)) continue;
      let reader = this.readers.get(out)![0];
      if (node.opType === 'Conv' && reader.opType === 'Add' && reader.inputs.length === 2) {
        const term = reader.inputs[0] === out ? 0 : 1;
        const other = reader.inputs[1 - term];
        // The other term must exist when the Conv runs, and come from the image (a constant would broadcast).
        const ready = other !== out && !this.statics.has(other) && (inputs.has(other) || (this.producer.get(other)?.index ?? Infinity) < node.index);
        if (ready) {
          this.addends.set(node.index, other);
          this.passThrough.set(reader.index, term);
          out = reader.outputs[0];
          if (!private_(out)) continue;
          reader = this.readers.get(out)![0];
        }
      }
      const activation = fusableActivation(reader, (i) => this.statics.get(i));
      if (activation) {
        this.fused.set(node.index, activation);
        this.passThrough.set(reader.index, 0);
      }
    }
  }

  /** How many residual Adds are fused into the Conv before them. */
  fusedAddCount(): number {
    return this.addends.size;
  }

  /** How many activations are fused into the node before them. */
  fusedCount(): number {
    return this.fused.size;
  }

  /** Whether a value is known at load (an initializer or computed only from constants). */
  isStatic(name: string): boolean {
    return this.statics.has(name);
  }

  staticValue(name: string): HostTensor | undefined {
    return this.statics.get(name);
  }

  /** The node whose output a value is (undefined for inputs and folded constants). */
  producerOf(name: string): OnnxNode | undefined {
    return this.producer.get(name);
  }

  /**
   * The runtime nodes that computing `names` needs, in file order: their producers, walked back
   * through the producers' inputs. `stopAt` is a value taken as given (its producer is not walked into).
   */
  upstream(names: Iterable<string>, options: { stopAt?: string } = {}): OnnxNode[] {
    const needed = new Set<number>();
    const stack = [...names];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (seen.has(name) || name === options.stopAt) continue;
      seen.add(name);
      const node = this.producer.get(name);
      if (!node || needed.has(node.index)) continue;
      needed.add(node.index);
      for (const i of node.inputs) if (i) stack.push(i);
    }
    return this.nodes.filter((n) => needed.has(n.index));
  }

  /**
   * The tensor `node` prepares once under `key` (the keys its op uses, e.g. Conv's `filter/0`),
   * built by `build` on first use and cached with the program: a tf.Variable when trainable.
   * Call inside tf.tidy, as the ops do (a trainable build's initial tensor is left to the scope).
   */
  prepared(node: OnnxNode, key: string, build: () => tf.Tensor): tf.Tensor {
    if (this.disposed) throw new Error('this ONNX model was disposed');
    let forNode = this.preparedByNode.get(node.index);
    if (!forNode) this.preparedByNode.set(node.index, (forNode = new Map()));
    let tensor = forNode.get(key);
    if (!tensor) {
      tensor = this.trainable ? tf.variable(build(), true, `onnx${this.id}/${node.name}/${key}`) : tf.keep(build());
      forNode.set(key, tensor);
      this.cachedTensors.add(tensor);
    }
    return tensor;
  }

  /**
   * Runs the nodes `wanted` needs from `inputs` (graph input name -> value). Call inside tf.tidy:
   * the returned device values are the caller's; every intermediate is freed.
   */
  run(inputs: Map<string, DeviceValue>, wanted: readonly string[], options: RunOptions = {}): Map<string, Value> {
    if (this.disposed) throw new Error('this ONNX model was disposed');
    const { nodes: plan, uses } = this.plan(wanted, options.substitute && !options.substitute.needsComputed ? options.substitute.name : undefined);
    const values = new Map<string, Value>();
    // The caller's tensors and the substituted tap; the program's own cache is checked live (it grows on a first run).
    const protectedTensors = new Set<tf.Tensor>();
    const isProtected = (t: tf.Tensor) => protectedTensors.has(t) || this.cachedTensors.has(t);
    for (const [name, v] of inputs) {
      values.set(name, v);
      protectedTensors.add(v.tensor);
    }
    const refs = new Map<tf.Tensor, number>();
    const hold = (name: string, v: Value) => {
      if (v.kind === 'device') refs.set(v.tensor, (refs.get(v.tensor) ?? 0) + (uses.get(name) ?? 0));
    };
    const release = (v: Value | undefined) => {
      if (v?.kind !== 'device' || isProtected(v.tensor)) return;
      const left = (refs.get(v.tensor) ?? 0) - 1;
      refs.set(v.tensor, left);
      if (left <= 0) {
        refs.delete(v.tensor);
        v.tensor.dispose();
      }
    };
    for (const [name, v] of inputs) hold(name, v);

    const substitute = options.substitute;
    if (substitute && !substitute.needsComputed) {
      const v = substitute.replace(undefined);
      values.set(substitute.name, v);
      if (v.kind === 'device') protectedTensors.add(v.tensor);
    }
    for (const node of plan) {
      const nodeInputs = node.inputs.map((i) => (i ? (values.get(i) ?? this.staticValueOf(i)) : undefined));
      const through = this.passThrough.get(node.index);
      const addend = this.addends.get(node.index);
      let outputs = through !== undefined ? [nodeInputs[through]!] : this.execute(node, nodeInputs, options.training ?? false, addend === undefined ? undefined : values.get(addend));
      if (substitute?.needsComputed) {
        const at = node.outputs.indexOf(substitute.name);
        if (at >= 0) {
          // The computed value is left to the caller's tidy: the replacement may share its tensor.
          const replaced = substitute.replace(outputs[at]);
          outputs = outputs.map((o, i) => (i === at ? replaced : o));
          if (replaced.kind === 'device') protectedTensors.add(replaced.tensor);
        }
      }
      node.outputs.forEach((name, i) => {
        const v = outputs[i];
        if (!name || !v) return;
        values.set(name, v);
        options.onValue?.(name, v, node);
        hold(name, v);
        if ((uses.get(name) ?? 0) === 0 && v.kind === 'device' && !isProtected(v.tensor) && (refs.get(v.tensor) ?? 0) === 0) {
          refs.delete(v.tensor);
          v.tensor.dispose();
        }
      });
      for (const i of node.inputs) if (i) release(values.get(i));
    }
    const out = new Map<string, Value>();
    for (const w of wanted) {
      const v = values.get(w) ?? this.staticValueOf(w);
      if (!v) throw new Error(`value '${w}' was not computed`);
      out.set(w, v);
    }
    return out;
  }

  /** Every tensor the program cached (prepared filters, constants). */
  cached(): tf.Tensor[] {
    return [...this.cachedTensors];
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.cachedTensors) t.dispose();
    this.cachedTensors.clear();
    this.preparedByNode.clear();
    this.constants.clear();
  }

  private staticValueOf(name: string): Value | undefined {
    const t = this.statics.get(name);
    return t ? { kind: 'host', t } : undefined;
  }

  private setStatic(name: string, t: HostTensor): void {
    this.statics.set(name, t);
    this.staticData.add(t.data);
  }

  /** Folds a node whose inputs are all constants (on host, at load). */
  private tryFold(node: OnnxNode): boolean {
    const impl = OPS[node.opType];
    if (!impl.host) return false;
    const inputs: (HostTensor | undefined)[] = [];
    for (const i of node.inputs) {
      if (!i) {
        inputs.push(undefined);
        continue;
      }
      const t = this.statics.get(i);
      if (!t) return false;
      inputs.push(t);
    }
    return this.fold(node, inputs);
  }

  private fold(node: OnnxNode, inputs: (HostTensor | undefined)[]): boolean {
    const outputs = this.runHost(node, inputs);
    node.outputs.forEach((name, i) => name && outputs[i] && this.setStatic(name, outputs[i]));
    return true;
  }

  private runHost(node: OnnxNode, inputs: (HostTensor | undefined)[]): HostTensor[] {
    try {
      return OPS[node.opType].host!(inputs, this.attributes[node.index], node, this.graph.opset);
    } catch (error) {
      throw nodeError(node, this.graph, error);
    }
  }

  private plan(wanted: readonly string[], provided: string | undefined): Plan {
    const key = `${wanted.join('\u0000')}\u0001${provided ?? ''}`;
    const cached = this.plans.get(key);
    if (cached) return cached;
    const nodes = this.upstream(wanted, { stopAt: provided });
    // How many times each value is read; run frees a tensor when its count reaches zero.
    const uses = new Map<string, number>();
    for (const node of nodes) for (const i of node.inputs) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
    for (const w of wanted) uses.set(w, Infinity);
    const plan = { nodes, uses };
    this.plans.set(key, plan);
    return plan;
  }

  private execute(node: OnnxNode, inputs: (Value | undefined)[], training: boolean, addend?: Value): Value[] {
    const impl = OPS[node.opType];
    const attrs = this.attributes[node.index];
    const allHost = inputs.every((v) => v === undefined || v.kind === 'host');
    try {
      if (allHost && impl.host && node.inputs.some(Boolean)) {
        return this.runHost(node, inputs.map((v) => (v?.kind === 'host' ? v.t : undefined))).map((t) => ({ kind: 'host', t }));
      }
      if (!impl.device) throw new GazeError(`node '${node.name}' (${node.opType}) needs inputs known at load, but one is computed from the image`, { where: this.graph.file, hint: 'export the model with a fixed input size, or simplify it (onnxsim) so this op is folded' });
      const ctx = this.context(node, attrs, inputs, training, addend);
      let outputs: Value[] = [];
      tf.tidy(() => {
        outputs = impl.device!(ctx);
        return outputs.flatMap((v) => (v.kind === 'device' ? [v.tensor] : []));
      });
      return outputs;
    } catch (error) {
      throw nodeError(node, this.graph, error);
    }
  }

  private context(node: OnnxNode, attrs: Attributes, inputs: (Value | undefined)[], training: boolean, addend?: Value): OpContext {
    const hostInput = (i: number): HostTensor | undefined => {
      const v = inputs[i];
      if (v === undefined) return undefined;
      if (v.kind !== 'host') {
        throw new GazeError(`node '${node.name}' (${node.opType}) takes input ${i} ('${node.inputs[i]}') as a constant, but the graph computes it from the image`, {
          where: this.graph.file,
          hint: 'Gaze runs models whose shapes and weights do not depend on the pixel values; export with a fixed input size (or simplify the model with onnxsim)',
        });
      }
      return v.t;
    };
    const ctx: OpContext = {
      node,
      attrs,
      opset: this.graph.opset,
      inputs,
      training,
      fusedActivation: this.fused.get(node.index),
      fusedAddend: addend,
      host: (i) => {
        const t = hostInput(i);
        if (!t) throw new GazeError(`node '${node.name}' (${node.opType}) lacks its input ${i}`, { where: this.graph.file, hint: 'the file is damaged; export the model again' });
        return t;
      },
      optionalHost: hostInput,
      device: (i) => {
        const v = inputs[i];
        if (v === undefined) throw new GazeError(`node '${node.name}' (${node.opType}) lacks its input ${i}`, { where: this.graph.file });
        if (v.kind === 'device') return v;
        return { kind: 'device', tensor: ctx.constant(v.t), perm: identity(v.t.shape.length) };
      },
      constant: (t, perm = identity(t.shape.length)) => {
        // Shape-derived host values change with the batch size: only constants are cached.
        if (!this.staticData.has(t.data)) return hostToTensor(t, perm);
        const key = perm.join(',') + '|' + t.shape.join(',') + '|' + t.dtype;
        let byPerm = this.constants.get(t.data);
        if (!byPerm) this.constants.set(t.data, (byPerm = new Map()));
        let tensor = byPerm.get(key);
        if (!tensor) {
          tensor = tf.keep(hostToTensor(t, perm));
          byPerm.set(key, tensor);
          this.cachedTensors.add(tensor);
        }
        return tensor;
      },
      prepared: (key, build) => this.prepared(node, key, build),
      unsupported: (what, hint) =>
        new GazeError(`node '${node.name}' (${node.opType}, opset ${this.graph.opset}) uses ${what}, which Gaze does not support`, {
          where: this.graph.file,
          hint: hint ?? `supported ops: ${supportedOps().join(', ')}`,
        }),
    };
    return ctx;
  }
}

let programs = 0;

/** A cached run plan: its nodes in file order, and how many times each value is read (the wanted ones: always kept). */
interface Plan {
  nodes: OnnxNode[];
  uses: ReadonlyMap<string, number>;
}

/** The activation a Relu or Clip(0,6) node applies, when it can be fused into the node before it. */
function fusableActivation(node: OnnxNode, constant: (name: string) => HostTensor | undefined): FusedActivation | undefined {
  if (node.opType === 'Relu') return 'relu';
  if (node.opType !== 'Clip') return undefined;
  const min = node.inputs[1] ? constant(node.inputs[1])?.data[0] : undefined;
  const max = node.inputs[2] ? constant(node.inputs[2])?.data[0] : undefined;
  if (min === 0 && max === 6) return 'relu6';
  if (min === 0 && max === undefined && !node.inputs[2]) return 'relu';
  return undefined;
}

/** Every op of the file the table lacks: one GazeError naming them, with the nodes and the opset. */
function checkOps(graph: OnnxGraph): void {
  const missing = new Map<string, string[]>();
  for (const node of graph.nodes) {
    const known = node.domain === '' && OPS[node.opType] !== undefined;
    if (known) continue;
    const op = node.domain ? `${node.domain}.${node.opType}` : node.opType;
    if (!missing.has(op)) missing.set(op, []);
    missing.get(op)!.push(node.name);
  }
  if (missing.size === 0) return;
  const list = [...missing].map(([op, nodes]) => `${op} (${nodes.length} node${nodes.length > 1 ? 's' : ''}, e.g. '${nodes[0]}')`).join('; ');
  throw new GazeError(`${graph.file} (opset ${graph.opset}) uses ops Gaze does not run: ${list}`, {
    where: graph.file,
    hint: `supported ops: ${supportedOps().join(', ')}`,
  });
}

function nodeError(node: OnnxNode, graph: OnnxGraph, error: unknown): GazeError {
  if (isGazeError(error)) return error;
  return new GazeError(`node '${node.name}' (${node.opType}) failed: ${(error as Error).message?.split('\n')[0] ?? String(error)}`, {
    where: graph.file,
    hint: 'check the input size the model was exported for (gaze model inspect FILE shows it); if it matches, this is a bug in Gaze\'s ONNX import',
    cause: error,
  });
}

