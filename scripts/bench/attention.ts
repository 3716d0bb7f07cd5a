import { initBackend, tf } from '@gaze/engine';
import { attentionCost } from '@gaze/head-brnpa';

/**
 * BR-NPA's "faster, smaller" claim: its non-parametric attention step (3 parts, refined) against a
 * parametric attention module at the same resolution (the reference's B-CNN map head: a basic
 * residual block C -> C, a 1x1 conv to K+1 maps, part pooling), on random feature maps of a few
 * sizes, batch 8, on the engine's backend. Time per image (median of 5), tfjs's peak tensor
 * memory for one pass, parameters. Quick mode: one small size.
 */

export interface AttentionResult {
  features: string;
  brnpaMsPerImage: number;
  brnpaPeakKiB: number;
  parametricMsPerImage: number;
  parametricPeakKiB: number;
  parametricParameters: number;
}

export interface AttentionBench {
  name: 'attention';
  mode: 'quick' | 'full';
  results: AttentionResult[];
}

const SIZES: [number, number][] = [
  [14, 256], // ResNet-50 layer4 at 448 px / 4, narrowed
  [28, 256],
  [56, 256], // the paper's higher-resolution map side
];

export async function runAttentionBench(options: { quick: boolean; log: (line: string) => void }): Promise<AttentionBench> {
  await initBackend('wasm');
  const results: AttentionResult[] = [];
  for (const [side, channels] of options.quick ? ([[8, 64]] as [number, number][]) : SIZES) {
    options.log(`  attention: ${side}x${side}x${channels} ...`);
    const f = tf.randomUniform([8, side, side, channels], 0, 1, 'float32', 0) as tf.Tensor4D;
    const cost = await attentionCost(f, { parts: 3, refine: true });
    f.dispose();
    results.push({
      features: `8x${side}x${side}x${channels}`,
      brnpaMsPerImage: cost.nonParametric.msPerImage,
      brnpaPeakKiB: cost.nonParametric.peakKiB,
      parametricMsPerImage: cost.parametric.msPerImage,
      parametricPeakKiB: cost.parametric.peakKiB,
      parametricParameters: cost.parametric.parameters,
    });
  }
  return { name: 'attention', mode: options.quick ? 'quick' : 'full', results };
}

export function formatAttentionBench(bench: AttentionBench): string {
  const rows = bench.results.map(
    (r) =>
      `  ${r.features.padEnd(18)} ${r.brnpaMsPerImage.toFixed(2).padStart(10)} ${r.parametricMsPerImage.toFixed(2).padStart(12)} ${r.brnpaPeakKiB.toFixed(0).padStart(10)} ${r.parametricPeakKiB.toFixed(0).padStart(12)} ${String(r.parametricParameters).padStart(12)}`,
  );
  return [
    `BR-NPA attention step vs a parametric module at the same resolution (${bench.mode}; BR-NPA has 0 parameters):`,
    `  ${'features'.padEnd(18)} ${'brnpa ms'.padStart(10)} ${'param. ms'.padStart(12)} ${'brnpa KiB'.padStart(10)} ${'param. KiB'.padStart(12)} ${'param. params'.padStart(12)}`,
    ...rows,
  ].join('\n');
}
