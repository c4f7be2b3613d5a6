/**
 * The debug views reached from the app (issue 3, item 7): run the default example, open the sampler's
 * trajectory from the output panel ("Scrub"), move the step slider and check the state canvas drew (a
 * backend chosen, non-black pixels that change with the step), then the Compare view of two same-shape
 * outputs and the View of one latent. Any console error or warning, or uncaught page error, fails the test. Screenshots:
 * test/e2e/screenshots/debug-views-*.png.
 */
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, openApp, SCREENSHOTS, startEditorHarness, type EditorHarness } from './harness.ts';

/** Non-black pixels of a debug canvas and a digest of its pixels (read through a 2D copy: works for WebGL2 and CPU backends). */
async function canvasPixels(canvas: Locator): Promise<{ lit: number; total: number; digest: string }> {
  return canvas.evaluate((el) => {
    const c = el as HTMLCanvasElement;
    const copy = document.createElement('canvas');
    copy.width = c.width;
    copy.height = c.height;
    const ctx = copy.getContext('2d');
    if (!ctx || c.width === 0 || c.height === 0) return { lit: 0, total: 0, digest: '' };
    ctx.drawImage(c, 0, 0);
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    let digest = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (px[i] + px[i + 1] + px[i + 2] > 0) lit++;
      digest = (Math.imul(digest, 31) + px[i] * 65536 + px[i + 1] * 256 + px[i + 2]) | 0;
    }
    return { lit, total: px.length / 4, digest: String(digest) };
  });
}

/**
 * Console problems, less the GL driver's "GPU stall due to ReadPixels" performance note: canvasPixels' own
 * readback of a WebGL canvas causes it (the app never reads pixels back).
 */
function appProblems(problems: readonly string[]): string[] {
  return problems.filter((p) => !/GL Driver Message \(OpenGL, Performance, .*\): GPU stall due to ReadPixels/.test(p));
}

async function runDefaultExample(page: Page): Promise<void> {
  await page.getByTestId('run').click();
  await page.locator('[data-testid="last-run"][data-status="finished"]').waitFor({ timeout: 60_000 });
}

describe.skipIf(!chromiumAvailable())('debug views in the app (browser)', () => {
  let h: EditorHarness;
  let page: Page;

  beforeAll(async () => {
    h = await startEditorHarness('debug-views');
    page = await h.newPage('debug-views');
    await openApp(page, h.url);
    await runDefaultExample(page);
  }, 180_000);

  afterAll(async () => {
    await h?.close();
  });

  it('opens the sampler’s trajectory in the scrubber; moving the slider redraws the state', async () => {
    await page.getByTestId('open-trajectory-sampler').click();
    const view = page.getByTestId('trajectory-view');
    await view.waitFor({ timeout: 15_000 });
    const slider = view.getByRole('slider', { name: 'step' });
    // 50 DDIM steps: 51 states (start included), so the slider runs 0..50.
    await expect(slider.getAttribute('max')).resolves.toBe('50');
    const state = view.locator('canvas[aria-label="x_t (state)"]');
    await expect.poll(() => state.getAttribute('data-backend')).not.toBe('none');
    const atStart = await canvasPixels(state);
    expect(atStart.total).toBeGreaterThan(0);
    expect(atStart.lit).toBeGreaterThan(atStart.total / 4);

    await slider.fill('25');
    await expect(view.locator('.fs-trajectory-readout').textContent()).resolves.toContain('step 25 / 50');
    await expect.poll(async () => (await canvasPixels(state)).digest).not.toBe(atStart.digest);
    const atMiddle = await canvasPixels(state);
    expect(atMiddle.lit).toBeGreaterThan(atMiddle.total / 4);
    // The x0 prediction beside it drew too.
    const predicted = view.locator('canvas[aria-label="x0 (predicted)"]');
    expect((await canvasPixels(predicted)).lit).toBeGreaterThan(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'debug-views-trajectory.png') });
    await page.getByTestId('debug-close').click();
    await expect(page.getByTestId('debug-viewer').count()).resolves.toBe(0);
    expect(appProblems(h.problems)).toEqual([]);
  });

  it('compares two same-shape outputs (A/B wipe and difference heatmap)', async () => {
    // The default pair is the sampler's final sample vs its last x0 prediction (one node's outputs first).
    await expect(page.getByTestId('compare-pair').locator('option:checked').textContent()).resolves.toBe('sampler.latent vs sampler.denoised');
    await page.getByTestId('open-compare').click();
    const view = page.getByTestId('compare-view');
    await view.waitFor({ timeout: 15_000 });
    const canvases = view.locator('canvas[data-backend]');
    await expect.poll(() => canvases.count()).toBe(2);
    for (const c of await canvases.all()) {
      await expect.poll(() => c.getAttribute('data-backend')).not.toBe('none');
      expect((await canvasPixels(c)).lit).toBeGreaterThan(0);
    }
    await page.screenshot({ path: join(SCREENSHOTS, 'debug-views-compare.png') });
    await page.keyboard.press('Escape');
    await expect(page.getByTestId('debug-viewer').count()).resolves.toBe(0);
    expect(appProblems(h.problems)).toEqual([]);
  });

  it('views one latent output', async () => {
    await page.getByTestId('open-latent-sampler-denoised').click();
    const canvas = page.getByTestId('latent-view').locator('canvas[data-backend]');
    await expect.poll(() => canvas.getAttribute('data-backend')).not.toBe('none');
    expect((await canvasPixels(canvas)).lit).toBeGreaterThan(0);
    await page.getByTestId('debug-close').click();
    expect(appProblems(h.problems)).toEqual([]);
  });
});
