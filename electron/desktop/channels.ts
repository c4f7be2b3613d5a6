/**
 * Names shared by the desktop main process and its preload (electron/desktop/preload.cjs repeats the two
 * channel names, since a sandboxed preload cannot import; a test checks they agree).
 */

/** ipcRenderer.invoke(INVOKE_CHANNEL, method, ...args) -> WireReply. */
export const INVOKE_CHANNEL = 'flowstudio:invoke';
/** webContents.send(EVENT_CHANNEL, WireEvent): every engine event, to every window. */
export const EVENT_CHANNEL = 'flowstudio:event';

/** The editor's pages are served from app://flowstudio/ (a privileged standard scheme, not file://). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'flowstudio';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;
