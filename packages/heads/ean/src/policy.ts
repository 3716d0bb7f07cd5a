import type { Rng } from '@gaze/engine';

/** The policy's saved form. */
export interface PolicyState {
  logits: number[];
  m: number[];
  v: number[];
  t: number;
  baseline: number | null;
}

/**
 * EAN's search policy: one Bernoulli per block (connect the shared module there or not), trained
 * with REINFORCE. The reference's controller is an MLP on a constant input followed by a 2-way
 * softmax per block, which is in effect one free logit per block (methods.md section 5.4); here
 * the logits are the parameters. Loss -mean_i (R_i - b) sum_t log pi(a_it), b an exponential moving
 * average of the mean reward, Adam on the logits. Plain numbers: a few dozen parameters.
 */
export class ConnectionPolicy {
  private readonly logits: Float64Array;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  private baseline: number | undefined;

  constructor(
    readonly blocks: number,
    readonly options: { lr: number; baselineDecay: number } = { lr: 0.05, baselineDecay: 0.95 },
  ) {
    this.logits = new Float64Array(blocks);
    this.m = new Float64Array(blocks);
    this.v = new Float64Array(blocks);
  }

  /** P(connect) per block. */
  probabilities(): number[] {
    return Array.from(this.logits, (z) => 1 / (1 + Math.exp(-z)));
  }

  sample(rng: Rng): boolean[] {
    return this.probabilities().map((p) => rng.next() < p);
  }

  /** The most probable scheme. */
  best(): boolean[] {
    return Array.from(this.logits, (z) => z >= 0);
  }

  /** One REINFORCE step on schemes sampled from the current policy and their rewards; returns the baseline used. */
  update(samples: boolean[][], rewards: number[]): number {
    if (samples.length === 0 || samples.length !== rewards.length) throw new Error('ConnectionPolicy.update: one reward per sample');
    const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
    const baseline = this.baseline ?? mean;
    const p = this.probabilities();
    // d/dz log pi(a) = a - p for a Bernoulli with logit z; the loss's gradient is minus the advantage-weighted mean.
    const grad = p.map((pt, t) => -samples.reduce((g, a, i) => g + (rewards[i] - baseline) * ((a[t] ? 1 : 0) - pt), 0) / samples.length);
    const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
    this.t++;
    grad.forEach((g, k) => {
      this.m[k] = beta1 * this.m[k] + (1 - beta1) * g;
      this.v[k] = beta2 * this.v[k] + (1 - beta2) * g * g;
      const mHat = this.m[k] / (1 - beta1 ** this.t);
      const vHat = this.v[k] / (1 - beta2 ** this.t);
      this.logits[k] -= (this.options.lr * mHat) / (Math.sqrt(vHat) + eps);
    });
    this.baseline = this.options.baselineDecay * baseline + (1 - this.options.baselineDecay) * mean;
    return baseline;
  }

  state(): PolicyState {
    return { logits: Array.from(this.logits), m: Array.from(this.m), v: Array.from(this.v), t: this.t, baseline: this.baseline ?? null };
  }

  restore(state: PolicyState): void {
    if (state.logits.length !== this.blocks) throw new Error(`ConnectionPolicy.restore: ${state.logits.length} logits for ${this.blocks} blocks`);
    this.logits.set(state.logits);
    this.m.set(state.m);
    this.v.set(state.v);
    this.t = state.t;
    this.baseline = state.baseline ?? undefined;
  }
}

/** Connection pattern per stage as bit strings, e.g. `101 | 011 | 110` (blocks in forward order). */
export function connectionPattern(connections: boolean[], blocksPerStage: number): string {
  const stages: string[] = [];
  for (let i = 0; i < connections.length; i += blocksPerStage) stages.push(connections.slice(i, i + blocksPerStage).map((c) => (c ? '1' : '0')).join(''));
  return stages.join(' | ');
}
