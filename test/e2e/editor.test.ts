/**
 * The editor's end-to-end scenarios (issue 3, item 8) in Debian Chromium driven by playwright-core against
 * the local server over a worker-thread engine: open the app, add and connect nodes from the palette, a
 * refused type-mismatched connection, a run with a live preview then a final image, cancelling a long run,
 * undo/redo of a delete, a preset saved / reloaded / reopened, an exported PNG dropped back in, 80 random
 * editing actions (fixed seed) that must leave the autosaved graph well formed, and damaged graph files
 * dropped on the canvas (scripts/graph-fuzz).
 * One browser for the file, a fresh context (own localStorage) per test; any console error or warning, or
 * uncaught page error, fails the test it happened in. Screenshots: test/e2e/screenshots/editor-*.png.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GraphDocument } from '../../electron/engine/graph/schema.ts';
import { readGraphFromPng } from '../../renderer/src/io/png-graph.ts';
import { createRng, mutateGraph } from '../../scripts/graph-fuzz/generate.ts';
import { chromiumAvailable, GRAPH_NODE_SELECTOR, openApp, ROOT, SCREENSHOTS, startEditorHarness, type EditorHarness } from './harness.ts';

const DEFAULT_EXAMPLE = JSON.parse(readFileSync(join(ROOT, 'examples', 'gaussian-vp-ddim.json'), 'utf8')) as GraphDocument;
const EXAMPLE_PRESET_ID = 'example:gaussian-vp-ddim';

// ---- page helpers ------------------------------------------------------------------------------

async function center(locator: Locator): Promise<{ x: number; y: number }> {
  const box = await locator.boundingBox();
  if (!box) throw new Error('element has no box (not visible)');
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** Drags with real mouse events in small steps, as a user does (React Flow needs the moves in between). */
async function drag(page: Page, from: { x: number; y: number }, to: { x: number; y: number }): Promise<void> {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(from.x + 6, from.y + 4, { steps: 2 });
  await page.mouse.move(to.x, to.y, { steps: 12 });
  await page.mouse.up();
}

async function dragHandle(page: Page, fromTestId: string, toTestId: string): Promise<void> {
  await drag(page, await center(page.getByTestId(fromTestId)), await center(page.getByTestId(toTestId)));
}

/** Selects a node by clicking its title bar and waits for the inspector to show it. */
async function selectNode(page: Page, nodeId: string): Promise<void> {
  await page.getByTestId(`node-${nodeId}`).locator('.fs-node-header').click();
  await page.locator(`[data-testid="inspector"][data-node-id="${nodeId}"]`).waitFor();
}

/** Types a param value into the inspector and commits it (Enter), as one undo step. */
async function setParam(page: Page, nodeId: string, param: string, value: string): Promise<void> {
  await selectNode(page, nodeId);
  const input = page.getByTestId(`param-${nodeId}-${param}`);
  await input.fill(value);
  await input.press('Enter');
  await expect.poll(() => input.inputValue()).toBe(value);
}

async function paramValue(page: Page, nodeId: string, param: string): Promise<string> {
  await selectNode(page, nodeId);
  return page.getByTestId(`param-${nodeId}-${param}`).inputValue();
}

/**
 * Adds a node through the search palette already open: types the query, moves down the hits with the arrow
 * keys to the wanted type (it must be among the first few), Enter. Returns the new node's id.
 */
async function addFromOpenPalette(page: Page, query: string, type: string): Promise<string> {
  const before = new Set(await nodeIds(page));
  const input = page.getByTestId('palette-input');
  await input.fill(query);
  const hits = await page.getByTestId('palette-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-type')));
  const rank = hits.indexOf(type);
  expect(rank, `"${query}" finds ${type} among the top 3 (got ${hits.slice(0, 5).join(', ')})`).toBeGreaterThanOrEqual(0);
  expect(rank).toBeLessThan(3);
  for (let i = 0; i < rank; i++) await input.press('ArrowDown');
  await expect(page.locator('[data-testid="palette-item"][aria-selected="true"]').getAttribute('data-type')).resolves.toBe(type);
  await input.press('Enter');
  await expect(page.getByTestId('palette').count()).resolves.toBe(0);
  await expect.poll(async () => (await nodeIds(page)).filter((id) => !before.has(id))).toHaveLength(1);
  const added = (await nodeIds(page)).find((id) => !before.has(id))!;
  await expect(page.getByTestId(`node-${added}`).getAttribute('data-node-type')).resolves.toBe(type);
  return added;
}

/** Ids of the graph nodes on the canvas (from node-<id>). */
async function nodeIds(page: Page): Promise<string[]> {
  const ids = await page.locator(GRAPH_NODE_SELECTOR).evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')!.slice('node-'.length)));
  return ids.sort();
}

/** Edges React Flow drew, as "source.port->target.port" (read from the edge ids in the store via the DOM). */
async function edgeIds(page: Page): Promise<string[]> {
  const ids = await page.locator('.react-flow__edge').evaluateAll((els) => els.map((e) => e.getAttribute('data-id') ?? e.getAttribute('data-testid') ?? ''));
  return ids.map((id) => id.replace(/^rf__edge-/, '')).sort();
}

async function newGraph(page: Page): Promise<void> {
  await page.getByTestId('menu-file').click();
  await page.getByTestId('file-new').click();
  // Unsaved edits make the app ask first.
  const confirm = page.getByTestId('confirm-ok');
  if (await confirm.isVisible().catch(() => false)) await confirm.click();
  await expect.poll(() => nodeIds(page)).toEqual([]);
}

