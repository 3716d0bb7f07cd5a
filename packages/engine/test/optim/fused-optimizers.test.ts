import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FusedAdam, FusedMomentum, hostValuesInPlace, initBackend, tf } from '../../src/index.js';
import { values } from '../helpers/backends.js';

/**
 * The fused optimizers must give the very bits tfjs's optimizers give (same ops, float32
 * rounding at each), step after step, with schedules changing the learning rate, on the
 * in-place path and on the tensor-op path, and save state under tfjs's names.
 */

const SHAPES = [[3, 3, 2, 4], [4], [5, 7], [1]];

interface Run {
  params: Float32Array[];
  state: { name: string; values: Float32Array }[];
}

/** TAME's parameter groups: the second variable at twice the rate, the others with coupled decay. */
const ADJUST = (index: number) => (index === 1 ? { scale: 2 } : { decay: 5e-4 });

async function train(make: () => tf.Optimizer, options: { shareBuffers?: boolean; steps?: number; adjust?: 'ops' | 'optimizer' } = {}): Promise<Run> {
  const optimizer = make();
  // Made in tidy, so the initial tensors are freed and the variables own their buffers, as layers' do.
  const vars = tf.tidy(() => SHAPES.map((shape, i) => tf.variable(tf.tensor(values(shape.reduce((a, b) => a * b, 1), i + 1), shape), true, `fused-test-${i}-${Math.random()}`)));
  if (!options.shareBuffers) expect(vars.every((v) => hostValuesInPlace(v) !== null)).toBe(true);
  // A clone shares its source's buffer: parameters are only read then, and a shared slot (held
  // below from step 1 on, as a caller holding the saved state would) is updated through tensor ops.
  const clones: tf.Tensor[] = options.shareBuffers ? vars.map((v) => tf.clone(v)) : [];
  for (let step = 0; step < (options.steps ?? 6); step++) {
    const lr = 0.01 * (1 + step) ** -0.5;
    const scheduled = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
    if (scheduled.setLearningRate) scheduled.setLearningRate(lr);
    else scheduled.learningRate = lr;
    const grads = vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(values(v.size, 31 * step + i + 7), v.shape) }));
    if (step === 2) {
      grads[1].tensor.dispose();
      grads[1].tensor = tf.zerosLike(vars[1]); // a zero gradient (Adam's moments still decay)
    }
    if (options.adjust === 'optimizer') {
      (optimizer as FusedMomentum).applyGradients(grads, (name) => ADJUST(vars.findIndex((v) => v.name === name)));
    } else if (options.adjust === 'ops') {
      // What the caller computed before: g * scale, or g + value * decay, as tensor ops.
      const adjusted = grads.map(({ name, tensor }, i) => {
        const { scale, decay } = ADJUST(i) as { scale?: number; decay?: number };
        return { name, tensor: tf.tidy(() => (scale ? tf.mul(tensor, scale) : tf.add(tensor, tf.mul(vars[i], decay!)))) };
      });
      optimizer.applyGradients(adjusted);
      tf.dispose(adjusted.map((g) => g.tensor));
    } else optimizer.applyGradients(grads);
    tf.dispose(grads.map((g) => g.tensor));
    if (options.shareBuffers && step === 0) {
      const [iterations, ...slots] = await optimizer.getWeights();
      iterations.tensor.dispose();
      clones.push(...slots.map((w) => tf.clone(w.tensor)));
      expect(slots.every((w) => hostValuesInPlace(w.tensor) === null)).toBe(true);
    }
  }
  const saved = await optimizer.getWeights();
  const run: Run = {
    params: vars.map((v) => Float32Array.from(v.dataSync())),
    state: saved.map((w) => ({ name: w.name.replace(/fused-test-(\d+)-[0-9.]+/, 'var$1'), values: Float32Array.from(w.tensor.dataSync()) })),
  };
  tf.dispose(saved[0].tensor); // the iterations scalar is made by getWeights
  tf.dispose([...vars, ...clones]);
  optimizer.dispose();
  tf.dispose((optimizer as unknown as { c?: tf.Tensor }).c); // tf.train.momentum forgets its learning-rate scalar
  return run;
}

