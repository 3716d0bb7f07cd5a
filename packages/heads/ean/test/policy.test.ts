import { Rng } from '@gaze/engine';
import { describe, expect, it } from 'vitest';
import { ConnectionPolicy, connectionPattern } from '../src/index.js';

describe('ConnectionPolicy', () => {
  it('starts at P(connect) = 0.5 everywhere', () => {
    expect(new ConnectionPolicy(4).probabilities()).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it('moves toward the rewarded connection and away from the penalised one (toy reward)', () => {
    // Reward: +1 for connecting block 2, -0.5 for connecting block 0, blocks 1 and 3 do not matter.
    const policy = new ConnectionPolicy(4);
    const rng = new Rng(0, 'toy');
    for (let step = 0; step < 150; step++) {
      const samples = Array.from({ length: 3 }, () => policy.sample(rng));
      policy.update(samples, samples.map((a) => (a[2] ? 1 : 0) - (a[0] ? 0.5 : 0)));
    }
    const p = policy.probabilities();
    expect(p[2]).toBeGreaterThan(0.95);
    expect(p[0]).toBeLessThan(0.05);
    expect(policy.best()[2]).toBe(true);
    expect(policy.best()[0]).toBe(false);
    // The irrelevant blocks' logits get zero-mean noise only, far less movement than the rewarded ones.
    expect(Math.abs(p[1] - 0.5)).toBeLessThan(Math.abs(p[2] - 0.5));
  });

  it('takes one hand-computed Adam step: the first step moves each logit by lr along the sign of the advantage-weighted score', () => {
    const policy = new ConnectionPolicy(2, { lr: 0.1, baselineDecay: 0.9 });
    // Baseline = the first mean reward (0.5); advantages +0.5 and -0.5.
    // grad_0 = -((0.5)(1 - 0.5) + (-0.5)(0 - 0.5)) / 2 = -0.25 -> logit_0 += 0.1 (Adam's first step is lr * sign).
    // grad_1 = -((0.5)(0 - 0.5) + (-0.5)(0 - 0.5)) / 2 = 0 -> unchanged.
    const baseline = policy.update([[true, false], [false, false]], [1, 0]);
    expect(baseline).toBe(0.5);
    const [z0, z1] = policy.state().logits;
    expect(z0).toBeCloseTo(0.1, 6);
    expect(z1).toBe(0);
    expect(policy.state().baseline).toBeCloseTo(0.5, 12);
  });

  it('saves and restores its state exactly', () => {
    const a = new ConnectionPolicy(3);
    a.update([[true, true, false]], [0.7]);
    a.update([[false, true, true]], [0.2]);
    const b = new ConnectionPolicy(3);
    b.restore(a.state());
    a.update([[true, false, true]], [0.9]);
    b.update([[true, false, true]], [0.9]);
    expect(b.state()).toEqual(a.state());
  });

  it('writes the pattern per stage', () => {
    expect(connectionPattern([true, false, true, false, true, true], 3)).toBe('101 | 011');
  });
});
