/**
 * The editor as the desktop window runs it, short of Electron: the built renderer served by the app://
 * protocol handler (with the desktop CSP), the real preload script exposing `window.flowstudio`, and the
 * desktop main process (startDesktop on a fake Electron) over a worker-thread engine. Chromium stands in
 * for Electron's renderer; a Playwright binding stands in for IPC, with structured clone's typed arrays
 * and non-finite numbers carried through. No local server runs: the page can reach the engine only
 * through the bridge. The newcomer's path must work, with no console error (a CSP violation is one).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppProtocolHandler } from '../../electron/desktop/app-protocol.ts';
import { APP_ORIGIN, EVENT_CHANNEL, INVOKE_CHANNEL } from '../../electron/desktop/channels.ts';
import { COMMAND_CHANNEL } from '../../electron/desktop/commands.ts';
import { startDesktop, type DesktopApp } from '../../electron/desktop/desktop-app.ts';
import type { GraphDocument } from '../../electron/engine/graph/schema.ts';
import { WorkerEngine } from '../../electron/engine/worker/worker-client.ts';
import { FakeElectron } from '../helpers/fake-electron.ts';
import { testCacheDir } from '../helpers/engine.ts';
import { buildRenderer, CHROMIUM, CHROMIUM_ARGS, chromiumAvailable, ROOT, SCREENSHOTS, VIEWPORT } from './harness.ts';

/** The page's stand-in origin: every request to it is answered by the app:// protocol handler. */
const PAGE_ORIGIN = 'http://flowstudio.test';
const PRELOAD = path.join(ROOT, 'electron', 'desktop', 'preload.cjs');
const EXAMPLE = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', 'gaussian-vp-ddim.json'), 'utf8')) as GraphDocument;

/**
 * JSON that keeps what structured clone keeps and JSON drops: typed arrays and non-finite numbers.
 * Runs in Node and, by its source text, in the page.
 */
function ipcCodec() {
  const TYPED: Record<string, new (b: ArrayBuffer) => ArrayBufferView> = { Float32Array, Float64Array, Uint8Array, Int32Array, Uint16Array };
  const toB64 = (v: ArrayBufferView) => {
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  };
  const encode = (value: unknown) =>
    JSON.stringify(value, function (this: Record<string, unknown>, key) {
      const v = this[key];
      if (ArrayBuffer.isView(v)) return { $typed: v.constructor.name, b64: toB64(v) };
      if (typeof v === 'number' && !Number.isFinite(v)) return { $number: String(v) };
      return v;
    });
  const decode = (text: string) =>
    JSON.parse(text, (_key, v) => {
      if (v && typeof v === 'object' && typeof v.$typed === 'string') {
        const bin = atob(v.b64);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        return new TYPED[v.$typed](bytes.buffer);
      }
      if (v && typeof v === 'object' && typeof v.$number === 'string') return Number(v.$number);
      return v;
    });
  return { encode, decode };
}

