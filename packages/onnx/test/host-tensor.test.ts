import { describe, expect, it } from 'vitest';
import { hostConcat, hostElementwise, hostExpand, hostGather, hostSlice, hostTensor, hostTranspose } from '../src/runtime/host-tensor.js';

// The host ops fold shape arithmetic and constant initializers; each is checked against values
// worked out by hand on a 2x3 tensor [[0,1,2],[3,4,5]].
const t = hostTensor('float32', [2, 3], [0, 1, 2, 3, 4, 5]);
const values = (h: { data: ArrayLike<number> }) => Array.from(h.data);

describe('host tensors', () => {
  it('transpose: [[0,3],[1,4],[2,5]]', () => {
    const r = hostTranspose(t, [1, 0]);
    expect(r.shape).toEqual([3, 2]);
    expect(values(r)).toEqual([0, 3, 1, 4, 2, 5]);
    const cube = hostTensor('int64', [2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7]);
    // out axis 0 is input axis 2 (as numpy.transpose): out[a][b][c] = in[b][c][a] = 4b + 2c + a
    expect(values(hostTranspose(cube, [2, 0, 1]))).toEqual([0, 2, 4, 6, 1, 3, 5, 7]);
  });

  it('slice with an offset start and a negative step: row 1, columns 2 then 0', () => {
    const r = hostSlice(t, [
      { start: 1, size: 1, step: 1 },
      { start: 2, size: 2, step: -2 },
    ]);
    expect(r.shape).toEqual([1, 2]);
    expect(values(r)).toEqual([5, 3]);
  });

  it('expand and elementwise broadcast a column against a row', () => {
    const column = hostTensor('int64', [2, 1], [10, 20]);
    const expanded = hostExpand(column, [1, 3]);
    expect(expanded.shape).toEqual([2, 3]);
    expect(values(expanded)).toEqual([10, 10, 10, 20, 20, 20]);
    const row = hostTensor('int64', [3], [1, 2, 3]);
    const sum = hostElementwise([column, row], 'int64', (a, b) => a + b);
    expect(sum.shape).toEqual([2, 3]);
    expect(values(sum)).toEqual([11, 12, 13, 21, 22, 23]);
    expect(() => hostElementwise([t, row, hostTensor('int64', [2], [1, 2])], 'int64', (a) => a)).toThrow(/do not broadcast/);
  });

  it('gather and concat along the last axis', () => {
    expect(values(hostGather(t, hostTensor('int64', [2], [-1, 0]), 1))).toEqual([2, 0, 5, 3]);
    const c = hostConcat([t, hostTensor('float32', [2, 1], [9, 8])], 1);
    expect(c.shape).toEqual([2, 4]);
    expect(values(c)).toEqual([0, 1, 2, 9, 3, 4, 5, 8]);
  });
});
