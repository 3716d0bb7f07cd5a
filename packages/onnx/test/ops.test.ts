import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, tf } from '@gaze/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxProgram, readOnnxModel } from '../src/index.js';
import { NHWC, device, logical, type Value } from '../src/runtime/value.js';
import { writeModel, type Attr, type ModelSpec, type NodeSpec, type TensorSpec, convReference, nchw, noise, poolReference, tinyCnn, type Nchw } from '../src/testing/index.js';

let root: string;
let counter = 0;

beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'gaze-onnx-ops-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Input {
  shape: number[];
  data: ArrayLike<number>;
}

/**
 * Runs a one-graph model on the inputs, twice: with 4-D inputs stored as ONNX lays them out
 * (NCHW) and stored NHWC (as images and feature maps are at run time). Both must give the same
 * logical output; returns it.
 */
function run(spec: ModelSpec, inputs: Record<string, Input>, output = spec.outputs[0].name): { shape: number[]; data: Float32Array } {
  const file = writeModel(join(root, `m${counter++}.onnx`), spec);
  const program = new OnnxProgram(readOnnxModel(file));
  try {
    const results = [false, true].map((stored) =>
      tf.tidy(() => {
        const feed = new Map<string, ReturnType<typeof device>>();
        for (const [name, v] of Object.entries(inputs)) {
          const t = tf.tensor(Float32Array.from(v.data), v.shape);
          feed.set(name, stored && v.shape.length === 4 ? device(tf.transpose(t, [...NHWC]), [...NHWC]) : device(t));
        }
        const value = program.run(feed, [output]).get(output)!;
        return asLogical(value);
      }),
    );
    const [a, b] = results.map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
    expect(b.shape, 'NHWC-stored input: same shape').toEqual(a.shape);
    expect(maxDiff(a.data, b.data), 'NHWC-stored input: same values').toBeLessThan(1e-5);
    tf.dispose(results);
    return a;
  } finally {
    program.dispose();
  }
}

