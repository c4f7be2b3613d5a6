/**
 * The WebGL2 backend of the debug renderer: uploads a plan's float planes as R32F texture arrays (or RGBA8
 * images for the wipe) and runs one fullscreen fragment pass at the image's own resolution; CSS scales the
 * canvas up. Survives context loss by redrawing the last frame when the context comes back.
 */
import { COLORMAP_SIZE } from '../colormaps.ts';
import type { HeatmapPlan } from '../heatmap-plan.ts';
import { MAX_LATENT_LAYERS, type LatentPlan } from '../latent-plan.ts';
import type { RenderBackend } from '../render-backend.ts';
import type { RgbaImage } from '../types.ts';
import type { WipePlan } from '../wipe-plan.ts';
import { linkProgram, type LinkedProgram, type ProgramName } from './programs.ts';

/** Context attributes: exact pixels (no antialiasing, opaque), readable after drawing. */
export const GL_CONTEXT_ATTRIBUTES: WebGLContextAttributes = {
  alpha: false,
  antialias: false,
  depth: false,
  stencil: false,
  premultipliedAlpha: false,
  preserveDrawingBuffer: true,
};

interface Resources {
  programs: Partial<Record<ProgramName, LinkedProgram>>;
  vao: WebGLVertexArrayObject;
  textures: WebGLTexture[];
}

