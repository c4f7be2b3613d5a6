/**
 * A stand-in for the parts of Electron the desktop app uses, so its main-process wiring runs here (the
 * Electron binary cannot be downloaded on this machine). It keeps Electron's orders and shapes where the
 * app depends on them: 'web-contents-created' fires as a window is made, IPC arguments and replies are
 * structured-cloned, the sender frame carries the page's URL. Cast to ElectronModule by the tests.
 */
import type { ElectronModule } from '../../electron/desktop/desktop-app.ts';
import { fakeUtilityProcess } from './fake-utility-process.ts';

type Listener = (...args: any[]) => unknown;

class Emitter {
  private readonly listeners = new Map<string, Listener[]>();
  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  once(event: string, listener: Listener): this {
    const wrapped: Listener = (...args) => {
      this.off(event, wrapped);
      return listener(...args);
    };
    return this.on(event, wrapped);
  }
  off(event: string, listener: Listener): this {
    this.listeners.set(event, (this.listeners.get(event) ?? []).filter((l) => l !== listener));
    return this;
  }
  emit(event: string, ...args: unknown[]): void {
    for (const l of [...(this.listeners.get(event) ?? [])]) l(...args);
  }
  count(event: string): number {
    return this.listeners.get(event)?.length ?? 0;
  }
}

/** An Electron-style event: preventDefault() is recorded. */
export function fakeEvent<T extends object>(fields: T): T & { defaultPrevented: boolean; preventDefault(): void } {
  const e = { ...fields, defaultPrevented: false, preventDefault: () => void (e.defaultPrevented = true) };
  return e;
}

let nextContentsId = 1;

export class FakeWebContents extends Emitter {
  readonly id = nextContentsId++;
  readonly sent: { channel: string; args: unknown[] }[] = [];
  /** The page side's ipcRenderer.on listeners, by channel. */
  readonly rendererListeners = new Map<string, Set<Listener>>();
  windowOpenHandler?: (details: { url: string }) => { action: string };
  destroyed = false;
  /** The page's URL once loaded (the sender frame's URL for IPC). */
  url = '';
  send(channel: string, ...args: unknown[]): void {
    if (this.destroyed) throw new Error('Object has been destroyed');
    this.sent.push({ channel, args: structuredClone(args) });
    for (const l of this.rendererListeners.get(channel) ?? []) l({ sender: 'ipc' }, ...structuredClone(args));
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  setWindowOpenHandler(handler: (details: { url: string }) => { action: string }): void {
    this.windowOpenHandler = handler;
  }
}

export class FakeElectron {
  readonly events: string[] = [];
  readonly recentDocuments: string[] = [];
  ready = false;
  singleInstance = true;
  quitCalls = 0;
  readonly privileged: { schemes: unknown; beforeReady: boolean }[] = [];
  readonly protocolHandlers = new Map<string, (request: Request) => Promise<Response> | Response>();
  readonly ipcHandlers = new Map<string, Listener>();
  readonly openedExternally: string[] = [];
  permissionRequest?: Listener;
  permissionCheck?: Listener;
  readonly windows: FakeWindow[] = [];

  readonly app = Object.assign(new Emitter(), {
    isPackaged: false,
    whenReady: async () => {
      this.ready = true;
      this.events.push('ready');
    },
    requestSingleInstanceLock: () => this.singleInstance,
    isReady: () => this.ready,
    setAppUserModelId: (id: string) => this.events.push(`app-user-model-id:${id}`),
    addRecentDocument: (file: string) => this.recentDocuments.push(file),
    quit: () => {
      this.quitCalls++;
      this.events.push('quit');
      // Electron emits will-quit when nothing prevents the quit.
      const e = fakeEvent({});
      this.app.emit('will-quit', e);
      if (!e.defaultPrevented) this.events.push('quit-done');
    },
    exit: (code: number) => this.events.push(`exit:${code}`),
    getPath: (name: string) => `/fake/${name}`,
  });

  readonly protocol = {
    registerSchemesAsPrivileged: (schemes: unknown) => this.privileged.push({ schemes, beforeReady: !this.ready }),
    handle: (scheme: string, handler: (request: Request) => Promise<Response> | Response) => this.protocolHandlers.set(scheme, handler),
  };

