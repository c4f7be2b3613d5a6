/**
 * Browser harness for the debug views (loaded by renderer/debug-harness.html, driven by
 * test/e2e/shaders.test.ts): draws test cases with a chosen backend and reads back the pixels as shown,
 * and mounts every debug component so the test can check which path drew them.
 */
import { createElement, Fragment } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { ABWipe } from './ABWipe.tsx';
import { createLatentRenderer, webgl2Available, type DebugRenderer } from './debug-renderer.ts';
import { DiffHeatmap } from './DiffHeatmap.tsx';
import { ErrorChart } from './ErrorChart.tsx';
import type { DebugHarness, MountSpec, Pixels, ShaderCase, ShaderCaseResult, WireTensor } from './harness-protocol.ts';
import { LatentView } from './LatentView.tsx';
import type { DebugBackend } from './render-backend.ts';
import { TrajectoryScrubber } from './TrajectoryScrubber.tsx';
import type { TensorLike } from './types.ts';

const tensor = (t: WireTensor): TensorLike => ({ dims: t.dims, data: Float32Array.from(t.data) });

/** What the canvas shows, read through a 2D canvas (so a flipped GL framebuffer would show up here). */
function readDisplayed(canvas: HTMLCanvasElement): Pixels {
  const copy = document.createElement('canvas');
  copy.width = canvas.width;
  copy.height = canvas.height;
  const ctx = copy.getContext('2d');
  if (!ctx) throw new Error('harness: no 2D context');
  ctx.drawImage(canvas, 0, 0);
  return { width: copy.width, height: copy.height, data: Array.from(ctx.getImageData(0, 0, copy.width, copy.height).data) };
}

/** One renderer per backend, reused across cases (as a view reuses its canvas across frames). */
const caseRenderers = new Map<DebugBackend, DebugRenderer>();

function runShaderCase(c: ShaderCase, backend: DebugBackend): ShaderCaseResult {
  let renderer = caseRenderers.get(backend);
  if (!renderer) caseRenderers.set(backend, (renderer = createLatentRenderer(document.createElement('canvas'), { backend })));
  let info: unknown;
  if (c.kind === 'latent') {
    info = renderer.drawLatent(tensor(c.tensor), c.options).ranges;
  } else if (c.kind === 'heatmap') {
    const plan = renderer.drawHeatmap(tensor(c.a), tensor(c.b), c.options);
    info = { maxDiff: plan.maxDiff, scaleMax: plan.scaleMax };
  } else {
    const image = (bytes: number[]) => ({ width: c.width, height: c.height, data: Uint8ClampedArray.from(bytes) });
    renderer.setWipeImages(image(c.a), image(c.b));
    info = renderer.drawWipe(c.split, c.orientation);
  }
  const read = renderer.readPixels();
  return {
    backend: renderer.backend,
    read: { width: read.width, height: read.height, data: Array.from(read.data) },
    displayed: readDisplayed(renderer.canvas),
    info,
  };
}

let root: Root | null = null;

function mount(spec: MountSpec): void {
  const container = document.getElementById('root');
  if (!container) throw new Error('harness: #root missing');
  root?.unmount();
  root = createRoot(container);
  const trajectory = {
    sigmas: spec.trajectory.sigmas,
    states: spec.trajectory.states.map(tensor),
    denoised: spec.trajectory.denoised.map(tensor),
  };
  root.render(
    createElement(
      Fragment,
      null,
      createElement('section', { id: 'latent' }, createElement(LatentView, { tensor: tensor(spec.latent), options: spec.latentOptions, label: 'latent' })),
      createElement('section', { id: 'heatmap' }, createElement(DiffHeatmap, { a: tensor(spec.a), b: tensor(spec.b), colormap: 'viridis' })),
      createElement('section', { id: 'wipe' }, createElement(ABWipe, { a: tensor(spec.a), b: tensor(spec.b), zoom: 8 })),
      createElement('section', { id: 'trajectory' }, createElement(TrajectoryScrubber, { trajectory })),
      createElement('section', { id: 'chart' }, createElement(ErrorChart, { series: spec.series, title: 'error vs step' })),
    ),
  );
}

function readCanvas(selector: string): Pixels & { backend: string | null } {
  const canvas = document.querySelector<HTMLCanvasElement>(selector);
  if (!canvas) throw new Error(`harness: no canvas matches ${selector}`);
  return { ...readDisplayed(canvas), backend: canvas.dataset.backend ?? null };
}

const harness: DebugHarness = { webgl2Available, runShaderCase, mount, readCanvas };
(window as unknown as { debugHarness: DebugHarness }).debugHarness = harness;
document.body.dataset.harnessReady = 'true';
