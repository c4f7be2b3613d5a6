/**
 * createLatentRenderer(canvas): a debug-view renderer on one canvas, WebGL2 when it works, else the CPU
 * fallback. A canvas keeps the first context type it hands out, so the choice is made once per canvas:
 * WebGL2 support is probed on a scratch canvas first (shaders compiled there), and only then claimed.
 */
import { CanvasBackend } from './canvas-backend.ts';
import { GL_CONTEXT_ATTRIBUTES, WebGLBackend } from './gl/webgl-backend.ts';
import { planHeatmap, type HeatmapOptions, type HeatmapPlan } from './heatmap-plan.ts';
import { planLatentDisplay, type LatentDisplayOptions, type LatentPlan } from './latent-plan.ts';
import type { DebugBackend, RenderBackend } from './render-backend.ts';
import type { RgbaImage, TensorLike } from './types.ts';
import { planWipe, type WipeOrientation, type WipePlan } from './wipe-plan.ts';

export type BackendPreference = 'auto' | DebugBackend;

export interface DebugRenderer {
  /** Which path draws: 'webgl2' (fragment shaders) or 'cpu' (fallback). */
  readonly backend: DebugBackend;
  readonly canvas: HTMLCanvasElement;
  /** Draws a latent/image tensor at its own resolution; returns the plan (display ranges for captions). */
  drawLatent(tensor: TensorLike, options?: LatentDisplayOptions): LatentPlan;
  /** Draws the |a - b| heatmap; the plan carries maxDiff for the legend. */
  drawHeatmap(a: TensorLike, b: TensorLike, options?: HeatmapOptions): HeatmapPlan;
  /** Sets the wipe's two images (equal sizes), kept until replaced. */
  setWipeImages(a: RgbaImage, b: RgbaImage): void;
  /** Composes the wipe with A left of (or above) the split, a fraction in [0, 1]. */
  drawWipe(split: number, orientation?: WipeOrientation): WipePlan;
  /** The canvas pixels, top row first. */
  readPixels(): RgbaImage;
  dispose(): void;
}

export interface CreateRendererOptions {
  /** 'auto' (default): WebGL2 when available, else CPU. 'webgl2' fails without it; 'cpu' never tries GL. */
  backend?: BackendPreference;
}

let webgl2Probe: boolean | undefined;

/** Whether this browser gives a working WebGL2 context with float textures and our shaders (cached). */
export function webgl2Available(): boolean {
  if (webgl2Probe !== undefined) return webgl2Probe;
  webgl2Probe = false;
  if (typeof document === 'undefined') return false;
  const scratch = document.createElement('canvas');
  scratch.width = scratch.height = 1;
  let gl: WebGL2RenderingContext | null = null;
  try {
    gl = scratch.getContext('webgl2', GL_CONTEXT_ATTRIBUTES);
    if (gl) {
      const probe = new WebGLBackend(scratch, gl);
      probe.compileAll();
      probe.dispose();
      webgl2Probe = true;
    }
  } catch {
    webgl2Probe = false; // shaders that do not compile here count as no WebGL2
  } finally {
    gl?.getExtension('WEBGL_lose_context')?.loseContext(); // give the scratch context back now
  }
  return webgl2Probe;
}

export function createLatentRenderer(canvas: HTMLCanvasElement, options: CreateRendererOptions = {}): DebugRenderer {
  return new PlannedRenderer(createBackend(canvas, options.backend ?? 'auto'));
}

function createBackend(canvas: HTMLCanvasElement, preference: BackendPreference): RenderBackend {
  if (preference !== 'cpu' && (preference === 'webgl2' || webgl2Available())) {
    const gl = canvas.getContext('webgl2', GL_CONTEXT_ATTRIBUTES);
    // Programs compile on first use: the probe already proved they compile in this browser.
    if (gl) return new WebGLBackend(canvas, gl);
    if (preference === 'webgl2') {
      throw new Error('DebugRenderer: WebGL2 is not available on this canvas (no GPU, or it already has a 2D context)');
    }
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('DebugRenderer: the canvas gives neither a WebGL2 nor a 2D context (it may hold another context type)');
  return new CanvasBackend(canvas, ctx);
}

/** Turns inputs into plans (validation, statistics) and hands them to the backend. */
class PlannedRenderer implements DebugRenderer {
  constructor(private readonly impl: RenderBackend) {}

  get backend(): DebugBackend {
    return this.impl.kind;
  }

  get canvas(): HTMLCanvasElement {
    return this.impl.canvas;
  }

  drawLatent(tensor: TensorLike, options?: LatentDisplayOptions): LatentPlan {
    const plan = planLatentDisplay(tensor, options);
    this.impl.drawLatent(plan);
    return plan;
  }

  drawHeatmap(a: TensorLike, b: TensorLike, options?: HeatmapOptions): HeatmapPlan {
    const plan = planHeatmap(a, b, options);
    this.impl.drawHeatmap(plan);
    return plan;
  }

  private wipeImages: { a: RgbaImage; b: RgbaImage } | null = null;

  setWipeImages(a: RgbaImage, b: RgbaImage): void {
    planWipe(a, b, 0); // validates both images now, not at the first drag
    this.wipeImages = { a, b };
    this.impl.setWipeImages(a, b);
  }

  drawWipe(split: number, orientation?: WipeOrientation): WipePlan {
    if (!this.wipeImages) throw new Error('ABWipe: no images set (call setWipeImages first)');
    const plan = planWipe(this.wipeImages.a, this.wipeImages.b, split, orientation);
    this.impl.drawWipe(plan);
    return plan;
  }

  readPixels(): RgbaImage {
    return this.impl.read();
  }

  dispose(): void {
    this.impl.dispose();
    this.wipeImages = null;
  }
}
