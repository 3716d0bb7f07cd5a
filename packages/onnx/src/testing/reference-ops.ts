/**
 * Plain-loop NCHW references for the window ops, written from the ONNX operator definitions and
 * PyTorch's pooling rules (independent of the importer's tfjs mapping).
 */

export interface Nchw {
  shape: [number, number, number, number];
  data: Float32Array;
}

export function nchw(shape: [number, number, number, number], f: (i: number) => number): Nchw {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float32Array.from({ length: n }, (_, i) => f(i)) };
}

/** A deterministic pseudo-random value in [-1, 1) for index i. */
export function noise(i: number, salt = 1): number {
  const s = Math.sin((i + 1) * 12.9898 * salt + salt * 78.233) * 43758.5453;
  return (s - Math.floor(s)) * 2 - 1;
}

const at = (t: Nchw, n: number, c: number, h: number, w: number) => t.data[((n * t.shape[1] + c) * t.shape[2] + h) * t.shape[3] + w];

/** Y = conv(X, W) + B with ONNX's pads [top, left, bottom, right], strides, dilations and group. */
export function convReference(x: Nchw, w: Nchw, bias: Float32Array | undefined, o: { strides: number[]; pads: number[]; dilations: number[]; group: number }): Nchw {
  const [n, , h, wd] = x.shape;
  const [co, cig, kh, kw] = w.shape;
  const [pt, pl, pb, pr] = o.pads;
  const ho = Math.floor((h + pt + pb - ((kh - 1) * o.dilations[0] + 1)) / o.strides[0]) + 1;
  const wo = Math.floor((wd + pl + pr - ((kw - 1) * o.dilations[1] + 1)) / o.strides[1]) + 1;
  const perGroup = co / o.group;
  return nchw([n, co, ho, wo], (i) => {
    const ow = i % wo;
    const oh = Math.floor(i / wo) % ho;
    const oc = Math.floor(i / (wo * ho)) % co;
    const b = Math.floor(i / (wo * ho * co));
    const g = Math.floor(oc / perGroup);
    let sum = bias ? bias[oc] : 0;
    for (let ci = 0; ci < cig; ci++) {
      for (let y = 0; y < kh; y++) {
        for (let xx = 0; xx < kw; xx++) {
          const ih = oh * o.strides[0] + y * o.dilations[0] - pt;
          const iw = ow * o.strides[1] + xx * o.dilations[1] - pl;
          if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
          sum += at(x, b, g * cig + ci, ih, iw) * at(w, oc, ci, y, xx);
        }
      }
    }
    return sum;
  });
}

/** PyTorch max/avg pooling: pads, ceil_mode (last window starts inside the input or left pad), count_include_pad. */
export function poolReference(x: Nchw, o: { kernel: number[]; strides: number[]; pads: number[]; ceil: boolean; mode: 'max' | 'avg'; countIncludePad?: boolean }): Nchw {
  const [n, c, h, w] = x.shape;
  const [pt, pl, pb, pr] = o.pads;
  const size = (len: number, k: number, s: number, p0: number, p1: number) => {
    let out = (o.ceil ? Math.ceil((len + p0 + p1 - k) / s) : Math.floor((len + p0 + p1 - k) / s)) + 1;
    if (o.ceil && (out - 1) * s >= len + p0) out--;
    return out;
  };
  const ho = size(h, o.kernel[0], o.strides[0], pt, pb);
  const wo = size(w, o.kernel[1], o.strides[1], pl, pr);
  return nchw([n, c, ho, wo], (i) => {
    const ow = i % wo;
    const oh = Math.floor(i / wo) % ho;
    const ch = Math.floor(i / (wo * ho)) % c;
    const b = Math.floor(i / (wo * ho * c));
    const h0 = oh * o.strides[0] - pt;
    const w0 = ow * o.strides[1] - pl;
    // The window clipped to the padded input (what count_include_pad counts)...
    const hEnd = Math.min(h0 + o.kernel[0], h + pb);
    const wEnd = Math.min(w0 + o.kernel[1], w + pr);
    const padded = (hEnd - h0) * (wEnd - w0);
    let best = -Infinity;
    let sum = 0;
    let count = 0;
    // ...and to the input (what is read).
    for (let y = Math.max(h0, 0); y < Math.min(hEnd, h); y++) {
      for (let xx = Math.max(w0, 0); xx < Math.min(wEnd, w); xx++) {
        const v = at(x, b, ch, y, xx);
        best = Math.max(best, v);
        sum += v;
        count++;
      }
    }
    if (o.mode === 'max') return best;
    return sum / (o.countIncludePad ? padded : count);
  });
}
