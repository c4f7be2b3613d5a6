/**
 * Debug-view shaders in a real browser: Debian Chromium driven by playwright-core, the harness page
 * (renderer/debug-harness.html) served by vite. With a software WebGL2 (SwiftShader through ANGLE) every
 * shader's pixels must match the CPU fallback within 2 levels of 255; with WebGL unavailable the React
 * components must fall back to the CPU path and still draw the exact CPU pixels.
 *
 * Note: this Chromium build still falls back to SwiftShader under --disable-gpu alone (it only warns that
 * the automatic fallback is deprecated), so the no-WebGL run adds --disable-software-rasterizer and drops
 * playwright's default --enable-unsafe-swiftshader.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  renderHeatmapToImageData,
  renderLatentToImageData,
  renderWipeCpu,
} from '../../renderer/src/debug/cpu-render.ts';
import type { DebugHarness, MountSpec, Pixels, ShaderCase, WireTensor } from '../../renderer/src/debug/harness-protocol.ts';
import type { HeatmapOptions } from '../../renderer/src/debug/heatmap-plan.ts';
import type { LatentDisplayOptions } from '../../renderer/src/debug/latent-plan.ts';
import type { RgbaImage } from '../../renderer/src/debug/types.ts';
import { planWipe } from '../../renderer/src/debug/wipe-plan.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const RENDERER_ROOT = fileURLToPath(new URL('../../renderer/', import.meta.url));
const SCREENSHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url));
const BASE_ARGS = ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
/** Levels of 255 a shader may differ from the CPU path (float32 vs float64 at rounding boundaries). */
const GPU_TOLERANCE = 2;

// ---- deterministic test data -------------------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0; // mulberry32
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Smooth-ish random field (sum of uniforms ~ normal) so the images have structure and spread. */
function wireTensor(dims: number[], seed: number, scale = 1, offset = 0): WireTensor {
  const next = rng(seed);
  const size = dims.reduce((a, b) => a * b, 1);
  const data: number[] = [];
  for (let i = 0; i < size; i++) data.push(offset + scale * (next() + next() + next() + next() - 2));
  return { dims, data };
}

const toTensor = (t: WireTensor) => ({ dims: t.dims, data: Float32Array.from(t.data) });

function maxByteDiff(a: { data: ArrayLike<number> }, b: { data: ArrayLike<number> }): number {
  expect(a.data.length).toBe(b.data.length);
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i] - b.data[i]));
  return max;
}

function expectSameSize(p: Pixels, ref: RgbaImage): void {
  expect([p.width, p.height]).toEqual([ref.width, ref.height]);
}

// ---- the cases every backend draws -------------------------------------------------------------

const latent4 = wireTensor([1, 4, 24, 32], 1); // non-square: a transposed or flipped image cannot pass
const latentWithSpecials = (() => {
  const t = wireTensor([1, 1, 6, 8], 2, 1.5);
  t.data[3] = NaN;
  t.data[10] = Infinity;
  t.data[17] = -Infinity;
  return t;
})();
const batch2 = wireTensor([2, 3, 8, 12], 3, 2, 0.5);
const latent16 = wireTensor([1, 16, 10, 14], 4);
const projection16 = Array.from({ length: 16 }, (_, c) => [Math.sin(c + 1) * 0.3, Math.cos(c * 2) * 0.3, ((c % 5) - 2) * 0.1]);

const latentCases: { name: string; tensor: WireTensor; options?: LatentDisplayOptions }[] = [
  { name: 'default mapping, min/max', tensor: latent4 },
  { name: 'channels [3, off, 1], mean +- 1.5 std', tensor: latent4, options: { mapping: { kind: 'channels', channels: [3, null, 1] }, normalize: { mode: 'meanstd', k: 1.5 } } },
  { name: 'SD 1.5 projection, fixed [-1, 1]', tensor: latent4, options: { mapping: { kind: 'projection', preset: 'sd15' } } },
  { name: 'SDXL projection, min/max', tensor: latent4, options: { mapping: { kind: 'projection', preset: 'sdxl' }, normalize: { mode: 'minmax' } } },
  { name: 'one channel with NaN and infinities, fixed range', tensor: latentWithSpecials, options: { normalize: { mode: 'fixed', lo: -1, hi: 1 } } },
  { name: 'second batch item', tensor: batch2, options: { batchIndex: 1 } },
  { name: '16-channel projection', tensor: latent16, options: { mapping: { kind: 'projection', matrix: projection16 }, normalize: { mode: 'meanstd' } } },
];

