import { initBackend } from '@gaze/engine';
import { torchvisionAvailable, TORCH_INSTALL } from '@gaze/onnx/testing';
import { describe, expect, it } from 'vitest';
import { runOnnxPeer } from '../bench/onnx-peer.js';

// The 224 px peer workloads must time the same network in both frameworks: a small run of the
// same code path (ResNet-18, batch 2) checks the logits agree and every figure is produced.
const FOUND = torchvisionAvailable();
const REQUIRED = process.env.GAZE_REQUIRE_TORCH === '1';

describe.skipIf(!FOUND && !REQUIRED)('the 224 px ONNX peer (scripts/bench/peer/torch_onnx_peer.py)', () => {
  it('exports a torchvision model, reproduces its logits in Gaze and times forward and Grad-CAM in both', async () => {
    if (!FOUND) throw new Error(`GAZE_REQUIRE_TORCH=1 but /usr/bin/python3 cannot import torch and torchvision; ${TORCH_INSTALL}`);
    await initBackend('wasm');
    const out = await runOnnxPeer({ models: [{ model: 'resnet18', label: 'resnet-18', batch: 2, camLayer: 'layer4' }], threads: 2, repeats: 1, log: () => {} });
    expect(out.logitDiff['resnet-18']).toBeLessThan(1e-4);
    expect(out.results.map((r) => r.workload)).toEqual(['resnet-18 forward (224 px, batch 2)', 'resnet-18 grad-cam at layer4 (224 px, batch 2)']);
    for (const r of out.results) {
      expect(r.gazeSeconds).toBeGreaterThan(0);
      expect(r.peerSeconds).toBeGreaterThan(0);
      expect(r.ratio).toBeCloseTo(r.gazeSeconds / r.peerSeconds!, 10);
    }
  });
});
