/**
 * The desktop app's pieces alone: the IPC dispatcher's argument checks and run bookkeeping, the app://
 * protocol's file serving, the command line, and how `npm start` finds and starts Electron.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findElectron, runElectron } from '../bin/electron-launch.js';
import { APP_SCHEME_PRIVILEGES, createAppProtocolHandler, desktopContentSecurityPolicy } from '../electron/desktop/app-protocol.ts';
import type { MenuItemConstructorOptions } from 'electron';
import { appMenuTemplate } from '../electron/desktop/app-menu.ts';
import { APP_ORIGIN, APP_SCHEME, EVENT_CHANNEL, INVOKE_CHANNEL } from '../electron/desktop/channels.ts';
import { APP_COMMANDS, COMMAND_CHANNEL } from '../electron/desktop/commands.ts';
import { graphFilesIn, parseDesktopArgs } from '../electron/desktop/desktop-args.ts';
import { createIpcDispatcher } from '../electron/desktop/ipc-dispatch.ts';
import { isAppUrl, isTrustedSender } from '../electron/desktop/window-security.ts';
import { placeOnDisplays, readWindowState, writeWindowState } from '../electron/desktop/window-state.ts';
import type { AppAPI } from '../electron/engine/app-api.ts';
import { NotFoundError } from '../electron/engine/app/errors.ts';
import { tempDir } from './helpers/engine.ts';

/** An AppAPI that records each call; `run` waits for `release` so a run can be caught in flight. */
function recordingApi() {
  const calls: { method: string; args: unknown[] }[] = [];
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const api = new Proxy({} as AppAPI, {
    get: (_t, method: string) => async (...args: unknown[]) => {
      calls.push({ method, args });
      if (method === 'run') {
        await released;
        return { runId: (args[0] as { runId: string }).runId, status: 'finished' };
      }
      if (method === 'readPreset') throw new NotFoundError(`No preset ${String(args[0])}`);
      if (method === 'validate') throw Object.assign(new Error('bad graph'), { name: 'GraphValidationError', errors: [{ code: 'cycle', nodeId: 'a' }] });
      return `${method}-result`;
    },
  });
  return { api, calls, release };
}