const heatA = wireTensor([1, 4, 20, 28], 5);
const heatB = (() => {
  const b = wireTensor([1, 4, 20, 28], 6, 0.3);
  b.data = b.data.map((v, i) => v + heatA.data[i]);
  return b;
})();
const heatmapCases: { name: string; a: WireTensor; b: WireTensor; options?: HeatmapOptions }[] = [
  { name: 'viridis, max from data', a: heatA, b: heatB, options: { colormap: 'viridis' } },
  { name: 'inferno, fixed max that saturates', a: heatA, b: heatB, options: { max: 0.2 } },
  { name: 'three channels', a: wireTensor([1, 3, 9, 7], 7), b: wireTensor([1, 3, 9, 7], 8) },
];

const wipeA = renderLatentToImageData(toTensor(heatA));
const wipeB = renderLatentToImageData(toTensor(heatB), { mapping: { kind: 'channels', channels: [2, 1, 0] } });
const wipeCases = [
  { split: 0.37, orientation: 'horizontal' as const },
  { split: 0.5, orientation: 'vertical' as const },
  { split: 0, orientation: 'horizontal' as const },
  { split: 1, orientation: 'horizontal' as const },
];

function shaderCases(): { name: string; c: ShaderCase; expected: RgbaImage }[] {
  return [
    ...latentCases.map((l) => ({
      name: `latent: ${l.name}`,
      c: { kind: 'latent', tensor: l.tensor, options: l.options } as ShaderCase,
      expected: renderLatentToImageData(toTensor(l.tensor), l.options),
    })),
    ...heatmapCases.map((h) => ({
      name: `heatmap: ${h.name}`,
      c: { kind: 'heatmap', a: h.a, b: h.b, options: h.options } as ShaderCase,
      expected: renderHeatmapToImageData(toTensor(h.a), toTensor(h.b), h.options).image,
    })),
    ...wipeCases.map((w) => ({
      name: `wipe: ${w.orientation} at ${w.split}`,
      c: { kind: 'wipe', width: wipeA.width, height: wipeA.height, a: Array.from(wipeA.data), b: Array.from(wipeB.data), ...w } as ShaderCase,
      expected: renderWipeCpu(wipeA, wipeB, planWipe(wipeA, wipeB, w.split, w.orientation)),
    })),
  ];
}

// ---- components --------------------------------------------------------------------------------

const mountSpec: MountSpec = {
  latent: wireTensor([1, 4, 16, 16], 9),
  a: wireTensor([1, 4, 16, 16], 10),
  b: wireTensor([1, 4, 16, 16], 11),
  trajectory: {
    sigmas: [14.6, 3.2, 0],
    states: [wireTensor([1, 4, 8, 8], 12, 14.6), wireTensor([1, 4, 8, 8], 13, 3.2), wireTensor([1, 4, 8, 8], 14)],
    denoised: [wireTensor([1, 4, 8, 8], 15), wireTensor([1, 4, 8, 8], 16)],
  },
  series: [
    { label: 'euler', points: [1, 2, 3, 4].map((s) => ({ x: s, y: 0.5 / s })) },
    { label: 'heun', points: [1, 2, 3, 4].map((s) => ({ x: s, y: 0.5 / (s * s) })) },
  ],
};

