import { cpus } from 'node:os';
import { initBackend, tf, type BackendName } from '@gaze/engine';

/**
 * The engine benchmark: one training step (forward + backward + Adam update) of a small
 * VGG-style CNN, the same network and inputs on each backend in one process.
 */

export interface Workload {
  size: number;
  batch: number;
  channels: readonly number[];
  classes: number;
}

/** The workload: 3 conv blocks 32/64/128 (3x3 conv + ReLU + 2x2 max-pool), 64x64x3, batch 32. */
export const FULL: Workload = { size: 64, batch: 32, channels: [32, 64, 128], classes: 10 };
/** CI smoke: the same network at 32x32, batch 8 (the CPU backend needs ~150 s for one full step). */
export const QUICK: Workload = { size: 32, batch: 8, channels: [32, 64, 128], classes: 10 };

export function buildVggStyle(w: Workload): tf.Sequential {
  const model = tf.sequential();
  w.channels.forEach((filters, i) => {
    model.add(
      tf.layers.conv2d({
        ...(i === 0 ? { inputShape: [w.size, w.size, 3] } : {}),
        filters,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
      }),
    );
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  });
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: w.classes }));
  return model;
}

/**
 * Multiply-adds x 2 for one training step: every conv/dense layer's forward, its weight
 * gradient, and its input gradient except for the first layer (whose input needs none).
 */
export function trainStepFlops(model: tf.LayersModel, batch: number): number {
  let flops = 0;
  let first = true;
  for (const layer of model.layers) {
    const kernel = layer.getWeights()[0];
    if (!kernel) continue;
    const out = layer.outputShape as number[];
    const forward = kernel.rank === 4 ? 2 * out[1] * out[2] * kernel.size : 2 * kernel.size;
    flops += forward * (first ? 2 : 3);
    first = false;
  }
  return flops * batch;
}

export interface BackendResult {
  backend: BackendName;
  /** The workload's image side and batch (the CPU backend runs the quick one). */
  size: number;
  batch: number;
  steps: number;
  warmup: number;
  msPerStep: number;
  imagesPerSecond: number;
  gflops: number;
  finalLoss: number;
}

export async function benchTrainStep(backend: BackendName, w: Workload, steps: number, warmup: number): Promise<BackendResult> {
  await initBackend(backend);
  const model = buildVggStyle(w);
  const optimizer = tf.train.adam(1e-3);
  const x = tf.randomUniform([w.batch, w.size, w.size, 3], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([w.batch], 0, w.classes, 'int32', 2), w.classes).toFloat();
  let loss = NaN;
  const step = () => {
    const l = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor) as tf.Scalar, true);
    loss = l!.dataSync()[0]; // reading the loss waits for the step to finish
    l!.dispose();
  };
  for (let i = 0; i < warmup; i++) step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const ms = (performance.now() - t0) / steps;
  const flops = trainStepFlops(model, w.batch);
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return { backend, size: w.size, batch: w.batch, steps, warmup, msPerStep: ms, imagesPerSecond: (w.batch * 1000) / ms, gflops: flops / ms / 1e6, finalLoss: loss };
}

export interface EngineBench {
  name: 'engine';
  mode: 'quick' | 'full';
  workload: Workload & { description: string; trainStepGflop: number };
  results: BackendResult[];
  ratio: { of: string; value: number; target: number };
}

export async function runEngineBench(options: { quick: boolean; log?: (line: string) => void }): Promise<EngineBench> {
  const log = options.log ?? (() => {});
  const w = options.quick ? QUICK : FULL;
  const description = `train step (forward + backward + Adam) of a VGG-style CNN: conv3x3 ${w.channels.join('/')} + ReLU + maxpool2, dense ${w.classes}; ${w.size}x${w.size}x3, batch ${w.batch}`;
  log(`engine: ${description}`);
  // wasm: warm up (JIT, XNNPACK operator creation), then average. cpu: one step, always at the
  // quick size (0.48 GFLOP, seconds): at the full size one step took 3.2 minutes, a third of the
  // whole benchmark's budget. The two compare by GFLOP/s, which the CPU backend keeps across sizes.
  const plan: [BackendName, number, number, Workload][] = options.quick
    ? [['wasm', 3, 1, QUICK], ['cpu', 1, 0, QUICK]]
    : [['wasm', 10, 2, FULL], ['cpu', 1, 0, QUICK]];
  const results: BackendResult[] = [];
  for (const [backend, steps, warmup, workload] of plan) {
    log(`  ${backend}: ${warmup} warm-up + ${steps} timed step(s) at ${workload.size}x${workload.size}, batch ${workload.batch}...`);
    results.push(await benchTrainStep(backend, workload, steps, warmup));
  }
  const model = buildVggStyle(w);
  const trainStepGflop = trainStepFlops(model, w.batch) / 1e9;
  model.dispose();
  const [wasm, cpu] = results;
  return {
    name: 'engine',
    mode: options.quick ? 'quick' : 'full',
    workload: { ...w, description, trainStepGflop },
    results,
    ratio: { of: 'wasm GFLOP/s / cpu GFLOP/s', value: wasm.gflops / cpu.gflops, target: 50 },
  };
}

export function formatEngineBench(b: EngineBench): string {
  const rows = b.results.map((r) => [
    r.backend,
    `${r.size}x${r.size} b${r.batch}`,
    String(r.steps),
    r.msPerStep >= 1000 ? r.msPerStep.toFixed(0) : r.msPerStep.toFixed(1),
    r.imagesPerSecond.toFixed(2),
    r.gflops.toFixed(2),
  ]);
  const head = ['backend', 'input', 'steps', 'ms/step', 'images/s', 'GFLOP/s'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [
    `Engine (${b.mode}): ${b.workload.description}`,
    `  ${b.workload.trainStepGflop.toFixed(2)} GFLOP per step; ${cpus().length} CPU(s)`,
    '  ' + line(head),
    ...rows.map((r) => '  ' + line(r)),
    `  wasm is ${b.ratio.value.toFixed(1)}x the CPU backend in GFLOP/s (target >= ${b.ratio.target}x): ${b.ratio.value >= b.ratio.target ? 'met' : 'NOT met'}`,
  ].join('\n');
}