function asLogical(v: Value): tf.Tensor {
  if (v.kind === 'host') return tf.tensor(Float32Array.from(v.t.data), v.t.shape);
  return logical(v);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function single(op: string, inputs: string[], attrs: Record<string, Attr>, xShape: number[], initializers: TensorSpec[] = [], opset = 13, extra: NodeSpec[] = []): ModelSpec {
  return {
    opset,
    inputs: [{ name: 'x', shape: xShape }],
    outputs: [{ name: 'y' }],
    nodes: [...extra, { op, inputs, outputs: ['y'], attrs }],
    initializers,
  };
}

const tensorOf = (t: Nchw): Input => ({ shape: t.shape, data: t.data });

describe('Conv', () => {
  const x = nchw([2, 4, 9, 8], (i) => noise(i));
  it('grouped (group 2), asymmetric pads, stride 2 with dilation 2, with bias', () => {
    const w = nchw([6, 2, 3, 3], (i) => noise(i, 2));
    const bias = Float32Array.from({ length: 6 }, (_, i) => noise(i, 3));
    const o = { strides: [2, 2], pads: [1, 0, 2, 1], dilations: [2, 2], group: 2 };
    const spec = single('Conv', ['x', 'w', 'b'], { strides: { ints: o.strides }, pads: { ints: o.pads }, dilations: { ints: o.dilations }, group: { i: 2 } }, x.shape, [
      { name: 'w', dims: w.shape, data: w.data },
      { name: 'b', dims: [6], data: bias },
    ]);
    const ref = convReference(x, w, bias, o);
    const got = run(spec, { x: tensorOf(x) });
    expect(got.shape).toEqual(ref.shape);
    expect(maxDiff(got.data, ref.data)).toBeLessThan(1e-5);
  });

  it('depthwise with a channel multiplier, and auto_pad SAME_UPPER / SAME_LOWER at stride 2', () => {
    const w = nchw([8, 1, 3, 3], (i) => noise(i, 4));
    for (const autoPad of ['SAME_UPPER', 'SAME_LOWER']) {
      const spec = single('Conv', ['x', 'w'], { strides: { ints: [2, 2] }, auto_pad: { s: autoPad }, group: { i: 4 } }, x.shape, [{ name: 'w', dims: w.shape, data: w.data }]);
      // 9x8 at stride 2 -> 5x4; total padding 2 rows (3 + 2*4 - 9) and 1 column; SAME_UPPER puts the odd one at the end.
      const pads = autoPad === 'SAME_UPPER' ? [1, 0, 1, 1] : [1, 1, 1, 0];
      const ref = convReference(x, w, undefined, { strides: [2, 2], pads, dilations: [1, 1], group: 4 });
      const got = run(spec, { x: tensorOf(x) });
      expect(got.shape, autoPad).toEqual([2, 8, 5, 4]);
      expect(maxDiff(got.data, ref.data), autoPad).toBeLessThan(1e-5);
    }
  });

  it('a Relu after it is fused (and still applied)', () => {
    const w = nchw([3, 4, 1, 1], (i) => noise(i, 5));
    const spec: ModelSpec = {
      inputs: [{ name: 'x', shape: x.shape }],
      outputs: [{ name: 'y' }],
      nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['c'] }, { op: 'Relu', inputs: ['c'], outputs: ['y'] }],
      initializers: [{ name: 'w', dims: w.shape, data: w.data }],
    };
    const file = writeModel(join(root, 'fused.onnx'), spec);
    const program = new OnnxProgram(readOnnxModel(file));
    program.fuse(new Set());
    expect(program.fusedCount()).toBe(1);
    const out = tf.tidy(() => logical(program.run(new Map([['x', device(tf.tensor(x.data, x.shape))]]), ['y']).get('y') as ReturnType<typeof device>).dataSync());
    const ref = convReference(x, w, undefined, { strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1], group: 1 });
    expect(maxDiff(out, ref.data.map((v) => Math.max(v, 0)))).toBeLessThan(1e-5);
    expect(Math.min(...out)).toBe(0);
    program.dispose();
  });

  it('a residual Add (and the Relu after it) is fused into the Conv computed after the other term, in either operand order', () => {
    // y = relu(conv_b(x) + conv_a(x)): conv_a runs first, so the Add joins conv_b, the later one.
    const wa = nchw([3, 4, 1, 1], (i) => noise(i, 5));
    const wb = nchw([3, 4, 3, 3], (i) => noise(i, 6));
    const bias = { shape: [3], data: Float32Array.from({ length: 3 }, (_, i) => noise(i, 7)) };
    for (const order of [['b', 'a'], ['a', 'b']]) {
      const spec: ModelSpec = {
        inputs: [{ name: 'x', shape: x.shape }],
        outputs: [{ name: 'y' }],
        nodes: [
          { op: 'Conv', inputs: ['x', 'wa'], outputs: ['a'] },
          { op: 'Conv', inputs: ['x', 'wb', 'bias'], outputs: ['b'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
          { op: 'Add', inputs: order, outputs: ['s'] },
          { op: 'Relu', inputs: ['s'], outputs: ['y'] },
        ],
        initializers: [
          { name: 'wa', dims: wa.shape, data: wa.data },
          { name: 'wb', dims: wb.shape, data: wb.data },
          { name: 'bias', dims: bias.shape, data: bias.data },
        ],
      };
      const program = new OnnxProgram(readOnnxModel(writeModel(join(root, `residual-${order.join('')}.onnx`), spec)));
      program.fuse(new Set());
      expect(program.fusedAddCount(), order.join('+')).toBe(1);
      expect(program.fusedCount(), order.join('+')).toBe(1);
      const input = tf.tensor(x.data, x.shape);
      const out = tf.tidy(() => logical(program.run(new Map([['x', device(input)]]), ['y']).get('y') as ReturnType<typeof device>).dataSync());
      const a = convReference(x, wa, undefined, { strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1], group: 1 });
      const b = convReference(x, wb, bias.data, { strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1 });
      expect(maxDiff(out, a.data.map((v, i) => Math.max(v + b.data[i], 0))), order.join('+')).toBeLessThan(1e-5);
      // The gradient to the input flows through both terms: the fused kernel's gradient against the unfused ops'.
      const fused = tf.grad((t: tf.Tensor) => tf.sum(logical(program.run(new Map([['x', device(t)]]), ['y']).get('y') as ReturnType<typeof device>)))(input);
      program.fuse(new Set(['s']));
      expect(program.fusedAddCount()).toBe(1);
      expect(program.fusedCount()).toBe(0);
      program.fuse(new Set(['b']));
      expect(program.fusedAddCount()).toBe(0);
      const unfused = tf.grad((t: tf.Tensor) => tf.sum(logical(program.run(new Map([['x', device(t)]]), ['y']).get('y') as ReturnType<typeof device>)))(input);
      expect(maxDiff(fused.dataSync(), unfused.dataSync())).toBeLessThan(1e-5);
      tf.dispose([input, fused, unfused]);
      program.dispose();
    }
  });
});