async function checkComponents(page: Page, backend: 'webgl2' | 'cpu', tolerance: number): Promise<void> {
  await page.evaluate((spec) => (window as unknown as { debugHarness: DebugHarness }).debugHarness.mount(spec), mountSpec);
  // LatentView, heatmap, wipe, and the scrubber's x_t and x0 views
  await page.waitForFunction(() => document.querySelectorAll('canvas[data-backend]:not([data-backend="none"])').length === 5);
  const backends = await page.$$eval('canvas[data-backend]', (cs) => cs.map((c) => (c as HTMLCanvasElement).dataset.backend));
  expect(backends).toEqual(Array(5).fill(backend));
  const read = (selector: string) =>
    page.evaluate((s) => (window as unknown as { debugHarness: DebugHarness }).debugHarness.readCanvas(s), selector);

  const latent = await read('#latent canvas');
  const latentRef = renderLatentToImageData(toTensor(mountSpec.latent));
  expectSameSize(latent, latentRef);
  expect(maxByteDiff(latent, latentRef)).toBeLessThanOrEqual(tolerance);

  const heat = await read('#heatmap canvas');
  const heatRef = renderHeatmapToImageData(toTensor(mountSpec.a), toTensor(mountSpec.b), { colormap: 'viridis' });
  expectSameSize(heat, heatRef.image);
  expect(maxByteDiff(heat, heatRef.image)).toBeLessThanOrEqual(tolerance);
  await expect.poll(() => page.textContent('#heatmap .fs-diff-max')).toContain('max |A−B| =');

  // The wipe starts at 0.5; a click at a quarter of its width moves the split there.
  const wipeA2 = renderLatentToImageData(toTensor(mountSpec.a));
  const wipeB2 = renderLatentToImageData(toTensor(mountSpec.b));
  const wipeAt = (split: number) => renderWipeCpu(wipeA2, wipeB2, planWipe(wipeA2, wipeB2, split));
  expect(maxByteDiff(await read('#wipe canvas'), wipeAt(0.5))).toBeLessThanOrEqual(tolerance);
  const slider = page.locator('#wipe [role="slider"]');
  const box = await slider.boundingBox();
  if (!box) throw new Error('wipe slider has no box');
  await page.mouse.click(box.x + box.width * 0.25, box.y + box.height / 2);
  await expect.poll(() => slider.getAttribute('aria-valuenow')).toBe('25');
  await expect.poll(async () => maxByteDiff(await read('#wipe canvas'), wipeAt(0.25))).toBeLessThanOrEqual(tolerance);
  await slider.press('End');
  await expect.poll(() => slider.getAttribute('aria-valuenow')).toBe('100');

  // Scrubber: step 0 shows states[0] and denoised[0]; the last step has a state but no prediction.
  const traj = mountSpec.trajectory;
  expect(await page.textContent('#trajectory .fs-trajectory-readout')).toMatch(/step 0 \/ 2 · σ = 14\.6/);
  const xt0 = await read('#trajectory canvas[aria-label="x_t (state)"]');
  expect(maxByteDiff(xt0, renderLatentToImageData(toTensor(traj.states[0])))).toBeLessThanOrEqual(tolerance);
  await page.click('#trajectory button[aria-label="next step"]');
  await expect.poll(() => page.textContent('#trajectory .fs-trajectory-readout')).toMatch(/step 1 \/ 2 · σ = 3\.2/);
  await expect
    .poll(async () => maxByteDiff(await read('#trajectory canvas[aria-label="x0 (predicted)"]'), renderLatentToImageData(toTensor(traj.denoised[1]))))
    .toBeLessThanOrEqual(tolerance);
  await page.locator('#trajectory input[type="range"]').press('End');
  await expect.poll(() => page.textContent('#trajectory .fs-trajectory-readout')).toMatch(/step 2 \/ 2 · σ = 0/);
  await expect.poll(() => page.locator('#trajectory figure').nth(1).textContent()).toContain('no data');
  expect(await page.locator('#trajectory figure').nth(1).textContent()).not.toContain('R:'); // no stale range caption
  expect(await page.locator('#trajectory .fs-trajectory-hint').count()).toBe(0);

  // Error chart: one path per series, log scale by default, toggled off by the checkbox.
  expect(await page.locator('#chart .fs-error-series path').count()).toBe(2);
  expect(await page.locator('#chart svg').textContent()).toContain('error (log)');
  await page.locator('#chart input[type="checkbox"]').uncheck();
  await expect.poll(() => page.locator('#chart svg').textContent()).not.toContain('(log)');

  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `debug-views-${backend}.png`), fullPage: true });

  // A Sampler that did not record its trajectory gives only the end point: the scrubber says how to get more.
  const endPoint = { ...mountSpec, trajectory: { sigmas: [0], states: [traj.states[2]], denoised: [traj.denoised[1]] } };
  await page.evaluate((spec) => (window as unknown as { debugHarness: DebugHarness }).debugHarness.mount(spec), endPoint);
  await expect.poll(() => page.textContent('#trajectory .fs-trajectory-hint')).toContain('Record trajectory');
  expect(await page.textContent('#trajectory .fs-trajectory-readout')).toMatch(/step 0 \/ 0/);
}

