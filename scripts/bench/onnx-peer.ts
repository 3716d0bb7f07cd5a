import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy, tf } from '@gaze/engine';
import { createExplainer } from '@gaze/explainers';
import { TameConfig, TameHead } from '@gaze/head-tame';
import { loadOnnxClassifier, type OnnxClassifier } from '@gaze/onnx';
import { withPeakRss } from './memory.js';
import { PYTHON, exportTameForPeer, type PeerResult } from './peer.js';
import { timed, timingBudget } from './timed.js';

/**
 * The paper-scale peer workloads: torchvision models at 224 px, exported to ONNX by PyTorch and
 * timed in both frameworks on the same weights and the same batch (peer/torch_onnx_peer.py
 * exports them, then times its side after Gaze has written its TAME head). Gaze's logits must
 * match PyTorch's, and its TAME maps the peer's, or the timings compare two networks.
 */

const SCRIPT = fileURLToPath(new URL('./peer/torch_onnx_peer.py', import.meta.url));
const IDENTITY = { scale: 1, mean: [0], std: [1], channelOrder: 'rgb' as const };

export interface OnnxPeerModel {
  /** A torchvision model name. */
  model: string;
  /** How the workload names call it (`resnet-50`). */
  label: string;
  batch: number;
  /** Also time Grad-CAM at this module. */
  camLayer?: string;
  /** Also time one TAME training step over these modules (shallowest first). */
  tameLayers?: string[];
  /** Also time RISE on the batch's first image (its predicted class). */
  rise?: { n: number; cells: number; p: number; batchSize: number };
}

/**
 * The 224 px workloads the performance issue names: ResNet-50 b8 forward, Grad-CAM and TAME
 * train step (the reference's taps layer2-4), RISE with the paper's 4000 masks on one image
 * (64 masked images per forward: 224 px activations of 256 would take gigabytes), VGG-16 b4 forward.
 */
export const ONNX_PEER_MODELS: OnnxPeerModel[] = [
  { model: 'resnet50', label: 'resnet-50', batch: 8, camLayer: 'layer4', tameLayers: ['layer2', 'layer3', 'layer4'], rise: { n: 4000, cells: 7, p: 0.5, batchSize: 64 } },
  { model: 'vgg16', label: 'vgg-16', batch: 4 },
];

export interface OnnxPeerOutput {
  results: PeerResult[];
  torch: string;
  /** Per model: max |logit difference| / max |logit| against PyTorch; per TAME model, max |map difference|. */
  logitDiff: Record<string, number>;
}

interface TorchTimes {
  torch: string;
  workloads: Record<string, { seconds: number; images: number; peakRss: number }>;
  maxTameMapDiff: Record<string, number>;
}