describe('pooling', () => {
  const x = nchw([1, 3, 7, 6], (i) => noise(i, 7));
  it('MaxPool with pads and ceil_mode (PyTorch sizes: a last window starting in the padding is dropped)', () => {
    // 7 rows, k 2, s 2, pad 1+1: ceil((7 + 2 - 2) / 2) + 1 = 5 windows, the 5th would start at row 8 = 7 + 1 (padding): 4.
    const o = { kernel: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil: true, mode: 'max' as const };
    const spec = single('MaxPool', ['x'], { kernel_shape: { ints: o.kernel }, strides: { ints: o.strides }, pads: { ints: o.pads }, ceil_mode: { i: 1 } }, x.shape);
    const ref = poolReference(x, o);
    const got = run(spec, { x: tensorOf(x) });
    expect(got.shape).toEqual([1, 3, 4, 4]);
    expect(got.shape).toEqual(ref.shape);
    expect(maxDiff(got.data, ref.data)).toBeLessThan(1e-6);
  });

  for (const countIncludePad of [0, 1]) {
    it(`AveragePool count_include_pad=${countIncludePad} with ceil_mode`, () => {
      const o = { kernel: [3, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil: true, mode: 'avg' as const, countIncludePad: countIncludePad === 1 };
      const spec = single('AveragePool', ['x'], { kernel_shape: { ints: o.kernel }, strides: { ints: o.strides }, pads: { ints: o.pads }, ceil_mode: { i: 1 }, count_include_pad: { i: countIncludePad } }, x.shape);
      const ref = poolReference(x, o);
      const got = run(spec, { x: tensorOf(x) });
      expect(got.shape).toEqual(ref.shape);
      expect(maxDiff(got.data, ref.data)).toBeLessThan(1e-6);
    });
  }

  it('GlobalAveragePool', () => {
    const got = run(single('GlobalAveragePool', ['x'], {}, x.shape), { x: tensorOf(x) });
    expect(got.shape).toEqual([1, 3, 1, 1]);
    const mean = (c: number) => x.data.slice(c * 42, (c + 1) * 42).reduce((a, b) => a + b, 0) / 42;
    expect(maxDiff(got.data, [mean(0), mean(1), mean(2)])).toBeLessThan(1e-6);
  });
});

describe('Gemm and MatMul', () => {
  it('Gemm with transA, alpha, beta and a broadcast bias: 0.5 * A^T B + 2 * C', () => {
    // A^T = [[1,2],[3,4]] (A is stored [[1,3],[2,4]]), B = [[1,0,1],[0,1,1]], C = [1, 2, 3].
    const spec = single('Gemm', ['x', 'b', 'c'], { transA: { i: 1 }, alpha: { f: 0.5 }, beta: { f: 2 } }, [2, 2], [
      { name: 'b', dims: [2, 3], data: [1, 0, 1, 0, 1, 1] },
      { name: 'c', dims: [3], data: [1, 2, 3] },
    ]);
    const got = run(spec, { x: { shape: [2, 2], data: [1, 3, 2, 4] } });
    // A^T B = [[1,2,3],[3,4,7]]
    expect(Array.from(got.data)).toEqual([0.5 + 2, 1 + 4, 1.5 + 6, 1.5 + 2, 2 + 4, 3.5 + 6]);
  });

  it('MatMul of a Transpose (handed to tfjs as transposeB) with batch broadcasting', () => {
    const a = Array.from({ length: 2 * 3 * 4 }, (_, i) => noise(i, 8));
    const b = Array.from({ length: 2 * 5 * 4 }, (_, i) => noise(i, 9));
    const spec: ModelSpec = {
      inputs: [{ name: 'x', shape: [2, 3, 4] }, { name: 'z', shape: [2, 5, 4] }],
      outputs: [{ name: 'y' }],
      nodes: [{ op: 'Transpose', inputs: ['z'], outputs: ['zt'], attrs: { perm: { ints: [0, 2, 1] } } }, { op: 'MatMul', inputs: ['x', 'zt'], outputs: ['y'] }],
    };
    const got = run(spec, { x: { shape: [2, 3, 4], data: a }, z: { shape: [2, 5, 4], data: b } });
    expect(got.shape).toEqual([2, 3, 5]);
    const ref: number[] = [];
    for (let n = 0; n < 2; n++) for (let i = 0; i < 3; i++) for (let j = 0; j < 5; j++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[(n * 3 + i) * 4 + k] * b[(n * 5 + j) * 4 + k];
      ref.push(s);
    }
    expect(maxDiff(got.data, ref)).toBeLessThan(1e-6);
  });
});

describe('shape ops on an NCHW feature map', () => {
  const x = nchw([2, 3, 4, 5], (i) => i);
  const value = (n: number, c: number, h: number, w: number) => ((n * 3 + c) * 4 + h) * 5 + w;

  it('Slice with negative starts and a negative step (opset 13 inputs)', () => {
    const spec = single('Slice', ['x', 'starts', 'ends', 'axes', 'steps'], {}, x.shape, [
      { name: 'starts', dims: [2], data: [-1, 1], type: 'int64' },
      { name: 'ends', dims: [2], data: [-1e18, 4], type: 'int64' },
      { name: 'axes', dims: [2], data: [3, 2], type: 'int64' },
      { name: 'steps', dims: [2], data: [-2, 2], type: 'int64' },
    ]);
    const got = run(spec, { x: tensorOf(x) });
    // w = 4, 2, 0 (backwards by 2), h = 1, 3
    expect(got.shape).toEqual([2, 3, 2, 3]);
    expect(got.data[0]).toBe(value(0, 0, 1, 4));
    expect(got.data[1]).toBe(value(0, 0, 1, 2));
    expect(got.data[5]).toBe(value(0, 0, 3, 0));
  });

  it('Gather of one channel (a scalar index drops the axis) and Split along channels', () => {
    const gather = run(single('Gather', ['x', 'i'], { axis: { i: 1 } }, x.shape, [{ name: 'i', dims: [], data: [2], type: 'int64' }]), { x: tensorOf(x) });
    expect(gather.shape).toEqual([2, 4, 5]);
    expect(gather.data[7]).toBe(value(0, 2, 1, 2));
    for (const opset of [11, 13, 18]) {
      const spec: ModelSpec = {
        opset,
        inputs: [{ name: 'x', shape: x.shape }],
        outputs: [{ name: 'a' }, { name: 'b' }],
        nodes: [{
          op: 'Split',
          inputs: opset === 13 ? ['x', 'sizes'] : ['x'],
          outputs: ['a', 'b'],
          attrs: { axis: { i: 1 }, ...(opset === 11 ? { split: { ints: [1, 2] } } : opset === 18 ? { num_outputs: { i: 2 } } : {}) },
        }],
        initializers: opset === 13 ? [{ name: 'sizes', dims: [2], data: [1, 2], type: 'int64' }] : [],
      };
      const b = run(spec, { x: tensorOf(x) }, 'b');
      // opset 18 splits 3 channels into ceil(3/2) = 2 and 1.
      const first = opset === 18 ? 2 : 1;
      expect(b.shape, `opset ${opset}`).toEqual([2, 3 - first, 4, 5]);
      expect(b.data[0], `opset ${opset}`).toBe(value(0, first, 0, 0));
    }
  });

  it('Reshape after Shape -> Gather -> Concat (folded per batch size) and Flatten', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', shape: ['N', 3, 4, 5] }],
      outputs: [{ name: 'y' }],
      nodes: [
        { op: 'Shape', inputs: ['x'], outputs: ['s'] },
        { op: 'Gather', inputs: ['s', 'zero'], outputs: ['n'], attrs: { axis: { i: 0 } } },
        { op: 'Unsqueeze', inputs: ['n', 'axes'], outputs: ['n1'] },
        { op: 'Concat', inputs: ['n1', 'rest'], outputs: ['shape'], attrs: { axis: { i: 0 } } },
        { op: 'Reshape', inputs: ['x', 'shape'], outputs: ['r'] },
        { op: 'Flatten', inputs: ['r'], outputs: ['y'], attrs: { axis: { i: 1 } } },
      ],
      initializers: [
        { name: 'zero', dims: [], data: [0], type: 'int64' },
        { name: 'axes', dims: [1], data: [0], type: 'int64' },
        { name: 'rest', dims: [2], data: [3, -1], type: 'int64' },
      ],
    };
    const got = run(spec, { x: tensorOf(x) });
    expect(got.shape).toEqual([2, 60]);
    expect(Array.from(got.data)).toEqual(Array.from(x.data));
  });

  it('Pad reflect and edge, Expand, Where(Equal) and Cast', () => {
    const small = nchw([1, 1, 2, 3], (i) => i + 1); // [[1,2,3],[4,5,6]]
    const pads = { name: 'p', dims: [8], data: [0, 0, 1, 1, 0, 0, 0, 1], type: 'int64' as const };
    const reflect = run(single('Pad', ['x', 'p'], { mode: { s: 'reflect' } }, small.shape, [pads]), { x: tensorOf(small) });
    expect(reflect.shape).toEqual([1, 1, 3, 5]);
    expect(Array.from(reflect.data)).toEqual([5, 4, 5, 6, 5, 2, 1, 2, 3, 2, 5, 4, 5, 6, 5]);
    const edge = run(single('Pad', ['x', 'p'], { mode: { s: 'edge' } }, small.shape, [pads]), { x: tensorOf(small) });
    expect(Array.from(edge.data)).toEqual([1, 1, 2, 3, 3, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6]);

    const spec: ModelSpec = {
      inputs: [{ name: 'x', shape: small.shape }],
      outputs: [{ name: 'y' }],
      nodes: [
        { op: 'Expand', inputs: ['x', 'shape'], outputs: ['e'] },
        { op: 'Equal', inputs: ['e', 'five'], outputs: ['eq'] },
        { op: 'Where', inputs: ['eq', 'minus', 'e'], outputs: ['w'] },
        { op: 'Cast', inputs: ['w'], outputs: ['y'], attrs: { to: { i: 1 } } },
      ],
      initializers: [
        { name: 'shape', dims: [4], data: [2, 1, 1, 1], type: 'int64' },
        { name: 'five', dims: [], data: [5] },
        { name: 'minus', dims: [], data: [-1] },
      ],
    };
    const got = run(spec, { x: tensorOf(small) });
    expect(got.shape).toEqual([2, 1, 2, 3]);
    expect(Array.from(got.data)).toEqual([1, 2, 3, 4, -1, 6, 1, 2, 3, 4, -1, 6]);
  });

  it('Softmax: one axis at opset 13, the flattened tail at opset 11', () => {
    const v = nchw([1, 2, 1, 2], (i) => [0, 1, 2, 3][i]);
    const at13 = run(single('Softmax', ['x'], { axis: { i: 1 } }, v.shape, [], 13), { x: tensorOf(v) });
    // over channels: (0 vs 2) and (1 vs 3)
    const e = (a: number, b: number) => Math.exp(a) / (Math.exp(a) + Math.exp(b));
    expect(maxDiff(at13.data, [e(0, 2), e(1, 3), e(2, 0), e(3, 1)])).toBeLessThan(1e-6);
    const at11 = run(single('Softmax', ['x'], { axis: { i: 1 } }, v.shape, [], 11), { x: tensorOf(v) });
    const total = [0, 1, 2, 3].reduce((s, k) => s + Math.exp(k), 0);
    expect(maxDiff(at11.data, [0, 1, 2, 3].map((k) => Math.exp(k) / total))).toBeLessThan(1e-6);
  });

  it('LayerNormalization over the last axis with scale and bias, ReduceMean keepdims 0', () => {
    const v = { shape: [1, 2, 4], data: [1, 2, 3, 4, 2, 2, 2, 6] };
    const spec = single('LayerNormalization', ['x', 's', 'b'], { axis: { i: -1 }, epsilon: { f: 0 } }, v.shape, [
      { name: 's', dims: [4], data: [1, 2, 1, 1] },
      { name: 'b', dims: [4], data: [0, 0, 0, 10] },
    ], 17);
    const got = run(spec, { x: v });
    const sd1 = Math.sqrt(1.25);
    expect(maxDiff(got.data.subarray(0, 4), [-1.5 / sd1, (2 * -0.5) / sd1, 0.5 / sd1, 1.5 / sd1 + 10])).toBeLessThan(1e-5);
    const mean = run(single('ReduceMean', ['x'], { axes: { ints: [2] }, keepdims: { i: 0 } }, v.shape), { x: v });
    expect(mean.shape).toEqual([1, 2]);
    expect(Array.from(mean.data)).toEqual([2.5, 3]);
  });

  it('constants fold at load: Range, ConstantOfShape, Constant', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', shape: [3] }],
      outputs: [{ name: 'y' }],
      nodes: [
        { op: 'Range', inputs: ['start', 'limit', 'delta'], outputs: ['r'] },
        { op: 'ConstantOfShape', inputs: ['three'], outputs: ['c'], attrs: { value: { t: { dims: [1], data: [0.5] } } } },
        { op: 'Constant', inputs: [], outputs: ['k'], attrs: { value: { t: { dims: [], data: [2] } } } },
        { op: 'Cast', inputs: ['r'], outputs: ['rf'], attrs: { to: { i: 1 } } },
        { op: 'Mul', inputs: ['rf', 'k'], outputs: ['m'] },
        { op: 'Add', inputs: ['m', 'c'], outputs: ['mc'] },
        { op: 'Add', inputs: ['x', 'mc'], outputs: ['y'] },
      ],
      initializers: [
        { name: 'start', dims: [], data: [1], type: 'int64' },
        { name: 'limit', dims: [], data: [7], type: 'int64' },
        { name: 'delta', dims: [], data: [2], type: 'int64' },
        { name: 'three', dims: [1], data: [3], type: 'int64' },
      ],
    };
    const file = writeModel(join(root, 'fold.onnx'), spec);
    const program = new OnnxProgram(readOnnxModel(file));
    // Everything but the last Add is known at load.
    expect(program.nodes.map((n) => n.opType)).toEqual(['Add']);
    program.dispose();
    const got = run(spec, { x: { shape: [3], data: [10, 20, 30] } });
    expect(Array.from(got.data)).toEqual([10 + 2.5, 20 + 6.5, 30 + 10.5]);
  });
});

