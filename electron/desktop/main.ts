/**
 * The Electron main process, started by entry.cjs (which has registered the app:// scheme) with the
 * Electron module it required. Taking it from there, rather than importing 'electron' here, keeps the
 * built-in module's resolution out of the TypeScript loader's hands.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Electron from 'electron';
import { startDesktop } from './desktop-app.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function start(electron: typeof Electron): Promise<void> {
  // argv: [electron, app path, ...user args] from a checkout; [app, ...user args] when packaged.
  const args = process.argv.slice(electron.app.isPackaged ? 1 : 2);
  try {
    await startDesktop(electron, { args, preloadPath: path.join(here, 'preload.cjs'), schemeRegistered: true });
  } catch (e) {
    console.error(`flowstudio: ${(e as Error).message}`);
    electron.app.exit(2);
  }
}
