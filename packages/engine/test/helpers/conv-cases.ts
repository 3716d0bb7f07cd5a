type Pad = 'same' | 'valid' | number;

export interface ConvCase {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  stride: number | [number, number];
  pad: Pad;
}

/** Conv shapes for the backprop kernel tests: strides 1 and 2, same/valid/explicit padding. */
export function convBackpropCases(): ConvCase[] {
  const cases: ConvCase[] = [];
  for (const stride of [1, 2] as const) {
    for (const pad of ['same', 'valid', 1] as const) {
      cases.push({ x: [2, 7, 7, 3], k: [3, 3], co: 4, stride, pad });
      cases.push({ x: [3, 9, 6, 2], k: [3, 2], co: 5, stride, pad });
      cases.push({ x: [1, 8, 8, 4], k: [1, 1], co: 3, stride, pad });
      cases.push({ x: [2, 10, 11, 3], k: [5, 5], co: 2, stride, pad });
    }
  }
  cases.push({ x: [2, 9, 9, 3], k: [3, 3], co: 4, stride: [2, 1], pad: 'same' });
  cases.push({ x: [4, 16, 16, 8], k: [3, 3], co: 16, stride: 2, pad: 'valid' });
  return cases;
}
