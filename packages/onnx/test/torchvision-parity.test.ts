import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, readNpy, resize, tf } from '@gaze/engine';
import { assertNoTensorLeak, pearson } from '@gaze/engine/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOnnxClassifier, type OnnxClassifier } from '../src/index.js';
import { IDENTITY_PREPROCESS, TORCH_INSTALL, exportTorchReference, torchvisionAvailable, torchvisionFamilies, type TorchvisionFamily } from '../src/testing/index.js';

// Seeded random-init torchvision models, exported by Debian's PyTorch at 224 px, must give
// PyTorch's logits, Grad-CAM maps (from a forward hook on the module) and input gradients.
// Needs /usr/bin/python3 with torch and torchvision: skipped with the install command where they
// are missing, unless GAZE_REQUIRE_TORCH=1 (CI), where it fails. The models are small members of
// each family (the same torchvision classes and op types, fewer channels/blocks) so CI stays
// short; GAZE_ONNX_FAMILIES=full checks the real ImageNet architectures instead.
const INSTALL = TORCH_INSTALL;
const FOUND = torchvisionAvailable();
const REQUIRED = process.env.GAZE_REQUIRE_TORCH === '1';
const SKIP = !FOUND && !REQUIRED;
if (SKIP) console.warn(`[@gaze/onnx] skipping the torchvision parity test: /usr/bin/python3 cannot import torch and torchvision; ${INSTALL}`);

const FAMILIES = torchvisionFamilies();
let root: string;

beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'gaze-onnx-parity-'));
}, 600_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Exports one model with testing/torchvision-reference.py; returns its folder. */
function exportReference(name: string, spec: TorchvisionFamily): string {
  return exportTorchReference(join(root, name.replace(/[^a-z0-9]+/g, '-')), spec.model, spec.layers, { opset: spec.opset });
}

/** NCHW .npy -> NHWC tensor. */
async function nhwc(path: string): Promise<tf.Tensor4D> {
  const a = await readNpy(path);
  const [n, c, h, w] = a.shape;
  return tf.tidy(() => tf.transpose(tf.tensor4d(a.data as Float32Array, [n, c, h, w]), [0, 2, 3, 1]) as tf.Tensor4D);
}

describe.skipIf(SKIP)('torchvision models through ONNX, against PyTorch (224 px)', () => {
  for (const [family, spec] of Object.entries(FAMILIES)) {
    it(`${family} (${spec.model}): logits, Grad-CAM at ${spec.layers.join(', ')}, input gradients`, async () => {
      if (!FOUND) throw new Error(`GAZE_REQUIRE_TORCH=1 but /usr/bin/python3 cannot import torch and torchvision; ${INSTALL}`);
      const dir = exportReference(family, spec);
      const classifier: OnnxClassifier = loadOnnxClassifier(join(dir, 'model.onnx'), { preprocess: IDENTITY_PREPROCESS, taps: spec.layers });
      try {
        const x = await nhwc(join(dir, 'input.npy'));
        const ref = await readNpy(join(dir, 'logits.npy'));
        const [n, k] = ref.shape;
        const logits = classifier.logits(x);
        const got = logits.dataSync();
        const largest = Math.max(...Array.from(ref.data, Math.abs));
        let worst = 0;
        for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref.data[i]));
        // Within 1e-4 of the largest logit.
        expect(worst / largest, `${spec.model} logits: max diff ${worst}, largest |logit| ${largest}`).toBeLessThan(1e-4);
        logits.dispose();

        const target = tf.tensor1d(Array.from({ length: n }, (_, i) => argmax(ref.data.subarray(i * k, (i + 1) * k))), 'int32');
        for (const layer of spec.layers) {
          const maps = gradCam(classifier, x, target, layer, k);
          const m = maps.dataSync();
          const reference = (await readNpy(join(dir, `gradcam.${layer}.npy`))).data;
          const per = m.length / n;
          for (let i = 0; i < n; i++) {
            const r = pearson(m.subarray(i * per, (i + 1) * per), reference.subarray(i * per, (i + 1) * per));
            expect(r, `${spec.model} Grad-CAM at ${layer}, image ${i}`).toBeGreaterThanOrEqual(0.999);
          }
          maps.dispose();
        }

        // d(target logit)/d(input): the model input is the .npy as is (identity preprocessing).
        const gradients = tf.tidy(() => {
          const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(classifier.logits(xx as tf.Tensor4D), tf.oneHot(target, k))))(x);
          return tf.transpose(g, [0, 3, 1, 2]);
        });
        const g = gradients.dataSync();
        const gref = (await readNpy(join(dir, 'input_grad.npy'))).data;
        const per = g.length / n;
        for (let i = 0; i < n; i++) {
          const a = g.subarray(i * per, (i + 1) * per);
          const b = gref.subarray(i * per, (i + 1) * per);
          expect(pearson(a, b), `${spec.model} input gradient, image ${i}`).toBeGreaterThanOrEqual(0.9999);
          // A max-pool window whose two largest inputs differ in the 7th digit may route its
          // gradient to the other one (float rounding), so compare in norm, not elementwise.
          expect(relativeL2(a, b), `${spec.model} input gradient, image ${i}`).toBeLessThan(1e-2);
        }
        gradients.dispose();

        // Repeated calls leave nothing behind.
        await assertNoTensorLeak(() => classifier.forward(x, spec.layers), { runs: 2, label: spec.model });
        tf.dispose([x, target]);
      } finally {
        classifier.dispose();
      }
    });
  }
});

/**
 * Grad-CAM from the Classifier contract alone (what @gaze/explainers' gradcam computes, written
 * out so this package's tests need no package above it): A at the tap, G = d(target logit)/dA
 * through logitsWithTap, ReLU(sum_k mean(G_k) A_k), bilinear (half-pixel) to the input size.
 */
// x: [B,H,W,C], target: [B] -> [B,H,W]
function gradCam(classifier: OnnxClassifier, x: tf.Tensor4D, target: tf.Tensor1D, tap: string, classes: number): tf.Tensor3D {
  return tf.tidy(() => {
    const a = classifier.features(x, [tap])[tap];
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(classifier.logitsWithTap(x, tap, v as tf.Tensor4D), tf.oneHot(target, classes))))(a);
    const cam = tf.relu(tf.sum(tf.mul(tf.mean(g, [1, 2], true), a), 3)) as tf.Tensor3D;
    return resize(cam, [x.shape[1], x.shape[2]]);
  });
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}
