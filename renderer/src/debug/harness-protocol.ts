/**
 * What the debug-views harness page (harness.ts) offers its test (test/e2e/shaders.test.ts), as plain
 * data types: tensors and pixels cross the page boundary as number arrays. No DOM or React imports, so the
 * Node side can type-check against it.
 */
import type { ErrorSeries } from './chart-layout.ts';
import type { HeatmapOptions } from './heatmap-plan.ts';
import type { LatentDisplayOptions } from './latent-plan.ts';
import type { DebugBackend } from './render-backend.ts';
import type { WipeOrientation } from './wipe-plan.ts';

export interface WireTensor {
  dims: number[];
  data: number[];
}

export type ShaderCase =
  | { kind: 'latent'; tensor: WireTensor; options?: LatentDisplayOptions }
  | { kind: 'heatmap'; a: WireTensor; b: WireTensor; options?: HeatmapOptions }
  | { kind: 'wipe'; width: number; height: number; a: number[]; b: number[]; split: number; orientation?: WipeOrientation };

export interface Pixels {
  width: number;
  height: number;
  data: number[];
}

export interface ShaderCaseResult {
  /** The backend that drew. */
  backend: string;
  /** renderer.readPixels(). */
  read: Pixels;
  /** The canvas as shown, copied through a 2D canvas. */
  displayed: Pixels;
  info: unknown;
}

export interface MountSpec {
  latent: WireTensor;
  a: WireTensor;
  b: WireTensor;
  trajectory: { sigmas: number[]; states: WireTensor[]; denoised: WireTensor[] };
  series: ErrorSeries[];
  latentOptions?: LatentDisplayOptions;
}

export interface DebugHarness {
  webgl2Available(): boolean;
  runShaderCase(c: ShaderCase, backend: DebugBackend): ShaderCaseResult;
  /** Renders LatentView (#latent), DiffHeatmap (#heatmap), ABWipe (#wipe), TrajectoryScrubber (#trajectory), ErrorChart (#chart). */
  mount(spec: MountSpec): void;
  readCanvas(selector: string): Pixels & { backend: string | null };
}
