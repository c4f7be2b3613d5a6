/**
 * The desktop app's main process (electron/desktop/desktop-app.ts) against a fake Electron
 * (test/helpers/fake-electron.ts), with the real preload script, the renderer's bridge client, the app
 * backend and an in-process engine on the embedded models: the Electron IPC transport end to end, short
 * of Electron itself (whose binary cannot be downloaded here).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { APP_ENTRY_URL, APP_SCHEME, EVENT_CHANNEL, INVOKE_CHANNEL } from '../electron/desktop/channels.ts';
import { startDesktop, type DesktopApp } from '../electron/desktop/desktop-app.ts';
import { Engine } from '../electron/engine/engine.ts';
import type { EngineEvent } from '../electron/engine/events.ts';
import type { GraphDocument } from '../electron/engine/graph/schema.ts';
import { EXAMPLES_DIR } from '../electron/engine/paths.ts';
import { writeNpy } from '../nodes/core/io/npy.ts';
import { Tensor } from '../nodes/core/tensor.ts';
import { createBridgeClient, type FlowStudioBridge } from '../renderer/src/engine/bridge-client.ts';
import { EngineRequestError } from '../renderer/src/engine/app-client.ts';
import { fakeEvent, FakeElectron, loadPreload, type FakeWindow } from './helpers/fake-electron.ts';
import { tempDir, testCacheDir } from './helpers/engine.ts';

const PRELOAD = path.resolve('electron/desktop/preload.cjs');
const EXAMPLE = JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, 'gaussian-vp-ddim.json'), 'utf8')) as GraphDocument;

interface Started {
  electron: FakeElectron;
  desktop: DesktopApp;
  window: FakeWindow;
  outDir: string;
  engine: Engine;
  closed: { count: number };
}

const running: Started[] = [];

async function start(extraArgs: string[] = []): Promise<Started> {
  const electron = new FakeElectron();
  const outDir = tempDir('fs-desktop-out-');
  const closed = { count: 0 };
  let engine!: Engine;
  const desktop = await startDesktop(electron.asElectron(), {
    args: ['--out', outDir, '--no-sandbox-chromium-switch', ...extraArgs],
    preloadPath: PRELOAD,
    dataDir: tempDir('fs-desktop-data-'),
    log: () => undefined,
    createEngine: (init) => {
      engine = new Engine({ ...init, cacheDir: testCacheDir(), providers: ['cpu'] });
      return Object.assign(engine, { close: async () => (closed.count++, engine.dispose()) });
    },
  });
  if (!desktop) throw new Error('startDesktop did not start');
  const s = { electron, desktop, window: electron.windows[0], outDir, engine, closed };
  running.push(s);
  return s;
}

afterEach(async () => {
  for (const s of running.splice(0)) await s.desktop.shutdown();
});

/** The renderer's engine client on the page of `window`, through the real preload. */
async function pageClient(s: Started) {
  const exposed = await loadPreload(PRELOAD, s.electron, s.window.webContents);
  return createBridgeClient(exposed.flowstudio as FlowStudioBridge);
}