describe.skipIf(!chromiumAvailable())('desktop window (renderer over the preload bridge, in Chromium)', () => {
  let tmp: string;
  let browser: Browser;
  let page: Page;
  let desktop: DesktopApp | null = null;
  let fakeElectron: FakeElectron;
  let ipcCalls = 0;
  /** Sends a menu command to the page, as a menu click does, and waits until it is delivered. */
  let menuCommand: (command: string) => Promise<void> = async () => undefined;
  const problems: string[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'fs-e2e-desktop-'));
    const dist = await buildRenderer(tmp);
    const electron = (fakeElectron = new FakeElectron());
    desktop = await startDesktop(electron.asElectron(), {
      args: ['--out', path.join(tmp, 'out'), '--static', dist],
      preloadPath: PRELOAD,
      dataDir: path.join(tmp, 'data'),
      log: () => undefined,
      createEngine: (init) => new WorkerEngine({ ...init, cacheDir: testCacheDir(), providers: ['cpu'] }),
    });
    const contents = electron.windows[0].webContents;
    const appFiles = createAppProtocolHandler(dist);
    const codec = ipcCodec();

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: VIEWPORT });
    await context.route(`${PAGE_ORIGIN}/**`, async (route) => {
      const url = new URL(route.request().url());
      const res = await appFiles(new Request(`${APP_ORIGIN}${url.pathname}${url.search}`, { method: route.request().method() }));
      const headers: Record<string, string> = {};
      res.headers.forEach((value, name) => void (headers[name] = value));
      await route.fulfill({ status: res.status, headers, body: Buffer.from(await res.arrayBuffer()) });
    });
    // Events sent to the page so far, delivered in order (see below).
    let delivery = Promise.resolve();
    // ipcRenderer.invoke -> the main process's handler, as the window's own webContents. Electron carries
    // replies and sent events over one ordered channel: a reply waits for the events sent before it.
    await context.exposeBinding('__ipcInvoke', async (_source, channel: string, payload: string) => {
      ipcCalls++;
      const reply = await electron.invoke(contents, channel, ...codec.decode(payload));
      await delivery;
      return codec.encode(reply);
    });
    // The preload, run in the page before its scripts, with `require('electron')` answered by a shim.
    const preloadSource = fs.readFileSync(PRELOAD, 'utf8');
    await context.addInitScript(
      ({ codecSource, preloadSource }) => {
        const codec = new Function(`return (${codecSource})()`)() as ReturnType<typeof ipcCodec>;
        const listeners = new Map<string, Set<(...a: unknown[]) => void>>();
        const w = window as unknown as Record<string, unknown>;
        w.__ipcDeliver = (channel: string, payload: string) => {
          for (const l of listeners.get(channel) ?? []) l({}, ...codec.decode(payload));
        };
        const ipcRenderer = {
          invoke: async (channel: string, ...args: unknown[]) =>
            codec.decode(await (w.__ipcInvoke as (c: string, p: string) => Promise<string>)(channel, codec.encode(args))),
          on: (channel: string, l: (...a: unknown[]) => void) => void listeners.set(channel, (listeners.get(channel) ?? new Set()).add(l)),
          removeListener: (channel: string, l: (...a: unknown[]) => void) => void listeners.get(channel)?.delete(l),
        };
        const contextBridge = { exposeInMainWorld: (key: string, api: unknown) => void (w[key] = Object.freeze(api)) };
        const require = (name: string) => {
          if (name !== 'electron') throw new Error(`a sandboxed preload cannot require ${name}`);
          return { contextBridge, ipcRenderer };
        };
        new Function('require', preloadSource)(require);
      },
      { codecSource: ipcCodec.toString(), preloadSource },
    );
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`[${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`[pageerror] ${e.message}`));
    // webContents.send(channel, ...) -> the page's ipcRenderer.on listeners, in order.
    for (const channel of [EVENT_CHANNEL, COMMAND_CHANNEL]) {
      contents.rendererListeners.set(
        channel,
        new Set([
          (_event: unknown, ...args: unknown[]) => {
            const payload = codec.encode(args);
            delivery = delivery.then(() => page.evaluate(([c, p]) => (window as unknown as { __ipcDeliver(c: string, p: string): void }).__ipcDeliver(c, p), [channel, payload] as const)).catch(() => undefined);
          },
        ]),
      );
    }
    menuCommand = async (command: string) => {
      contents.send(COMMAND_CHANNEL, command);
      await delivery;
    };
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await desktop?.shutdown();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('opens the editor from app files over the bridge, runs the default example and shows its image', async () => {
    await page.goto(`${PAGE_ORIGIN}/index.html`);
    await page.locator('[data-testid="app"][data-ready="true"]').waitFor({ timeout: 30_000 });
    // The page talks through the bridge: no server token, and the engine answered IPC calls.
    await expect(page.evaluate(() => typeof (window as unknown as { flowstudio?: unknown }).flowstudio)).resolves.toBe('object');
    await expect(page.locator('meta[name="flowstudio-token"]').count()).resolves.toBe(0);
    expect(ipcCalls).toBeGreaterThan(0);
    for (const node of EXAMPLE.nodes) await expect(page.getByTestId(`node-${node.id}`).isVisible()).resolves.toBe(true);
    // The window's title names the document.
    await expect.poll(() => page.title()).toBe(`${EXAMPLE.metadata.name} — FlowStudio`);

    const saver = EXAMPLE.nodes.find((n) => n.type === 'SaveImage')!;
    const sampler = EXAMPLE.nodes.find((n) => n.type === 'Sampler')!;
    await page.getByTestId('run').click();
    await page.locator(`[data-testid="status-${saver.id}"][data-state="done"]`).waitFor({ timeout: 60_000 });
    const image = page.getByTestId('output-image').first();
    await image.waitFor({ timeout: 15_000 });
    const size = await image.evaluate((img: HTMLImageElement) => img.decode().then(() => [img.naturalWidth, img.naturalHeight]));
    const latent = EXAMPLE.nodes.find((n) => n.type === 'EmptyLatent')!.params;
    expect(size).toEqual([latent.width, latent.height]);
    // Previews came as events over the event channel.
    await expect(page.getByTestId(`preview-${sampler.id}`).isVisible()).resolves.toBe(true);
    await expect(page.getByTestId('last-run').getAttribute('data-status')).resolves.toBe('finished');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'desktop-01-after-run.png') });
    // The enlarged image can be shown in the system's file manager.
    await image.click();
    await page.getByTestId('show-in-folder').click();
    await expect.poll(() => fakeElectron.shownInFolder.length).toBe(1);
    expect(path.basename(fakeElectron.shownInFolder[0])).toBe('gaussian-vp-ddim.png');
    await page.getByTestId('lightbox').click();
    expect(problems).toEqual([]);
  });

  it('opens graph files opened from the system: at start, and when the window gets the focus', async () => {
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'fs-e2e-desktop-files-'));
    const write = (name: string, title: string) => {
      const file = path.join(elsewhere, name);
      fs.writeFileSync(file, JSON.stringify({ ...EXAMPLE, metadata: { ...EXAMPLE.metadata, name: title } }));
      return file;
    };
    try {
      desktop!.backend.requestOpen(write('launch.flowstudio', 'Opened at launch'));
      await page.reload();
      await page.locator('[data-testid="app"][data-ready="true"]').waitFor({ timeout: 30_000 });
      const discard = page.getByTestId('recovery-discard');
      if (await discard.count()) await discard.click();
      await expect.poll(() => page.getByTestId('doc-title').textContent()).toContain('Opened at launch');
      // A second launch on a file focuses the running window, which takes it.
      desktop!.backend.requestOpen(write('later.flowstudio', 'Opened while running'));
      await page.evaluate(() => window.dispatchEvent(new Event('focus')));
      await expect.poll(() => page.getByTestId('doc-title').textContent()).toContain('Opened while running');
      expect(problems).toEqual([]);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('runs menu commands on the graph, and a key plus its menu echo as one action', async () => {
    const nodes = () => page.locator('[data-testid^="node-"][data-node-type]').count();
    const selected = () => page.locator('.react-flow__node.selected').count();
    const total = await nodes();
    await page.locator('.react-flow__pane').click({ position: { x: 5, y: 5 } });
    await menuCommand('select-all');
    await expect.poll(selected).toBe(total);
    await page.keyboard.press('Delete');
    await expect.poll(nodes).toBe(0);
    // Unsaved changes mark the title.
    await expect.poll(() => page.title()).toMatch(/^• .+ — FlowStudio$/);
    await menuCommand('undo');
    await expect.poll(nodes).toBe(total);
    // Two deletes, then undo by key with the menu's echo right behind it (as on macOS): one undo, not two.
    for (const id of ['to_image', 'save_latent']) {
      await page.getByTestId(`node-${id}`).click();
      await page.keyboard.press('Delete');
      await expect.poll(() => page.getByTestId(`node-${id}`).count()).toBe(0);
    }
    await expect.poll(nodes).toBe(total - 2);
    await page.keyboard.press('Control+z');
    await menuCommand('undo');
    await expect.poll(() => page.getByTestId('node-save_latent').count()).toBe(1);
    // The echo was delivered and handled before menuCommand returned: had it undone too, both would be back.
    await expect(nodes()).resolves.toBe(total - 1);
    await menuCommand('undo');
    await expect.poll(nodes).toBe(total);
    await menuCommand('system');
    await page.getByTestId('system-info').waitFor({ timeout: 10_000 });
    await page.keyboard.press('Escape');
    expect(problems).toEqual([]);
  });

  /** Ctrl+O with the fake system dialog answering `file`, confirming the discard of unsaved changes if asked, until `opened`. */
  async function openFromSystemDialog(file: string, opened: () => Promise<boolean>): Promise<void> {
    fakeElectron.dialogAnswers.push(file);
    await page.locator('.react-flow__pane').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('Control+o');
    const discard = page.getByTestId('confirm-ok');
    await expect.poll(async () => (await discard.count()) > 0 || (await opened())).toBe(true);
    if (await discard.count()) await discard.click();
  }

  it('File > Open and Save As use the system dialogs', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'fs-e2e-desktop-dialogs-'));
    try {
      const picked = path.join(folder, 'picked.flowstudio');
      fs.writeFileSync(picked, JSON.stringify({ ...EXAMPLE, metadata: { ...EXAMPLE.metadata, name: 'Picked in the dialog' } }));
      await openFromSystemDialog(picked, async () => (await page.getByTestId('doc-title').textContent())?.includes('Picked in the dialog') ?? false);
      await expect.poll(() => page.getByTestId('doc-title').textContent()).toContain('Picked in the dialog');
      // The editor's own open dialog (a path field) is not shown on the desktop.
      await expect(page.getByTestId('dialog-open').count()).resolves.toBe(0);

      const target = path.join(folder, 'saved-from-dialog.flowstudio');
      fakeElectron.dialogAnswers.push(target);
      await page.keyboard.press('Control+Shift+s');
      await page.getByTestId('save-as-file').click();
      await page.getByTestId('save-as-browse').click();
      await expect.poll(() => page.getByTestId('save-as-path').inputValue()).toBe(target);
      await page.getByTestId('save-as-confirm').click();
      await expect.poll(() => fs.existsSync(target)).toBe(true);
      expect(JSON.parse(fs.readFileSync(target, 'utf8')).metadata.name).toBe('Picked in the dialog');
      expect(problems).toEqual([]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("a file param offers the system's dialog, whose pick becomes the param", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fs-e2e-desktop-input-'));
    try {
      await page.getByTestId('node-model').click();
      await page.getByTestId('param-model-model-browse').click();
      const system = page.getByTestId('param-model-model-system');
      await expect(system.textContent()).resolves.toContain('Model folder on this computer');
      const calls = fakeElectron.dialogCalls.length;
      fakeElectron.dialogAnswers.push(dir);
      await system.click();
      await expect.poll(() => page.getByTestId('param-model-model').inputValue()).toBe(fs.realpathSync(dir));
      expect(fakeElectron.dialogCalls[calls].options.properties).toEqual(['openDirectory']);
      // Back to the embedded model, as the example had it.
      await page.keyboard.press('Control+z');
      expect(problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a shared graph whose files are not here: Locate… in the system dialog fixes every node that reads one, and checks a model against its hash', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'fs-e2e-desktop-missing-'));
    try {
      // The embedded VP model stands in for the "sd-turbo" the graph's author had, with that model's hash recorded.
      const vp = (await desktop!.backend.listModels()).find((m) => m.ref === 'embedded:gaussian-vp')!;
      const sha256 = createHash('sha256').update(fs.readFileSync(path.join(vp.folder, 'unet', 'model.onnx'))).digest('hex');
      const shared = structuredClone(EXAMPLE);
      shared.metadata = { ...shared.metadata, name: 'Shared with me', tags: [`model-hash:sd-turbo=${sha256}`] };
      shared.nodes.find((n) => n.id === 'model')!.params.model = 'sd-turbo';
      shared.nodes.push({ id: 'photo', type: 'LoadImage', params: { path: 'holiday.png' }, position: { x: 0, y: 600 } });
      const graphFile = path.join(folder, 'shared.flowstudio');
      fs.writeFileSync(graphFile, JSON.stringify(shared));
      const image = path.join(folder, 'photos', 'holiday.png');
      fs.mkdirSync(path.dirname(image));
      fs.writeFileSync(image, Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));

      const dialog = page.getByTestId('dialog-missing-files');
      await openFromSystemDialog(graphFile, async () => (await dialog.count()) > 0);
      await dialog.waitFor({ timeout: 15_000 });
      await expect(page.getByTestId('missing-file').evaluateAll((els) => els.map((e) => e.getAttribute('data-value')))).resolves.toEqual(['sd-turbo', 'holiday.png']);

      // The model: a folder from the system dialog; the hash the graph recorded matches it.
      fakeElectron.dialogAnswers.push(vp.folder);
      await page.locator('[data-testid="missing-file"][data-value="sd-turbo"]').getByTestId('missing-locate').click();
      await page.locator('[data-testid="toast"]', { hasText: 'sd-turbo: the same model the graph was made with (sha256 matches)' }).waitFor({ timeout: 15_000 });
      await page.locator('[data-testid="missing-file"][data-value="sd-turbo"]').waitFor({ state: 'detached', timeout: 10_000 });
      // The image: the last one missing, so the dialog closes.
      fakeElectron.dialogAnswers.push(image);
      await page.locator('[data-testid="missing-file"][data-value="holiday.png"]').getByTestId('missing-locate').click();
      await dialog.waitFor({ state: 'detached', timeout: 10_000 });
      await page.locator('[data-testid="toast"]', { hasText: 'Every file this graph reads is here now.' }).waitFor({ timeout: 10_000 });
      await page.getByTestId('node-photo').click();
      await expect(page.getByTestId('param-photo-path').inputValue()).resolves.toBe(fs.realpathSync(image));
      // Each Locate is one undo step.
      await page.keyboard.press('Control+z');
      await expect(page.getByTestId('param-photo-path').inputValue()).resolves.toBe('holiday.png');
      await page.screenshot({ path: path.join(SCREENSHOTS, 'desktop-02-missing-files-located.png') });
      expect(problems).toEqual([]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('IPC calls from the page go through the invoke channel only', async () => {
    // The page cannot pick the channel: the bridge has exactly invoke and onEvent.
    const keys = await page.evaluate(() => Object.keys((window as unknown as { flowstudio: object }).flowstudio).sort());
    expect(keys).toEqual(['invoke', 'onCommand', 'onEvent']);
    const reply = await page.evaluate(() => (window as unknown as { flowstudio: { invoke(m: string): Promise<unknown> } }).flowstudio.invoke('subscribe'));
    expect(reply).toMatchObject({ ok: false, error: { name: 'BadRequestError' } });
    expect(INVOKE_CHANNEL).toBe('flowstudio:invoke');
  });
});
