/**
 * CPU fallback backend: runs the cpu-render.ts rules and puts the bytes on a 2D canvas. Used when WebGL2 is
 * unavailable (headless Chromium with --disable-gpu, blocklisted drivers) or when asked for explicitly.
 */
import { renderHeatmapCpu, renderLatentCpu, renderWipeCpu } from './cpu-render.ts';
import type { HeatmapPlan } from './heatmap-plan.ts';
import type { LatentPlan } from './latent-plan.ts';
import type { RenderBackend } from './render-backend.ts';
import type { RgbaImage } from './types.ts';
import type { WipePlan } from './wipe-plan.ts';

export class CanvasBackend implements RenderBackend {
  readonly kind = 'cpu' as const;
  private wipeImages: { a: RgbaImage; b: RgbaImage } | null = null;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly ctx: CanvasRenderingContext2D,
  ) {}

  drawLatent(plan: LatentPlan): void {
    this.put(renderLatentCpu(plan));
  }

  drawHeatmap(plan: HeatmapPlan): void {
    this.put(renderHeatmapCpu(plan));
  }

  setWipeImages(a: RgbaImage, b: RgbaImage): void {
    this.wipeImages = { a, b };
  }

  drawWipe(plan: WipePlan): void {
    if (!this.wipeImages) throw new Error('ABWipe: no images set (call setWipeImages first)');
    this.put(renderWipeCpu(this.wipeImages.a, this.wipeImages.b, plan));
  }

  read(): RgbaImage {
    const { width, height } = this.canvas;
    const image = this.ctx.getImageData(0, 0, width, height);
    return { width, height, data: image.data };
  }

  dispose(): void {
    this.wipeImages = null;
  }

  private put(image: RgbaImage): void {
    const { canvas, ctx } = this;
    if (canvas.width !== image.width) canvas.width = image.width;
    if (canvas.height !== image.height) canvas.height = image.height;
    const target = ctx.createImageData(image.width, image.height);
    target.data.set(image.data);
    ctx.putImageData(target, 0, 0);
  }
}
