/**
 * What a debug canvas can draw, once a plan is made. Two implementations with identical pixels:
 * WebGLBackend (gl/webgl-backend.ts, fragment shaders) and CanvasBackend (CPU fallback, 2D canvas).
 */
import type { HeatmapPlan } from './heatmap-plan.ts';
import type { LatentPlan } from './latent-plan.ts';
import type { RgbaImage } from './types.ts';
import type { WipePlan } from './wipe-plan.ts';

export type DebugBackend = 'webgl2' | 'cpu';

export interface RenderBackend {
  readonly kind: DebugBackend;
  readonly canvas: HTMLCanvasElement;
  drawLatent(plan: LatentPlan): void;
  drawHeatmap(plan: HeatmapPlan): void;
  /** The two images the wipe composes; kept (and uploaded once) until replaced. */
  setWipeImages(a: RgbaImage, b: RgbaImage): void;
  drawWipe(plan: WipePlan): void;
  /** The canvas pixels, top row first. */
  read(): RgbaImage;
  dispose(): void;
}