/** A point of the canvas at fractions of its size, checked to be empty pane (no node, edge or panel). */
async function emptyCanvasPoint(page: Page, fx: number, fy: number): Promise<{ x: number; y: number }> {
  const box = (await page.getByTestId('canvas').boundingBox())!;
  return paneAt(page, { x: Math.round(box.x + box.width * fx), y: Math.round(box.y + box.height * fy) });
}

async function paneAt(page: Page, at: { x: number; y: number }): Promise<{ x: number; y: number }> {
  const onPane = await page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.classList.contains('react-flow__pane') ?? false, at);
  if (!onPane) {
    const what = await page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.outerHTML.slice(0, 200), at);
    throw new Error(`canvas point ${at.x},${at.y} is not empty pane: ${what}`);
  }
  return at;
}

function outFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => {
      const p = join(d.parentPath, d.name);
      return `${p}@${statSync(p).mtimeMs}`;
    })
    .sort();
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `editor-${name}.png`) });

// ---- scenarios ---------------------------------------------------------------------------------

describe.skipIf(!chromiumAvailable())('editor end to end (browser)', () => {
  let h: EditorHarness;

  beforeAll(async () => {
    h = await startEditorHarness('editor');
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  afterEach(() => {
    // Any console error/warning or page error fails the test it happened in (and is not carried over).
    const problems = h.problems.splice(0);
    expect(problems).toEqual([]);
  });

  it('opens the app with the default example rendered', async () => {
    const page = await h.newPage('open');
    await openApp(page, h.url);
    await expect(nodeIds(page)).resolves.toEqual(DEFAULT_EXAMPLE.nodes.map((n) => n.id).sort());
    for (const node of DEFAULT_EXAMPLE.nodes) {
      const el = page.getByTestId(`node-${node.id}`);
      await expect(el.isVisible()).resolves.toBe(true);
      await expect(el.getAttribute('data-node-type')).resolves.toBe(node.type);
    }
    await expect(edgeIds(page)).resolves.toEqual(DEFAULT_EXAMPLE.edges.map((e) => e.id).sort());
    await expect(page.getByTestId('doc-title').textContent()).resolves.toContain(DEFAULT_EXAMPLE.metadata.name);
    await expect(page.getByTestId('connection').getAttribute('data-state')).resolves.toBe('open');
    await shot(page, '01-open');
  });

  it('adds two nodes from the palette and connects them by dragging', async () => {
    const page = await h.newPage('palette');
    await openApp(page, h.url);
    await newGraph(page);

    // Double-click on the empty canvas opens the palette there.
    const a = await emptyCanvasPoint(page, 0.25, 0.4);
    await page.mouse.dblclick(a.x, a.y);
    await page.getByTestId('palette').waitFor();
    const latent = await addFromOpenPalette(page, 'empty latent', 'EmptyLatent');

    // Tab with the pointer over the canvas opens it at the pointer (here: right of the first node).
    const first = (await page.getByTestId(`node-${latent}`).boundingBox())!;
    const b = await paneAt(page, { x: first.x + first.width + 160, y: first.y + 10 });
    await page.mouse.move(b.x, b.y);
    await page.keyboard.press('Tab');
    await page.getByTestId('palette').waitFor();
    const toImage = await addFromOpenPalette(page, 'latent to image', 'LatentToImage');
    await shot(page, '02a-two-nodes');

    await expect(edgeIds(page)).resolves.toEqual([]);
    await dragHandle(page, `handle-${latent}-out-latent`, `handle-${toImage}-in-latent`);
    await expect.poll(() => edgeIds(page)).toHaveLength(1);
    await expect(page.getByTestId(`handle-${toImage}-in-latent`).getAttribute('class')).resolves.toMatch(/\bconnected\b/);
    await expect(page.getByTestId('statusbar').textContent()).resolves.toContain('2 nodes · 1 connections');
    await shot(page, '02b-connected');
  });

  it('refuses a type-mismatched connection with a toast naming the types', async () => {
    const page = await h.newPage('mismatch');
    await openApp(page, h.url);
    const edgesBefore = await edgeIds(page);
    // The model handle is MODEL, the decoder's input LATENT.
    await expect(page.getByTestId('handle-model-out-model').getAttribute('data-port-type')).resolves.toBe('MODEL');
    await expect(page.getByTestId('handle-to_image-in-latent').getAttribute('data-port-type')).resolves.toBe('LATENT');
    await dragHandle(page, 'handle-model-out-model', 'handle-to_image-in-latent');

    const toast = page.locator('[data-testid="toast"][data-kind="error"]');
    await toast.first().waitFor({ timeout: 5_000 });
    const text = (await toast.first().textContent()) ?? '';
    expect(text).toContain('MODEL');
    expect(text).toContain('LATENT');
    await shot(page, '03-refused');
    await expect(edgeIds(page)).resolves.toEqual(edgesBefore);
    await expect(page.getByTestId('dirty-indicator').count()).resolves.toBe(0);
  });

  it('runs the default example: a live preview on the sampler, then the final image', async () => {
    const page = await h.newPage('run');
    await openApp(page, h.url);
    const steps = 400;
    await setParam(page, 'sampler', 'steps', String(steps));

    // Record, as the DOM changes, when the sampler's preview and the saved image first appear.
    await page.evaluate(() => {
      const w = window as unknown as { __timeline: { preview?: { step: number; state: string | null; t: number }; image?: number } };
      w.__timeline = {};
      new MutationObserver(() => {
        const preview = document.querySelector('[data-testid="preview-sampler"]');
        if (preview && !w.__timeline.preview) {
          const state = document.querySelector('[data-testid="status-sampler"]')?.getAttribute('data-state') ?? null;
          w.__timeline.preview = { step: Number(preview.getAttribute('data-step')), state, t: performance.now() };
        }
        if (document.querySelector('[data-testid="node-image-save_image"]') && w.__timeline.image === undefined) w.__timeline.image = performance.now();
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.getByTestId('run').click();
    await page.getByTestId('preview-sampler').waitFor({ timeout: 30_000 });
    await shot(page, '04a-preview');
    await page.locator('[data-testid="status-save_image"][data-state="done"]').waitFor({ timeout: 60_000 });
    await page.getByTestId('node-image-save_image').waitFor({ timeout: 15_000 });

    const timeline = await page.evaluate(() => (window as unknown as { __timeline: { preview?: { step: number; state: string | null; t: number }; image?: number } }).__timeline);
    expect(timeline.preview, 'a preview was shown').toBeDefined();
    expect(timeline.image, 'the final image was shown').toBeDefined();
    // The first preview came mid-run (an intermediate step, sampler still running), before the image.
    expect(timeline.preview!.step).toBeGreaterThanOrEqual(1);
    expect(timeline.preview!.step).toBeLessThan(steps);
    expect(timeline.preview!.state).toBe('running');
    expect(timeline.preview!.t).toBeLessThan(timeline.image!);

    const outputImage = page.locator('[data-testid="output-image"][data-node-id="save_image"]').first();
    const size = await outputImage.evaluate((img: HTMLImageElement) => img.decode().then(() => [img.naturalWidth, img.naturalHeight]));
    const latent = DEFAULT_EXAMPLE.nodes.find((n) => n.type === 'EmptyLatent')!.params;
    expect(size).toEqual([latent.width, latent.height]);
    await expect(page.getByTestId('last-run').getAttribute('data-status')).resolves.toBe('finished');
    // After the run the preview shows the last step.
    await expect(page.getByTestId('preview-sampler').getAttribute('data-step')).resolves.toBe(String(steps));
    await shot(page, '04b-final-image');
  });

  it('frees memory from the toolbar: the loaded model and the cached results go, and a toast says so', async () => {
    const page = await h.newPage('free-memory');
    await openApp(page, h.url);
    await page.getByTestId('run').click();
    await page.locator('[data-testid="status-save_image"][data-state="done"]').waitFor({ timeout: 60_000 });
    // The model node says where it runs; the status bar, what the engine holds.
    await page.locator('[data-testid="node-model"] .chip', { hasText: /^on cpu$/ }).waitFor({ timeout: 5_000 });
    await page.locator('[data-testid="status-memory"]', { hasText: /^\d+ models? loaded · [\d.]+ (B|KiB|MiB) cached$/ }).waitFor({ timeout: 5_000 });
    await page.getByTestId('menu-engine').click();
    await shot(page, '04c-memory-menu');
    await page.getByTestId('memory-free').click();
    const freed = page.locator('[data-testid="toast"][data-kind="success"]', { hasText: /^Unloaded \d+ models? and dropped [\d.]+ (B|KiB|MiB) of cached results\.$/ });
    await freed.waitFor({ timeout: 10_000 });
    await page.locator('[data-testid="status-memory"]', { hasText: 'no model loaded · nothing cached' }).waitFor({ timeout: 5_000 });
    await page.getByTestId('menu-engine').click();
    await page.getByTestId('memory-unload-models').click();
    await page.locator('[data-testid="toast"][data-kind="success"]', { hasText: 'Nothing to free.' }).waitFor({ timeout: 10_000 });
    // Engine ▸ System: versions and each execution provider; the CPU works here.
    await page.getByTestId('menu-engine').click();
    await page.getByTestId('engine-system').click();
    await page.locator('[data-testid="system-providers"] li[data-provider="cpu"][data-state="works"]').waitFor({ timeout: 30_000 });
    await expect(page.getByTestId('system-info').textContent()).resolves.toContain('ONNX Runtime');
    // The server's engine runs in a process of its own.
    await expect(page.getByTestId('system-engine').textContent()).resolves.toMatch(/^its own process \(pid \d+\)/);
    await shot(page, '04d-system');
    await page.getByTestId('system-close').click();
    await expect(page.getByTestId('dialog-system').count()).resolves.toBe(0);
  });

  /** A page on the default example running a long sampler (900 steps over a batch of 256), past its first preview. */
  async function startLongRun(name: string): Promise<Page> {
    const page = await h.newPage(name);
    await openApp(page, h.url);
    await setParam(page, 'latent', 'batch', '256');
    await setParam(page, 'sampler', 'steps', '900');
    await page.getByTestId('run').click();
    await page.locator('[data-testid="status-sampler"][data-state="running"]').waitFor({ timeout: 30_000 });
    await page.getByTestId('preview-sampler').waitFor({ timeout: 15_000 });
    return page;
  }

  /** A short run of the default example (batch 1, 20 steps) that finishes. */
  async function runShort(page: Page): Promise<void> {
    await setParam(page, 'latent', 'batch', '1');
    await setParam(page, 'sampler', 'steps', '20');
    await page.getByTestId('run').click();
    await page.locator('[data-testid="status-save_image"][data-state="done"]').waitFor({ timeout: 60_000 });
  }

  it('survives a crash of the engine process mid-run: the sampler fails with the cause, the graph stays, the next run finishes', async () => {
    const page = await startLongRun('engine-crash');
    // What a fault in native code (ONNX Runtime, a GPU driver) does to the process it happens in.
    const pid = h.engine.pid!;
    process.kill(pid, 'SIGSEGV');

    await page.locator('[data-testid="last-run"][data-status="failed"]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="status-sampler"][data-state="error"]').waitFor({ timeout: 5_000 });
    await expect(page.getByTestId('node-error-sampler').textContent()).resolves.toContain('the engine process crashed (SIGSEGV) while this node ran');
    await shot(page, '05c-engine-crashed');
    // The page and the graph are untouched: the edits are still there, and the next run starts a fresh engine.
    await expect(page.getByTestId('connection').getAttribute('data-state')).resolves.toBe('open');
    await runShort(page);
    await expect(page.getByTestId('node-error-sampler').count()).resolves.toBe(0);
    expect(h.engine.pid).not.toBe(pid);
  });

  it('Engine ▸ Restart engine stops a run at once (cancelled at its step) and the next run finishes on a fresh engine', async () => {
    const page = await startLongRun('engine-restart');
    const pid = h.engine.pid;
    await page.getByTestId('menu-engine').click();
    await page.getByTestId('engine-restart').click();
    await page.locator('[data-testid="toast"][data-kind="success"]', { hasText: 'Engine restarted (stopped the run in progress): models unloaded, cached results dropped.' }).waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="last-run"][data-status="cancelled"]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="status-sampler"][data-state="cancelled"]').waitFor({ timeout: 5_000 });
    await page.locator('[data-testid="status-memory"]', { hasText: 'no model loaded · nothing cached' }).waitFor({ timeout: 5_000 });
    expect(h.engine.pid).not.toBe(pid);
    await runShort(page);
  });

  it('cancels a long run: status cancelled, sampling stops, nothing written', async () => {
    const page = await h.newPage('cancel');
    await openApp(page, h.url);
    // 900 steps on a batch of 256 take many seconds here (batch 64 once finished before the click landed, with
    // the whole suite loading both cores); it would write the .npy (and fail at the PNG) if not stopped.
    await setParam(page, 'latent', 'batch', '256');
    await setParam(page, 'sampler', 'steps', '900');
    const filesBefore = outFiles(h.outDir);

    await page.getByTestId('run').click();
    await page.getByTestId('status-running').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="status-sampler"][data-state="running"]').waitFor({ timeout: 30_000 });
    await page.getByTestId('preview-sampler').waitFor({ timeout: 15_000 });
    await shot(page, '05a-running');
    await page.getByTestId('cancel').click();

    await page.locator('[data-testid="last-run"][data-status="cancelled"]').waitFor({ timeout: 15_000 });
    await expect(page.getByTestId('status-running').count()).resolves.toBe(0);
    await expect(page.getByTestId('cancel').isDisabled()).resolves.toBe(true);
    const stepAtCancel = Number(await page.getByTestId('preview-sampler').getAttribute('data-step'));
    expect(stepAtCancel).toBeLessThan(900);
    // The sampler never finished: its badge says cancelled at the step it reached (not "done", not gone)...
    const badge = page.locator('[data-testid="status-sampler"][data-state="cancelled"]');
    await badge.waitFor({ timeout: 5_000 });
    const badgeMatch = /^cancelled (\d+)\/900$/.exec(((await badge.textContent()) ?? '').trim());
    expect(badgeMatch, `badge text: ${await badge.textContent()}`).not.toBeNull();
    const cancelledStep = Number(badgeMatch![1]);
    expect(cancelledStep).toBeGreaterThanOrEqual(1);
    expect(cancelledStep).toBeLessThan(900);
    // ...and so does the inspector; nodes that never started are back to idle (no badge).
    await selectNode(page, 'sampler');
    const runInfo = page.getByTestId('inspector-run-info');
    await expect(runInfo.getAttribute('data-state')).resolves.toBe('cancelled');
    await expect(runInfo.textContent()).resolves.toContain(`Cancelled at step ${cancelledStep} of 900`);
    await expect(page.getByTestId('status-save_image').count()).resolves.toBe(0);
    // The engine really stopped: no more steps arrive and nothing reached the disk.
    await page.waitForTimeout(1_000);
    await expect(page.getByTestId('preview-sampler').getAttribute('data-step')).resolves.toBe(String(stepAtCancel));
    await expect(page.getByTestId('node-image-save_image').count()).resolves.toBe(0);
    expect(outFiles(h.outDir)).toEqual(filesBefore);
    await shot(page, '05b-cancelled');
  });

  it('undoes and redoes a delete (same id, same connections)', async () => {
    const page = await h.newPage('undo');
    await openApp(page, h.url);
    const allEdges = await edgeIds(page);
    const touching = DEFAULT_EXAMPLE.edges.filter((e) => e.source === 'to_image' || e.target === 'to_image').map((e) => e.id);
    expect(touching.length).toBe(2);
    const boxBefore = await page.getByTestId('node-to_image').boundingBox();

    await selectNode(page, 'to_image');
    await page.keyboard.press('Delete');
    await expect.poll(() => page.getByTestId('node-to_image').count()).toBe(0);
    await expect(edgeIds(page)).resolves.toEqual(allEdges.filter((id) => !touching.includes(id)));
    await shot(page, '06a-deleted');

    await page.keyboard.press('Control+z');
    await expect.poll(() => page.getByTestId('node-to_image').count()).toBe(1);
    await expect(page.getByTestId('node-to_image').getAttribute('data-node-type')).resolves.toBe('LatentToImage');
    await expect(edgeIds(page)).resolves.toEqual(allEdges);
    for (const port of ['in-latent', 'out-image']) await expect(page.getByTestId(`handle-to_image-${port}`).count()).resolves.toBe(1);
    await expect(page.getByTestId('handle-to_image-in-latent').getAttribute('class')).resolves.toMatch(/\bconnected\b/);
    expect(await page.getByTestId('node-to_image').boundingBox()).toEqual(boxBefore);
    await shot(page, '06b-undone');

    await page.keyboard.press('Control+Shift+z');
    await expect.poll(() => page.getByTestId('node-to_image').count()).toBe(0);
    await expect(edgeIds(page)).resolves.toEqual(allEdges.filter((id) => !touching.includes(id)));
    await shot(page, '06c-redone');
  });

  it('saves a preset, reloads the page and opens it from the library', async () => {
    const page = await h.newPage('preset');
    await openApp(page, h.url);
    await setParam(page, 'sampler', 'steps', '37');
    await selectNode(page, 'save_latent');
    await page.keyboard.press('Delete');
    await expect.poll(() => page.getByTestId('node-save_latent').count()).toBe(0);

    await page.getByTestId('menu-file').click();
    await page.getByTestId('file-save-as').click();
    await page.getByTestId('dialog-save-as').waitFor();
    await page.getByTestId('save-as-preset').click();
    await page.getByTestId('save-as-name').fill('E2E preset');
    await shot(page, '07a-save-as');
    await page.getByTestId('save-as-confirm').click();
    await expect.poll(() => page.getByTestId('dialog-save-as').count()).toBe(0);
    const item = page.locator('[data-testid="preset-item"]', { hasText: 'E2E preset' });
    await item.waitFor();
    const presetId = await item.getAttribute('data-preset-id');
    expect(presetId).toBeTruthy();
    // The backend holds it too, edits included.
    const stored = (await h.backend.readPreset(presetId!)) as GraphDocument;
    expect(stored.nodes.map((n) => n.id).sort()).toEqual(['latent', 'model', 'sampler', 'save_image', 'to_image']);
    expect(stored.nodes.find((n) => n.id === 'sampler')!.params.steps).toBe(37);

    await page.reload();
    await page.locator('[data-testid="app"][data-ready="true"]').waitFor({ timeout: 30_000 });
    // Open the example first, so the preset below really comes from the library.
    await page.locator(`[data-testid="preset-item"][data-preset-id="${EXAMPLE_PRESET_ID}"]`).click();
    await expect.poll(() => nodeIds(page)).toEqual(DEFAULT_EXAMPLE.nodes.map((n) => n.id).sort());
    await expect(paramValue(page, 'sampler', 'steps')).resolves.toBe('50');

    await page.locator(`[data-testid="preset-item"][data-preset-id="${presetId}"]`).click();
    await expect.poll(() => nodeIds(page)).toEqual(['latent', 'model', 'sampler', 'save_image', 'to_image']);
    await expect(page.getByTestId('doc-title').textContent()).resolves.toContain('E2E preset');
    await expect(paramValue(page, 'sampler', 'steps')).resolves.toBe('37');
    await expect(paramValue(page, 'sampler', 'seed')).resolves.toBe('42');
    await expect(edgeIds(page)).resolves.toEqual(DEFAULT_EXAMPLE.edges.filter((e) => e.target !== 'save_latent').map((e) => e.id).sort());
    await shot(page, '07b-preset-reopened');
  });

  it('opens the ComfyUI example from the library: its Schedule (ComfyUI) node shows its options, and the graph runs', async () => {
    const page = await h.newPage('comfyui');
    await openApp(page, h.url);
    await page.locator('[data-testid="preset-item"][data-preset-id="example:comfyui-dpmpp2m-karras"]').click();
    await expect.poll(() => nodeIds(page)).toEqual(['latent', 'model', 'sampler', 'save_image', 'save_latent', 'schedule', 'to_image']);
    await expect(page.getByTestId('node-schedule').getAttribute('data-node-type')).resolves.toBe('ComfySchedule');
    await expect(page.getByTestId('node-schedule').textContent()).resolves.toContain('Schedule (ComfyUI)');
    await expect(paramValue(page, 'schedule', 'scheduler')).resolves.toBe('karras');
    await expect(paramValue(page, 'sampler', 'noise_generator')).resolves.toBe('comfyui');
    await selectNode(page, 'schedule');
    await page.getByTestId('param-schedule-scheduler').selectOption('sgm_uniform');
    await expect(paramValue(page, 'schedule', 'scheduler')).resolves.toBe('sgm_uniform');
    await page.getByTestId('run').click();
    await page.locator('[data-testid="status-save_image"][data-state="done"]').waitFor({ timeout: 60_000 });
    await expect(page.getByTestId('last-run').getAttribute('data-status')).resolves.toBe('finished');
    // The schedule's output unfolds to each step's level and model timestep, then its end level.
    const levels = page.getByTestId('output-values').getByTestId('sigma-levels');
    await page.locator('[data-testid="output-values"] details.output-sigmas summary').first().click();
    await expect.poll(() => levels.locator('li').count()).toBe(21);
    await expect(levels.locator('li').first().textContent()).resolves.toMatch(/^σ 14\.6\d* · t 999$/);
    await expect(levels.locator('li').last().textContent()).resolves.toBe('σ 0 (end)');
    await shot(page, '08-comfyui-example');
  });

  it('renames the document in the title bar (Esc cancels, undoable) and Save As keeps the new name', async () => {
    const page = await h.newPage('rename');
    await openApp(page, h.url);
    const title = page.getByTestId('doc-title');
    const input = page.getByTestId('doc-title-input');
    const original = DEFAULT_EXAMPLE.metadata.name;
    const renamed = 'Renamed E2E graph';
    await expect(title.textContent()).resolves.toContain(original);

    // Escape leaves the name as it was and records nothing.
    await page.getByTestId('doc-name').click();
    await input.fill('Not this one');
    await input.press('Escape');
    await expect(input.count()).resolves.toBe(0);
    await expect(title.textContent()).resolves.toContain(original);
    await expect(page.getByTestId('dirty-indicator').count()).resolves.toBe(0);

    // Enter commits: a new name, unsaved, one undo step.
    await page.getByTestId('doc-name').click();
    await expect(input.inputValue()).resolves.toBe(original);
    await input.fill(renamed);
    await input.press('Enter');
    await expect(input.count()).resolves.toBe(0);
    await expect(page.getByTestId('doc-name').textContent()).resolves.toBe(renamed);
    await expect(page.getByTestId('dirty-indicator').count()).resolves.toBe(1);
    await shot(page, '09a-renamed');
    await page.keyboard.press('Control+z');
    await expect.poll(() => page.getByTestId('doc-name').textContent()).toBe(original);
    await page.keyboard.press('Control+Shift+z');
    await expect.poll(() => page.getByTestId('doc-name').textContent()).toBe(renamed);

    // Save As offers the new name; the library and the stored preset carry it, and the document is clean.
    await page.getByTestId('menu-file').click();
    await page.getByTestId('file-save-as').click();
    await page.getByTestId('dialog-save-as').waitFor();
    await page.getByTestId('save-as-preset').click();
    await expect(page.getByTestId('save-as-name').inputValue()).resolves.toBe(renamed);
    await page.getByTestId('save-as-confirm').click();
    await expect.poll(() => page.getByTestId('dialog-save-as').count()).toBe(0);
    const item = page.locator('[data-testid="preset-item"]', { hasText: renamed });
    await item.waitFor();
    const stored = (await h.backend.readPreset((await item.getAttribute('data-preset-id'))!)) as GraphDocument;
    expect(stored.metadata.name).toBe(renamed);
    await expect(page.getByTestId('doc-name').textContent()).resolves.toBe(renamed);
    await expect(title.textContent()).resolves.toContain('preset');
    await expect(page.getByTestId('dirty-indicator').count()).resolves.toBe(0);
    await shot(page, '09b-saved-as');
  });

  it('drops an exported PNG back in and gets the same graph (paths sanitized)', async () => {
    const page = await h.newPage('png');
    await openApp(page, h.url);
    await setParam(page, 'sampler', 'seed', '1234');
    await page.getByTestId('run').click();
    await page.getByTestId('node-image-save_image').waitFor({ timeout: 60_000 });

    // An input image given by an absolute path (the run above did not need it): the export keeps its name only.
    const at = await emptyCanvasPoint(page, 0.5, 0.85);
    await page.mouse.dblclick(at.x, at.y);
    await page.getByTestId('palette').waitFor();
    const loader = await addFromOpenPalette(page, 'load image', 'LoadImage');
    // Browse lists image files under the backend's folders (here one put in the output folder by hand).
    const picked = join(h.outDir, 'inputs', 'picked.png');
    mkdirSync(dirname(picked), { recursive: true });
    writeFileSync(picked, Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
    await selectNode(page, loader);
    await page.getByTestId(`param-${loader}-path-browse`).click();
    const choice = page.getByTestId('file-choice').filter({ hasText: 'picked.png' });
    await choice.waitFor();
    await shot(page, '08-browse-images');
    await choice.click();
    await expect.poll(() => page.getByTestId(`param-${loader}-path`).inputValue()).toBe(realpathSync(picked));
    await setParam(page, loader, 'path', '/home/alice/private/photo.png');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-png').click()]);
    const png = readFileSync((await download.path())!);
    await shot(page, '08a-exported');

    // What the PNG carries: the graph as edited, sanitized.
    const embedded = await readGraphFromPng(new Uint8Array(png));
    if (!embedded.ok) throw new Error(embedded.reason);
    const exported = embedded.doc;
    expect(exported.nodes.map((n) => n.id).sort()).toEqual([...DEFAULT_EXAMPLE.nodes.map((n) => n.id), loader].sort());
    for (const node of DEFAULT_EXAMPLE.nodes) {
      const got = exported.nodes.find((n) => n.id === node.id)!;
      expect(got.type).toBe(node.type);
      expect(got.params).toMatchObject(node.id === 'sampler' ? { ...node.params, seed: 1234 } : node.params);
    }
    expect(exported.nodes.find((n) => n.id === loader)!.params.path).toBe('photo.png');
    expect(exported.metadata.author).toBe('');
    // Models are referenced by name and content hash: the embedded model's weights, as sha256sum prints it.
    const vp = (await h.backend.listModels()).find((m) => m.ref === 'embedded:gaussian-vp')!;
    const unetSha256 = createHash('sha256').update(readFileSync(join(vp.folder, 'unet', 'model.onnx'))).digest('hex');
    expect(unetSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(exported.metadata.tags.filter((t) => t.startsWith('model-hash:'))).toEqual([`model-hash:gaussian-vp=${unetSha256}`]);
    expect(JSON.stringify(exported)).not.toContain('/home/alice');

    await newGraph(page);
    await page.evaluate(
      async ({ base64, name }) => {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], name, { type: 'image/png' }));
        const pane = document.querySelector('.react-flow__pane')!;
        const r = pane.getBoundingClientRect();
        const init = { dataTransfer: data, bubbles: true, cancelable: true, clientX: r.x + r.width / 2, clientY: r.y + r.height / 2 };
        pane.dispatchEvent(new DragEvent('dragenter', init));
        pane.dispatchEvent(new DragEvent('dragover', init));
        pane.dispatchEvent(new DragEvent('drop', init));
      },
      { base64: png.toString('base64'), name: download.suggestedFilename() },
    );
    await page.locator('[data-testid="toast"][data-kind="success"]', { hasText: 'Opened' }).waitFor({ timeout: 10_000 });
    // The sanitized image name is not a file here: the Missing files dialog says so (the embedded model is here).
    await page.getByTestId('dialog-missing-files').waitFor({ timeout: 10_000 });
    await expect(page.getByTestId('missing-file').evaluateAll((els) => els.map((e) => e.getAttribute('data-value')))).resolves.toEqual(['photo.png']);
    await page.getByTestId('missing-close').click();
    await expect.poll(() => nodeIds(page)).toEqual(exported.nodes.map((n) => n.id).sort());
    for (const node of exported.nodes) await expect(page.getByTestId(`node-${node.id}`).getAttribute('data-node-type')).resolves.toBe(node.type);
    await expect(edgeIds(page)).resolves.toEqual(exported.edges.map((e) => e.id).sort());
    await expect(paramValue(page, 'sampler', 'seed')).resolves.toBe('1234');
    await expect(paramValue(page, loader, 'path')).resolves.toBe('photo.png');

    // The working graph (autosaved by the app) is the PNG's graph: same nodes, params and connections.
    await expect
      .poll(async () => {
        const saved = (await h.backend.readAutosave())?.graph as GraphDocument | undefined;
        return saved && canonicalGraph(saved);
      }, { timeout: 10_000 })
      .toEqual(canonicalGraph(exported));
    await shot(page, '08b-dropped-back');
  });

  it('random editing (select, delete, duplicate, group, copy/paste, drag, connect, add, undo/redo): no console error, and the autosaved graph stays well formed', async () => {
    const page = await h.newPage('random-editing');
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await openApp(page, h.url);
    const rng = createRng(11);
    const structural = ['dangling_edge', 'duplicate_id', 'unknown_port', 'duplicate_input', 'cycle', 'type_mismatch', 'schema'];
    const done: string[] = [];
    const checkAutosave = async () => {
      // The autosave is the document as the store holds it: every edit must leave it a graph the engine reads.
      await expect.poll(async () => (await h.backend.readAutosave())?.graph !== undefined, { timeout: 10_000 }).toBe(true);
      await page.waitForTimeout(1500);
      const saved = (await h.backend.readAutosave())!.graph;
      const problems = (await h.backend.validate(saved)).filter((e) => structural.includes(e.code));
      expect(problems, `after ${done.slice(-8).join(', ')}`).toEqual([]);
    };
    for (let i = 0; i < 80; i++) {
      const ids = await nodeIds(page);
      const action = rng.pick(['click', 'click', 'all', 'delete', 'duplicate', 'group', 'undo', 'undo', 'redo', 'paste', 'drag', 'connect', 'add', 'escape']);
      if (action === 'click' && ids.length) {
        await page.getByTestId(`node-${rng.pick(ids)}`).locator('.fs-node-header').click({ timeout: 2000, modifiers: rng.chance(0.3) ? ['Shift'] : [] }).catch(() => undefined);
      } else if (action === 'all') await page.keyboard.press('Control+a');
      else if (action === 'delete') await page.keyboard.press('Delete');
      else if (action === 'duplicate' && ids.length < 30) await page.keyboard.press('Control+d');
      else if (action === 'group') await page.keyboard.press('Control+g');
      else if (action === 'undo') await page.keyboard.press('Control+z');
      else if (action === 'redo') await page.keyboard.press('Control+Shift+z');
      else if (action === 'paste' && ids.length < 30) {
        await page.keyboard.press('Control+c');
        await page.keyboard.press('Control+v');
      } else if (action === 'drag' && ids.length) {
        const box = await page.getByTestId(`node-${rng.pick(ids)}`).locator('.fs-node-header').boundingBox();
        if (box) await drag(page, { x: box.x + 10, y: box.y + 5 }, { x: box.x + 10 + (rng.next() - 0.5) * 300, y: box.y + 5 + (rng.next() - 0.5) * 200 });
      } else if (action === 'connect') {
        const handles = await page.locator('[data-testid^="handle-"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')!));
        const outs = handles.filter((t) => t.includes('-out-'));
        const ins = handles.filter((t) => t.includes('-in-'));
        if (outs.length && ins.length) await dragHandle(page, rng.pick(outs), rng.pick(ins)).catch(() => undefined);
      } else if (action === 'add') {
        // Only where the pane shows (a node may cover the drawn point): click it, Tab, type, Enter.
        const at = await emptyCanvasPoint(page, 0.2 + 0.6 * rng.next(), 0.2 + 0.6 * rng.next()).catch(() => undefined);
        if (at) {
          await page.mouse.click(at.x, at.y);
          await page.keyboard.press('Tab');
          const input = page.getByTestId('palette-input');
          if (await input.isVisible().catch(() => false)) {
            await input.fill(rng.pick(['sampler', 'schedule', 'noise', 'cfg', 'split', 'metrics', 'save image']));
            await input.press('Enter');
          }
        }
      } else if (action === 'escape') await page.keyboard.press('Escape');
      done.push(action);
      if (i % 20 === 19) await checkAutosave();
    }
    await checkAutosave();
  });

  it('says which files a dropped shared graph reads that are not here, offers files of their names, and checks again', async () => {
    const page = await h.newPage('missing-files');
    await openApp(page, h.url);
    // The image is here, in a subfolder of a folder FlowStudio reads from, where a bare name does not reach.
    const photo = join(h.outDir, 'photos', 'holiday.png');
    mkdirSync(dirname(photo), { recursive: true });
    writeFileSync(photo, Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
    const shared = {
      format: 'flowstudio-graph',
      schemaVersion: 1,
      metadata: { name: 'shared', description: '', author: '', tags: ['model-hash:sd-turbo=0123456789abcdef0123'] },
      nodes: [
        { id: 'model', type: 'LoadModel', params: { model: 'sd-turbo' }, position: { x: 0, y: 0 } },
        { id: 'photo', type: 'LoadImage', params: { path: 'holiday.png' }, position: { x: 0, y: 200 } },
        { id: 'again', type: 'LoadImage', params: { path: 'holiday.png' }, position: { x: 0, y: 400 } },
        { id: 'noise', type: 'LoadLatent', params: { path: 'late-noise.npy' }, position: { x: 0, y: 600 } },
      ],
      edges: [],
      groups: [],
      viewport: { x: 0, y: 0, zoom: 1 },
      subgraphs: {},
    };
    await dropJson(page, 'shared.json', JSON.stringify(shared));
    const dialog = page.getByTestId('dialog-missing-files');
    await dialog.waitFor({ timeout: 15_000 });
    const rows = page.getByTestId('missing-file');
    await expect(rows.count()).resolves.toBe(3);
    await expect(rows.evaluateAll((els) => els.map((e) => [e.getAttribute('data-kind'), e.getAttribute('data-value')]))).resolves.toEqual([
      ['model', 'sd-turbo'],
      ['image', 'holiday.png'],
      ['latent', 'late-noise.npy'],
    ]);
    const image = page.locator('[data-testid="missing-file"][data-value="holiday.png"]');
    await expect(image.textContent()).resolves.toContain('read by Load Image (photo.path), Load Image (again.path)');
    await expect(image.textContent()).resolves.toContain('File not found: "holiday.png"');
    const model = page.locator('[data-testid="missing-file"][data-value="sd-turbo"]');
    await expect(model.textContent()).resolves.toContain('made with sha256 0123456789abcdef');
    // A browser has no system file dialog: the rows offer Show, not Locate.
    await expect(page.getByTestId('missing-locate').count()).resolves.toBe(0);
    await shot(page, '14a-missing-files');

    // The image found by its name: Use points both nodes at it (one undo step).
    const candidate = image.getByTestId('missing-candidate');
    await candidate.waitFor({ timeout: 10_000 });
    await expect(candidate.getAttribute('data-path')).resolves.toBe(realpathSync(photo));
    await image.getByTestId('missing-use').click();
    await image.waitFor({ state: 'detached', timeout: 10_000 });
    // The latent put where runs read from: Check again drops its row.
    writeFileSync(join(h.outDir, 'late-noise.npy'), 'bytes');
    await page.getByTestId('missing-check').click();
    await page.locator('[data-testid="missing-file"][data-value="late-noise.npy"]').waitFor({ state: 'detached', timeout: 10_000 });
    await expect(rows.count()).resolves.toBe(1);
    // Show selects the nodes that read the model and closes the dialog.
    await model.getByTestId('missing-show').click();
    await dialog.waitFor({ state: 'detached', timeout: 5_000 });
    await expect(page.getByTestId('inspector').getAttribute('data-node-id')).resolves.toBe('model');
    await selectNode(page, 'again');
    await expect(page.getByTestId('param-again-path').inputValue()).resolves.toBe(realpathSync(photo));
    // File ▸ Check missing files… brings the dialog back with what is still missing.
    await page.getByTestId('menu-file').click();
    await page.getByTestId('file-check-files').click();
    await dialog.waitFor({ timeout: 10_000 });
    await expect(rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-value')))).resolves.toEqual(['sd-turbo']);
    await page.getByTestId('missing-close').click();
    // ...and says so when nothing is missing.
    await page.locator(`[data-testid="preset-item"][data-preset-id="${EXAMPLE_PRESET_ID}"]`).click();
    const discard = page.getByTestId('confirm-ok');
    if (await discard.isVisible().catch(() => false)) await discard.click();
    await page.getByTestId('node-sampler').waitFor({ timeout: 10_000 });
    await page.getByTestId('menu-file').click();
    await page.getByTestId('file-check-files').click();
    await page.locator('[data-testid="toast"][data-kind="success"]', { hasText: 'Every file this graph reads is here.' }).waitFor({ timeout: 10_000 });
  });

  it('drops damaged graph files on the canvas: each opens or is refused with a toast naming it, and the page logs no error', async () => {
    const page = await h.newPage('damaged-drops');
    await openApp(page, h.url);
    const examples = readdirSync(join(ROOT, 'examples'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(ROOT, 'examples', f), 'utf8')) as unknown);
    const nodeTypes = await h.backend.listNodeTypes();
    const rng = createRng(5);
    const seen = { opened: 0, refused: 0 };
    for (let i = 0; i < 25; i++) {
      const name = `damaged-${i}.json`;
      const text = JSON.stringify(mutateGraph(rng, rng.pick(examples), nodeTypes));
      await dropJson(page, name, text);
      const toast = page.locator('[data-testid="toast"]', { hasText: name });
      await toast.first().waitFor({ timeout: 10_000 });
      const kind = await toast.first().getAttribute('data-kind');
      expect(['success', 'error']).toContain(kind);
      seen[kind === 'success' ? 'opened' : 'refused']++;
    }
    // Both kinds happened, and the editor still opens a good graph afterwards.
    expect(seen.opened).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(5);
    await newGraph(page);
  });
});

/** Drops a JSON file on the canvas as the user's file manager would. */
async function dropJson(page: Page, name: string, text: string): Promise<void> {
  await page.evaluate(
    ({ text, name }) => {
      const data = new DataTransfer();
      data.items.add(new File([text], name, { type: 'application/json' }));
      const pane = document.querySelector('.react-flow__pane')!;
      const r = pane.getBoundingClientRect();
      const init = { dataTransfer: data, bubbles: true, cancelable: true, clientX: r.x + r.width / 2, clientY: r.y + r.height / 2 };
      for (const type of ['dragenter', 'dragover', 'drop']) pane.dispatchEvent(new DragEvent(type, init));
    },
    { text, name },
  );
  const confirm = page.getByTestId('confirm-ok');
  if (await confirm.isVisible().catch(() => false)) await confirm.click();
}

/** Nodes (id, type, params) and edges sorted by id: what must survive a round trip. */
function canonicalGraph(doc: GraphDocument) {
  const byId = <T extends { id: string }>(xs: T[]) => [...xs].sort((a, b) => a.id.localeCompare(b.id));
  return {
    nodes: byId(doc.nodes).map((n) => ({ id: n.id, type: n.type, params: n.params })),
    edges: byId(doc.edges),
  };
}
