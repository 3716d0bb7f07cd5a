/**
 * Where tfjs's resize kernels sample, per output row (or column), written once so the gradients
 * below are exact adjoints of tfjs's forward ResizeBilinear / ResizeNearestNeighbor on every
 * backend, for all three sampling grids:
 *   - alignCorners: corners map to corners, src = dst * (in-1)/(out-1);
 *   - halfPixelCenters (PyTorch's align_corners=False): src = (dst + 0.5) * in/out - 0.5;
 *   - legacy TF1 grid: src = dst * in/out.
 */

function ratio(inSize: number, outSize: number, alignCorners: boolean): number {
  return alignCorners && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
}

/** Bilinear taps: output i = (1 - frac[i]) * in[lo[i]] + frac[i] * in[hi[i]]. */
export function bilinearTaps(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean) {
  const scale = ratio(inSize, outSize, alignCorners);
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const src = halfPixelCenters ? scale * (i + 0.5) - 0.5 : scale * i;
    // As tfjs does: clamp the lower tap at 0 but keep the raw fraction; when src < 0 both taps
    // are row 0, so the weights still sum to 1 on it.
    lo[i] = Math.max(0, Math.floor(src));
    hi[i] = Math.min(inSize - 1, Math.ceil(src));
    frac[i] = src - lo[i];
  }
  return { lo, hi, frac };
}

/** Nearest-neighbour source index for each output index. */
export function nearestTaps(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): Int32Array {
  const scale = ratio(inSize, outSize, alignCorners);
  const src = new Int32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const at = halfPixelCenters ? scale * (i + 0.5) : scale * i;
    let idx = Math.min(inSize - 1, alignCorners ? Math.round(at) : Math.floor(at));
    if (halfPixelCenters) idx = Math.max(0, idx);
    src[i] = idx;
  }
  return src;
}
