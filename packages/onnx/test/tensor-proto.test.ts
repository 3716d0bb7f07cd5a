import { describe, expect, it } from 'vitest';
import { DATA_TYPE, decodeTensor } from '../src/proto/tensor-proto.js';

describe('decoding tensors', () => {
  // bfloat16 is a float32's top 16 bits: 0x3f80 = 1, 0xc040 = -3, 0x4049 = 3.140625, 0x0000 = 0.
  const bits = [0x3f80, 0xc040, 0x4049, 0x0000];
  const expected = [1, -3, 3.140625, 0];

  it('bfloat16 from raw little-endian bytes and from int32_data', () => {
    const rawData = Uint8Array.from(bits.flatMap((b) => [b & 0xff, b >> 8]));
    const raw = decodeTensor({ name: 'r', dataType: DATA_TYPE.BFLOAT16, dims: [4], rawData }, undefined, 'test');
    expect(raw?.dtype).toBe('float32');
    expect(Array.from(raw!.data)).toEqual(expected);
    const fields = decodeTensor({ name: 'f', dataType: DATA_TYPE.BFLOAT16, dims: [2, 2], int32Data: bits }, undefined, 'test');
    expect(fields?.shape).toEqual([2, 2]);
    expect(Array.from(fields!.data)).toEqual(expected);
  });
});
