/**
 * `energy-pointing-game` (Wang et al., Score-CAM, CVPRW 2020; haofanwang/Score-CAM
 * `utils/energyPointGame.py`; reference spec metrics.md section 1b).
 *
 * Definition as implemented: for each image, the share of the map's energy inside the target's
 * ground-truth region, sum_{(r,c) in region} S(r,c) / sum_{(r,c)} S(r,c). Target: the ground-truth
 * label (`target: 'label'`). The region is the one the pointing game uses (`ground-truth.ts`: the
 * object mask when the batch has one for the target, else the union of all boxes of the class,
 * pixel centres inside [x0,x1) x [y0,y1)). Higher is better.
 *
 * Parameters: `groundTruth` = auto (mask, else boxes; `mask` | `boxes` force one); `skipDifficult`
 * = true (pairs whose class boxes are all VOC-difficult are not scored, as the pointing game).
 *
 * Deviations from the reference code, fixed as its known pitfalls: rows are y (the reference
 * indexes `[x1:x2, y1:y2]`, x as the row); several boxes of the class form their union (the
 * reference takes one box); the map is assumed >= 0 (maps are in [0,1] by contract; negative
 * values, if any, are clamped to 0). An all-zero map scores 0 (the reference divides 0 by 0).
 *
 * Rows: `energy_pointing_game` per scored image. Summary: `energy_pointing_game`, the mean over
 * images (perImage for the bootstrap).
 */
import type { DatasetInfo } from '@gaze/data';
import { z } from 'zod';
import { checkMapShape, registerEvaluator, type EvaluationContext, type Evaluator, type ImageScore } from '../evaluator.js';
import { targetRegions } from './ground-truth.js';

export const EnergyPointingGameConfig = z.strictObject({
  groundTruth: z.enum(['auto', 'mask', 'boxes']).default('auto'),
  skipDifficult: z.boolean().default(true),
});
export type EnergyPointingGameConfig = z.infer<typeof EnergyPointingGameConfig>;

/** Share of the (clamped >= 0) energy of values[offset .. offset + inside.length) inside the region; 0 for an all-zero map. */
export function energyShare(values: ArrayLike<number>, offset: number, inside: Uint8Array): number {
  let total = 0;
  let within = 0;
  for (let p = 0; p < inside.length; p++) {
    const v = Math.max(0, values[offset + p]);
    total += v;
    if (inside[p]) within += v;
  }
  return total > 0 ? within / total : 0;
}

export function createEnergyPointingGame(config: EnergyPointingGameConfig, where = 'energy-pointing-game'): Evaluator {
  return {
    type: 'energy-pointing-game',
    target: 'label',
    async evaluate(ctx: EvaluationContext): Promise<ImageScore[]> {
      checkMapShape(ctx, where);
      const [n, h, w] = ctx.maps.shape;
      const [regions, maps, labels] = await Promise.all([
        targetRegions(ctx.batch, ctx.targets, [h, w], config.groundTruth, where),
        ctx.maps.data() as Promise<Float32Array>,
        ctx.batch.labels.data() as Promise<Int32Array>,
      ]);
      const rows: ImageScore[] = [];
      for (let b = 0; b < n; b++) {
        const region = regions[b];
        if (!region || (config.skipDifficult && region.allDifficult)) continue;
        rows.push({ id: ctx.batch.ids[b], label: labels[b], metric: 'energy_pointing_game', value: energyShare(maps, b * h * w, region.inside) });
      }
      return rows;
    },
    summarize(rows: ImageScore[], _info: DatasetInfo) {
      const values = rows.filter((r) => r.metric === 'energy_pointing_game').map((r) => r.value);
      if (values.length === 0) return { summaries: [] };
      return { summaries: [{ metric: 'energy_pointing_game', value: values.reduce((s, v) => s + v, 0) / values.length, n: values.length, perImage: values }] };
    },
  };
}

registerEvaluator({
  type: 'energy-pointing-game',
  describe: "energy pointing game (Score-CAM): share of the map's sum inside the target object's mask or boxes",
  configSchema: EnergyPointingGameConfig,
  create: (config, { where }) => createEnergyPointingGame(config, where),
});
