/**
 * Smoke test of the editor in a real browser: the newcomer's path. Builds the renderer, starts the local
 * server over a worker-thread engine with fresh data and output folders, opens the page in Debian Chromium
 * (playwright-core), checks the default example's nodes render, presses Run and waits for the final image
 * (on the Save Image node and in the output panel). Any console error or warning, or uncaught page error,
 * fails the test. Screenshots go to test/e2e/screenshots/ (not committed).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppBackend } from '../../electron/engine/app-backend.ts';
import type { GraphDocument } from '../../electron/engine/graph/schema.ts';
import { WorkerEngine } from '../../electron/engine/worker/worker-client.ts';
import { startServer, type RunningServer } from '../../electron/server/server.ts';
import { testCacheDir } from '../helpers/engine.ts';
import { CHROMIUM, CHROMIUM_ARGS, ROOT, SCREENSHOTS } from './harness.ts';

const DIST = join(ROOT, 'renderer', 'dist');
const DEFAULT_EXAMPLE = JSON.parse(readFileSync(join(ROOT, 'examples', 'gaussian-vp-ddim.json'), 'utf8')) as GraphDocument;

describe.skipIf(!existsSync(CHROMIUM))('editor smoke (browser)', () => {
  let tmp: string;
  let engine: WorkerEngine;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const consoleProblems: string[] = [];

  beforeAll(async () => {
    await build({ configFile: join(ROOT, 'renderer', 'vite.config.ts'), logLevel: 'warn' });
    tmp = mkdtempSync(join(tmpdir(), 'fs-e2e-smoke-'));
    const outDir = join(tmp, 'out');
    engine = new WorkerEngine({ outDir, cacheDir: testCacheDir(), providers: ['cpu'] });
    const backend = new AppBackend({ engine, outDir, dataDir: join(tmp, 'data') });
    server = await startServer({ backend, staticDir: DIST });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleProblems.push(`[${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleProblems.push(`[pageerror] ${e.message}`));
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await engine?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('opens the default example and renders its nodes and connections', async () => {
    await page.goto(server.url);
    await page.locator('[data-testid="app"][data-ready="true"]').waitFor({ timeout: 30_000 });
    for (const node of DEFAULT_EXAMPLE.nodes) {
      await expect(page.getByTestId(`node-${node.id}`).isVisible()).resolves.toBe(true);
    }
    // Every connection of the example is drawn as an edge between the right handles.
    await expect(page.locator('.react-flow__edge').count()).resolves.toBe(DEFAULT_EXAMPLE.edges.length);
    for (const edge of DEFAULT_EXAMPLE.edges) {
      await expect(page.getByTestId(`handle-${edge.source}-out-${edge.sourcePort}`).count()).resolves.toBe(1);
      await expect(page.getByTestId(`handle-${edge.target}-in-${edge.targetPort}`).count()).resolves.toBe(1);
    }
    await expect(page.getByTestId('doc-title').textContent()).resolves.toContain(DEFAULT_EXAMPLE.metadata.name);
    await page.screenshot({ path: join(SCREENSHOTS, 'smoke-01-default-example.png') });
    expect(consoleProblems).toEqual([]);
  });

  it('runs the graph and shows the sampler preview and the final image', async () => {
    const saver = DEFAULT_EXAMPLE.nodes.find((n) => n.type === 'SaveImage')!;
    const sampler = DEFAULT_EXAMPLE.nodes.find((n) => n.type === 'Sampler')!;
    await page.getByTestId('run').click();
    await page.locator(`[data-testid="status-${saver.id}"][data-state="done"]`).waitFor({ timeout: 60_000 });

    const outputImage = page.getByTestId('output-image').first();
    await outputImage.waitFor({ timeout: 15_000 });
    const size = await outputImage.evaluate((img: HTMLImageElement) => img.decode().then(() => [img.naturalWidth, img.naturalHeight]));
    const latent = DEFAULT_EXAMPLE.nodes.find((n) => n.type === 'EmptyLatent')!.params;
    expect(size).toEqual([latent.width, latent.height]);
    await expect(page.getByTestId(`node-image-${saver.id}`).isVisible()).resolves.toBe(true);
    await expect(page.getByTestId(`preview-${sampler.id}`).isVisible()).resolves.toBe(true);
    await expect(page.getByTestId('last-run').getAttribute('data-status')).resolves.toBe('finished');
    for (const node of DEFAULT_EXAMPLE.nodes) {
      await expect(page.getByTestId(`status-${node.id}`).getAttribute('data-state')).resolves.toMatch(/^(done|cached)$/);
    }
    await page.screenshot({ path: join(SCREENSHOTS, 'smoke-02-after-run.png') });
    expect(consoleProblems).toEqual([]);
  });
});
