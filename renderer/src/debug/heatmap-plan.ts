/**
 * Difference heatmap between two tensors of one shape: per pixel, |a - b| averaged over channels, divided by
 * the largest such value (or a fixed maximum) and looked up in a perceptual colormap. The reduction to the
 * maximum happens here on the CPU; the per-pixel work runs in shaders/heatmap.frag.glsl or the CPU fallback.
 */
import { colormapLut, COLORMAP_NAMES, type ColormapName } from './colormaps.ts';
import { selectBatchItem, type TensorLike } from './types.ts';

const VIEW = 'DiffHeatmap';

export interface HeatmapOptions {
  batchIndex?: number;
  /** Default 'inferno'. */
  colormap?: ColormapName;
  /** The difference shown at the top of the colormap; default: the largest difference in the image. */
  max?: number;
}

export interface HeatmapPlan {
  width: number;
  height: number;
  channels: number;
  /** channels planes each, row 0 first. */
  a: Float32Array;
  b: Float32Array;
  /** Largest finite per-pixel mean |a - b|. */
  maxDiff: number;
  /** Mean over pixels of the per-pixel mean |a - b| (finite pixels only). */
  meanDiff: number;
  /** The difference mapped to the top of the colormap (options.max or maxDiff). */
  scaleMax: number;
  /** 1 / scaleMax, or 0 when everything is equal (all pixels take the bottom colour). */
  invMax: number;
  colormap: ColormapName;
  lut: Uint8Array;
}

export function planHeatmap(a: TensorLike, b: TensorLike, options: HeatmapOptions = {}): HeatmapPlan {
  const ia = selectBatchItem(`${VIEW} (A)`, a, options.batchIndex ?? 0);
  const ib = selectBatchItem(`${VIEW} (B)`, b, options.batchIndex ?? 0);
  if (ia.channels !== ib.channels || ia.height !== ib.height || ia.width !== ib.width) {
    throw new Error(
      `${VIEW}: A and B differ in shape: [${ia.channels}, ${ia.height}, ${ia.width}] vs [${ib.channels}, ${ib.height}, ${ib.width}] (C, H, W)`,
    );
  }
  const colormap = options.colormap ?? 'inferno';
  if (!COLORMAP_NAMES.includes(colormap)) {
    throw new Error(`${VIEW}: unknown colormap '${colormap}' (known: ${COLORMAP_NAMES.join(', ')})`);
  }
  if (options.max !== undefined && !(Number.isFinite(options.max) && options.max > 0)) {
    throw new Error(`${VIEW}: max must be a finite number > 0, got ${options.max}`);
  }
  const { channels, height, width } = ia;
  const n = width * height;
  let maxDiff = 0;
  let sum = 0;
  let count = 0;
  for (let p = 0; p < n; p++) {
    const d = meanAbsDiff(ia.data, ib.data, channels, n, p);
    if (!Number.isFinite(d)) continue;
    if (d > maxDiff) maxDiff = d;
    sum += d;
    count++;
  }
  const scaleMax = options.max ?? maxDiff;
  return {
    width,
    height,
    channels,
    a: ia.data,
    b: ib.data,
    maxDiff,
    meanDiff: count > 0 ? sum / count : 0,
    scaleMax,
    invMax: scaleMax > 0 ? 1 / scaleMax : 0,
    colormap,
    lut: colormapLut(colormap),
  };
}

/** Mean over channels of |a - b| at pixel p (planes of n values). */
export function meanAbsDiff(a: Float32Array, b: Float32Array, channels: number, n: number, p: number): number {
  let s = 0;
  for (let c = 0; c < channels; c++) s += Math.abs(a[c * n + p] - b[c * n + p]);
  return s / channels;
}
