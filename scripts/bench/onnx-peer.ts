import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy, tf } from '@gaze/engine';
import { createExplainer } from '@gaze/explainers';
import { loadOnnxClassifier } from '@gaze/onnx';
import type { PeerResult } from './peer.js';
import { timed, timingBudget } from './timed.js';

/**
 * The paper-scale peer workloads: torchvision models at 224 px, exported to ONNX by PyTorch and
 * timed in both frameworks on the same weights and the same batch (peer/torch_onnx_peer.py
 * writes both). Gaze's logits must match PyTorch's, or the timings compare two networks.
 */

const PYTHON = '/usr/bin/python3';
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
}

/** The 224 px workloads the performance issues name: ResNet-50 b8 forward and Grad-CAM, VGG-16 b4 forward. */
export const ONNX_PEER_MODELS: OnnxPeerModel[] = [
  { model: 'resnet50', label: 'resnet-50', batch: 8, camLayer: 'layer4' },
  { model: 'vgg16', label: 'vgg-16', batch: 4 },
];

export interface OnnxPeerOutput {
  results: PeerResult[];
  torch: string;
  /** Per model: max |logit difference| / max |logit| against PyTorch. */
  logitDiff: Record<string, number>;
}

export async function runOnnxPeer(options: { models?: OnnxPeerModel[]; threads: number; repeats: number; log: (line: string) => void }): Promise<OnnxPeerOutput> {
  const models = options.models ?? ONNX_PEER_MODELS;
  const dir = mkdtempSync(join(tmpdir(), 'gaze-onnx-peer-'));
  try {
    options.log(`  peer: ${models.map((m) => m.label).join(', ')} at 224 px: exporting and timing in PyTorch (${options.threads} threads) ...`);
    const specs = models.map((m) => `${m.model}:${m.batch}${m.camLayer ? `:${m.camLayer}` : ''}`);
    const peer = JSON.parse(execFileSync(PYTHON, [SCRIPT, dir, String(options.threads), String(options.repeats), ...specs], { encoding: 'utf8', maxBuffer: 16 << 20, env: { ...process.env, OMP_NUM_THREADS: String(options.threads), GAZE_TIMING_BUDGET: JSON.stringify(timingBudget()) } })) as {
      torch: string;
      workloads: Record<string, { seconds: number; images: number }>;
    };
    const results: PeerResult[] = [];
    const logitDiff: Record<string, number> = {};
    for (const m of models) {
      const folder = join(dir, m.model);
      const classifier = loadOnnxClassifier(join(folder, 'model.onnx'), { preprocess: IDENTITY, taps: m.camLayer ? [m.camLayer] : undefined });
      const input = await readNpy(join(folder, 'input.npy'));
      const x = tf.tidy(() => tf.transpose(tf.tensor4d(input.data as Float32Array, input.shape as [number, number, number, number]), [0, 2, 3, 1]) as tf.Tensor4D);
      const reference = await readNpy(join(folder, 'logits.npy'));
      const logits = classifier.logits(x);
      const got = logits.dataSync();
      const largest = Math.max(...Array.from(reference.data, Math.abs));
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - reference.data[i]));
      logitDiff[m.label] = worst / largest;
      if (!(worst / largest < 1e-4)) throw new Error(`${m.model}: Gaze's logits differ from PyTorch's by ${worst} (largest ${largest}): not the same network`);
      const target = tf.tidy(() => tf.argMax(logits, 1).toInt() as tf.Tensor1D);
      logits.dispose();
      const size = `224 px, batch ${m.batch}`;
      options.log(`  peer: ${m.label} forward (${size}) in Gaze ...`);
      const forward = await timed(async () => {
        const y = classifier.logits(x);
        await y.data();
        y.dispose();
      }, options.repeats);
      const torchForward = peer.workloads[`${m.model}:forward`].seconds;
      results.push({ workload: `${m.label} forward (${size})`, images: m.batch, gazeSeconds: forward, peerSeconds: torchForward, ratio: forward / torchForward });
      if (m.camLayer) {
        options.log(`  peer: ${m.label} grad-cam at ${m.camLayer} (${size}) in Gaze ...`);
        const gradcam = createExplainer({ type: 'gradcam', layer: m.camLayer }, { classifier, seed: 0, where: 'bench.onnx' });
        const seconds = await timed(async () => {
          const maps = await gradcam.explain(x, target, { normalize: false });
          await maps.data();
          maps.dispose();
        }, options.repeats);
        const torchSeconds = peer.workloads[`${m.model}:gradcam`].seconds;
        results.push({ workload: `${m.label} grad-cam at ${m.camLayer} (${size})`, images: m.batch, gazeSeconds: seconds, peerSeconds: torchSeconds, ratio: seconds / torchSeconds });
      }
      tf.dispose([x, target]);
      classifier.dispose();
    }
    return { results, torch: peer.torch, logitDiff };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