describe('Cast, Gather and BatchNormalization paths', () => {
  it('Cast to uint16 (ONNX type 4): of a constant, folded at load, and of the input', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', shape: [4] }],
      outputs: [{ name: 'y' }],
      nodes: [
        { op: 'Constant', inputs: [], outputs: ['k'], attrs: { value: { t: { dims: [4], data: [2.7, 0.2, 3.9, 300.5] } } } },
        { op: 'Cast', inputs: ['k'], outputs: ['ku'], attrs: { to: { i: 4 } } },
        { op: 'Cast', inputs: ['ku'], outputs: ['kf'], attrs: { to: { i: 1 } } },
        { op: 'Add', inputs: ['x', 'kf'], outputs: ['y'] },
      ],
    };
    const program = new OnnxProgram(readOnnxModel(writeModel(join(root, 'cast-uint16.onnx'), spec)));
    expect(program.nodes.map((n) => n.opType)).toEqual(['Add']);
    program.dispose();
    // uint16 truncates: 2, 0, 3, 300
    expect(Array.from(run(spec, { x: { shape: [4], data: [10, 20, 30, 40] } }).data)).toEqual([12, 20, 33, 340]);
    const cast = run(single('Cast', ['x'], { to: { i: 4 } }, [4]), { x: { shape: [4], data: [1.9, 2.2, 0, 7.5] } });
    expect(Array.from(cast.data)).toEqual([1, 2, 0, 7]);
  });

  it('Gather with constant indices uploads them once; a negative index counts from the end', () => {
    const x = nchw([1, 3, 1, 2], (i) => i); // channels [0,1], [2,3], [4,5]
    const spec = single('Gather', ['x', 'i'], { axis: { i: 1 } }, x.shape, [{ name: 'i', dims: [2], data: [2, 0], type: 'int64' }]);
    expect(Array.from(run(spec, { x: tensorOf(x) }).data)).toEqual([4, 5, 0, 1]);
    const negative = single('Gather', ['x', 'i'], { axis: { i: 1 } }, x.shape, [{ name: 'i', dims: [2], data: [-1, 1], type: 'int64' }]);
    expect(Array.from(run(negative, { x: tensorOf(x) }).data)).toEqual([4, 5, 2, 3]);
    const program = new OnnxProgram(readOnnxModel(writeModel(join(root, 'gather-cached.onnx'), spec)));
    const once = () => tf.tidy(() => logical(program.run(new Map([['x', device(tf.tensor(x.data, x.shape))]]), ['y']).get('y') as ReturnType<typeof device>).dataSync());
    once();
    const cached = program.cached().length;
    const tensors = tf.memory().numTensors;
    expect(Array.from(once())).toEqual([4, 5, 0, 1]);
    expect(program.cached().length).toBe(cached);
    expect(cached).toBe(1);
    expect(tf.memory().numTensors).toBe(tensors);
    program.dispose();
  });

  it('BatchNormalization with channels not last in storage ([N,C,L]): x * k + c', () => {
    const v = { shape: [1, 2, 3], data: [1, 2, 3, 4, 5, 6] };
    const spec = single('BatchNormalization', ['x', 's', 'b', 'm', 'v'], { epsilon: { f: 0 } }, v.shape, [
      { name: 's', dims: [2], data: [2, 1] },
      { name: 'b', dims: [2], data: [1, 0] },
      { name: 'm', dims: [2], data: [2, 5] },
      { name: 'v', dims: [2], data: [4, 1] },
    ]);
    // channel 0: (x - 2) / 2 * 2 + 1 = x - 1; channel 1: x - 5
    expect(maxDiff(run(spec, { x: v }).data, [0, 1, 2, -1, 0, 1])).toBeLessThan(1e-6);
  });
});

