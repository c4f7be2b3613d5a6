/**
 * What keeps the desktop window's web content away from Node and the disk (Electron's security
 * checklist): an isolated, sandboxed renderer with no Node integration; navigation only within
 * app://flowstudio/; no new windows (web links open in the system browser); no <webview>; no permission
 * but clipboard writes and fullscreen; IPC answered only for frames loaded from the app's own origin.
 */
import type { BrowserWindowConstructorOptions, Session, Shell, WebContents } from 'electron';
import { APP_HOST, APP_SCHEME } from './channels.ts';
import { MIN_WINDOW } from './window-state.ts';

export function windowOptions(preload: string): BrowserWindowConstructorOptions {
  return {
    width: 1440,
    height: 900,
    minWidth: MIN_WINDOW.width,
    minHeight: MIN_WINDOW.height,
    title: 'FlowStudio',
    backgroundColor: '#1b1d22',
    // Shown at ready-to-show: no white flash before the first paint.
    show: false,
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      // The editor handles dropped graph files and PNGs itself; a drop must never navigate away.
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  };
}

/** True for a URL of the app's own pages (app://flowstudio/...). */
export function isAppUrl(url: string | undefined | null): boolean {
  if (!url) return false;
  try {
    const u = new URL(url);
    // Not URL.origin: Node reports "null" for schemes it does not know as special.
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST;
  } catch {
    return false;
  }
}

/** Links the editor may hand to the system browser (documentation, papers); nothing else leaves the app. */
export function isExternalLink(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/** Every webContents the app creates gets these guards (app 'web-contents-created'). */
export function guardWebContents(contents: WebContents, shell: Pick<Shell, 'openExternal'>): void {
  const stayInApp = (event: { url: string; preventDefault(): void }) => {
    if (!isAppUrl(event.url)) event.preventDefault();
  };
  contents.on('will-navigate', stayInApp);
  contents.on('will-frame-navigate', stayInApp);
  contents.on('will-redirect', stayInApp);
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (isExternalLink(url)) void shell.openExternal(url).catch(() => undefined);
    return { action: 'deny' };
  });
}

const ALLOWED_PERMISSIONS = new Set(['clipboard-sanitized-write', 'fullscreen']);

/** Denies every permission request and check except ALLOWED_PERMISSIONS from the app's own pages. */
export function restrictPermissions(session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>): void {
  session.setPermissionRequestHandler((_contents, permission, callback, details) => {
    callback(ALLOWED_PERMISSIONS.has(permission) && isAppUrl(details.requestingUrl));
  });
  session.setPermissionCheckHandler((_contents, permission, requestingOrigin) => ALLOWED_PERMISSIONS.has(permission) && isAppUrl(requestingOrigin));
}

/** An IPC message comes from the app only when the frame that sent it shows the app's own page. */
export function isTrustedSender(event: { senderFrame: { url: string } | null }): boolean {
  return isAppUrl(event.senderFrame?.url);
}
