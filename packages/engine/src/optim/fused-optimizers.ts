import { loadNative } from '@gaze/native';
import { heapFloats, type WasmLike } from '../kernels/kernel-io.js';
import { tf } from '../tf.js';

/**
 * Adam and SGD with momentum that update each variable in one pass over its values, instead of
 * tfjs's 8-12 tensor ops per variable (each a kernel dispatch with engine bookkeeping: at 32 px
 * batch 8 they were a third of a vgg-small training step). The arithmetic is tfjs's, op for op,
 * each result rounded to float32 (Math.fround), so the values are bit-identical to
 * tf.train.adam / tf.train.momentum and the saved state (names and order) is theirs too.
 *
 * The pass updates the optimizer's own slots (moments, momentum) in place where the backend keeps
 * them on the host (wasm's heap, the CPU backend's arrays) and nothing else shares the buffer,
 * and writes each parameter's new values into a new buffer; otherwise (a GPU backend, a slot
 * shared with a caller's tensor) it takes tfjs's own ops.
 */

const f = Math.fround;

type NamedTensor = { name: string; tensor: tf.Tensor };
type NamedGradients = tf.NamedTensorMap | NamedTensor[];

interface RefCounted {
  refCount(dataId: tf.DataId): number;
}
interface CpuStore {
  data: { get(dataId: tf.DataId): { values?: unknown } };
  refCount(dataId: tf.DataId): number;
}

/**
 * The live host values of a float32 tensor, writable in place, when the current backend keeps
 * them on the host and the buffer is not shared (refCount 1); null otherwise. A view into wasm's
 * heap is valid only until the next allocation.
 */
export function hostValuesInPlace(t: tf.Tensor): Float32Array | null {
  if (t.dtype !== 'float32') return null;
  const name = tf.getBackend();
  const backend = tf.backend() as unknown;
  if (name === 'wasm') {
    if ((backend as RefCounted).refCount(t.dataId) !== 1) return null;
    return heapFloats(backend as WasmLike, t);
  }
  if (name === 'cpu') {
    const store = backend as CpuStore;
    if (store.refCount(t.dataId) !== 1) return null;
    const values = store.data.get(t.dataId).values;
    return values instanceof Float32Array ? values : null;
  }
  return null;
}

function gradientList(grads: NamedGradients): { name: string; tensor: tf.Tensor | undefined }[] {
  return Array.isArray(grads) ? grads : Object.keys(grads).map((name) => ({ name, tensor: grads[name] }));
}

function registered(name: string): tf.Variable {
  const v = tf.engine().registeredVariables[name];
  if (!v) throw new Error(`no variable named '${name}' to apply a gradient to`);
  return v;
}

/**
 * A tensor's values for reading (a shared buffer is fine) on a host backend: a view of wasm's
 * heap, valid until the next allocation, or the CPU backend's own array.
 */
function readValues(t: tf.Tensor): Float32Array {
  if (tf.getBackend() === 'wasm') return heapFloats(tf.backend() as unknown as WasmLike, t);
  return t.dataSync() as Float32Array;
}

/**
 * A parameter's new values go into a new buffer (one copy), never into its old one: wasm's
 * XNNPACK convolutions and matrix products keep packed copies of a filter keyed by its buffer,
 * which an in-place write would leave stale.
 */
function assignValues(variable: tf.Variable, values: Float32Array): void {
  tf.tidy(() => variable.assign(tf.tensor(values, variable.shape, 'float32')));
}

interface Slot {
  originalName: string;
  variable: tf.Variable;
}

