/**
 * CPU fallbacks: the same per-pixel rules as the fragment shaders in shaders/, over the same plans, written
 * into RGBA bytes (top row first). Pure: no DOM, usable in Node tests and in the browser without WebGL.
 */
import { colormapIndex } from './colormaps.ts';
import { meanAbsDiff, planHeatmap, type HeatmapOptions, type HeatmapPlan } from './heatmap-plan.ts';
import { displayValue, planLatentDisplay, type LatentDisplayOptions, type LatentPlan } from './latent-plan.ts';
import { createRgbaImage, type RgbaImage, type TensorLike } from './types.ts';
import type { WipePlan } from './wipe-plan.ts';

/** [0, 1] -> 0..255 as the GPU stores a float into an 8-bit target; NaN -> 0, like latent.frag.glsl. */
function unitToByte(v: number): number {
  const clamped = v >= 0 ? Math.min(v, 1) : 0;
  return Math.floor(clamped * 255 + 0.5);
}

export function renderLatentCpu(plan: LatentPlan): RgbaImage {
  const out = createRgbaImage(plan.width, plan.height);
  const n = plan.width * plan.height;
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < 3; k++) {
      const v = (displayValue(plan, k, p) - plan.lo[k]) * plan.scale[k] + plan.base[k];
      out.data[p * 4 + k] = unitToByte(v);
    }
  }
  return out;
}

/** Latent (or image) tensor -> RGBA pixels with channel mapping and normalization, on the CPU. */
export function renderLatentToImageData(tensor: TensorLike, options: LatentDisplayOptions = {}): RgbaImage {
  return renderLatentCpu(planLatentDisplay(tensor, options));
}

export function renderHeatmapCpu(plan: HeatmapPlan): RgbaImage {
  const out = createRgbaImage(plan.width, plan.height);
  const n = plan.width * plan.height;
  for (let p = 0; p < n; p++) {
    const i = colormapIndex(meanAbsDiff(plan.a, plan.b, plan.channels, n, p) * plan.invMax) * 3;
    out.data[p * 4] = plan.lut[i];
    out.data[p * 4 + 1] = plan.lut[i + 1];
    out.data[p * 4 + 2] = plan.lut[i + 2];
  }
  return out;
}

/** Difference heatmap of two tensors -> RGBA pixels and the maximum difference, on the CPU. */
export function renderHeatmapToImageData(a: TensorLike, b: TensorLike, options: HeatmapOptions = {}): { image: RgbaImage; plan: HeatmapPlan } {
  const plan = planHeatmap(a, b, options);
  return { image: renderHeatmapCpu(plan), plan };
}

export function renderWipeCpu(a: RgbaImage, b: RgbaImage, plan: WipePlan): RgbaImage {
  const out = createRgbaImage(plan.width, plan.height);
  for (let y = 0; y < plan.height; y++) {
    for (let x = 0; x < plan.width; x++) {
      const src = (plan.vertical ? y : x) < plan.splitPx ? a : b;
      const i = (y * plan.width + x) * 4;
      out.data[i] = src.data[i];
      out.data[i + 1] = src.data[i + 1];
      out.data[i + 2] = src.data[i + 2];
      // alpha stays 255: the views are opaque on both paths
    }
  }
  return out;
}
