import { describe, expect, it } from 'vitest';
import { initBackend } from '@gaze/engine';
import { QUICK, FULL, buildVggStyle, trainStepFlops } from '../bench/engine.js';

describe('trainStepFlops', () => {
  it('counts forward, weight-gradient and input-gradient multiply-adds (hand count)', async () => {
    await initBackend('wasm');
    // 32x32 input, batch 8. Forward per image: conv1 2*32*32*32*27 = 1,769,472; conv2 and conv3
    // 2*16*16*64*288 = 2*8*8*128*576 = 9,437,184; dense 2*2048*10 = 40,960. A step is 2x conv1
    // (no input gradient for the first layer) + 3x the rest = 60,284,928 per image.
    const quick = buildVggStyle(QUICK);
    expect(trainStepFlops(quick, 8)).toBe(8 * 60_284_928);
    quick.dispose();
    // 64x64, batch 32: conv1 7,077,888; conv2, conv3 37,748,736; dense 163,840 -> 2*7,077,888 + 3*75,661,312 = 241,139,712.
    const full = buildVggStyle(FULL);
    expect(trainStepFlops(full, 32)).toBe(32 * 241_139_712);
    full.dispose();
  });
});