describe('OnnxProgram.upstream and prepared (what LRP shares)', () => {
  const file = () => writeModel(join(root, `tiny-${counter++}.onnx`), tinyCnn());
  const feed = () => new Map([['input', device(tf.zeros([1, 8, 8, 3]), [...NHWC])]]);

  it('upstream: the nodes a value needs, in file order, optionally from a given value on', () => {
    const program = new OnnxProgram(readOnnxModel(file()));
    expect(program.upstream(['/fc/Gemm_output_0']).map((n) => n.opType)).toEqual(['Conv', 'Relu', 'Conv', 'Relu', 'Conv', 'Relu', 'GlobalAveragePool', 'Flatten', 'Gemm']);
    expect(program.upstream(['/fc/Gemm_output_0'], { stopAt: '/avgpool/GlobalAveragePool_output_0' }).map((n) => n.opType)).toEqual(['Flatten', 'Gemm']);
    expect(program.upstream(['input'])).toEqual([]);
    program.dispose();
  });

  it('prepared: the tensors the ops cached, under their keys; a new key is built once and freed with the program', () => {
    for (const trainable of [false, true]) {
      const program = new OnnxProgram(readOnnxModel(file()), trainable);
      tf.tidy(() => void program.run(feed(), ['probs']));
      const [conv] = program.nodes;
      const gemm = program.nodes.find((n) => n.opType === 'Gemm')!;
      const unused = () => {
        throw new Error('built again');
      };
      const filter = program.prepared(conv, 'filter/0', unused);
      expect(filter.shape).toEqual([3, 3, 3, 4]);
      expect(program.prepared(conv, 'bias', unused).shape).toEqual([4]);
      expect(program.prepared(gemm, 'b', unused).shape).toEqual([5, 4]);
      expect(program.cached()).toContain(filter);
      expect(filter instanceof tf.Variable).toBe(trainable);
      let builds = 0;
      const extra = tf.tidy(() => program.prepared(conv, 'lrp/extra', () => (builds++, tf.ones([2]))));
      expect(tf.tidy(() => program.prepared(conv, 'lrp/extra', () => (builds++, tf.ones([2]))))).toBe(extra);
      expect(builds).toBe(1);
      expect(program.cached()).toContain(extra);
      program.dispose();
      expect(extra.isDisposed).toBe(true);
    }
  });
});