  readonly ipcMain = {
    handle: (channel: string, listener: Listener) => {
      if (this.ipcHandlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
      this.ipcHandlers.set(channel, listener);
    },
    removeHandler: (channel: string) => this.ipcHandlers.delete(channel),
  };

  readonly session = {
    defaultSession: {
      setPermissionRequestHandler: (h: Listener) => (this.permissionRequest = h),
      setPermissionCheckHandler: (h: Listener) => (this.permissionCheck = h),
    },
  };

  /** One 1920x1080 display unless a test says otherwise. */
  workAreas = [{ x: 0, y: 0, width: 1920, height: 1040 }];
  readonly screen = {
    getAllDisplays: () => this.workAreas.map((workArea) => ({ workArea })),
  };

  applicationMenu: unknown;
  readonly Menu = {
    buildFromTemplate: (template: unknown[]) => ({ template }),
    setApplicationMenu: (menu: unknown) => (this.applicationMenu = menu),
  };
  focusedWindow: FakeWindow | null = null;
  /** What the next system file dialogs answer (a path, or null for Cancel), and what they were asked. */
  readonly dialogAnswers: (string | null)[] = [];
  readonly dialogCalls: { kind: 'open' | 'save'; attached: boolean; options: any }[] = [];
  readonly dialog = {
    showOpenDialog: async (...args: any[]) => {
      const options = args.length === 2 ? args[1] : args[0];
      this.dialogCalls.push({ kind: 'open', attached: args.length === 2, options });
      const answer = this.dialogAnswers.shift() ?? null;
      return { canceled: answer === null, filePaths: answer === null ? [] : [answer] };
    },
    showSaveDialog: async (...args: any[]) => {
      const options = args.length === 2 ? args[1] : args[0];
      this.dialogCalls.push({ kind: 'save', attached: args.length === 2, options });
      const answer = this.dialogAnswers.shift() ?? null;
      return { canceled: answer === null, filePath: answer ?? '' };
    },
  };

  readonly shownInFolder: string[] = [];
  readonly shell = {
    openExternal: async (url: string) => void this.openedExternally.push(url),
    showItemInFolder: (file: string) => void this.shownInFolder.push(file),
  };

  /** Utility processes are real Node child processes here (fake-utility-process.ts). */
  readonly utilityProcess = fakeUtilityProcess();

  readonly BrowserWindow: any;

  constructor() {
    const electron = this;
    this.BrowserWindow = class extends FakeWindow {
      constructor(options: any) {
        super(options);
        electron.windows.push(this);
        electron.app.emit('web-contents-created', fakeEvent({}), this.webContents);
        this.on('closed', () => electron.windows.splice(electron.windows.indexOf(this), 1));
      }
      static getAllWindows() {
        return [...electron.windows];
      }
      static getFocusedWindow() {
        return electron.focusedWindow;
      }
    };
  }

  asElectron(): ElectronModule {
    return this as unknown as ElectronModule;
  }

  /** What ipcRenderer.invoke from `contents` would get: arguments and reply structured-cloned, as over IPC. */
  async invoke(contents: FakeWebContents, channel: string, ...args: unknown[]): Promise<unknown> {
    const handler = this.ipcHandlers.get(channel);
    if (!handler) throw new Error(`No handler registered for '${channel}'`);
    const event = { sender: contents, senderFrame: contents.destroyed ? null : { url: contents.url } };
    return structuredClone(await handler(event, ...structuredClone(args)));
  }
}

export class FakeWindow extends Emitter {
  readonly webContents = new FakeWebContents();
  shown = false;
  destroyed = false;
  focused = 0;
  maximized = false;
  bounds: { x: number; y: number; width: number; height: number };
  constructor(readonly options: any) {
    super();
    this.bounds = { x: options.x ?? 100, y: options.y ?? 100, width: options.width, height: options.height };
  }
  getNormalBounds() {
    return { ...this.bounds };
  }
  isMaximized(): boolean {
    return this.maximized;
  }
  maximize(): void {
    this.maximized = true;
  }
  loads = 0;
  async loadURL(url: string): Promise<void> {
    this.loads++;
    this.webContents.emit('did-start-navigation', fakeEvent({ url, isMainFrame: true, isSameDocument: false }));
    this.webContents.url = url;
    this.emit('ready-to-show');
  }
  show(): void {
    this.shown = true;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  isMinimized(): boolean {
    return false;
  }
  restore(): void {}
  focus(): void {
    this.focused++;
  }
  close(): void {
    this.emit('close', fakeEvent({}));
    this.destroyed = true;
    this.webContents.destroyed = true;
    this.emit('closed');
  }
}

/**
 * Runs electron/desktop/preload.cjs as a sandboxed preload would: CommonJS, with only `electron` to
 * require, ipcRenderer wired to `contents` through the fake's IPC. Returns what it exposed to the page.
 */
export async function loadPreload(file: string, electron: FakeElectron, contents: FakeWebContents): Promise<Record<string, unknown>> {
  const { readFileSync } = await import('node:fs');
  const vm = await import('node:vm');
  const exposed: Record<string, unknown> = {};
  const ipcRenderer = {
    invoke: (channel: string, ...args: unknown[]) => electron.invoke(contents, channel, ...args),
    on: (channel: string, listener: Listener) => {
      const set = contents.rendererListeners.get(channel) ?? new Set();
      contents.rendererListeners.set(channel, set.add(listener));
    },
    removeListener: (channel: string, listener: Listener) => void contents.rendererListeners.get(channel)?.delete(listener),
  };
  const requireElectronOnly = (name: string) => {
    if (name !== 'electron') throw new Error(`a sandboxed preload cannot require "${name}"`);
    return { contextBridge: { exposeInMainWorld: (key: string, api: unknown) => (exposed[key] = api) }, ipcRenderer };
  };
  vm.runInNewContext(readFileSync(file, 'utf8'), { require: requireElectronOnly, TypeError }, { filename: file });
  return exposed;
}
