/**
 * The desktop app: one window on app://flowstudio/, the engine in a utility process behind the AppBackend,
 * and the Electron IPC transport between them (ipc-dispatch.ts for calls, EVENT_CHANNEL for events).
 * Electron is passed in rather than imported, so this wiring runs in tests against a fake Electron; main.ts
 * passes the real one. Typed against Electron's own declarations.
 */
import path from 'node:path';
import type { BrowserWindow as BrowserWindowType, IpcMainInvokeEvent } from 'electron';
import type { EngineAPI } from '../engine/api.ts';
import { AppBackend } from '../engine/app-backend.ts';
import { defaultDataDir } from '../engine/app/data-dir.ts';
import { CRASH_LOG_NAME, CrashLog } from '../engine/app/crash-log.ts';
import { toWireEvent, type WireReply } from '../engine/wire-messages.ts';
import { WorkerEngine } from '../engine/worker/worker-client.ts';
import { threadHost } from '../engine/worker/thread-host.ts';
import { utilityProcessHost } from './utility-host.ts';
import type { WorkerInit } from '../engine/worker/protocol.ts';
import { DEFAULT_STATIC_DIR } from '../cli/serve.ts';
import { APP_ENTRY_URL, APP_SCHEME, EVENT_CHANNEL, INVOKE_CHANNEL } from './channels.ts';
import { appMenuTemplate } from './app-menu.ts';
import { COMMAND_CHANNEL, type AppCommand } from './commands.ts';
import { APP_SCHEME_PRIVILEGES, createAppProtocolHandler } from './app-protocol.ts';
import { graphFilesIn, parseDesktopArgs } from './desktop-args.ts';
import { createIpcDispatcher, type IpcDispatcher } from './ipc-dispatch.ts';
import { systemDialogCalls } from './system-dialogs.ts';
import { guardWebContents, isTrustedSender, restrictPermissions, windowOptions } from './window-security.ts';
import { placeOnDisplays, readWindowState, writeWindowState } from './window-state.ts';

/** How long quitting waits for calls in flight (a cancelled run's last model call, an autosave write). */
const SHUTDOWN_WAIT_MS = 5000;
/** A page that crashes again within this long after being reloaded is left as it is (no reload loop). */
const CRASH_RELOAD_INTERVAL_MS = 10_000;
/** The Windows taskbar groups the app's windows under this id (electron-builder.yml's appId). */
const APP_USER_MODEL_ID = 'app.flowstudio.desktop';

export type ElectronModule = Pick<typeof import('electron'), 'app' | 'BrowserWindow' | 'dialog' | 'ipcMain' | 'Menu' | 'protocol' | 'screen' | 'session' | 'shell' | 'utilityProcess'>;

export type DesktopEngine = EngineAPI & { close(): Promise<void> };

export interface DesktopOptions {
  /** The user's arguments (flags as `flowstudio serve` takes them). */
  args: readonly string[];
  /** The sandboxed preload script (electron/desktop/preload.cjs). */
  preloadPath: string;
  /**
   * Default: a WorkerEngine in a utility process (sampling never blocks the main process, and a native
   * crash ends the engine only), or in a worker thread with --engine thread.
   */
  createEngine?: (init: WorkerInit) => DesktopEngine;
  dataDir?: string;
  log?: (line: string) => void;
  /** entry.cjs registered the app:// scheme at startup already (as it must: synchronously). */
  schemeRegistered?: boolean;
}

export interface DesktopApp {
  backend: AppBackend;
  dispatcher: IpcDispatcher;
  /** Opens another editor window (also on macOS's dock click with none open). */
  openWindow(): Promise<BrowserWindowType>;
  /** Stops event forwarding and IPC and closes the engine; idempotent. */
  shutdown(): Promise<void>;
}

