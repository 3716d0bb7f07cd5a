import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDataset, disposeBatch, sliceBatch, type Batch, type DatasetInfo } from '@gaze/data';
import { FusedAdam, initBackend, nativeKernelStatus, nativeThreads, tf } from '@gaze/engine';
import { createExplainer } from '@gaze/explainers';
import { createEvaluator } from '@gaze/metrics';
import { TameConfig, TameHead } from '@gaze/head-tame';
import { createClassifier, type LayersClassifier } from '@gaze/models';
import { benchLoader, LOADER_CASES } from './data.js';
import { MIB, rssPeakIsPerWorkload, withPeakRss } from './memory.js';
import { runOnnxPeer, type OnnxPeerModel } from './onnx-peer.js';
import { FULL_BUDGET, QUICK_BUDGET, setTimingBudget, timed } from './timed.js';

/**
 * Gaze against PyTorch on the same machine: the same network (exported topology and weights),
 * the same inputs, the same number of threads (wasm runs one), timed the same way. The peer is
 * scripts/bench/peer/torch_peer.py under Debian's python3 with `python3-torch` (and, for the 224 px
 * ONNX workloads, `python3-torchvision`); when they are missing the suite tries `apt-get install`
 * once, and skips with a line saying why
 * when that fails.
 */

/** Debian's python3, where python3-torch imports; GAZE_PEER_PYTHON names another (the GPU machine's PyTorch). */
export const PYTHON = process.env.GAZE_PEER_PYTHON ?? '/usr/bin/python3';
const PEER_SCRIPT = fileURLToPath(new URL('./peer/torch_peer.py', import.meta.url));
const LOADER_SCRIPT = fileURLToPath(new URL('./peer/torch_loader.py', import.meta.url));
const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

interface PeerWorkload {
  name: string;
  kind: 'train-step' | 'forward' | 'gradcam' | 'rise' | 'deletion-insertion' | 'tame-train-step' | 'tame-inference';
  n?: number;
  steps?: number;
  rows?: number;
  /** Only the first this many images of the batch (the slow perturbation workloads). */
  images?: number;
}

interface ModelPlan {
  backbone: { type: string } & Record<string, unknown>;
  workloads: PeerWorkload[];
}

export interface PeerResult {
  workload: string;
  images: number;
  /** Seconds per call (a call = one batch of `images`; for the data loader, the whole pass). */
  gazeSeconds: number;
  /** The same call on tfjs's plain-JavaScript CPU backend: the floor (forwards only; a train step there takes minutes). */
  cpuSeconds?: number;
  peerSeconds?: number;
  /** gaze / peer time: below 1 Gaze is faster. */
  ratio?: number;
  /** Peak resident memory (bytes) of each process during the workload (memory.ts). */
  gazePeakRss?: number;
  peerPeakRss?: number;
}

export interface PeerBench {
  name: 'peer';
  mode: 'quick' | 'full';
  backend: string;
  threads: number;
  /** Where PyTorch ran: 'cpu', or 'cuda' against webgpu. */
  peerDevice: 'cpu' | 'cuda';
  peer: { available: boolean; why?: string; torch?: string; maxLogitDiff: Record<string, number> };
  size: number;
  batch: number;
  results: PeerResult[];
}