describe('IPC dispatcher', () => {
  it('passes checked arguments to the backend and its result back', async () => {
    const { api, calls } = recordingApi();
    const d = createIpcDispatcher(api);
    await expect(d.dispatch(1, 'listModels', [])).resolves.toEqual({ ok: true, value: 'listModels-result' });
    await expect(d.dispatch(1, 'readOutput', ['r', 'n', 'p'])).resolves.toEqual({ ok: true, value: 'readOutput-result' });
    await expect(d.dispatch(1, 'freeMemory', [])).resolves.toMatchObject({ ok: true });
    await expect(d.dispatch(1, 'freeMemory', [{ models: true }])).resolves.toMatchObject({ ok: true });
    expect(calls.map((c) => [c.method, c.args])).toEqual([
      ['listModels', []],
      ['readOutput', ['r', 'n', 'p']],
      ['freeMemory', [undefined]],
      ['freeMemory', [{ models: true }]],
    ]);
  });

  it('refuses unknown methods and malformed arguments before the backend sees them', async () => {
    const { api, calls } = recordingApi();
    const d = createIpcDispatcher(api);
    const refused = async (method: unknown, args: unknown, match: RegExp) => {
      const reply = await d.dispatch(1, method, args as unknown[]);
      expect(reply.ok, JSON.stringify(method)).toBe(false);
      if (!reply.ok) {
        expect(reply.error.name).toBe('BadRequestError');
        expect(reply.error.message).toMatch(match);
      }
    };
    for (const method of ['subscribe', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 42, null]) await refused(method, [], /Unknown engine method/);
    await refused('listModels', 'x', /arguments must be a list/);
    await refused('listModels', [1], /takes 0 arguments, got 1/);
    await refused('readFile', [], /takes 1 argument, got 0/);
    await refused('readFile', [{ path: '/x' }], /"path" must be a string/);
    await refused('readOutput', ['r', 'n', 3], /"port" must be a string/);
    await refused('writePreset', ['name'], /takes 2 arguments/);
    await refused('writePreset', ['name', undefined], /"graph" is missing/);
    await refused('modelHashes', [['a', 1]], /"refs" must be a list of strings/);
    await refused('run', [{}], /missing "graph"/);
    await refused('run', [{ graph: {}, targets: 'x' }], /"targets" must be an array/);
    await refused('run', [{ graph: {}, force: 'yes' }], /"force"/);
    await refused('run', [{ graph: {}, runId: 'x'.repeat(201) }], /"runId"/);
    await refused('run', [[]], /must be an object/);
    expect(calls).toEqual([]);
  });

  it('returns backend failures as replies that keep the error name and graph errors', async () => {
    const d = createIpcDispatcher(recordingApi().api);
    await expect(d.dispatch(1, 'readPreset', ['user:x'])).resolves.toEqual({ ok: false, error: { name: 'NotFoundError', message: 'No preset user:x' } });
    await expect(d.dispatch(1, 'validate', [{}])).resolves.toEqual({
      ok: false,
      error: { name: 'GraphValidationError', message: 'bad graph', errors: [{ code: 'cycle', nodeId: 'a' }] },
    });
  });

  it('remembers runs per sender and cancels only that sender\'s', async () => {
    const { api, calls, release } = recordingApi();
    const d = createIpcDispatcher(api);
    const a = d.dispatch(7, 'run', [{ graph: {}, runId: 'a' }]);
    const b = d.dispatch(8, 'run', [{ graph: {}, runId: 'b' }]);
    const generated = d.dispatch(7, 'run', [{ graph: {} }]);
    await Promise.resolve();
    expect(d.runsOf(7)).toHaveLength(2);
    expect(d.runsOf(7)).toContain('a');
    expect(d.runsOf(8)).toEqual(['b']);
    await d.cancelRunsOf(7);
    const cancelled = calls.filter((c) => c.method === 'cancel').map((c) => c.args[0]);
    expect(cancelled).toHaveLength(2);
    expect(cancelled).toContain('a');
    expect(cancelled).not.toContain('b');
    release();
    await Promise.all([a, b, generated]);
    expect(d.runsOf(7)).toEqual([]);
    expect(d.runsOf(8)).toEqual([]);
    // A run without an id got one, so it could be cancelled.
    expect(((await generated) as { value: { runId: string } }).value.runId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('idle() waits for the calls in flight; cancelAll() cancels every sender\'s runs', async () => {
    const { api, calls, release } = recordingApi();
    const d = createIpcDispatcher(api);
    const a = d.dispatch(1, 'run', [{ graph: {}, runId: 'a' }]);
    const b = d.dispatch(2, 'run', [{ graph: {}, runId: 'b' }]);
    let idle = false;
    const waiting = d.idle().then(() => (idle = true));
    await d.cancelAll();
    expect(calls.filter((c) => c.method === 'cancel').map((c) => c.args[0]).sort()).toEqual(['a', 'b']);
    await new Promise((r) => setTimeout(r, 10));
    expect(idle).toBe(false);
    release();
    await Promise.all([a, b, waiting]);
    expect(idle).toBe(true);
    await d.idle();
  });

  it('the preload uses the channel names the main process answers on', () => {
    const preload = fs.readFileSync(path.resolve('electron/desktop/preload.cjs'), 'utf8');
    expect(preload).toContain(`const INVOKE_CHANNEL = '${INVOKE_CHANNEL}'`);
    expect(preload).toContain(`const EVENT_CHANNEL = '${EVENT_CHANNEL}'`);
    expect(preload).toContain(`const COMMAND_CHANNEL = '${COMMAND_CHANNEL}'`);
  });
});

describe('desktop entry (entry.cjs)', () => {
  it('registers the app:// scheme synchronously, first, before any TypeScript loads', async () => {
    const vm = await import('node:vm');
    const file = path.resolve('electron/desktop/entry.cjs');
    const calls: string[] = [];
    let privileges: unknown;
    const fakeRequire = (name: string) => {
      if (name === 'electron') {
        return {
          app: { exit: (code: number) => calls.push(`exit:${code}`) },
          protocol: { registerSchemesAsPrivileged: (schemes: unknown) => (calls.push('register-scheme'), (privileges = schemes)) },
        };
      }
      if (name === './app-scheme.cjs') return { APP_SCHEME_PRIVILEGES };
      if (name === 'tsx/esm/api') return { register: () => calls.push('tsx') };
      throw new Error(`unexpected require ${name}`);
    };
    const errors: string[] = [];
    vm.runInNewContext(fs.readFileSync(file, 'utf8'), { require: fakeRequire, console: { error: (line: string) => errors.push(line) } }, { filename: file });
    // main.ts is imported last; a vm without module loading cannot, so the entry reports that and exits 2.
    await expect.poll(() => calls).toEqual(['register-scheme', 'tsx', 'exit:2']);
    expect(errors.join('\n')).toMatch(/the desktop app did not start/);
    expect(privileges).toEqual([APP_SCHEME_PRIVILEGES]);
    expect(APP_SCHEME_PRIVILEGES.scheme).toBe(APP_SCHEME);
    expect(APP_SCHEME_PRIVILEGES.privileges).toMatchObject({ standard: true, secure: true });
  });
});

describe('app:// protocol', () => {
  function site() {
    const root = tempDir('fs-app-proto-');
    const dist = path.join(root, 'dist');
    fs.mkdirSync(path.join(dist, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><html><head></head><body>app</body></html>');
    fs.writeFileSync(path.join(dist, 'assets', 'main.js'), 'console.log(1)');
    fs.writeFileSync(path.join(root, 'secret.txt'), 'secret');
    fs.symlinkSync(path.join(root, 'secret.txt'), path.join(dist, 'link.txt'));
    return { dist, handle: createAppProtocolHandler(dist) };
  }
  const get = (handle: (r: Request) => Promise<Response>, url: string, method = 'GET') => handle(new Request(url, { method }));

  it('serves the built editor with its type, the desktop CSP and nosniff', async () => {
    const { handle } = site();
    for (const url of [`${APP_ORIGIN}/`, `${APP_ORIGIN}/index.html`]) {
      const res = await get(handle, url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('content-security-policy')).toBe(desktopContentSecurityPolicy());
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toContain('<body>app</body>');
    }
    const js = await get(handle, `${APP_ORIGIN}/assets/main.js?v=1`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toBe('console.log(1)');
    const head = await get(handle, `${APP_ORIGIN}/assets/main.js`, 'HEAD');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('the CSP allows no network and no inline or eval script', () => {
    const csp = desktopContentSecurityPolicy();
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).toMatch(/connect-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe-eval|ws:|http:|https:/);
    expect(csp).toContain("object-src 'none'");
  });

  it('refuses paths out of the build folder, other hosts and writes', async () => {
    const { handle } = site();
    const statusOf = async (url: string, method = 'GET') => (await get(handle, url, method)).status;
    expect(await statusOf(`${APP_ORIGIN}/link.txt`)).toBe(403);
    expect(await statusOf(`${APP_ORIGIN}/assets%2F..%2F..%2Fsecret.txt`)).toBe(403);
    expect(await statusOf(`${APP_ORIGIN}/..%5Csecret.txt`)).toBe(403);
    expect(await statusOf(`${APP_ORIGIN}/%E0%A4%A`)).toBe(400);
    expect(await statusOf(`${APP_ORIGIN}/nothing.js`)).toBe(404);
    expect(await statusOf('app://elsewhere/index.html')).toBe(404);
    expect(await statusOf(`${APP_ORIGIN}/index.html`, 'POST')).toBe(405);
    // A missing favicon is no error (Chromium asks for it unprompted).
    expect(await statusOf(`${APP_ORIGIN}/favicon.ico`)).toBe(204);
  });

  it('says how to build the editor when it is not built', async () => {
    const res = await get(createAppProtocolHandler(tempDir('fs-app-empty-')), `${APP_ORIGIN}/`);
    expect(res.status).toBe(404);
    expect(await res.text()).toMatch(/not built.*npm start/);
  });
});

describe('menu bar', () => {
  type Item = MenuItemConstructorOptions;
  const flatten = (items: Item[]): Item[] => items.flatMap((i) => [i, ...(Array.isArray(i.submenu) ? flatten(i.submenu) : [])]);
  const menu = (platform: NodeJS.Platform, developer = false) => {
    const sent: string[] = [];
    const items = flatten(appMenuTemplate({ platform, developer, send: (c) => sent.push(c) }));
    return { items, sent };
  };

  it('offers every editor command, each item sending its own', () => {
    for (const platform of ['linux', 'win32', 'darwin'] as const) {
      const { items, sent } = menu(platform);
      const commandItems = items.filter((i) => i.click);
      for (const i of commandItems) (i.click as () => void)();
      expect([...sent].sort(), platform).toEqual([...APP_COMMANDS].sort());
      expect(new Set(sent).size).toBe(sent.length);
    }
  });

  it('shows shortcuts without taking the keys from the editor on Windows and Linux', () => {
    const { items } = menu('linux');
    const withKeys = items.filter((i) => i.click && i.accelerator);
    expect(withKeys.length).toBeGreaterThan(5);
    for (const i of withKeys) expect(i.registerAccelerator, i.label).toBe(false);
    // Keys that type or move focus in a field are not menu accelerators at all.
    expect(items.some((i) => i.accelerator === 'Tab' || i.accelerator === 'F')).toBe(false);
  });

  it('keeps the clipboard roles, adds the macOS app and window menus, and developer items only from a checkout', () => {
    const roles = (items: Item[]) => items.map((i) => i.role).filter(Boolean);
    expect(roles(menu('linux').items)).toEqual(expect.arrayContaining(['cut', 'copy', 'paste', 'quit']));
    expect(roles(menu('linux').items)).not.toContain('toggleDevTools');
    expect(roles(menu('linux', true).items)).toEqual(expect.arrayContaining(['reload', 'toggleDevTools']));
    const mac = roles(menu('darwin').items);
    expect(mac).toEqual(expect.arrayContaining(['appMenu', 'windowMenu', 'cut', 'copy', 'paste']));
    expect(mac).not.toContain('quit');
  });
});

describe('window state', () => {
  it('reads back what was written, and nothing from a missing, corrupt or implausible file', async () => {
    const dir = tempDir('fs-window-state-');
    const file = path.join(dir, 'window-state.json');
    expect(readWindowState(file)).toBeUndefined();
    await writeWindowState(file, { bounds: { x: -10, y: 20, width: 1200, height: 800 }, maximized: true });
    expect(readWindowState(file)).toEqual({ bounds: { x: -10, y: 20, width: 1200, height: 800 }, maximized: true });
    for (const junk of ['{', 'null', '[]', '{"bounds":{"x":0,"y":0,"width":100,"height":800}}', '{"bounds":{"x":0.5,"y":0,"width":1000,"height":800}}', '{"bounds":{"x":0,"y":0,"width":1e9,"height":800}}', '{"bounds":{"x":"0","y":0,"width":1000,"height":800}}']) {
      fs.writeFileSync(file, junk);
      expect(readWindowState(file), junk).toBeUndefined();
    }
  });

  it('keeps a saved place only where a display shows the title bar', () => {
    const laptop = [{ x: 0, y: 0, width: 1920, height: 1040 }];
    const withMonitor = [...laptop, { x: 1920, y: 0, width: 2560, height: 1400 }];
    const state = (x: number, y: number) => ({ bounds: { x, y, width: 1200, height: 800 }, maximized: false });
    expect(placeOnDisplays(state(100, 50), laptop)).toEqual({ x: 100, y: 50, width: 1200, height: 800 });
    // On the monitor that is now unplugged: same size, placed by the system.
    expect(placeOnDisplays(state(2500, 100), withMonitor)).toEqual({ x: 2500, y: 100, width: 1200, height: 800 });
    expect(placeOnDisplays(state(2500, 100), laptop)).toEqual({ width: 1200, height: 800 });
    // Title bar above the screen, or only a sliver of it at the right edge: moved.
    expect(placeOnDisplays(state(100, -900), laptop)).toEqual({ width: 1200, height: 800 });
    expect(placeOnDisplays(state(1900, 100), laptop)).toEqual({ width: 1200, height: 800 });
    // Hanging off the left edge with most of the title bar visible: kept.
    expect(placeOnDisplays(state(-300, 100), laptop)).toEqual({ x: -300, y: 100, width: 1200, height: 800 });
  });
});

describe('trust checks', () => {
  it('knows the app origin from look-alikes', () => {
    expect(isAppUrl(`${APP_ORIGIN}/index.html`)).toBe(true);
    expect(isAppUrl(APP_ORIGIN)).toBe(true);
    for (const url of ['app://flowstudio.evil/x', 'app://evil/flowstudio', 'https://flowstudio/', 'file:///app/flowstudio', '', undefined, 'not a url']) {
      expect(isAppUrl(url), String(url)).toBe(false);
    }
    expect(isTrustedSender({ senderFrame: { url: `${APP_ORIGIN}/index.html` } })).toBe(true);
    expect(isTrustedSender({ senderFrame: null })).toBe(false);
  });
});

describe('desktop command line', () => {
  it('takes the serve command\'s folder and memory flags and leaves Chromium switches alone', () => {
    const args = parseDesktopArgs(['--out', 'renders', '--root', 'a', '--root', 'b', '--provider', 'cuda,cpu', '--max-models', '3', '--cache-memory', '1GiB', '--enable-logging', '--no-sandbox']);
    expect(args.outDir).toBe(path.resolve('renders'));
    expect(args.roots).toEqual([path.resolve('a'), path.resolve('b')]);
    expect(args.providers).toEqual(['cuda', 'cpu']);
    expect(args.memory).toEqual({ maxLoadedModels: 3, cacheMaxBytes: 2 ** 30 });
    expect(parseDesktopArgs([])).toEqual({ outDir: undefined, roots: [], providers: undefined, staticDir: undefined, memory: {}, engineHost: 'process', files: [] });
    expect(parseDesktopArgs(['--engine', 'thread']).engineHost).toBe('thread');
    // Graph files among the arguments are what to open; other positionals (the app path) are not.
    expect(parseDesktopArgs(['.', 'a/graph.flowstudio', '--enable-logging', 'b.JSON', 'c.png']).files).toEqual([path.resolve('a/graph.flowstudio'), path.resolve('b.JSON')]);
    expect(graphFilesIn(['/usr/bin/flowstudio', 'x.flowstudio', '--flag=y.flowstudio'], '/home/u')).toEqual([path.resolve('/home/u', 'x.flowstudio')]);
  });

  it('refuses bad values with the flag named', () => {
    expect(() => parseDesktopArgs(['--out'])).toThrow(/--out needs a value/);
    expect(() => parseDesktopArgs(['--model-memory', 'lots'])).toThrow(/--model-memory/);
    expect(() => parseDesktopArgs(['--max-models', '-1'])).toThrow(/--max-models/);
    expect(() => parseDesktopArgs(['--engine', 'cuda'])).toThrow('--engine expects "process" or "thread", got "cuda"');
  });
});

describe('npm start: Electron', () => {
  it('finds the binary the electron package downloaded, or FLOWSTUDIO_ELECTRON, or none', () => {
    const root = tempDir('fs-electron-find-');
    expect(findElectron(root, {})).toBeUndefined();
    const pkg = path.join(root, 'node_modules', 'electron');
    fs.mkdirSync(path.join(pkg, 'dist'), { recursive: true });
    fs.writeFileSync(path.join(pkg, 'path.txt'), 'electron');
    // path.txt without the binary: the download failed.
    expect(findElectron(root, {})).toBeUndefined();
    fs.writeFileSync(path.join(pkg, 'dist', 'electron'), '');
    expect(findElectron(root, {})).toBe(path.join(pkg, 'dist', 'electron'));
    const system = path.join(root, 'system-electron');
    fs.writeFileSync(system, '');
    expect(findElectron(root, { FLOWSTUDIO_ELECTRON: system })).toBe(system);
    expect(findElectron(root, { FLOWSTUDIO_ELECTRON: path.join(root, 'missing') })).toBeUndefined();
    // Electron's own override of where its binary lives.
    const override = path.join(root, 'override');
    fs.mkdirSync(override);
    expect(findElectron(root, { ELECTRON_OVERRIDE_DIST_PATH: override })).toBeUndefined();
    fs.writeFileSync(path.join(override, 'electron'), '');
    expect(findElectron(root, { ELECTRON_OVERRIDE_DIST_PATH: override })).toBe(path.join(override, 'electron'));
  });

  it('npm run setup:desktop leaves an Electron that is already there alone', () => {
    const binary = path.join(tempDir('fs-electron-setup-'), 'electron');
    fs.writeFileSync(binary, '');
    const r = spawnSync(process.execPath, [path.resolve('bin/setup-desktop.js')], { env: { ...process.env, FLOWSTUDIO_ELECTRON: binary }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Electron is already here: ${binary}`);
  });

  it('starts Electron on the app with the user\'s arguments and passes its exit code on', async () => {
    const dir = tempDir('fs-electron-run-');
    const record = path.join(dir, 'record.json');
    const fake = path.join(dir, 'electron');
    fs.writeFileSync(
      fake,
      `#!${process.execPath}\nrequire('fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify({ argv: process.argv.slice(2), runAsNode: process.env.ELECTRON_RUN_AS_NODE ?? null }));\nprocess.exit(3);\n`,
    );
    fs.chmodSync(fake, 0o755);
    const code = await runElectron(fake, '/app/root', ['--out', 'renders'], { ...process.env, ELECTRON_RUN_AS_NODE: '1' });
    expect(code).toBe(3);
    expect(JSON.parse(fs.readFileSync(record, 'utf8'))).toEqual({ argv: ['/app/root', '--out', 'renders'], runAsNode: null });
  });

  it('reports a binary that cannot start, so start.js serves the browser editor instead', async () => {
    const missing = path.join(tempDir('fs-electron-none-'), 'electron');
    const errors: string[] = [];
    const original = console.error;
    console.error = (line: string) => void errors.push(line);
    try {
      await expect(runElectron(missing, '/app/root', [])).resolves.toBe('not-started');
    } finally {
      console.error = original;
    }
    expect(errors.join('\n')).toMatch(/could not start Electron/);
  });
});