function zeroSlot(value: tf.Variable, name: string): Slot {
  return { originalName: name, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
}

/** Adam over one variable's values: tfjs's ops in its order, each rounded to float32. */
function adamPass(g: Float32Array, m: Float32Array, v: Float32Array, p: Float32Array, out: Float32Array, b1: number, oneMinusB1: number, b2: number, oneMinusB2: number, c1: number, c2: number, eps: number, negLr: number): void {
  const n = g.length;
  for (let k = 0; k < n; k++) {
    const gk = g[k];
    const mk = f(f(m[k] * b1) + f(gk * oneMinusB1));
    const vk = f(f(v[k] * b2) + f(f(gk * gk) * oneMinusB2));
    m[k] = mk;
    v[k] = vk;
    const step = f(f(mk / c1) / f(f(Math.sqrt(f(vk / c2))) + eps));
    out[k] = f(f(step * negLr) + p[k]);
  }
}

/** tf.train.adam's update, one pass per variable. */
export class FusedAdam extends tf.Optimizer {
  static get className(): string {
    return 'Adam';
  }
  /** The step size; set it between steps for a schedule. */
  learningRate: number;
  /** beta1^t and beta2^t as float32 values (tfjs keeps them as scalar variables). */
  accBeta1: number;
  accBeta2: number;
  private first: Slot[] = [];
  private second: Slot[] = [];

  constructor(
    learningRate: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly epsilon = 1e-7,
  ) {
    super();
    this.learningRate = learningRate;
    this.accBeta1 = f(beta1);
    this.accBeta2 = f(beta2);
  }

  applyGradients(variableGradients: NamedGradients): void {
    const b1 = f(this.beta1);
    const b2 = f(this.beta2);
    const oneMinusB1 = f(1 - this.beta1);
    const oneMinusB2 = f(1 - this.beta2);
    const eps = f(this.epsilon);
    const negLr = f(-this.learningRate);
    const c1 = f(1 - this.accBeta1);
    const c2 = f(1 - this.accBeta2);
    gradientList(variableGradients).forEach(({ name, tensor: gradient }, i) => {
      const value = registered(name);
      this.first[i] ??= zeroSlot(value, `${name}/m`);
      this.second[i] ??= zeroSlot(value, `${name}/v`);
      if (gradient == null) return;
      const m = this.first[i].variable;
      const v = this.second[i].variable;
      const mv = hostValuesInPlace(m);
      const vv = hostValuesInPlace(v);
      if (mv && vv) {
        const g = readValues(gradient);
        const pv = readValues(value);
        const next = new Float32Array(g.length);
        const native = loadNative();
        // The addon's loop is the same float32 arithmetic, vectorised (several times faster than V8's).
        if (native.ok) native.kernels.adamUpdate(g, mv, vv, pv, next, Float32Array.of(b1, oneMinusB1, b2, oneMinusB2, c1, c2, eps, negLr));
        else adamPass(g, mv, vv, pv, next, b1, oneMinusB1, b2, oneMinusB2, c1, c2, eps, negLr);
        assignValues(value, next);
        return;
      }
      tf.tidy(() => {
        const newM = tf.add(tf.mul(m, b1), tf.mul(gradient, oneMinusB1));
        const newV = tf.add(tf.mul(v, b2), tf.mul(tf.square(gradient), oneMinusB2));
        const mHat = tf.div(newM, c1);
        const vHat = tf.div(newV, c2);
        m.assign(newM);
        v.assign(newV);
        value.assign(tf.add(tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), eps)), negLr), value));
      });
    });
    this.accBeta1 = f(this.accBeta1 * b1);
    this.accBeta2 = f(this.accBeta2 * b2);
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return [await this.saveIterations(), ...[...this.first, ...this.second].map((s) => ({ name: s.originalName, tensor: s.variable }))];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const values = await this.extractIterations(weightValues);
    const t = this.iterations + 1;
    this.accBeta1 = f(Math.pow(f(this.beta1), t));
    this.accBeta2 = f(Math.pow(f(this.beta2), t));
    this.disposeSlots();
    const half = values.length / 2;
    this.first = values.slice(0, half).map((w) => ({ originalName: w.name, variable: w.tensor.variable(false) }));
    this.second = values.slice(half, 2 * half).map((w) => ({ originalName: w.name, variable: w.tensor.variable(false) }));
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }

  override dispose(): void {
    this.disposeSlots();
    super.dispose();
  }

  private disposeSlots(): void {
    tf.dispose([...this.first, ...this.second].map((s) => s.variable));
    this.first = [];
    this.second = [];
  }
}

/** How FusedMomentum.applyGradients adjusts one variable's gradient before the update. */
export interface GradientAdjustment {
  /** Multiplies the gradient (default 1). */
  scale?: number;
  /** Adds decay * value to it, after the scaling (default 0). */
  decay?: number;
}

/** tf.train.momentum's update (heavy-ball or Nesterov), one pass per variable. */
export class FusedMomentum extends tf.Optimizer {
  static get className(): string {
    return 'Momentum';
  }
  learningRate: number;
  private accumulations: Slot[] = [];

  constructor(
    learningRate: number,
    readonly momentum: number,
    readonly useNesterov = false,
  ) {
    super();
    this.learningRate = learningRate;
  }

  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }

  /**
   * With `adjust`, each variable's gradient is first scaled and given coupled weight decay,
   * g * scale + value * decay (each step rounded to float32, as tf.mul and tf.add would), in the
   * same pass: a parameter-group schedule (TAME's biases at twice the rate, weights with decay)
   * without two kernel calls per variable.
   */
  applyGradients(variableGradients: NamedGradients, adjust?: (name: string) => GradientAdjustment): void {
    const mu = f(this.momentum);
    const c = f(-this.learningRate);
    gradientList(variableGradients).forEach(({ name, tensor: raw }, i) => {
      const value = registered(name);
      this.accumulations[i] ??= zeroSlot(value, `${name}/momentum`);
      if (raw == null) return;
      const { scale = 1, decay = 0 } = adjust?.(name) ?? {};
      const accumulation = this.accumulations[i].variable;
      const av = hostValuesInPlace(accumulation);
      if (av) {
        const g = readValues(raw);
        const pv = readValues(value);
        const next = new Float32Array(g.length);
        const [s, d] = [f(scale), f(decay)];
        for (let k = 0; k < g.length; k++) {
          let gk = g[k];
          if (scale !== 1) gk = f(gk * s);
          if (decay !== 0) gk = f(gk + f(pv[k] * d));
          const a = f(f(mu * av[k]) + gk);
          av[k] = a;
          next[k] = this.useNesterov ? f(f(c * f(gk + f(a * mu))) + pv[k]) : f(f(c * a) + pv[k]);
        }
        assignValues(value, next);
        return;
      }
      tf.tidy(() => {
        let gradient = scale !== 1 ? tf.mul(raw, scale) : raw;
        if (decay !== 0) gradient = tf.add(gradient, tf.mul(value, decay));
        const newAccumulation = tf.add(tf.mul(mu, accumulation), gradient);
        const newValue = this.useNesterov ? tf.add(tf.mul(c, tf.add(gradient, tf.mul(newAccumulation, mu))), value) : tf.add(tf.mul(c, newAccumulation), value);
        accumulation.assign(newAccumulation);
        value.assign(newValue);
      });
    });
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return [await this.saveIterations(), ...this.accumulations.map((s) => ({ name: s.originalName, tensor: s.variable }))];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const values = await this.extractIterations(weightValues);
    tf.dispose(this.accumulations.map((s) => s.variable));
    this.accumulations = values.map((w) => ({ originalName: w.name, variable: w.tensor.variable(false) }));
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, momentum: this.momentum, useNesterov: this.useNesterov };
  }

  override dispose(): void {
    tf.dispose(this.accumulations.map((s) => s.variable));
    this.accumulations = [];
    super.dispose();
  }
}