export class WebGLBackend implements RenderBackend {
  readonly kind = 'webgl2' as const;
  private res: Resources | null;
  private lost = false;
  private redraw: (() => void) | null = null;
  private wipeImages: { a: RgbaImage; b: RgbaImage; uploaded: boolean } | null = null;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly gl: WebGL2RenderingContext,
  ) {
    this.res = this.createResources();
    canvas.addEventListener('webglcontextlost', this.onLost);
    canvas.addEventListener('webglcontextrestored', this.onRestored);
  }

  /** Compiles every program now, so a broken driver shows up at creation rather than at first draw. */
  compileAll(): void {
    this.program('latent');
    this.program('heatmap');
    this.program('wipe');
  }

  drawLatent(plan: LatentPlan): void {
    this.redraw = () => this.drawLatent(plan);
    if (this.lost) return;
    const { gl } = this;
    const p = this.program('latent');
    this.begin(p, plan.width, plan.height);
    this.uploadPlanes(0, plan.layers, plan.width, plan.height, Math.max(1, plan.layerCount));
    gl.uniform1i(p.uniform('u_layers'), 0);
    gl.uniform1i(p.uniform('u_layerCount'), plan.layerCount);
    gl.uniform1i(p.uniform('u_height'), plan.height);
    const weights = new Float32Array(MAX_LATENT_LAYERS * 3);
    weights.set(plan.weights);
    gl.uniform3fv(p.uniform('u_weights'), weights);
    gl.uniform3fv(p.uniform('u_bias'), plan.bias);
    gl.uniform3fv(p.uniform('u_lo'), plan.lo);
    gl.uniform3fv(p.uniform('u_scale'), plan.scale);
    gl.uniform3fv(p.uniform('u_base'), plan.base);
    this.finish();
  }

  drawHeatmap(plan: HeatmapPlan): void {
    this.redraw = () => this.drawHeatmap(plan);
    if (this.lost) return;
    const { gl } = this;
    const p = this.program('heatmap');
    this.begin(p, plan.width, plan.height);
    this.uploadPlanes(0, plan.a, plan.width, plan.height, plan.channels);
    this.uploadPlanes(1, plan.b, plan.width, plan.height, plan.channels);
    this.uploadLut(2, plan.lut);
    gl.uniform1i(p.uniform('u_a'), 0);
    gl.uniform1i(p.uniform('u_b'), 1);
    gl.uniform1i(p.uniform('u_lut'), 2);
    gl.uniform1i(p.uniform('u_channels'), plan.channels);
    gl.uniform1i(p.uniform('u_height'), plan.height);
    gl.uniform1f(p.uniform('u_invMax'), plan.invMax);
    this.finish();
  }

  setWipeImages(a: RgbaImage, b: RgbaImage): void {
    this.wipeImages = { a, b, uploaded: false };
  }

  drawWipe(plan: WipePlan): void {
    this.redraw = () => this.drawWipe(plan);
    if (this.lost) return;
    const images = this.wipeImages;
    if (!images) throw new Error('ABWipe: no images set (call setWipeImages first)');
    const { gl } = this;
    const p = this.program('wipe');
    this.begin(p, plan.width, plan.height);
    // Dragging the split only changes a uniform: the images are uploaded once (units 3 and 4 stay bound).
    if (!images.uploaded) {
      this.uploadRgba(3, images.a);
      this.uploadRgba(4, images.b);
      images.uploaded = true;
    }
    gl.uniform1i(p.uniform('u_a'), 3);
    gl.uniform1i(p.uniform('u_b'), 4);
    gl.uniform1i(p.uniform('u_height'), plan.height);
    gl.uniform1i(p.uniform('u_split'), plan.splitPx);
    gl.uniform1i(p.uniform('u_vertical'), plan.vertical ? 1 : 0);
    this.finish();
  }

  read(): RgbaImage {
    const { gl, canvas } = this;
    const width = canvas.width;
    const height = canvas.height;
    const raw = new Uint8Array(width * height * 4);
    if (!this.lost) gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, raw);
    // GL returns the bottom row first; images here are top row first.
    const data = new Uint8ClampedArray(raw.length);
    const row = width * 4;
    for (let y = 0; y < height; y++) data.set(raw.subarray((height - 1 - y) * row, (height - y) * row), y * row);
    return { width, height, data };
  }

  dispose(): void {
    this.canvas.removeEventListener('webglcontextlost', this.onLost);
    this.canvas.removeEventListener('webglcontextrestored', this.onRestored);
    this.releaseResources();
    this.redraw = null;
    this.wipeImages = null;
  }

  private onLost = (event: Event): void => {
    event.preventDefault(); // asks the browser to restore the context later
    this.lost = true;
    this.res = null;
  };

  private onRestored = (): void => {
    this.lost = false;
    this.res = this.createResources();
    if (this.wipeImages) this.wipeImages.uploaded = false;
    this.redraw?.();
  };

  private createResources(): Resources {
    const vao = this.gl.createVertexArray();
    if (!vao) throw new Error('DebugRenderer: could not create a vertex array (WebGL context lost?)');
    return { programs: {}, vao, textures: [] };
  }

  private releaseResources(): void {
    const res = this.res;
    if (!res || this.lost) return;
    const { gl } = this;
    for (const p of Object.values(res.programs)) if (p) gl.deleteProgram(p.program);
    for (const t of res.textures) gl.deleteTexture(t);
    gl.deleteVertexArray(res.vao);
    this.res = null;
  }

  private resources(): Resources {
    if (!this.res) throw new Error('DebugRenderer: the renderer was disposed');
    return this.res;
  }

  private program(name: ProgramName): LinkedProgram {
    const res = this.resources();
    return (res.programs[name] ??= linkProgram(this.gl, name));
  }

  private texture(unit: number): WebGLTexture {
    const res = this.resources();
    let tex = res.textures[unit];
    if (!tex) {
      const created = this.gl.createTexture();
      if (!created) throw new Error('DebugRenderer: could not create a texture (WebGL context lost?)');
      res.textures[unit] = tex = created;
    }
    return tex;
  }

  private begin(p: LinkedProgram, width: number, height: number): void {
    const { gl, canvas } = this;
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    gl.viewport(0, 0, width, height);
    gl.useProgram(p.program);
    gl.bindVertexArray(this.resources().vao);
  }

  private finish(): void {
    this.gl.drawArrays(this.gl.TRIANGLES, 0, 3);
  }

  /** Float planes -> R32F texture array on `unit` (texelFetch only: float textures need not be filterable). */
  private uploadPlanes(unit: number, planes: Float32Array, width: number, height: number, layers: number): void {
    const { gl } = this;
    gl.activeTexture(gl.TEXTURE0 + unit);
    gl.bindTexture(gl.TEXTURE_2D_ARRAY, this.texture(unit));
    setNearest(gl, gl.TEXTURE_2D_ARRAY);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    // An empty mapping still needs a bindable texture; its contents are never read.
    const data = planes.length >= width * height * layers ? planes.subarray(0, width * height * layers) : new Float32Array(width * height * layers);
    gl.texImage3D(gl.TEXTURE_2D_ARRAY, 0, gl.R32F, width, height, layers, 0, gl.RED, gl.FLOAT, data);
  }

  private uploadLut(unit: number, lut: Uint8Array): void {
    const { gl } = this;
    const rgba = new Uint8Array(COLORMAP_SIZE * 4);
    for (let i = 0; i < COLORMAP_SIZE; i++) {
      rgba.set(lut.subarray(i * 3, i * 3 + 3), i * 4);
      rgba[i * 4 + 3] = 255;
    }
    gl.activeTexture(gl.TEXTURE0 + unit);
    gl.bindTexture(gl.TEXTURE_2D, this.texture(unit));
    setNearest(gl, gl.TEXTURE_2D);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, COLORMAP_SIZE, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, rgba);
  }

  private uploadRgba(unit: number, image: RgbaImage): void {
    const { gl } = this;
    gl.activeTexture(gl.TEXTURE0 + unit);
    gl.bindTexture(gl.TEXTURE_2D, this.texture(unit));
    setNearest(gl, gl.TEXTURE_2D);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    const bytes = new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, image.width, image.height, 0, gl.RGBA, gl.UNSIGNED_BYTE, bytes);
  }
}

function setNearest(gl: WebGL2RenderingContext, target: number): void {
  gl.texParameteri(target, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
  gl.texParameteri(target, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
  gl.texParameteri(target, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
  gl.texParameteri(target, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
}
