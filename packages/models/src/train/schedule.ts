import type { TrainConfig } from './train-config.js';

type ScheduleConfig = Pick<
  TrainConfig,
  'epochs' | 'lr' | 'schedule' | 'warmupEpochs' | 'minLr' | 'oneCyclePctStart' | 'oneCycleDivFactor' | 'oneCycleFinalDivFactor'
>;

/** Cosine interpolation from `start` (pct 0) to `end` (pct 1), PyTorch's `_annealing_cos`. */
function annealCos(start: number, end: number, pct: number): number {
  return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
}

/**
 * The learning rate of optimizer step `stepIndex` (0-based) of `totalSteps` in the whole run.
 *
 * - constant: `lr` (after the warm-up).
 * - cosine: after the warm-up, lr_t = minLr + (lr - minLr) * (1 + cos(pi * t)) / 2 with
 *   t = (step - warmup) / (total - warmup), so the midpoint is (lr + minLr) / 2 (CosineAnnealingLR
 *   with T_max = the post-warm-up steps).
 * - one-cycle: PyTorch's OneCycleLR (two phases, cosine annealing): from lr / divFactor up to lr at
 *   step pctStart * total - 1, then down to lr / (divFactor * finalDivFactor) at step total - 1.
 *
 * Warm-up (constant, cosine): round(warmupEpochs / epochs * totalSteps) steps rising linearly,
 * step i at lr * (i + 1) / warmupSteps, so the last warm-up step uses lr.
 */
export function learningRateAt(config: ScheduleConfig, stepIndex: number, totalSteps: number): number {
  const { lr } = config;
  if (config.schedule === 'one-cycle') {
    const initial = lr / config.oneCycleDivFactor;
    const final = initial / config.oneCycleFinalDivFactor;
    const peakStep = config.oneCyclePctStart * totalSteps - 1;
    const phases = [
      { end: peakStep, from: initial, to: lr },
      { end: totalSteps - 1, from: lr, to: final },
    ];
    let start = 0;
    for (let i = 0; i < phases.length; i++) {
      const phase = phases[i];
      if (stepIndex <= phase.end || i === phases.length - 1) {
        const span = phase.end - start;
        const pct = span > 0 ? Math.min(1, Math.max(0, (stepIndex - start) / span)) : 1;
        return annealCos(phase.from, phase.to, pct);
      }
      start = phase.end;
    }
  }
  const warmupSteps = Math.min(totalSteps, Math.round((config.warmupEpochs / config.epochs) * totalSteps));
  if (stepIndex < warmupSteps) return (lr * (stepIndex + 1)) / warmupSteps;
  if (config.schedule === 'constant') return lr;
  const t = (stepIndex - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return config.minLr + ((lr - config.minLr) * (1 + Math.cos(Math.PI * t))) / 2;
}
