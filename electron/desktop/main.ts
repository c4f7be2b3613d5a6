/** The Electron main process (loaded by entry.cjs, which has registered the app:// scheme): the real Electron module into startDesktop. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as electron from 'electron';
import { startDesktop } from './desktop-app.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
// argv: [electron, app path, ...user args] from a checkout; [app, ...user args] when packaged.
const args = process.argv.slice(electron.app.isPackaged ? 1 : 2);

try {
  await startDesktop(electron, { args, preloadPath: path.join(here, 'preload.cjs'), schemeRegistered: true });
} catch (e) {
  console.error(`flowstudio: ${(e as Error).message}`);
  electron.app.exit(2);
}