/** Resolves once the first window is loading; null when another instance already runs (this one quits). */
export async function startDesktop(electron: ElectronModule, options: DesktopOptions): Promise<DesktopApp | null> {
  const { app, BrowserWindow, dialog, ipcMain, Menu, protocol, screen, session, shell, utilityProcess } = electron;
  const log = options.log ?? ((line) => console.error(line));
  const args = parseDesktopArgs(options.args);

  // A second launch (a double-clicked graph file, a second `npm start`) focuses the running window instead.
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return null;
  }
  // Before 'ready', as Electron requires; the real app does it earlier still, in entry.cjs.
  if (!options.schemeRegistered) protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);
  app.on('web-contents-created', (_event, contents) => guardWebContents(contents, shell));
  // Graph files opened from the system: the command line's now, macOS's 'open-file' (which can come
  // before 'ready', at launch) and a second launch's later; the editor takes them on start and on focus.
  const pendingOpens = [...args.files];
  let requestOpen = (file: string) => void pendingOpens.push(file);
  app.on('open-file', (event, file) => {
    event.preventDefault();
    requestOpen(file);
    focusWindow();
  });
  await app.whenReady();

  if (process.platform === 'win32') app.setAppUserModelId(APP_USER_MODEL_ID);
  restrictPermissions(session.defaultSession);
  const staticDir = args.staticDir ?? DEFAULT_STATIC_DIR;
  protocol.handle(APP_SCHEME, createAppProtocolHandler(staticDir));

  const dataDir = options.dataDir ?? defaultDataDir();
  const outDir = args.outDir ?? (app.isPackaged ? path.join(app.getPath('documents'), 'FlowStudio') : path.resolve('out'));
  const host = args.engineHost === 'thread' ? threadHost : utilityProcessHost(utilityProcess);
  const onCrash = new CrashLog(path.join(dataDir, CRASH_LOG_NAME)).reporter(log);
  const engine = (options.createEngine ?? ((init) => new WorkerEngine(init, { host, onCrash })))({
    outDir,
    providers: args.providers,
    readRoots: [dataDir, ...args.roots],
    ...args.memory,
  });
  let backend: AppBackend;
  try {
    // Opened and saved graphs join the system's recent documents (Dock, Jump List), which reopen them by open-file or the command line.
    backend = new AppBackend({ engine, outDir, dataDir, graphRoots: args.roots, onRecentFile: (file) => app.addRecentDocument(file) });
  } catch (e) {
    await engine.close();
    throw e;
  }
  const windowOf = (sender: number) => BrowserWindow.getAllWindows().find((w) => !w.isDestroyed() && w.webContents.id === sender);
  const dispatcher = createIpcDispatcher(backend, systemDialogCalls({ app, dialog, shell, backend, windowOf }));
  requestOpen = (file) => {
    try {
      backend.requestOpen(file);
    } catch (e) {
      log(`flowstudio: cannot open ${file}: ${(e as Error).message}`);
    }
  };
  for (const file of pendingOpens.splice(0)) requestOpen(file);

  ipcMain.handle(INVOKE_CHANNEL, (event: IpcMainInvokeEvent, method: unknown, ...callArgs: unknown[]): Promise<WireReply> | WireReply => {
    if (!isTrustedSender(event)) {
      return { ok: false, error: { name: 'ForbiddenError', message: `IPC refused: the sending page (${event.senderFrame?.url ?? 'gone'}) is not the app's` } };
    }
    return dispatcher.dispatch(event.sender.id, method, callArgs);
  });

  // Every event to every window, encoded once per event.
  const stopEvents = backend.subscribe((e) => {
    const wire = toWireEvent(e);
    for (const win of BrowserWindow.getAllWindows()) {
      if (!win.isDestroyed() && !win.webContents.isDestroyed()) win.webContents.send(EVENT_CHANNEL, wire);
    }
  });

  // The menu's commands go to the window the user is in.
  const sendCommand = (command: AppCommand) => {
    const win = BrowserWindow.getFocusedWindow() ?? BrowserWindow.getAllWindows()[0];
    if (win && !win.isDestroyed()) win.webContents.send(COMMAND_CHANNEL, command);
  };
  Menu.setApplicationMenu(Menu.buildFromTemplate(appMenuTemplate({ platform: process.platform, send: sendCommand, developer: !app.isPackaged })));

  const stateFile = path.join(backend.dataDir, 'window-state.json');
  const openWindow = async (): Promise<BrowserWindowType> => {
    // Where the last window was, if a display still shows that place.
    const saved = readWindowState(stateFile);
    const place = saved ? placeOnDisplays(saved, screen.getAllDisplays().map((d) => d.workArea)) : {};
    const win = new BrowserWindow({ ...windowOptions(options.preloadPath), ...place });
    if (saved?.maximized) win.maximize();
    win.on('close', () => {
      const state = { bounds: win.getNormalBounds(), maximized: win.isMaximized() };
      void writeWindowState(stateFile, state).catch((e: unknown) => log(`flowstudio: could not save the window's place: ${(e as Error).message}`));
    });
    const contents = win.webContents;
    const sender = contents.id;
    // The page that started a run is gone (closed, crashed, reloaded): nobody will read its result.
    const cancelRuns = () => void dispatcher.cancelRunsOf(sender);
    win.on('closed', cancelRuns);
    // A crashed page comes back with its autosaved graph (the editor offers to restore it); not in a loop.
    let lastCrashReload = -Infinity;
    contents.on('render-process-gone', (_event, details) => {
      cancelRuns();
      if (details.reason === 'clean-exit' || win.isDestroyed()) return;
      const now = Date.now();
      if (now - lastCrashReload < CRASH_RELOAD_INTERVAL_MS) {
        log(`flowstudio: the editor page failed again (${details.reason}); not reloading it. Reload it from View, or restart the app.`);
        return;
      }
      lastCrashReload = now;
      log(`flowstudio: the editor page failed (${details.reason}, exit code ${details.exitCode}); reloading it.`);
      void win.loadURL(APP_ENTRY_URL).catch(() => undefined);
    });
    contents.on('did-start-navigation', (details) => {
      if (details.isMainFrame && !details.isSameDocument) cancelRuns();
    });
    win.once('ready-to-show', () => win.show());
    try {
      await win.loadURL(APP_ENTRY_URL);
    } catch (e) {
      log(`flowstudio: the editor page did not load (${(e as Error).message}); is renderer/dist built? \`npm start\` builds it.`);
    }
    return win;
  };

  function focusWindow(): void {
    if (!app.isReady()) return;
    const [win] = BrowserWindow.getAllWindows();
    if (!win) return void openWindow();
    if (win.isMinimized()) win.restore();
    win.focus();
  }
  app.on('second-instance', (_event, argv, workingDirectory) => {
    for (const file of graphFilesIn(argv.slice(1), workingDirectory)) requestOpen(file);
    focusWindow();
  });
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) void openWindow();
  });
  // macOS keeps an app without windows running (dock); elsewhere closing the last window quits.
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  let closing: Promise<void> | undefined;
  const shutdown = () =>
    (closing ??= (async () => {
      // No new calls; runs stop; what is in flight (an autosave from the closing window) lands first.
      ipcMain.removeHandler(INVOKE_CHANNEL);
      await dispatcher.cancelAll();
      await Promise.race([dispatcher.idle(), new Promise((r) => setTimeout(r, SHUTDOWN_WAIT_MS).unref())]);
      stopEvents();
      await engine.close();
    })());
  // Quit waits for the engine worker to stop (sessions released, spill folder removed).
  let closed = false;
  app.on('will-quit', (event) => {
    if (closed) return;
    event.preventDefault();
    void shutdown()
      .catch((e: unknown) => log(`flowstudio: the engine did not close cleanly: ${(e as Error).message}`))
      .finally(() => {
        closed = true;
        app.quit();
      });
  });

  log(`FlowStudio desktop: outputs go to ${outDir}; presets and autosave to ${backend.dataDir}.`);
  await openWindow();
  return { backend, dispatcher, openWindow, shutdown };
}