// ---- browser plumbing --------------------------------------------------------------------------

describe.skipIf(!existsSync(CHROMIUM))('debug views in Chromium', () => {
  let server: ViteDevServer;
  let baseUrl: string;
  let cacheDir: string;

  beforeAll(async () => {
    cacheDir = mkdtempSync(join(tmpdir(), 'flowstudio-debug-vite-'));
    server = await createServer({
      root: RENDERER_ROOT,
      configFile: false,
      logLevel: 'error',
      plugins: [react()],
      cacheDir,
      server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
      // Only the harness: the app's own entry is another suite's business.
      optimizeDeps: { entries: ['debug-harness.html'], include: ['react', 'react-dom/client', 'react/jsx-dev-runtime'] },
    });
    await server.listen();
    const url = server.resolvedUrls?.local[0];
    if (!url) throw new Error('vite did not report a URL');
    baseUrl = url;
  });

  afterAll(async () => {
    await server?.close();
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  });

  async function openHarness(browser: Browser, problems: string[]): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
    page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(new URL('debug-harness.html', baseUrl).href);
    await page.waitForFunction(() => document.body.dataset.harnessReady === 'true');
    return page;
  }

  describe('with WebGL2 (--use-angle=swiftshader)', () => {
    let browser: Browser;
    let page: Page;
    const problems: string[] = [];

    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, '--use-angle=swiftshader'] });
      page = await openHarness(browser, problems);
    });
    afterAll(async () => browser?.close());

    it('has WebGL2 with our shaders', async () => {
      expect(await page.evaluate(() => (window as unknown as { debugHarness: DebugHarness }).debugHarness.webgl2Available())).toBe(true);
    });

    it('each shader matches the CPU fallback within 2 levels, and the 2D fallback canvas matches exactly', async () => {
      const cases = shaderCases();
      const results = await page.evaluate((cs) => {
        const h = (window as unknown as { debugHarness: DebugHarness }).debugHarness;
        return cs.map(({ c }) => ({ gl: h.runShaderCase(c, 'webgl2'), cpu: h.runShaderCase(c, 'cpu') }));
      }, cases);
      const report: string[] = [];
      results.forEach(({ gl, cpu }, i) => {
        const { name, expected } = cases[i];
        expect(gl.backend, name).toBe('webgl2');
        expect(cpu.backend, name).toBe('cpu');
        expectSameSize(gl.displayed, expected);
        // What the canvas shows equals what readPixels returns (rows the right way up).
        expect(maxByteDiff(gl.displayed, gl.read), `${name}: displayed vs readPixels`).toBe(0);
        const diff = maxByteDiff(gl.displayed, expected);
        report.push(`${name}: max diff ${diff}`);
        expect(diff, name).toBeLessThanOrEqual(GPU_TOLERANCE);
        expect(maxByteDiff(cpu.displayed, expected), `${name}: 2D canvas fallback`).toBe(0);
      });
      console.log(report.join('\n'));
    });

    it('components draw with WebGL2', async () => {
      await checkComponents(page, 'webgl2', GPU_TOLERANCE);
    });

    it('logged no console errors', () => {
      expect(problems).toEqual([]);
    });
  });

  describe('without WebGL (--disable-gpu)', () => {
    let browser: Browser;
    let page: Page;
    const problems: string[] = [];

    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        ignoreDefaultArgs: ['--enable-unsafe-swiftshader'],
        args: [...BASE_ARGS, '--disable-gpu', '--disable-software-rasterizer'],
      });
      page = await openHarness(browser, problems);
    });
    afterAll(async () => browser?.close());

    it('has no WebGL2', async () => {
      expect(await page.evaluate(() => (window as unknown as { debugHarness: DebugHarness }).debugHarness.webgl2Available())).toBe(false);
    });

    it('components fall back to the CPU path and draw its exact pixels', async () => {
      await checkComponents(page, 'cpu', 0);
    });

    it('logged no console errors', () => {
      expect(problems).toEqual([]);
    });
  });
});