function python(args: string[], threads: number): string {
  return execFileSync(PYTHON, [SCRIPT, ...args], { encoding: 'utf8', maxBuffer: 16 << 20, env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
}

interface Loaded {
  spec: OnnxPeerModel;
  classifier: OnnxClassifier;
  x: tf.Tensor4D;
  predicted: tf.Tensor1D;
  tame?: TameHead;
}

export async function runOnnxPeer(options: { models?: OnnxPeerModel[]; threads: number; device?: 'cpu' | 'cuda'; repeats: number; log: (line: string) => void }): Promise<OnnxPeerOutput> {
  const models = options.models ?? ONNX_PEER_MODELS;
  const dir = mkdtempSync(join(tmpdir(), 'gaze-onnx-peer-'));
  const loaded: Loaded[] = [];
  try {
    options.log(`  peer: ${models.map((m) => m.label).join(', ')} at 224 px: exporting from PyTorch ...`);
    python(['export', dir, ...models.map((m) => `${m.model}:${m.batch}`)], options.threads);
    const logitDiff: Record<string, number> = {};
    for (const m of models) {
      const folder = join(dir, m.model);
      const taps = [...new Set([...(m.tameLayers ?? []), ...(m.camLayer ? [m.camLayer] : [])])];
      const classifier = loadOnnxClassifier(join(folder, 'model.onnx'), { preprocess: IDENTITY, taps: taps.length ? taps : undefined });
      const input = await readNpy(join(folder, 'input.npy'));
      const x = tf.tidy(() => tf.transpose(tf.tensor4d(input.data as Float32Array, input.shape as [number, number, number, number]), [0, 2, 3, 1]) as tf.Tensor4D);
      const reference = await readNpy(join(folder, 'logits.npy'));
      const logits = classifier.logits(x);
      const got = logits.dataSync();
      const largest = Math.max(...Array.from(reference.data, Math.abs));
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - reference.data[i]));
      logitDiff[m.label] = worst / largest;
      const predicted = tf.tidy(() => tf.argMax(logits, 1).toInt() as tf.Tensor1D);
      logits.dispose();
      const entry: Loaded = { spec: m, classifier, x, predicted };
      loaded.push(entry);
      if (!(worst / largest < 1e-4)) throw new Error(`${m.model}: Gaze's logits differ from PyTorch's by ${worst} (largest ${largest}): not the same network`);
      if (m.tameLayers) {
        entry.tame = new TameHead(classifier, TameConfig.parse({ taps: m.tameLayers }), { seed: 0, where: 'bench.onnx.tame' });
        await exportTameForPeer(folder, entry.tame, m.tameLayers, x);
      }
    }
    options.log(`  peer: timing in PyTorch (${options.device === 'cuda' ? 'CUDA' : `${options.threads} threads`}; RISE with ${models.find((m) => m.rise)?.rise?.n ?? 0} masks takes minutes) ...`);
    const task = {
      threads: options.threads,
      device: options.device ?? 'cpu',
      repeats: options.repeats,
      budget: timingBudget(),
      models: models.map((m) => ({ model: m.model, batch: m.batch, camLayer: m.camLayer, tame: m.tameLayers !== undefined, rise: m.rise })),
    };
    writeFileSync(join(dir, 'task.json'), JSON.stringify(task));
    const peer = JSON.parse(python(['time', dir], options.threads)) as TorchTimes;
    for (const [model, diff] of Object.entries(peer.maxTameMapDiff)) {
      const label = models.find((m) => m.model === model)!.label;
      logitDiff[`${label} tame maps`] = diff;
      if (!(diff < 1e-3)) throw new Error(`${model}: the PyTorch peer's TAME maps differ from Gaze's by ${diff}: not the same head`);
    }

    const results: PeerResult[] = [];
    const add = async (entry: Loaded, what: string, key: string, images: number, fn: () => Promise<number>) => {
      const workload = `${entry.spec.label} ${what}`;
      options.log(`  peer: ${workload} in Gaze ...`);
      const { value: seconds, peakRss } = await withPeakRss(fn);
      const torch = peer.workloads[`${entry.spec.model}:${key}`];
      results.push({ workload, images, gazeSeconds: seconds, peerSeconds: torch.seconds, ratio: seconds / torch.seconds, gazePeakRss: peakRss, peerPeakRss: torch.peakRss });
    };
    for (const entry of loaded) {
      const { spec: m, classifier, x, predicted } = entry;
      const size = `224 px, batch ${m.batch}`;
      await add(entry, `forward (${size})`, 'forward', m.batch, () =>
        timed(async () => {
          const y = classifier.logits(x);
          await y.data();
          y.dispose();
        }, options.repeats),
      );
      if (m.camLayer) {
        const gradcam = createExplainer({ type: 'gradcam', layer: m.camLayer }, { classifier, seed: 0, where: 'bench.onnx' });
        await add(entry, `grad-cam at ${m.camLayer} (${size})`, 'gradcam', m.batch, () =>
          timed(async () => {
            const maps = await gradcam.explain(x, predicted, { normalize: false });
            await maps.data();
            maps.dispose();
          }, options.repeats),
        );
      }
      if (entry.tame) {
        const batch = { images: x, labels: predicted, ids: Array.from({ length: m.batch }, (_, i) => String(i)) };
        await add(entry, `tame train step (${size})`, 'tame', m.batch, () => timed(async () => void (await entry.tame!.trainStep(batch, { lr: 1e-3 })), options.repeats, 2));
      }
      if (m.rise) {
        const { n, cells, p, batchSize } = m.rise;
        const rise = createExplainer({ type: 'rise', n, cells, p, batchSize }, { classifier, seed: 0, where: 'bench.onnx.rise' });
        const one = x.slice(0, 1);
        const target = predicted.slice(0, 1);
        // One call of a few minutes, the masks built inside it: no warm-up, as for PyTorch.
        await add(entry, `rise N=${n} (224 px, 1 image)`, 'rise', 1, () => timed(async () => (await rise.explain(one, target)).dispose(), 1, 0));
        tf.dispose([one, target]);
      }
    }
    return { results, torch: peer.torch, logitDiff };
  } finally {
    for (const entry of loaded) {
      entry.tame?.dispose();
      tf.dispose([entry.x, entry.predicted]);
      entry.classifier.dispose();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