/** Whether Debian's python3 imports torch, after one apt-get attempt when it does not. */
export function ensureTorch(log: (line: string) => void): { ok: boolean; why?: string } {
  const probe = () => spawnSync(PYTHON, ['-c', 'import torch, torchvision, numpy'], { encoding: 'utf8' });
  let r = probe();
  if (r.status === 0) return { ok: true };
  log('  peer: python3-torch / python3-torchvision is missing; trying apt-get install python3-torch python3-torchvision ...');
  const command = process.getuid?.() === 0 ? ['apt-get'] : ['sudo', '-n', 'apt-get'];
  const install = spawnSync(command[0], [...command.slice(1), 'install', '-y', '-qq', 'python3-torch', 'python3-torchvision'], {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  r = probe();
  if (r.status === 0) return { ok: true };
  const reason = (install.stderr || install.error?.message || r.stderr || '').trim().split('\n').slice(-1)[0];
  return { ok: false, why: `${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision: ${reason || 'failed'})` };
}

function plans(quick: boolean): ModelPlan[] {
  const steps = quick ? 16 : 224;
  const n = quick ? 50 : 1000;
  const images = quick ? 4 : 8; // RISE and deletion/insertion take seconds per image: a few images give the rate
  return [
    {
      backbone: { type: 'vgg-small' },
      workloads: [
        { name: 'vgg-small train step', kind: 'train-step' },
        { name: 'vgg-small forward', kind: 'forward' },
        { name: 'grad-cam', kind: 'gradcam' },
        { name: `rise (N=${n})`, kind: 'rise', n, rows: 256, images },
        { name: `deletion+insertion (${steps} steps)`, kind: 'deletion-insertion', steps, rows: 128, images },
        { name: 'tame train step', kind: 'tame-train-step' },
        { name: 'tame inference', kind: 'tame-inference' },
      ],
    },
    {
      backbone: { type: 'resnet-small' },
      workloads: [
        { name: 'resnet-small train step', kind: 'train-step' },
        { name: 'resnet-small forward', kind: 'forward' },
      ],
    },
  ];
}

/** Gaze's time per call for one workload on `classifier` with batch (x, y). */
async function gazeSeconds(classifier: LayersClassifier, w: PeerWorkload, full: Batch, info: DatasetInfo, repeats: number, tame?: TameHead): Promise<number> {
  const batch = w.images ? sliceBatch(full, w.images) : full;
  try {
    return await gazeBatchSeconds(classifier, w, batch, info, repeats, tame);
  } finally {
    if (batch !== full) disposeBatch(batch);
  }
}

async function gazeBatchSeconds(classifier: LayersClassifier, w: PeerWorkload, batch: Batch, info: DatasetInfo, repeats: number, tame?: TameHead): Promise<number> {
  const x = batch.images;
  const y = batch.labels as tf.Tensor1D;
  if (w.kind === 'tame-train-step') return timed(async () => void (await tame!.trainStep(batch, { lr: 1e-3 })), repeats, 2);
  if (w.kind === 'tame-inference') {
    const predicted = tf.tidy(() => tf.argMax(classifier.logits(x), 1).toInt() as tf.Tensor1D);
    const explainer = tame!.explainer('tame');
    const s = await timed(async () => (await explainer.explain(x, predicted)).dispose(), repeats);
    predicted.dispose();
    return s;
  }
  if (w.kind === 'train-step') {
    const optimizer = new FusedAdam(1e-3); // the training loop's Adam (tfjs's update, one pass per variable)
    const onehot = tf.oneHot(y, classifier.numClasses);
    const step = () => {
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(onehot, classifier.logits(x, { training: true })) as tf.Scalar, true, classifier.trainableWeights);
      loss!.dataSync();
      loss!.dispose();
    };
    const s = await timed(step, repeats, 2);
    optimizer.dispose();
    onehot.dispose();
    return s;
  }
  if (w.kind === 'forward') return timed(() => tf.tidy(() => void classifier.logits(x).dataSync()), repeats);
  const gradcam = createExplainer({ type: 'gradcam' }, { classifier, seed: 0, where: 'bench.gradcam' });
  if (w.kind === 'gradcam') return timed(async () => (await gradcam.explain(x, y)).dispose(), repeats);
  if (w.kind === 'rise') {
    const rise = createExplainer({ type: 'rise', n: w.n }, { classifier, seed: 0, where: 'bench.rise' });
    (await rise.explain(x.slice(0, 1), y.slice(0, 1))).dispose(); // builds the masks, as the peer does before timing
    return timed(async () => (await rise.explain(x, y)).dispose(), 1, 0);
  }
  const maps = await gradcam.explain(x, y);
  const evaluators = ['deletion', 'insertion'].map((type) => createEvaluator({ type, steps: w.steps }, { where: `bench.${type}`, seed: 0 }));
  const ctx = { classifier, explainer: gradcam, batch, maps, targets: y, info, seed: 0 };
  const t0 = performance.now();
  for (const e of evaluators) await e.evaluate(ctx);
  const s = (performance.now() - t0) / 1000;
  maps.dispose();
  return s;
}

/** Writes what torch_peer.py reads (see its docstring) into dir. */
export function exportForPeer(dir: string, classifier: LayersClassifier, x: tf.Tensor4D, y: tf.Tensor1D, task: Record<string, unknown>): void {
  writeFileSync(join(dir, 'model.json'), JSON.stringify(classifier.model.toJSON(undefined, false)));
  const manifest: { layer: string; weights: { shape: number[]; offset: number }[] }[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const layer of classifier.model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    manifest.push({
      layer: layer.name,
      weights: ws.map((w) => {
        const entry = { shape: w.shape, offset };
        chunks.push(w.dataSync() as Float32Array);
        offset += w.size;
        return entry;
      }),
    });
  }
  const flat = new Float32Array(offset);
  let at = 0;
  for (const c of chunks) {
    flat.set(c, at);
    at += c.length;
  }
  writeFileSync(join(dir, 'weights.json'), JSON.stringify(manifest));
  writeFileSync(join(dir, 'weights.bin'), Buffer.from(flat.buffer));
  writeFileSync(join(dir, 'inputs.bin'), Buffer.from((x.dataSync() as Float32Array).slice().buffer));
  writeFileSync(join(dir, 'labels.bin'), Buffer.from(Int32Array.from(y.dataSync()).buffer));
  const logits = tf.tidy(() => classifier.logits(x).dataSync() as Float32Array);
  writeFileSync(join(dir, 'logits.bin'), Buffer.from(logits.slice().buffer));
  writeFileSync(join(dir, 'task.json'), JSON.stringify(task));
}

/** The Keras layer names of a built classifier's taps (what torch_peer.py's network keeps). */
export function kerasLayersOf(classifier: LayersClassifier, taps: string[]): string[] {
  return taps.map((tap) => classifier.spec.taps.find((t) => t.name === tap)!.layer);
}

/**
 * The TAME head's taps (as the peer names them: Keras layer names, or PyTorch module paths for an
 * ONNX classifier), map side and weights, and its maps for x's predicted classes, for torch_peer.py's Tame.
 */
export async function exportTameForPeer(dir: string, tame: TameHead, layers: string[], x: tf.Tensor4D): Promise<void> {
  const named = tame.attention.namedWeights();
  const entries: { name: string; shape: number[]; offset: number }[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const [name, v] of Object.entries(named)) {
    entries.push({ name, shape: v.shape, offset });
    chunks.push(v.dataSync() as Float32Array);
    offset += v.size;
  }
  const flat = new Float32Array(offset);
  chunks.reduce((at, c) => (flat.set(c, at), at + c.length), 0);
  writeFileSync(join(dir, 'tame.json'), JSON.stringify({ layers, side: tame.attention.side, weights: entries }));
  writeFileSync(join(dir, 'tame.bin'), Buffer.from(flat.buffer));
  const predicted = tf.tidy(() => tf.argMax(tame.classifier.logits(x), 1).toInt() as tf.Tensor1D);
  const maps = await tame.explainer('tame').explain(x, predicted);
  writeFileSync(join(dir, 'tame_maps.bin'), Buffer.from((maps.dataSync() as Float32Array).slice().buffer));
  tf.dispose([predicted, maps]);
}

export interface TorchPeerOutput {
  torch: string;
  threads: number;
  maxLogitDiff: number;
  /** With TAME workloads: max |map difference| of the head's maps for the predicted classes. */
  maxTameMapDiff?: number;
  workloads: Record<string, { seconds: number; images: number; peakRss: number }>;
}

/** Runs torch_peer.py on an exported directory and returns what it printed. */
export function runTorchPeer(dir: string): TorchPeerOutput {
  return JSON.parse(execFileSync(PYTHON, [PEER_SCRIPT, dir], { encoding: 'utf8', maxBuffer: 16 << 20 }));
}

export interface PeerBenchOptions {
  quick: boolean;
  log: (line: string) => void;
  /** Gaze's backend: wasm (with the oneDNN addon where it is built) here; webgpu on a GPU machine (scripts/gpu). */
  backend?: 'wasm' | 'webgpu';
  /** PyTorch's device: 'cuda' against webgpu. */
  peerDevice?: 'cpu' | 'cuda';
  /** The 224 px workloads (full mode; default ONNX_PEER_MODELS). */
  onnxModels?: OnnxPeerModel[];
}

export async function runPeerBench(options: PeerBenchOptions): Promise<PeerBench> {
  const backend = options.backend ?? 'wasm';
  const device = options.peerDevice ?? 'cpu';
  const onCpu = backend === 'wasm';
  await initBackend(backend);
  // wasm runs one thread in Node; with the oneDNN addon the convolutions use its pool (every core,
  // OMP_NUM_THREADS or --threads), so the peer gets as many. On a GPU the CPU threads hardly matter: all.
  const native = nativeKernelStatus();
  const cpuThreads = native.active ? (nativeThreads().threads ?? 1) : 1;
  const threads = onCpu ? cpuThreads : cpus().length;
  const size = options.quick ? 32 : 64;
  const batch = options.quick ? 8 : 32;
  const repeats = options.quick ? 3 : 11;
  const budget = options.quick ? QUICK_BUDGET : FULL_BUDGET;
  setTimingBudget(budget);
  const torch = ensureTorch(options.log);
  const result: PeerBench = {
    name: 'peer',
    mode: options.quick ? 'quick' : 'full',
    backend: onCpu && native.active ? `${backend} + ${native.detail}` : backend,
    peerDevice: device,
    threads,
    peer: { available: torch.ok, why: torch.why, maxLogitDiff: {} },
    size,
    batch,
    results: [],
  };
  if (!torch.ok) options.log(`  peer: skipped: ${torch.why}`);
  const dataset = await createDataset({ type: 'shapes', size, classes: 8, distractors: 3, splits: { train: 1, val: 1, test: batch } }, { seed: 0 });
  let data: Batch | undefined;
  for await (const b of dataset.split('test').batches({ batchSize: batch })) data = b;
  const x = data!.images;
  const y = data!.labels as tf.Tensor1D;
  for (const plan of plans(options.quick)) {
    const classifier = (await createClassifier(plan.backbone, { inputShape: [size, size, 3], numClasses: 8, seed: 0, baseDir: process.cwd(), where: 'bench' })) as LayersClassifier;
    const camLayer = classifier.spec.taps.find((t) => t.name === classifier.camTap)?.layer;
    const tame = plan.workloads.some((w) => w.kind.startsWith('tame')) ? new TameHead(classifier, TameConfig.parse({}), { seed: 0, where: 'bench.tame' }) : undefined;
    let peer: TorchPeerOutput | undefined;
    if (torch.ok) {
      const dir = mkdtempSync(join(tmpdir(), 'gaze-peer-'));
      try {
        exportForPeer(dir, classifier, x, y, {
          inputShape: x.shape,
          mean: classifier.spec.preprocess.mean,
          std: classifier.spec.preprocess.std,
          threads,
          device,
          camLayer,
          repeats,
          budget,
          workloads: plan.workloads,
        });
        if (tame) await exportTameForPeer(dir, tame, kerasLayersOf(classifier, tame.taps), x);
        options.log(`  peer: ${plan.backbone.type} in PyTorch (${threads} thread) ...`);
        peer = runTorchPeer(dir);
        result.peer.torch = peer!.torch;
        result.peer.maxLogitDiff[plan.backbone.type] = peer!.maxLogitDiff;
        // Timings of a different network would mean nothing: the peer must reproduce Gaze's logits.
        if (!(peer!.maxLogitDiff < 1e-3)) throw new Error(`the PyTorch peer's ${plan.backbone.type} logits differ from Gaze's by ${peer!.maxLogitDiff}: not the same network`);
        if (tame) {
          result.peer.maxLogitDiff[`${plan.backbone.type} tame maps`] = peer!.maxTameMapDiff!;
          if (!(peer!.maxTameMapDiff! < 1e-3)) throw new Error(`the PyTorch peer's TAME maps differ from Gaze's by ${peer!.maxTameMapDiff}: not the same head`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    for (const w of plan.workloads) {
      options.log(`  peer: ${w.name} in Gaze ...`);
      const { value: seconds, peakRss } = await withPeakRss(() => gazeSeconds(classifier, w, data!, dataset.info, repeats, tame));
      const peerSeconds = peer?.workloads[w.name]?.seconds;
      let cpuSeconds: number | undefined;
      if (w.kind === 'forward' && onCpu) {
        options.log(`  peer: ${w.name} on the tfjs CPU backend (the floor) ...`);
        await initBackend('cpu');
        cpuSeconds = await timed(() => tf.tidy(() => void classifier.logits(x).dataSync()), 1);
        await initBackend(backend);
      }
      result.results.push({
        workload: w.name,
        images: w.images ?? batch,
        gazeSeconds: seconds,
        cpuSeconds,
        peerSeconds,
        ratio: peerSeconds ? seconds / peerSeconds : undefined,
        gazePeakRss: peakRss,
        peerPeakRss: peer?.workloads[w.name]?.peakRss,
      });
    }
    tame?.dispose();
    classifier.dispose();
  }
  disposeBatch(data!);
  // The data loader reads files on the CPU: a GPU run leaves it out.
  if (onCpu) result.results.push(await loaderWorkload(options.quick, torch.ok, threads, options.log));
  // Paper scale: torchvision models through ONNX at 224 px (full runs only: RISE with 4000 masks takes minutes).
  if (torch.ok && !options.quick) {
    const onnx = await runOnnxPeer({ models: options.onnxModels, threads, device, repeats: 5, log: options.log });
    for (const [label, diff] of Object.entries(onnx.logitDiff)) result.peer.maxLogitDiff[`${label} (onnx, relative)`] = diff;
    result.results.push(...onnx.results);
  }
  return result;
}

/** Fashion-MNIST from Debian's files through Gaze's loader and through a torch DataLoader. */
async function loaderWorkload(quick: boolean, torchOk: boolean, threads: number, log: (line: string) => void): Promise<PeerResult> {
  const images = quick ? 512 : 8192;
  const name = 'data loader (fashion-mnist, batch 64)';
  const fashion = LOADER_CASES.find((c) => c.config.type === 'fashion-mnist')!;
  log(`  peer: ${name} in Gaze ...`);
  const gaze = await benchLoader(fashion, images, 64);
  if (gaze.imagesPerSecond === null) {
    log(`  peer: ${name} skipped: ${gaze.skipped}`);
    return { workload: name, images: 0, gazeSeconds: NaN };
  }
  if (!torchOk) return { workload: name, images: gaze.images, gazeSeconds: gaze.seconds };
  log(`  peer: ${name} in PyTorch ...`);
  const peer = JSON.parse(execFileSync(PYTHON, [LOADER_SCRIPT, FASHION_MNIST_DIR, String(images), '64', String(threads)], { encoding: 'utf8' })) as { seconds: number; images: number };
  // Both stop at the first whole batch past `images`: compare per image.
  const peerSeconds = (peer.seconds / peer.images) * gaze.images;
  return { workload: name, images: gaze.images, gazeSeconds: gaze.seconds, peerSeconds, ratio: gaze.seconds / peerSeconds };
}

export function formatPeerBench(b: PeerBench): string {
  const lines = [
    `Gaze vs PyTorch (${b.mode}): ${b.size}x${b.size}x3 shapes, batch ${b.batch}, Gaze on ${b.backend}; ${b.threads} thread(s) each` +
      (b.peerDevice === 'cpu' ? '' : `, PyTorch on ${b.peerDevice}`) +
      (b.peer.available ? `, torch ${b.peer.torch}` : ''),
  ];
  if (!b.peer.available) lines.push(`  peer skipped: ${b.peer.why}`);
  else lines.push(`  same network: max |logit difference| ${Object.entries(b.peer.maxLogitDiff).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);
  const width = Math.max(...b.results.map((r) => r.workload.length), 8);
  lines.push(`  ${'workload'.padEnd(width)}  images  gaze ms/call  torch ms/call  gaze/torch  gaze peak MiB  torch peak MiB  tfjs-cpu ms/call`);
  const ms = (s: number | undefined) => (s === undefined || Number.isNaN(s) ? '-' : (s * 1000).toFixed(1));
  const mib = (bytes: number | undefined) => (bytes === undefined || !bytes ? '-' : (bytes / MIB).toFixed(0));
  for (const r of b.results) {
    const ratio = r.ratio === undefined ? '-' : r.ratio.toFixed(2);
    lines.push(
      `  ${r.workload.padEnd(width)}  ${String(r.images).padStart(6)}  ${ms(r.gazeSeconds).padStart(12)}  ${ms(r.peerSeconds).padStart(13)}  ${ratio.padStart(10)}` +
        `  ${mib(r.gazePeakRss).padStart(13)}  ${mib(r.peerPeakRss).padStart(14)}  ${ms(r.cpuSeconds).padStart(16)}`,
    );
  }
  if (!rssPeakIsPerWorkload()) lines.push('  (peak memory: the process peak so far; this system would not reset the high-water mark per workload)');
  return lines.join('\n');
}