function expectBitEqual(actual: Run, expected: Run) {
  expect(actual.state.map((s) => s.name)).toEqual(expected.state.map((s) => s.name));
  actual.params.forEach((p, i) => expect(p).toEqual(expected.params[i]));
  actual.state.forEach((s, i) => expect(s.values).toEqual(expected.state[i].values));
}

describe.each(['wasm', 'cpu'] as const)('fused optimizers on %s', (backend) => {
  let before = 0;
  beforeEach(async () => {
    await initBackend(backend);
    before = tf.memory().numTensors;
  });
  afterEach(() => expect(tf.memory().numTensors).toBe(before));

  it('Adam equals tf.train.adam bit for bit, in place and through tensor ops', async () => {
    const reference = await train(() => tf.train.adam(0.01, 0.9, 0.999, 1e-7));
    const fused = await train(() => new FusedAdam(0.01, 0.9, 0.999, 1e-7));
    const shared = await train(() => new FusedAdam(0.01, 0.9, 0.999, 1e-7), { shareBuffers: true });
    expectBitEqual(fused, reference);
    expectBitEqual(shared, reference);
    // Adam moved every parameter (guards against an update that silently does nothing).
    const start = values(SHAPES[0].reduce((a, b) => a * b, 1), 1);
    expect(fused.params[0].some((p, k) => p !== start[k])).toBe(true);
    expect(fused.state.map((s) => s.name)).toEqual(['iter', 'var0/m', 'var1/m', 'var2/m', 'var3/m', 'var0/v', 'var1/v', 'var2/v', 'var3/v']);
  });

  it('Momentum equals tf.train.momentum bit for bit, heavy-ball and Nesterov', async () => {
    for (const nesterov of [false, true]) {
      const reference = await train(() => tf.train.momentum(0.01, 0.9, nesterov));
      expectBitEqual(await train(() => new FusedMomentum(0.01, 0.9, nesterov)), reference);
      expectBitEqual(await train(() => new FusedMomentum(0.01, 0.9, nesterov), { shareBuffers: true }), reference);
    }
  });

  it("Momentum's gradient adjustment (a scale, coupled weight decay) equals the same tensor ops before tf.train.momentum, bit for bit", async () => {
    const reference = await train(() => tf.train.momentum(0.01, 0.9, true), { adjust: 'ops' });
    expectBitEqual(await train(() => new FusedMomentum(0.01, 0.9, true), { adjust: 'optimizer' }), reference);
    expectBitEqual(await train(() => new FusedMomentum(0.01, 0.9, true), { adjust: 'optimizer', shareBuffers: true }), reference);
    // The adjustment changed the result (guards against one that does nothing).
    const plain = await train(() => new FusedMomentum(0.01, 0.9, true));
    expect(plain.params[1]).not.toEqual(reference.params[1]);
    expect(plain.params[0]).not.toEqual(reference.params[0]);
  });

  it('Adam takes the hand-computed first step and resumes from its saved state exactly', async () => {
    // One element, g = 2, lr = 0.5: m = 0.1 g = 0.2, v = 0.001 g^2 = 0.004, m/(1-b1) = 2,
    // v/(1-b2) = 4, step = 0.5 * 2 / (sqrt(4) + 1e-7) = 0.5: p = 1 - 0.5 (to float32's rounding
    // of 1 - 0.999, which moves it by 3e-6).
    const one = tf.tidy(() => tf.variable(tf.tensor1d([1]), true, `one-${Math.random()}`));
    const adam = new FusedAdam(0.5);
    const gradient = tf.tensor1d([2]);
    adam.applyGradients([{ name: one.name, tensor: gradient }]);
    expect(one.dataSync()[0]).toBeCloseTo(0.5, 5);
    const [a, b] = tf.tidy(() => [0, 1].map((i) => tf.variable(tf.tensor1d(values(6, i + 3)), true, `resume-${i}-${Math.random()}`)));
    const gradients = (step: number) => [a, b].map((v, i) => ({ name: v.name, tensor: tf.tensor1d(values(6, 11 * step + i + 1)) }));
    const apply = (opt: FusedAdam, step: number) => {
      const g = gradients(step);
      opt.applyGradients(g);
      tf.dispose(g.map((x) => x.tensor));
    };
    const whole = new FusedAdam(0.01);
    const start = [a, b].map((v) => v.clone());
    for (let step = 0; step < 4; step++) apply(whole, step);
    const uninterrupted = [a, b].map((v) => Float32Array.from(v.dataSync()));
    [a, b].forEach((v, i) => v.assign(start[i]));
    const first = new FusedAdam(0.01);
    for (let step = 0; step < 2; step++) apply(first, step);
    const saved = await first.getWeights();
    const resumed = new FusedAdam(0.01);
    await resumed.setWeights(saved);
    // setWeights recomputes beta^t with pow (as tfjs does); a checkpoint restores the running products.
    expect(Math.abs(resumed.accBeta1 - first.accBeta1)).toBeLessThan(1e-7);
    resumed.accBeta1 = first.accBeta1;
    resumed.accBeta2 = first.accBeta2;
    for (let step = 2; step < 4; step++) apply(resumed, step);
    [a, b].forEach((v, i) => expect(Float32Array.from(v.dataSync())).toEqual(uninterrupted[i]));
    tf.dispose([one, gradient, a, b, saved[0].tensor, ...start]);
    [adam, whole, first, resumed].forEach((o) => o.dispose());
  });

  it('Adam trains a convolution and a matrix product as tf.train.adam does (no stale packed weights between steps)', async () => {
    // wasm's XNNPACK kernels keep packed copies of weight buffers: writing a weight in place
    // would leave the next forward on the old values.
    const run = (optimizer: tf.Optimizer) => {
      const filter = tf.tidy(() => tf.variable(tf.tensor4d(values(3 * 3 * 2 * 4, 5), [3, 3, 2, 4]), true, `conv-${Math.random()}`));
      const x = tf.tensor4d(values(2 * 6 * 6 * 2, 6), [2, 6, 6, 2]);
      const bias = tf.tensor1d([0.1, 0.2, 0.3, 0.4]);
      const dense = tf.tidy(() => tf.variable(tf.tensor2d(values(4 * 3, 8), [4, 3]), true, `dense-${Math.random()}`));
      const losses: number[] = [];
      for (let step = 0; step < 4; step++) {
        const loss = optimizer.minimize(() => {
          const features = tf.mean(tf.relu(tf.add(tf.conv2d(x, filter, 1, 'same'), bias)), [1, 2]) as tf.Tensor2D;
          return tf.mean(tf.square(tf.sub(tf.matMul(features, dense), 0.5))) as tf.Scalar;
        }, true, [filter, dense]);
        losses.push(loss!.dataSync()[0]);
        loss!.dispose();
      }
      const weights = Float32Array.from(filter.dataSync());
      tf.dispose([filter, x, bias, dense]);
      optimizer.dispose();
      return { losses, weights };
    };
    const reference = run(tf.train.adam(0.05));
    const fused = run(new FusedAdam(0.05));
    expect(fused.losses).toEqual(reference.losses);
    expect(fused.weights).toEqual(reference.weights);
    expect(reference.losses[3]).toBeLessThan(reference.losses[0]);
  });

  it('hostValuesInPlace gives a live view only when the buffer is not shared', async () => {
    const t = tf.tensor1d([1, 2, 3]);
    const view = hostValuesInPlace(t)!;
    view[1] = 7;
    expect(Array.from(t.dataSync())).toEqual([1, 7, 3]);
    const clone = tf.clone(t);
    expect(hostValuesInPlace(t)).toBeNull();
    const ints = tf.tensor1d([1, 2], 'int32');
    expect(hostValuesInPlace(ints)).toBeNull();
    tf.dispose([t, clone, ints]);
  });
});