describe('activations', () => {
  it('HardSigmoid (torch exports alpha 1/6), HardSwish, Clip, Erf-based GELU pieces', () => {
    const v = { shape: [6], data: [-4, -1, 0, 0.5, 2, 7] };
    const hs = run(single('HardSigmoid', ['x'], { alpha: { f: 1 / 6 } }, v.shape), { x: v });
    expect(maxDiff(hs.data, v.data.map((x) => Math.min(1, Math.max(0, x / 6 + 0.5))))).toBeLessThan(1e-6);
    const hw = run(single('HardSwish', ['x'], {}, v.shape), { x: v });
    expect(maxDiff(hw.data, v.data.map((x) => (x * Math.min(1, Math.max(0, x / 6 + 0.5)))))).toBeLessThan(1e-6);
    const clip = run(single('Clip', ['x', 'lo', 'hi'], {}, v.shape, [{ name: 'lo', dims: [], data: [-1] }, { name: 'hi', dims: [], data: [1.5] }]), { x: v });
    expect(Array.from(clip.data)).toEqual([-1, -1, 0, 0.5, 1.5, 1.5]);
    const erf = run(single('Erf', ['x'], {}, v.shape), { x: v });
    // erf(0.5) = 0.5204998778, erf(-1) = -0.8427007929
    expect(erf.data[3]).toBeCloseTo(0.5204998778, 5);
    expect(erf.data[1]).toBeCloseTo(-0.8427007929, 5);
  });
});