describe('desktop main process', () => {
  it('registers app:// as privileged before ready and opens a sandboxed, isolated window on it', async () => {
    const s = await start();
    expect(s.electron.privileged).toHaveLength(1);
    expect(s.electron.privileged[0].beforeReady).toBe(true);
    expect(s.electron.protocolHandlers.has(APP_SCHEME)).toBe(true);
    expect(s.electron.windows).toHaveLength(1);
    const prefs = s.window.options.webPreferences;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false, navigateOnDragDrop: false });
    expect(fs.existsSync(prefs.preload)).toBe(true);
    expect(s.window.webContents.url).toBe(APP_ENTRY_URL);
    expect(s.window.shown).toBe(true);
  });

  it('keeps the window on the app: foreign navigation, new windows and webviews are refused', async () => {
    const s = await start();
    const contents = s.window.webContents;
    for (const [url, allowed] of [
      ['https://example.com/', false],
      ['file:///etc/passwd', false],
      ['app://other/index.html', false],
      [`${APP_ENTRY_URL}#x`, true],
    ] as const) {
      const e = fakeEvent({ url });
      contents.emit('will-navigate', e);
      expect(e.defaultPrevented, url).toBe(!allowed);
      const r = fakeEvent({ url });
      contents.emit('will-redirect', r);
      expect(r.defaultPrevented, url).toBe(!allowed);
    }
    const webview = fakeEvent({});
    contents.emit('will-attach-webview', webview);
    expect(webview.defaultPrevented).toBe(true);
    // New windows are denied; web links go to the system browser, nothing else does.
    for (const url of ['https://arxiv.org/abs/2411.04746', 'file:///etc/passwd', 'javascript:alert(1)', APP_ENTRY_URL]) {
      expect(contents.windowOpenHandler!({ url })).toEqual({ action: 'deny' });
    }
    await Promise.resolve();
    expect(s.electron.openedExternally).toEqual(['https://arxiv.org/abs/2411.04746']);
  });

  it('grants no permission but clipboard writes and fullscreen, and those only to the app', async () => {
    const s = await start();
    const ask = (permission: string, requestingUrl: string) =>
      new Promise<boolean>((resolve) => s.electron.permissionRequest!(s.window.webContents, permission, resolve, { requestingUrl }));
    await expect(ask('clipboard-sanitized-write', APP_ENTRY_URL)).resolves.toBe(true);
    await expect(ask('fullscreen', APP_ENTRY_URL)).resolves.toBe(true);
    await expect(ask('clipboard-sanitized-write', 'https://example.com/')).resolves.toBe(false);
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal']) await expect(ask(p, APP_ENTRY_URL)).resolves.toBe(false);
    expect(s.electron.permissionCheck!(s.window.webContents, 'fullscreen', 'app://flowstudio')).toBe(true);
    expect(s.electron.permissionCheck!(s.window.webContents, 'media', 'app://flowstudio')).toBe(false);
    expect(s.electron.permissionCheck!(s.window.webContents, 'fullscreen', 'https://example.com')).toBe(false);
  });

  it('answers IPC only for the app page: a foreign page gets a refusal and the engine is not called', async () => {
    const s = await start();
    let runs = 0;
    s.engine.subscribe((e) => void (e.type === 'run-started' && runs++));
    s.window.webContents.url = 'https://evil.example/';
    const reply = (await s.electron.invoke(s.window.webContents, INVOKE_CHANNEL, 'run', { graph: EXAMPLE })) as { ok: boolean; error: { name: string; message: string } };
    expect(reply.ok).toBe(false);
    expect(reply.error.name).toBe('ForbiddenError');
    expect(reply.error.message).toContain('https://evil.example/');
    expect(runs).toBe(0);
  });

  it('runs the default example through preload, IPC and the bridge client: summary, events, output bytes', async () => {
    const s = await start();
    const client = await pageClient(s);
    const events: EngineEvent[] = [];
    client.subscribe((e) => events.push(e));
    const types = await client.listNodeTypes();
    expect(types.map((t) => t.type)).toEqual(expect.arrayContaining(['LoadModel', 'Sampler', 'SaveImage']));

    const summary = await client.run({ graph: EXAMPLE, runId: 'desktop-run-1' });
    expect(summary.status).toBe('finished');
    expect(summary.runId).toBe('desktop-run-1');
    expect(events.find((e) => e.type === 'run-started')?.runId).toBe('desktop-run-1');
    expect(events.at(-1)).toMatchObject({ type: 'run-finished', runId: 'desktop-run-1' });
    const preview = events.find((e) => e.type === 'node-preview');
    expect(preview?.type === 'node-preview' && preview.preview).toBeInstanceOf(Tensor);
    // Events went out on the event channel, to this window.
    expect(s.window.webContents.sent.filter((m) => m.channel === EVENT_CHANNEL).length).toBe(events.length);

    const png = await client.readFile(path.join(summary.outDir, 'gaussian-vp-ddim.png'));
    expect(png).toBeInstanceOf(Uint8Array);
    expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const trajectory = await client.readOutput('desktop-run-1', 'sampler', 'trajectory');
    expect(trajectory).not.toBeNull();
    // Show in folder: outputs yes, anything outside the allowed folders no.
    await client.showInFolder!(path.join(summary.outDir, 'gaussian-vp-ddim.png'));
    expect(s.electron.shownInFolder).toEqual([fs.realpathSync(path.join(summary.outDir, 'gaussian-vp-ddim.png'))]);
    await expect(client.showInFolder!('/etc/passwd')).rejects.toMatchObject({ name: 'FileAccessError' });
    expect(s.electron.shownInFolder).toHaveLength(1);
  });

  it('keeps error names and structured graph errors across IPC', async () => {
    const s = await start();
    const client = await pageClient(s);
    const broken = structuredClone(EXAMPLE);
    broken.nodes.find((n) => n.id === 'sampler')!.params.steps = -3;
    const summary = await client.run({ graph: broken });
    expect(summary.status).toBe('invalid');
    expect(summary.errors?.some((g) => g.nodeId === 'sampler')).toBe(true);
    // A thrown GraphValidationError keeps its name and its structured errors.
    const err = await client.writePreset('broken', { format: 'flowstudio-graph', nodes: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineRequestError);
    expect((err as EngineRequestError).name).toBe('GraphValidationError');
    expect((err as EngineRequestError).errors?.[0]).toMatchObject({ path: 'schemaVersion' });
    const missing = await client.readPreset('user:no-such-preset').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(EngineRequestError);
    expect((missing as EngineRequestError).name).toBe('NotFoundError');
    const outside = await client.readFile('/etc/passwd').catch((e: unknown) => e);
    expect((outside as EngineRequestError).name).toBe('FileAccessError');
  });

  it('cancels the runs of a window that closes', async () => {
    const s = await start();
    const client = await pageClient(s);
    const graph = structuredClone(EXAMPLE);
    graph.nodes.find((n) => n.id === 'sampler')!.params.steps = 400;
    let steps = 0;
    // The first sampler step closes the window: its run must stop there, not run to the end.
    s.engine.subscribe((e) => {
      if (e.type === 'node-progress' && e.nodeId === 'sampler' && ++steps === 1) s.window.close();
    });
    const summary = await client.run({ graph, runId: 'closing-run', force: true });
    expect(summary.status).toBe('cancelled');
    expect(steps).toBeLessThan(400);
    expect(s.desktop.dispatcher.runsOf(s.window.webContents.id)).toEqual([]);
  });

  it('closes the engine before quitting, once', async () => {
    const s = await start();
    s.electron.app.quit();
    expect(s.electron.events.at(-1)).toBe('quit');
    await expect.poll(() => s.electron.events.filter((e) => e === 'quit-done').length).toBe(1);
    expect(s.closed.count).toBe(1);
    expect(s.electron.ipcHandlers.has(INVOKE_CHANNEL)).toBe(false);
    await s.desktop.shutdown();
    expect(s.closed.count).toBe(1);
  });

  it('quitting during a run cancels it and closes the engine only after the run has settled', async () => {
    const s = await start();
    const client = await pageClient(s);
    const graph = structuredClone(EXAMPLE);
    graph.nodes.find((n) => n.id === 'sampler')!.params.steps = 400;
    const order: string[] = [];
    const close = s.engine.dispose.bind(s.engine);
    s.engine.dispose = async () => {
      order.push('engine-closed');
      await close();
    };
    let quit = false;
    s.engine.subscribe((e) => {
      if (e.type === 'node-progress' && !quit) {
        quit = true;
        s.electron.app.quit();
      }
    });
    const summary = await client.run({ graph, runId: 'quitting-run', force: true });
    order.push(`run-${summary.status}`);
    await expect.poll(() => s.electron.events.includes('quit-done')).toBe(true);
    expect(summary.status).toBe('cancelled');
    expect(order).toEqual(['run-cancelled', 'engine-closed']);
  });

  it('sets the menu bar; a menu command reaches the focused page through the preload', async () => {
    const s = await start();
    const client = await pageClient(s);
    const template = (s.electron.applicationMenu as { template: { label?: string }[] }).template;
    expect(template.map((m) => m.label)).toEqual(expect.arrayContaining(['File', 'Edit', 'Run', 'View']));
    const got: string[] = [];
    const stop = client.onCommand!((c) => got.push(c));
    const run = (template.find((m) => m.label === 'Run') as unknown as { submenu: { label: string; click(): void }[] }).submenu.find((i) => i.label === 'Run')!;
    run.click();
    s.electron.focusedWindow = s.window;
    run.click();
    stop();
    run.click();
    expect(got).toEqual(['run', 'run']);
  });

  it('reloads a crashed editor page once, and does not loop on a page that keeps crashing', async () => {
    const s = await start();
    expect(s.window.loads).toBe(1);
    const gone = (reason: string) => s.window.webContents.emit('render-process-gone', fakeEvent({}), { reason, exitCode: 1 });
    gone('crashed');
    expect(s.window.loads).toBe(2);
    gone('oom');
    expect(s.window.loads).toBe(2);
    gone('clean-exit');
    expect(s.window.loads).toBe(2);
  });

  it("main.ts starts the app from the Electron module entry.cjs hands it, without registering the scheme twice", async () => {
    const electron = new FakeElectron();
    const outDir = tempDir('fs-desktop-main-out-');
    const saved = { argv: process.argv, data: process.env.FLOWSTUDIO_DATA_DIR, cache: process.env.FLOWSTUDIO_CACHE_DIR };
    process.argv = ['/path/to/electron', '/path/to/app', '--out', outDir];
    process.env.FLOWSTUDIO_DATA_DIR = tempDir('fs-desktop-main-data-');
    process.env.FLOWSTUDIO_CACHE_DIR = testCacheDir();
    try {
      const { start } = await import('../electron/desktop/main.ts');
      await start(electron.asElectron() as never);
      expect(electron.privileged).toEqual([]);
      expect(electron.windows).toHaveLength(1);
      expect(fs.existsSync(electron.windows[0].options.webPreferences.preload)).toBe(true);
      expect(electron.windows[0].webContents.url).toBe(APP_ENTRY_URL);
      electron.app.quit();
      await expect.poll(() => electron.events.includes('quit-done'), { timeout: 20_000 }).toBe(true);
    } finally {
      process.argv = saved.argv;
      for (const [key, value] of [['FLOWSTUDIO_DATA_DIR', saved.data], ['FLOWSTUDIO_CACHE_DIR', saved.cache]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('a second instance quits at once and opens nothing', async () => {
    const electron = new FakeElectron();
    electron.singleInstance = false;
    let engines = 0;
    const desktop = await startDesktop(electron.asElectron(), {
      args: [],
      preloadPath: PRELOAD,
      log: () => undefined,
      createEngine: () => {
        engines++;
        throw new Error('no engine for a second instance');
      },
    });
    expect(desktop).toBeNull();
    expect(electron.quitCalls).toBe(1);
    expect(electron.windows).toHaveLength(0);
    expect(engines).toBe(0);
  });

  it('a second launch focuses the open window', async () => {
    const s = await start();
    s.electron.app.emit('second-instance', fakeEvent({}), [], '/');
    expect(s.window.focused).toBe(1);
    expect(s.electron.windows).toHaveLength(1);
  });

  it('opens the next window where the last one closed, maximized if it was, and on screen', async () => {
    const dataDir = tempDir('fs-desktop-data-');
    const launch = async (workAreas?: { x: number; y: number; width: number; height: number }[]) => {
      const electron = new FakeElectron();
      if (workAreas) electron.workAreas = workAreas;
      const desktop = await startDesktop(electron.asElectron(), {
        args: ['--out', tempDir('fs-desktop-out-')],
        preloadPath: PRELOAD,
        dataDir,
        log: () => undefined,
        createEngine: (init) => {
          const engine = new Engine({ ...init, cacheDir: testCacheDir(), providers: ['cpu'] });
          return Object.assign(engine, { close: () => engine.dispose() });
        },
      });
      running.push({ electron, desktop: desktop!, window: electron.windows[0], outDir: '', engine: undefined as never, closed: { count: 0 } });
      return electron.windows[0];
    };
    const first = await launch();
    expect([first.options.x, first.options.width]).toEqual([undefined, 1440]);
    first.bounds = { x: 300, y: 200, width: 1000, height: 700 };
    first.maximized = true;
    first.close();
    const statePath = path.join(dataDir, 'window-state.json');
    await expect.poll(() => fs.existsSync(statePath)).toBe(true);
    const second = await launch();
    expect(second.options).toMatchObject({ x: 300, y: 200, width: 1000, height: 700 });
    expect(second.maximized).toBe(true);
    // The display it was on is gone: the size is kept, the place is left to the system.
    const third = await launch([{ x: 2000, y: 0, width: 1280, height: 1000 }]);
    expect(third.options).toMatchObject({ width: 1000, height: 700 });
    expect(third.options.x).toBeUndefined();
  });

  /** A graph file in a folder that is none of the app's roots, as a double-clicked file is. */
  function graphFileElsewhere(name: string): string {
    const file = path.join(tempDir('fs-desktop-elsewhere-'), name);
    fs.writeFileSync(file, JSON.stringify(EXAMPLE));
    return fs.realpathSync(file);
  }

  it('opens a graph file named on the command line: the editor takes it, and may open and save it back', async () => {
    const file = graphFileElsewhere('launched.flowstudio');
    const s = await start([file]);
    const client = await pageClient(s);
    await expect(client.takeOpenRequests()).resolves.toEqual([file]);
    await expect(client.takeOpenRequests()).resolves.toEqual([]);
    const doc = (await client.openGraphFile(file)) as GraphDocument;
    expect(doc.nodes.map((n) => n.id)).toEqual(EXAMPLE.nodes.map((n) => n.id));
    await expect(client.saveGraphFile(file, { ...doc, metadata: { ...doc.metadata, name: 'saved back' } })).resolves.toBe(file);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).metadata.name).toBe('saved back');
    // Both joined the system's recent documents.
    expect(s.electron.recentDocuments).toEqual([file, file]);
    // Another file in a folder nobody opened stays out of reach.
    const other = graphFileElsewhere('other.flowstudio');
    await expect(client.openGraphFile(other)).rejects.toThrow();
  });

  it('a second launch on a file, and macOS open-file (also before ready), queue it and bring the window up', async () => {
    const early = graphFileElsewhere('early.flowstudio');
    const s = await start();
    const client = await pageClient(s);
    const second = graphFileElsewhere('second.flowstudio');
    s.electron.app.emit('second-instance', fakeEvent({}), ['/opt/FlowStudio/flowstudio', '--enable-logging', path.basename(second), 'notes.txt'], path.dirname(second));
    expect(s.window.focused).toBe(1);
    const opened = fakeEvent({});
    s.electron.app.emit('open-file', opened, early);
    expect(opened.defaultPrevented).toBe(true);
    expect(s.window.focused).toBe(2);
    await expect(client.takeOpenRequests()).resolves.toEqual([second, early]);
  });

  it('the system file dialogs: a chosen file opens and saves back, a cancel is null, a bad call is refused', async () => {
    const s = await start();
    const client = await pageClient(s);
    const chosen = graphFileElsewhere('picked.flowstudio');
    s.electron.dialogAnswers.push(chosen, null);
    await expect(client.chooseGraphFile!('open')).resolves.toBe(chosen);
    expect(s.electron.dialogCalls[0]).toMatchObject({ kind: 'open', attached: true, options: { filters: [{ extensions: ['flowstudio', 'json'] }] } });
    await expect(client.openGraphFile(chosen)).resolves.toMatchObject({ format: 'flowstudio-graph' });
    await expect(client.chooseGraphFile!('open')).resolves.toBeNull();
    // Save: the extension is added, the folder may be written.
    const folder = tempDir('fs-desktop-save-');
    s.electron.dialogAnswers.push(path.join(folder, 'new-graph'));
    const target = await client.chooseGraphFile!('save', 'My graph.flowstudio');
    expect(target).toBe(path.join(folder, 'new-graph.flowstudio'));
    expect(s.electron.dialogCalls[2].options.defaultPath).toBe(path.join('/fake/documents', 'My graph.flowstudio'));
    await client.saveGraphFile(target!, EXAMPLE);
    expect(fs.existsSync(target!)).toBe(true);
    for (const bad of [[], ['delete'], ['open', 3], ['save', 'x', 'y']]) {
      const reply = (await s.electron.invoke(s.window.webContents, INVOKE_CHANNEL, 'chooseGraphFile', ...bad)) as { ok: boolean; error?: { name: string } };
      expect(reply, JSON.stringify(bad)).toMatchObject({ ok: false, error: { name: 'BadRequestError' } });
    }
    expect(s.electron.dialogCalls).toHaveLength(3);
  });

  it('an input picked in the system dialog becomes readable by runs; a model pick is a folder', async () => {
    const s = await start();
    const client = await pageClient(s);
    const dir = tempDir('fs-desktop-input-');
    const file = path.join(dir, 'mine.npy');
    fs.writeFileSync(file, writeNpy(Tensor.full([1, 3, 4, 4], 0.25)));
    const doc: GraphDocument = { ...EXAMPLE, nodes: [{ id: 'load', type: 'LoadLatent', params: { path: file }, position: { x: 0, y: 0 } }], edges: [] };
    expect((await client.run({ graph: doc })).status).toBe('failed');
    s.electron.dialogAnswers.push(file);
    await expect(client.chooseInputFile!('latent', ['.npy'])).resolves.toBe(fs.realpathSync(file));
    expect(s.electron.dialogCalls.at(-1)!.options).toMatchObject({ properties: ['openFile'], filters: [{ extensions: ['npy'] }] });
    expect((await client.run({ graph: doc, force: true })).status).toBe('finished');
    // The picker lists it now too.
    expect((await client.listFiles({ kind: 'latent' })).map((f) => f.path)).toContain(fs.realpathSync(file));
    s.electron.dialogAnswers.push(null);
    await expect(client.chooseInputFile!('model')).resolves.toBeNull();
    expect(s.electron.dialogCalls.at(-1)!.options.properties).toEqual(['openDirectory']);
    for (const bad of [['pictures'], ['image', ['png']], ['image', '.png'], []]) {
      const reply = (await s.electron.invoke(s.window.webContents, INVOKE_CHANNEL, 'chooseInputFile', ...bad)) as { ok: boolean };
      expect(reply.ok, JSON.stringify(bad)).toBe(false);
    }
  });

  it('an open-file event before the app is ready is kept until the editor can take it', async () => {
    const early = graphFileElsewhere('at-launch.flowstudio');
    const electron = new FakeElectron();
    // macOS sends open-file for the file that launched the app before 'ready'.
    const whenReady = electron.app.whenReady;
    electron.app.whenReady = async () => {
      electron.app.emit('open-file', fakeEvent({}), early);
      await whenReady();
    };
    const desktop = await startDesktop(electron.asElectron(), {
      args: ['--out', tempDir('fs-desktop-out-')],
      preloadPath: PRELOAD,
      dataDir: tempDir('fs-desktop-data-'),
      log: () => undefined,
      createEngine: (init) => {
        const engine = new Engine({ ...init, cacheDir: testCacheDir(), providers: ['cpu'] });
        return Object.assign(engine, { close: () => engine.dispose() });
      },
    });
    try {
      await expect(desktop!.backend.takeOpenRequests()).resolves.toEqual([early]);
    } finally {
      await desktop!.shutdown();
    }
  });
});

describe('the engine in a utility process (what the desktop app runs by default)', () => {
  /** A desktop app with its own engine: no createEngine, so a utility process (or a thread with --engine thread). */
  async function startDefault(extraArgs: string[] = []) {
    const electron = new FakeElectron();
    // The engine process reads the model cache folder from the environment it is started with.
    const before = process.env.FLOWSTUDIO_CACHE_DIR;
    process.env.FLOWSTUDIO_CACHE_DIR = testCacheDir();
    try {
      const dataDir = tempDir('fs-desktop-data-');
      const logged: string[] = [];
      const desktop = await startDesktop(electron.asElectron(), {
        args: ['--out', tempDir('fs-desktop-out-'), '--provider', 'cpu', ...extraArgs],
        preloadPath: PRELOAD,
        dataDir,
        log: (line) => logged.push(line),
      });
      if (!desktop) throw new Error('startDesktop did not start');
      const s = { electron, desktop, window: electron.windows[0], dataDir, logged };
      const exposed = await loadPreload(PRELOAD, electron, s.window.webContents);
      return { ...s, client: createBridgeClient(exposed.flowstudio as FlowStudioBridge) };
    } finally {
      if (before === undefined) delete process.env.FLOWSTUDIO_CACHE_DIR;
      else process.env.FLOWSTUDIO_CACHE_DIR = before;
    }
  }

  const longGraph = () => {
    const graph = structuredClone(EXAMPLE);
    graph.nodes.find((n) => n.id === 'sampler')!.params.steps = 999;
    return graph;
  };

  it('a native crash in the engine fails the run at its node; the window, IPC and the next run carry on', async () => {
    const s = await startDefault();
    try {
      const info = await s.client.systemInfo();
      const [child] = s.electron.utilityProcess.forked;
      expect(info.engine).toEqual({ runsIn: 'process', pid: child.pid, crashes: 0 });
      const events: EngineEvent[] = [];
      s.client.subscribe((e) => events.push(e));
      let crashed = false;
      s.client.subscribe((e) => {
        if (e.type === 'node-progress' && e.nodeId === 'sampler' && !crashed) {
          crashed = true;
          process.kill(child.pid!, 'SIGSEGV');
        }
      });
      const summary = await s.client.run({ graph: longGraph(), runId: 'crashing-run', force: true });
      expect(summary).toMatchObject({ runId: 'crashing-run', status: 'failed', error: { nodeId: 'sampler', nodeType: 'Sampler' } });
      expect(summary.error?.message).toMatch(/^the engine process exited \(code \d+\) while this node ran; .*the next run starts a fresh engine$/);
      // The page saw the node fail as any node failure, through the event channel.
      expect(events.filter((e) => e.runId === 'crashing-run').at(-1)).toMatchObject({ type: 'run-failed', nodeId: 'sampler' });
      expect(events.some((e) => e.type === 'node-failed' && e.nodeId === 'sampler')).toBe(true);
      expect(s.window.isDestroyed()).toBe(false);
      // Said on the console and kept in the data dir's crash log, for a bug report.
      expect(s.logged.some((l) => /^flowstudio: the engine process exited \(code \d+\); a fresh engine starts with the next request \(logged in .*engine-crashes\.json\)$/.test(l))).toBe(true);
      await expect.poll(() => fs.existsSync(path.join(s.dataDir, 'engine-crashes.json'))).toBe(true);
      expect(JSON.parse(fs.readFileSync(path.join(s.dataDir, 'engine-crashes.json'), 'utf8'))).toEqual([
        { at: expect.any(String), cause: expect.stringMatching(/^the engine process exited/), runs: [{ runId: 'crashing-run', nodeId: 'sampler', nodeType: 'Sampler' }] },
      ]);

      const next = await s.client.run({ graph: EXAMPLE, runId: 'after-crash' });
      expect(next.status).toBe('finished');
      expect(s.electron.utilityProcess.forked).toHaveLength(2);
      expect((await s.client.systemInfo()).engine.pid).toBe(s.electron.utilityProcess.forked[1].pid);
    } finally {
      await s.desktop.shutdown();
    }
    // Quitting ended the engine process.
    expect(s.electron.utilityProcess.forked.every((c) => c.pid === undefined)).toBe(true);
  });

  it('--engine thread runs it in a worker thread instead, and a bad --engine value is refused', async () => {
    const s = await startDefault(['--engine', 'thread']);
    try {
      expect((await s.client.systemInfo()).engine).toEqual({ runsIn: 'thread', pid: process.pid, crashes: 0 });
      expect(s.electron.utilityProcess.forked).toHaveLength(0);
    } finally {
      await s.desktop.shutdown();
    }
    await expect(startDefault(['--engine', 'gpu'])).rejects.toThrow('--engine expects "process" or "thread", got "gpu"');
  });
});
