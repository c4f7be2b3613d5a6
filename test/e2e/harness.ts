/**
 * Shared launcher for browser tests and the editor bench: builds the renderer into a temp folder of its own
 * (so test files running in parallel never race on renderer/dist), starts the local server over an engine
 * in a worker process (as `flowstudio serve` does) with fresh output and data folders, and launches Debian Chromium through playwright-core.
 * Every page it opens reports console errors/warnings and uncaught page errors into `problems`.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { AppBackend } from '../../electron/engine/app-backend.ts';
import { WorkerEngine } from '../../electron/engine/worker/worker-client.ts';
import { startServer, type RunningServer } from '../../electron/server/server.ts';
import { testCacheDir } from '../helpers/engine.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SCREENSHOTS = join(ROOT, 'test', 'e2e', 'screenshots');
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
export const VIEWPORT = { width: 1440, height: 900 };

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export interface EditorHarness {
  /** The app's URL (token included). */
  url: string;
  server: RunningServer;
  backend: AppBackend;
  engine: WorkerEngine;
  browser: Browser;
  /** Where runs write (the backend's outDir). */
  outDir: string;
  /** Console errors/warnings and page errors of every page opened so far, tagged with the page's label. */
  problems: string[];
  /**
   * A page in a fresh browser context (own localStorage, downloads accepted), reporting into `problems`.
   * The server's data folder (presets, autosave) is shared by all pages of one harness.
   */
  newPage(label: string): Promise<Page>;
  close(): Promise<void>;
}

/** Builds the renderer into `<tmp>/dist` (vite, production) and returns that folder. */
export async function buildRenderer(tmp: string): Promise<string> {
  const outDir = join(tmp, 'dist');
  await build({ configFile: join(ROOT, 'renderer', 'vite.config.ts'), build: { outDir, emptyOutDir: true }, logLevel: 'warn' });
  return outDir;
}

export async function startEditorHarness(name: string): Promise<EditorHarness> {
  const tmp = mkdtempSync(join(tmpdir(), `fs-e2e-${name}-`));
  const contexts: BrowserContext[] = [];
  let engine: WorkerEngine | undefined;
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    for (const c of contexts.splice(0)) await c.close().catch(() => {});
    await browser?.close();
    await server?.close();
    await engine?.close();
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    const staticDir = await buildRenderer(tmp);
    const outDir = join(tmp, 'out');
    engine = new WorkerEngine({ outDir, cacheDir: testCacheDir(), providers: ['cpu'] });
    const backend = new AppBackend({ engine, outDir, dataDir: join(tmp, 'data') });
    server = await startServer({ backend, staticDir });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    mkdirSync(SCREENSHOTS, { recursive: true });
    const problems: string[] = [];
    const b = browser;
    return {
      url: server.url,
      server,
      backend,
      engine,
      browser,
      outDir,
      problems,
      async newPage(label) {
        const context = await b.newContext({ viewport: VIEWPORT, acceptDownloads: true });
        contexts.push(context);
        const page = await context.newPage();
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') problems.push(`${label}: [${m.type()}] ${m.text()}`);
        });
        page.on('pageerror', (e) => problems.push(`${label}: [pageerror] ${e.message}`));
        return page;
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Opens the app and waits until it is ready. A recovery offer left by an earlier page of the same harness
 * (its autosave differs from the document opened now) is discarded, so each test starts from a clean slate.
 */
export async function openApp(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator('[data-testid="app"][data-ready="true"]').waitFor({ timeout: 30_000 });
  const discard = page.getByTestId('recovery-discard');
  if (await discard.count()) await discard.click();
}

/** Graph nodes on the canvas (node-<id> with a node type; node-image-* and node-error-* are not nodes). */
export const GRAPH_NODE_SELECTOR = '[data-testid^="node-"][data-node-type]';
